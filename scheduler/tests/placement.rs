//! Worker pinning and per-process placement: a process pinned to a core
//! runs on that CPU (`sched_getcpu`) at every turn; one pinned to a node
//! runs on that node's worker; bad placements are refused with errors
//! that say what is allowed.

use ferrotp_scheduler::placement::{Binding, WorkerPlace};
use ferrotp_scheduler::topology::{Topology, allowed_cpus};
use ferrotp_scheduler::{
    BuildError, Runtime, SpawnError, SpawnOptions, process_info, receive, self_pid, send,
    spawn_opt, yield_now,
};

fn cpu_now() -> usize {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).expect("sched_getcpu works on Linux")
}

/// The machine's first two allowed CPUs, if it has two.
fn two_cpus() -> Option<[usize; 2]> {
    let allowed = allowed_cpus().unwrap();
    (allowed.len() >= 2).then(|| [allowed[0], allowed[1]])
}

#[test]
fn a_process_pinned_to_a_core_always_runs_there() {
    let Some([first, second]) = two_cpus() else {
        eprintln!("skipped: needs two CPUs");
        return;
    };
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .topology(Topology::single_node(vec![first, second]).unwrap())
        .pin_workers(true)
        .build()
        .unwrap();
    assert_eq!(
        rt.placement(),
        [
            WorkerPlace {
                cpu: first,
                node: 0
            },
            WorkerPlace {
                cpu: second,
                node: 0
            }
        ]
    );
    let seen = rt.block_on(move || {
        let me = self_pid();
        for cpu in [first, second] {
            let me = me.clone();
            spawn_opt(SpawnOptions::new().core(cpu), move || {
                let mut seen = Vec::new();
                for _ in 0..200 {
                    seen.push(cpu_now());
                    yield_now();
                }
                send(&me, (cpu, seen));
            })
            .unwrap();
        }
        // Busy spawners compete for the workers meanwhile.
        for _ in 0..100 {
            ferrotp_scheduler::spawn(|| {
                for _ in 0..50 {
                    yield_now();
                }
            });
        }
        [
            receive::<(usize, Vec<usize>)>(),
            receive::<(usize, Vec<usize>)>(),
        ]
    });
    for (cpu, seen) in seen {
        assert!(
            seen.iter().all(|&c| c == cpu),
            "pinned to {cpu}, ran on {seen:?}"
        );
    }
}

/// A fake two-node machine (each CPU a node): a process pinned to node 1
/// runs on node 1's worker throughout.
#[test]
fn a_process_pinned_to_a_node_runs_on_that_nodes_worker() {
    let two_nodes = Topology::uniform(vec![vec![0], vec![1]], 21).unwrap();
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .topology(two_nodes)
        .binding(Binding::Pack)
        .build()
        .unwrap();
    let on_node_1 = rt.placement().iter().position(|p| p.node == 1).unwrap();
    let on_node_0 = rt.placement().iter().position(|p| p.node == 0).unwrap();
    let workers = rt.block_on(move || {
        let root = self_pid();
        // Spawned from node 0's worker, so staying put would be wrong.
        spawn_opt(SpawnOptions::new().worker(on_node_0), move || {
            let me = self_pid();
            spawn_opt(SpawnOptions::new().node(1), move || {
                let mut workers = Vec::new();
                for _ in 0..100 {
                    workers.push(process_info(&self_pid()).unwrap().worker);
                    yield_now();
                }
                send(&me, workers);
            })
            .unwrap();
            send(&root, receive::<Vec<Option<usize>>>());
        })
        .unwrap();
        receive::<Vec<Option<usize>>>()
    });
    assert!(workers.iter().all(|w| *w == Some(on_node_1)), "{workers:?}");
}

#[test]
fn pinning_to_a_cpu_this_process_may_not_use_is_refused() {
    let allowed = allowed_cpus().unwrap();
    let forbidden = allowed.iter().max().unwrap() + 1;
    let error = Runtime::builder()
        .environment([])
        .workers(1)
        .topology(Topology::single_node(vec![forbidden]).unwrap())
        .pin_workers(true)
        .build()
        .unwrap_err();
    assert!(matches!(error, BuildError::Core { cpu, .. } if cpu == forbidden));
    let message = error.to_string();
    assert!(message.contains(&format!("CPU {forbidden}")), "{message}");
    assert!(message.contains("allowed: CPUs"), "{message}");
}

#[test]
fn bad_process_placements_are_refused() {
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .build()
        .unwrap();
    let errors = rt.block_on(|| {
        let unpinned = spawn_opt(SpawnOptions::new().core(0), || {}).unwrap_err();
        let no_node = spawn_opt(SpawnOptions::new().node(7), || {}).unwrap_err();
        (unpinned, no_node)
    });
    assert!(
        matches!(&errors.0, SpawnError::NoWorkerOnCore { cpu: 0, pinned } if pinned.is_empty())
    );
    assert!(errors.0.to_string().contains("pin_workers(true)"));
    assert!(matches!(
        &errors.1,
        SpawnError::NoWorkerOnNode { node: 7, .. }
    ));
    assert!(
        errors.1.to_string().contains("workers on nodes [0]"),
        "{}",
        errors.1
    );
}

/// A fork-join load, then the steal counters: on one node every steal is
/// local; on two nodes with one worker each, every steal is remote.
#[test]
fn steals_are_counted_local_or_remote_by_node() {
    fn fork_join(parent: ferrotp_scheduler::Pid, depth: u32) {
        if depth == 0 {
            send(&parent, 1u64);
            return;
        }
        let me = self_pid();
        for _ in 0..8 {
            let me = me.clone();
            ferrotp_scheduler::spawn(move || fork_join(me, depth - 1));
        }
        let sum: u64 = (0..8).map(|_| receive::<u64>()).sum();
        send(&parent, sum);
    }
    let steals = |topology: Topology| {
        let rt = Runtime::builder()
            .environment([])
            .workers(2)
            .topology(topology)
            .build()
            .unwrap();
        let leaves = rt.block_on(|| {
            let me = self_pid();
            ferrotp_scheduler::spawn(move || fork_join(me, 3));
            receive::<u64>()
        });
        assert_eq!(leaves, 512);
        let metrics = rt.metrics();
        let all: u64 = metrics.workers.iter().map(|w| w.steals).sum();
        let local: u64 = metrics.workers.iter().map(|w| w.local_steals).sum();
        (all, local)
    };
    let (all, local) = steals(Topology::single_node(vec![0, 1]).unwrap());
    assert_eq!(local, all, "one node: every steal is local");
    let two_nodes = Topology::uniform(vec![vec![0], vec![1]], 21).unwrap();
    let (_, local) = steals(two_nodes);
    assert_eq!(local, 0, "one worker per node: every steal is remote");
}
