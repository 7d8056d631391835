//! NUMA topology from sysfs-like fixture directories (this machine has
//! one node): 1, 2 and 4 nodes, offline CPUs, memory-only nodes, the
//! affinity mask, no NUMA information, and malformed files.

use std::path::{Path, PathBuf};

use ferrotp_scheduler::topology::{
    Node, Topology, TopologyError, allowed_cpus, format_cpulist, parse_cpulist,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/topology")
        .join(name)
}

fn all_cpus() -> Vec<usize> {
    (0..64).collect()
}

#[test]
fn one_node() {
    let topology = Topology::from_sysfs(&fixture("one_node"), &all_cpus()).unwrap();
    assert_eq!(
        topology.nodes(),
        [Node {
            id: 0,
            cpus: vec![0, 1, 2, 3]
        }]
    );
    assert_eq!(topology.distance(0, 0), Some(10));
}

#[test]
fn two_nodes_with_their_distances() {
    let topology = Topology::from_sysfs(&fixture("two_nodes"), &all_cpus()).unwrap();
    assert_eq!(
        topology.nodes(),
        [
            Node {
                id: 0,
                cpus: vec![0, 1, 2, 3]
            },
            Node {
                id: 1,
                cpus: vec![4, 5, 6, 7]
            }
        ]
    );
    assert_eq!(topology.distance(0, 1), Some(21));
    assert_eq!(topology.distance(1, 1), Some(10));
    assert_eq!(topology.node_of(5), Some(1));
    assert_eq!(topology.node_of(8), None);
}

/// Four nodes on two sockets; CPU 15 is offline and node 4 has memory
/// only: it is dropped, and the distances of the rest are kept.
#[test]
fn four_nodes_skip_offline_cpus_and_memory_only_nodes() {
    let topology = Topology::from_sysfs(&fixture("four_nodes"), &all_cpus()).unwrap();
    let ids: Vec<usize> = topology.nodes().iter().map(|n| n.id).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    assert_eq!(topology.nodes()[3].cpus, [12, 13, 14]);
    assert_eq!(topology.cpus().count(), 15);
    assert_eq!(topology.distance(0, 1), Some(16));
    assert_eq!(topology.distance(0, 2), Some(32));
    assert_eq!(topology.distance(3, 2), Some(16));
    assert_eq!(
        topology.distance(0, 4),
        None,
        "the memory-only node is gone"
    );
}

/// Only the CPUs in the affinity mask count (taskset, cgroup cpusets); a
/// node left without any is dropped.
#[test]
fn the_affinity_mask_restricts_the_nodes() {
    let topology = Topology::from_sysfs(&fixture("four_nodes"), &[2, 3, 9]).unwrap();
    assert_eq!(
        topology.nodes(),
        [
            Node {
                id: 0,
                cpus: vec![2, 3]
            },
            Node {
                id: 2,
                cpus: vec![9]
            }
        ]
    );
    assert_eq!(topology.distance(0, 2), Some(32));
    assert!(matches!(
        Topology::from_sysfs(&fixture("two_nodes"), &[40, 41]),
        Err(TopologyError::NoCpus)
    ));
}

/// A node directory without any `nodeN`: no NUMA information either.
#[test]
fn a_node_directory_without_nodes_is_one_node() {
    let dir = std::env::temp_dir().join(format!("ferrotp-empty-node-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("node")).unwrap();
    std::fs::write(dir.join("node/online"), "0\n").unwrap();
    let topology = Topology::from_sysfs(&dir, &[0, 1]).unwrap();
    assert_eq!(
        topology.nodes(),
        [Node {
            id: 0,
            cpus: vec![0, 1]
        }]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// No NUMA directory: one node of the allowed, online CPUs.
#[test]
fn without_numa_information_the_machine_is_one_node() {
    let topology = Topology::from_sysfs(&fixture("no_numa"), &[1, 2, 7]).unwrap();
    assert_eq!(
        topology.nodes(),
        [Node {
            id: 0,
            cpus: vec![1, 2]
        }]
    );
}

#[test]
fn malformed_files_are_named_in_the_error() {
    let dir = std::env::temp_dir().join(format!("ferrotp-topology-{}", std::process::id()));
    let node0 = dir.join("node/node0");
    std::fs::create_dir_all(&node0).unwrap();
    std::fs::write(node0.join("cpulist"), "0-x\n").unwrap();
    std::fs::write(node0.join("distance"), "10\n").unwrap();
    let error = Topology::from_sysfs(&dir, &all_cpus())
        .unwrap_err()
        .to_string();
    assert!(error.contains("node0/cpulist"), "{error}");
    assert!(error.contains("\"x\""), "{error}");
    std::fs::write(node0.join("cpulist"), "0-1\n").unwrap();
    std::fs::write(node0.join("distance"), "10 20\n").unwrap();
    let error = Topology::from_sysfs(&dir, &all_cpus())
        .unwrap_err()
        .to_string();
    assert!(error.contains("2 distances for 1 nodes"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inconsistent_topologies_are_refused() {
    let overlapping = Topology::new(
        vec![
            Node {
                id: 0,
                cpus: vec![0, 1],
            },
            Node {
                id: 1,
                cpus: vec![1, 2],
            },
        ],
        vec![vec![10, 20], vec![20, 10]],
    );
    assert!(
        overlapping
            .unwrap_err()
            .to_string()
            .contains("CPU 1 is in two nodes")
    );
    let not_square = Topology::new(
        vec![Node {
            id: 0,
            cpus: vec![0],
        }],
        vec![vec![10, 20]],
    );
    assert!(not_square.unwrap_err().to_string().contains("1x1"));
}

#[test]
fn cpu_lists_round_trip() {
    let cpus = parse_cpulist("0-3,8,10-11,5").unwrap();
    assert_eq!(cpus, [0, 1, 2, 3, 5, 8, 10, 11]);
    assert_eq!(format_cpulist(&cpus), "0-3,5,8,10-11");
}

/// This machine: exactly the CPUs of the affinity mask (the kernel keeps
/// offline CPUs out of it), each in one node.
#[test]
fn this_machine_is_detected() {
    let topology = Topology::detect().unwrap();
    let mut cpus: Vec<usize> = topology.cpus().collect();
    cpus.sort_unstable();
    assert_eq!(cpus, allowed_cpus().unwrap());
}
