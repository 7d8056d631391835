//! The machine's NUMA topology: its nodes, their CPUs and the distances
//! between them, as far as this process may use them.
//!
//! [`Topology::detect`] reads Linux's sysfs (`/sys/devices/system/node`
//! and `/sys/devices/system/cpu/online`) and keeps only the CPUs that are
//! online and in this process's affinity mask (`sched_getaffinity` of the
//! process's main thread, so taskset and cgroup cpusets hold, and a
//! runtime built on a pinned thread still sees the whole mask). A node left without CPUs (a memory
//! only node, or one the mask excludes) is dropped; distances between the
//! nodes that remain are kept as the kernel reports them (10 = local).
//! Without NUMA information (a container without `/sys`, another OS), or
//! when sysfs cannot be read, the machine is one node of the allowed CPUs,
//! and a line on standard error says so (once per OS process).
//!
//! A topology is a plain value: [`Topology::from_sysfs`] reads any
//! directory laid out like `/sys/devices/system` (the tests ship 1-, 2-
//! and 4-node fixtures), and [`Topology::new`] builds one directly.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where Linux describes CPUs and NUMA nodes.
pub const SYSFS_ROOT: &str = "/sys/devices/system";

/// One NUMA node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The kernel's node number.
    pub id: usize,
    /// Its usable CPUs, ascending.
    pub cpus: Vec<usize>,
}

/// The NUMA nodes this process may use (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    nodes: Vec<Node>,
    /// `distances[i][j]`: from `nodes[i]` to `nodes[j]`.
    distances: Vec<Vec<u32>>,
}

/// Why a topology could not be read or built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TopologyError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// A file did not hold what the kernel writes there.
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
    /// No CPU is both online and allowed for this process.
    NoCpus,
    /// [`Topology::new`] was given inconsistent nodes or distances.
    Invalid(String),
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::Io { path, error } => write!(f, "reading {}: {error}", path.display()),
            TopologyError::Malformed { path, why } => {
                write!(f, "{}: {why}", path.display())
            }
            TopologyError::NoCpus => write!(
                f,
                "no CPU is both online and in this process's affinity mask"
            ),
            TopologyError::Invalid(why) => write!(f, "invalid topology: {why}"),
        }
    }
}

impl std::error::Error for TopologyError {}

impl Topology {
    /// A topology of `nodes` with the distance matrix `distances` (row
    /// and column `i` are `nodes[i]`; 10 is local, as the kernel counts).
    ///
    /// # Errors
    /// [`TopologyError::Invalid`] for a node without CPUs, a CPU in two
    /// nodes, a repeated node id, or a matrix that is not square with the
    /// nodes; [`TopologyError::NoCpus`] for no nodes.
    ///
    /// ```
    /// use ferrotp_scheduler::topology::{Node, Topology};
    /// let two = Topology::new(
    ///     vec![Node { id: 0, cpus: vec![0, 1] }, Node { id: 1, cpus: vec![2, 3] }],
    ///     vec![vec![10, 21], vec![21, 10]],
    /// ).unwrap();
    /// assert_eq!(two.node_of(3), Some(1));
    /// assert_eq!(two.distance(0, 1), Some(21));
    /// ```
    pub fn new(mut nodes: Vec<Node>, distances: Vec<Vec<u32>>) -> Result<Self, TopologyError> {
        if nodes.is_empty() {
            return Err(TopologyError::NoCpus);
        }
        if distances.len() != nodes.len() || distances.iter().any(|row| row.len() != nodes.len()) {
            return Err(TopologyError::Invalid(format!(
                "{} nodes need a {0}x{0} distance matrix",
                nodes.len()
            )));
        }
        nodes.sort_by_key(|node| node.id);
        let mut seen_cpus = std::collections::BTreeSet::new();
        let mut seen_ids = std::collections::BTreeSet::new();
        for node in &mut nodes {
            node.cpus.sort_unstable();
            node.cpus.dedup();
            if node.cpus.is_empty() {
                return Err(TopologyError::Invalid(format!(
                    "node {} has no CPUs",
                    node.id
                )));
            }
            if !seen_ids.insert(node.id) {
                return Err(TopologyError::Invalid(format!(
                    "node {} appears twice",
                    node.id
                )));
            }
            if let Some(cpu) = node.cpus.iter().find(|cpu| !seen_cpus.insert(**cpu)) {
                return Err(TopologyError::Invalid(format!("CPU {cpu} is in two nodes")));
            }
        }
        Ok(Self { nodes, distances })
    }

    /// Nodes `0..n` holding the given CPUs, each `remote` away from every
    /// other (10 = local): a made-up machine for tests and benchmarks.
    ///
    /// ```
    /// use ferrotp_scheduler::topology::Topology;
    /// let two = Topology::uniform(vec![vec![0], vec![1]], 21).unwrap();
    /// assert_eq!((two.node_of(1), two.distance(0, 1)), (Some(1), Some(21)));
    /// ```
    ///
    /// # Errors
    /// As [`Topology::new`].
    pub fn uniform(cpus_by_node: Vec<Vec<usize>>, remote: u32) -> Result<Self, TopologyError> {
        let n = cpus_by_node.len();
        let nodes = cpus_by_node
            .into_iter()
            .enumerate()
            .map(|(id, cpus)| Node { id, cpus })
            .collect();
        let distances = (0..n)
            .map(|i| (0..n).map(|j| if i == j { 10 } else { remote }).collect())
            .collect();
        Self::new(nodes, distances)
    }

    /// One node holding `cpus`.
    ///
    /// # Errors
    /// [`TopologyError::NoCpus`] for no CPUs.
    pub fn single_node(cpus: Vec<usize>) -> Result<Self, TopologyError> {
        if cpus.is_empty() {
            return Err(TopologyError::NoCpus);
        }
        Self::new(vec![Node { id: 0, cpus }], vec![vec![10]])
    }

    /// This machine, as this process may use it (module docs).
    ///
    /// # Errors
    /// Unreadable or malformed sysfs files, or no usable CPU.
    pub fn detect() -> Result<Self, TopologyError> {
        let allowed = allowed_cpus().map_err(|error| TopologyError::Io {
            path: "sched_getaffinity".into(),
            error,
        })?;
        let root = Path::new(SYSFS_ROOT);
        let why = if root.join("node").is_dir() {
            match Self::from_sysfs(root, &allowed) {
                Ok(topology) => return Ok(topology),
                Err(e) => e.to_string(),
            }
        } else {
            format!("{} is missing", root.join("node").display())
        };
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            crate::report::report(
                crate::report::Severity::Warning,
                "runtime",
                None,
                format_args!(
                    "no NUMA information ({why}); treating CPUs {} as one node",
                    format_cpulist(&allowed)
                ),
            );
        });
        Self::single_node(allowed)
    }

    /// Reads a directory laid out like `/sys/devices/system` (`node/nodeN/
    /// cpulist`, `node/nodeN/distance`, and `cpu/online` if present),
    /// keeping only the CPUs in `allowed`. Without a `node` directory, the
    /// allowed online CPUs are one node.
    ///
    /// # Errors
    /// Unreadable or malformed files, or no CPU that is both online and
    /// allowed.
    pub fn from_sysfs(root: &Path, allowed: &[usize]) -> Result<Self, TopologyError> {
        let online_path = root.join("cpu/online");
        let online = if online_path.exists() {
            Some(parse_cpulist(&read(&online_path)?).map_err(|why| malformed(&online_path, why))?)
        } else {
            None
        };
        let usable = |cpu: &usize| {
            allowed.contains(cpu) && online.as_ref().is_none_or(|online| online.contains(cpu))
        };
        let node_dir = root.join("node");
        if !node_dir.is_dir() {
            return Self::single_node(allowed.iter().copied().filter(usable).collect());
        }
        let mut found: Vec<(usize, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&node_dir).map_err(|error| io_error(&node_dir, error))? {
            let entry = entry.map_err(|error| io_error(&node_dir, error))?;
            let name = entry.file_name();
            let Some(number) = name.to_str().and_then(|n| n.strip_prefix("node")) else {
                continue;
            };
            if let Ok(id) = number.parse::<usize>() {
                found.push((id, entry.path()));
            }
        }
        found.sort_unstable_by_key(|(id, _)| *id);
        if found.is_empty() {
            // A node directory without nodes: no NUMA information.
            return Self::single_node(allowed.iter().copied().filter(usable).collect());
        }
        let all_ids: Vec<usize> = found.iter().map(|(id, _)| *id).collect();
        let mut nodes = Vec::new();
        let mut rows = Vec::new();
        for (id, dir) in &found {
            let cpulist_path = dir.join("cpulist");
            let cpus: Vec<usize> = parse_cpulist(&read(&cpulist_path)?)
                .map_err(|why| malformed(&cpulist_path, why))?
                .into_iter()
                .filter(usable)
                .collect();
            if cpus.is_empty() {
                continue;
            }
            let distance_path = dir.join("distance");
            let row = parse_distances(&read(&distance_path)?, all_ids.len())
                .map_err(|why| malformed(&distance_path, why))?;
            nodes.push(Node { id: *id, cpus });
            rows.push(row);
        }
        if nodes.is_empty() {
            return Err(TopologyError::NoCpus);
        }
        // Keep the columns of the nodes that remain.
        let kept: Vec<usize> = nodes
            .iter()
            .map(|node| {
                all_ids
                    .iter()
                    .position(|id| *id == node.id)
                    .expect("found above")
            })
            .collect();
        let distances = rows
            .into_iter()
            .map(|row| kept.iter().map(|&column| row[column]).collect())
            .collect();
        Self::new(nodes, distances)
    }

    /// The nodes, by ascending id.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Every usable CPU, by node then ascending.
    pub fn cpus(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.iter().flat_map(|node| node.cpus.iter().copied())
    }

    /// The id of the node that holds `cpu`, if it is usable.
    pub fn node_of(&self, cpu: usize) -> Option<usize> {
        self.nodes
            .iter()
            .find(|node| node.cpus.contains(&cpu))
            .map(|node| node.id)
    }

    /// The distance between nodes `from` and `to` (by id; 10 = local).
    pub fn distance(&self, from: usize, to: usize) -> Option<u32> {
        let i = self.nodes.iter().position(|node| node.id == from)?;
        let j = self.nodes.iter().position(|node| node.id == to)?;
        Some(self.distances[i][j])
    }
}

fn read(path: &Path) -> Result<String, TopologyError> {
    fs::read_to_string(path).map_err(|error| io_error(path, error))
}

fn io_error(path: &Path, error: io::Error) -> TopologyError {
    TopologyError::Io {
        path: path.to_owned(),
        error,
    }
}

fn malformed(path: &Path, why: String) -> TopologyError {
    TopologyError::Malformed {
        path: path.to_owned(),
        why,
    }
}

/// Parses the kernel's CPU list format: `0-3,8,10-11` (empty for none).
///
/// ```
/// use ferrotp_scheduler::topology::parse_cpulist;
/// assert_eq!(parse_cpulist("0-3,8,10-11\n"), Ok(vec![0, 1, 2, 3, 8, 10, 11]));
/// assert_eq!(parse_cpulist(""), Ok(vec![]));
/// assert!(parse_cpulist("3-1").is_err());
/// ```
///
/// # Errors
/// What is wrong with the text.
pub fn parse_cpulist(text: &str) -> Result<Vec<usize>, String> {
    /// No machine has more CPUs than this; a bigger range is a mistake
    /// (and would take all memory to expand).
    const MAX_CPU: usize = 1 << 20;
    let text = text.trim();
    let mut cpus = Vec::new();
    if text.is_empty() {
        return Ok(cpus);
    }
    for part in text.split(',') {
        let number = |n: &str| {
            n.trim()
                .parse::<usize>()
                .map_err(|_| format!("{n:?} in the CPU list {text:?} is not a CPU number"))
        };
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (number(first)?, number(last)?);
                if first > last {
                    return Err(format!("the range {part:?} in {text:?} runs backwards"));
                }
                if last >= MAX_CPU {
                    return Err(format!("CPU {last} in {text:?} is beyond any machine"));
                }
                cpus.extend(first..=last);
            }
            None => cpus.push(number(part)?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// The CPU list format of `cpus` (ascending): `0-3,8`.
pub fn format_cpulist(cpus: &[usize]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// Parses a node's `distance` file: one number per node.
fn parse_distances(text: &str, nodes: usize) -> Result<Vec<u32>, String> {
    let row: Vec<u32> = text
        .split_whitespace()
        .map(|n| {
            n.parse::<u32>()
                .map_err(|_| format!("{n:?} is not a distance"))
        })
        .collect::<Result<_, _>>()?;
    if row.len() != nodes {
        return Err(format!(
            "{} distances for {nodes} nodes: {text:?}",
            row.len()
        ));
    }
    Ok(row)
}

/// The CPUs in this process's affinity mask: that of its main thread
/// (the calling thread may have been pinned narrower).
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // A mask as big as the kernel needs: `cpu_set_t` holds 1024 CPUs, and
    // the call fails with EINVAL while the buffer is smaller than the
    // kernel's mask.
    let mut words = vec![0u64; 16];
    loop {
        let bytes = words.len() * 8;
        // SAFETY: the buffer is `bytes` long and writable; the kernel
        // writes at most that many bytes of mask into it. getpid has no
        // preconditions.
        let result = unsafe {
            libc::sched_getaffinity(
                libc::getpid(),
                bytes,
                words.as_mut_ptr().cast::<libc::cpu_set_t>(),
            )
        };
        if result == 0 {
            break;
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EINVAL) && bytes < (1 << 20) {
            words.resize(words.len() * 2, 0);
            continue;
        }
        return Err(error);
    }
    Ok(words
        .iter()
        .enumerate()
        .flat_map(|(w, &word)| {
            (0..64)
                .filter(move |bit| word >> bit & 1 == 1)
                .map(move |bit| w * 64 + bit)
        })
        .collect())
}

/// The CPUs in this process's affinity mask: all of them, where there is
/// no `sched_getaffinity`.
#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    Ok((0..std::thread::available_parallelism().map_or(1, usize::from)).collect())
}
