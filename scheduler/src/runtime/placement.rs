//! Where workers go: the worker → CPU map and each worker's steal order,
//! computed once from a [`Topology`] when the runtime is built.
//!
//! # The map
//!
//! [`Binding::Spread`] deals workers out over the nodes in turn (worker 0
//! on node A, worker 1 on node B, ...), filling each node's CPUs in order:
//! the most memory bandwidth and cache for few workers, like glommio's
//! `MaxSpread` or BEAM's `+sbt nnts`. [`Binding::Pack`] fills one node's
//! CPUs before the next: the least cross-node traffic, like `MaxPack` or
//! BEAM's `+sbt ts`. With more workers than CPUs, the map wraps around.
//!
//! The map is kept whether or not workers are pinned
//! ([`Builder::pin_workers`](crate::Builder::pin_workers)): it is also
//! each worker's node for the steal order, so a topology given in code
//! (a fake 2-node machine in a benchmark) shapes stealing too.
//!
//! # The steal order
//!
//! A worker looks for work at the other workers in *tiers*: first those on
//! its own node, then the other nodes in order of distance from its own
//! (nodes at the same distance form one tier). Within a tier the order is
//! random at every search, so thieves do not all pile onto one victim.
//! Steals are counted as local (same node) or remote.

use std::fmt;

use crate::runtime::topology::{Topology, format_cpulist};

/// Where a placement rule pins the processes it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlaceOn {
    /// The worker pinned to this CPU.
    Core(usize),
    /// A worker on this NUMA node.
    Node(usize),
}

/// A rule: processes whose name matches `pattern` go where `on` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementRule {
    /// The name pattern.
    pub pattern: NamePattern,
    /// Where they go.
    pub on: PlaceOn,
}

/// A name pattern: `*` matches any run of characters (also none), `?`
/// any one character, everything else itself.
///
/// ```
/// use ferrotp_scheduler::placement::NamePattern;
/// let db = NamePattern::new("db.*").unwrap();
/// assert!(db.matches("db.primary") && !db.matches("cache"));
/// assert!(db.overlaps(&NamePattern::new("*.primary").unwrap())); // "db.primary"
/// assert!(!db.overlaps(&NamePattern::new("cache.?").unwrap()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamePattern(Vec<char>);

impl NamePattern {
    /// A pattern.
    ///
    /// # Errors
    /// An empty pattern, or one with `[`, `]`, `{`, `}` or `\` (classes,
    /// alternatives and escapes are not supported): the message says so.
    pub fn new(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("a non-empty name pattern".into());
        }
        if pattern.chars().count() > 256 {
            return Err("a name pattern of at most 256 characters".into());
        }
        if let Some(c) = pattern.chars().find(|c| "[]{}\\".contains(*c)) {
            return Err(format!(
                "a name pattern of plain characters, `*` and `?` (`{c}` is not supported)"
            ));
        }
        Ok(Self(pattern.chars().collect()))
    }

    /// Whether `name` matches (no allocation: it runs at spawn).
    pub fn matches(&self, name: &str) -> bool {
        let p = &self.0;
        // Classic wildcard matching with one backtrack point, over the
        // name's characters by byte position.
        let next = |at: usize| name[at..].chars().next().map(|c| (c, at + c.len_utf8()));
        let (mut i, mut at) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some((c, after)) = next(at) {
            if i < p.len() && p[i] == '*' {
                star = Some((i, at));
                i += 1;
            } else if i < p.len() && (p[i] == '?' || p[i] == c) {
                i += 1;
                at = after;
            } else if let Some((star_i, star_at)) = star {
                // Let the star take one more character, and retry.
                let (_, resume) = next(star_at).expect("the star's position is inside the name");
                star = Some((star_i, resume));
                i = star_i + 1;
                at = resume;
            } else {
                return false;
            }
        }
        p[i..].iter().all(|c| *c == '*')
    }

    /// Whether some name matches both patterns.
    pub fn overlaps(&self, other: &NamePattern) -> bool {
        let (a, b) = (&self.0, &other.0);
        // can[i][j]: some string is matched by both a[i..] and b[j..].
        let mut can = vec![vec![false; b.len() + 1]; a.len() + 1];
        for i in (0..=a.len()).rev() {
            for j in (0..=b.len()).rev() {
                can[i][j] = if i == a.len() && j == b.len() {
                    true
                } else if i < a.len() && a[i] == '*' {
                    // The star matches nothing, or also takes what b[j]
                    // matches (one character, or b's own star's run).
                    can[i + 1][j] || (j < b.len() && can[i][j + 1])
                } else if j < b.len() && b[j] == '*' {
                    can[i][j + 1] || (i < a.len() && can[i + 1][j])
                } else if i < a.len() && j < b.len() {
                    (a[i] == b[j] || a[i] == '?' || b[j] == '?') && can[i + 1][j + 1]
                } else {
                    false
                };
            }
        }
        can[0][0]
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = self.0.iter().collect();
        f.write_str(&text)
    }
}

/// How workers are laid out over the nodes (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Binding {
    /// Across nodes in turn (the default).
    #[default]
    Spread,
    /// Fill one node before the next.
    Pack,
}

/// One worker's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkerPlace {
    /// The CPU it is assigned (and pinned to, with `pin_workers`).
    pub cpu: usize,
    /// The id of that CPU's node.
    pub node: usize,
}

/// The worker → CPU map for `workers` workers (module docs).
///
/// ```
/// use ferrotp_scheduler::placement::{Binding, assign};
/// use ferrotp_scheduler::topology::{Node, Topology};
/// let two = Topology::new(
///     vec![Node { id: 0, cpus: vec![0, 1] }, Node { id: 1, cpus: vec![2, 3] }],
///     vec![vec![10, 21], vec![21, 10]],
/// ).unwrap();
/// let cpus = |binding| assign(&two, 4, binding).iter().map(|p| p.cpu).collect::<Vec<_>>();
/// assert_eq!(cpus(Binding::Spread), [0, 2, 1, 3]);
/// assert_eq!(cpus(Binding::Pack), [0, 1, 2, 3]);
/// ```
pub fn assign(topology: &Topology, workers: usize, binding: Binding) -> Vec<WorkerPlace> {
    let order: Vec<WorkerPlace> = match binding {
        Binding::Pack => topology
            .nodes()
            .iter()
            .flat_map(|node| {
                node.cpus
                    .iter()
                    .map(|&cpu| WorkerPlace { cpu, node: node.id })
            })
            .collect(),
        Binding::Spread => {
            let nodes = topology.nodes();
            let deepest = nodes.iter().map(|n| n.cpus.len()).max().unwrap_or(0);
            (0..deepest)
                .flat_map(|depth| {
                    nodes.iter().filter_map(move |node| {
                        node.cpus
                            .get(depth)
                            .map(|&cpu| WorkerPlace { cpu, node: node.id })
                    })
                })
                .collect()
        }
    };
    (0..workers).map(|i| order[i % order.len()]).collect()
}

/// Checks that every rule can be followed: a `core` rule needs pinned
/// workers and one on its CPU, a `node` rule a worker on its node.
pub(crate) fn check_rules(
    rules: &[PlacementRule],
    places: &[WorkerPlace],
    pinned: bool,
) -> Result<(), String> {
    for rule in rules {
        match rule.on {
            PlaceOn::Core(cpu) if !pinned => {
                return Err(format!(
                    "`{}` pins to CPU {cpu}, but workers are not pinned: set pin_workers",
                    rule.pattern
                ));
            }
            PlaceOn::Core(cpu) if !places.iter().any(|p| p.cpu == cpu) => {
                let mut cpus: Vec<usize> = places.iter().map(|p| p.cpu).collect();
                cpus.sort_unstable();
                cpus.dedup();
                return Err(format!(
                    "`{}` pins to CPU {cpu}, which has no worker; workers are on CPUs {}",
                    rule.pattern,
                    format_cpulist(&cpus)
                ));
            }
            PlaceOn::Node(node) if !places.iter().any(|p| p.node == node) => {
                let mut nodes: Vec<usize> = places.iter().map(|p| p.node).collect();
                nodes.sort_unstable();
                nodes.dedup();
                return Err(format!(
                    "`{}` pins to node {node}, which has no worker; workers are on nodes {nodes:?}",
                    rule.pattern
                ));
            }
            _ => {}
        }
    }
    for (i, a) in rules.iter().enumerate() {
        if let Some(b) = rules[..i].iter().find(|b| b.pattern.overlaps(&a.pattern)) {
            return Err(format!(
                "`{}` and `{}` overlap: some name matches both (rules must not overlap)",
                b.pattern, a.pattern
            ));
        }
    }
    Ok(())
}

/// The steal order of every node: `tiers[n]` lists, for the workers on
/// the `n`th node of `places` (in order of first appearance), groups of
/// worker indices, nearest first; the first group is the node's own
/// workers (a worker skips itself). Memory grows with workers times
/// nodes, not workers squared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StealOrder {
    /// Each worker's node, as an index into `tiers`.
    pub node_of_worker: Vec<usize>,
    /// Each node's tiers of workers.
    pub tiers: Vec<Vec<Vec<usize>>>,
    /// Each node's id and its workers.
    pub workers_by_node: Vec<(usize, Vec<usize>)>,
}

impl StealOrder {
    /// The tiers of worker `worker`.
    pub fn of(&self, worker: usize) -> &[Vec<usize>] {
        &self.tiers[self.node_of_worker[worker]]
    }
}

/// The steal order of `places` on `topology` (module docs).
pub fn steal_order(topology: &Topology, places: &[WorkerPlace]) -> StealOrder {
    let mut workers_by_node: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut node_of_worker = Vec::with_capacity(places.len());
    for (worker, place) in places.iter().enumerate() {
        let at = match workers_by_node
            .iter()
            .position(|(node, _)| *node == place.node)
        {
            Some(at) => at,
            None => {
                workers_by_node.push((place.node, Vec::new()));
                workers_by_node.len() - 1
            }
        };
        workers_by_node[at].1.push(worker);
        node_of_worker.push(at);
    }
    let tiers = workers_by_node
        .iter()
        .map(|(here, _)| {
            let mut others: Vec<(u32, usize)> = workers_by_node
                .iter()
                .enumerate()
                .map(|(at, (there, _))| {
                    let distance = if there == here {
                        0
                    } else {
                        topology.distance(*here, *there).unwrap_or(u32::MAX)
                    };
                    (distance, at)
                })
                .collect();
            others.sort_unstable();
            let mut tiers: Vec<Vec<usize>> = Vec::new();
            let mut last = None;
            for (distance, at) in others {
                if last != Some(distance) {
                    tiers.push(Vec::new());
                    last = Some(distance);
                }
                let tier = tiers.last_mut().expect("pushed above");
                tier.extend(&workers_by_node[at].1);
            }
            for tier in &mut tiers {
                tier.sort_unstable();
            }
            tiers
        })
        .collect();
    StealOrder {
        node_of_worker,
        tiers,
        workers_by_node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::topology::Node;

    fn four_nodes() -> Topology {
        // Two sockets of two nodes: 0-1 close, 2-3 close.
        Topology::new(
            (0..4)
                .map(|id| Node {
                    id,
                    cpus: vec![id * 2, id * 2 + 1],
                })
                .collect(),
            vec![
                vec![10, 16, 32, 32],
                vec![16, 10, 32, 32],
                vec![32, 32, 10, 16],
                vec![32, 32, 16, 10],
            ],
        )
        .unwrap()
    }

    #[test]
    fn spread_deals_workers_over_nodes_and_pack_fills_them() {
        let topology = four_nodes();
        let nodes = |binding| {
            assign(&topology, 6, binding)
                .iter()
                .map(|p| p.node)
                .collect::<Vec<_>>()
        };
        assert_eq!(nodes(Binding::Spread), [0, 1, 2, 3, 0, 1]);
        assert_eq!(nodes(Binding::Pack), [0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn more_workers_than_cpus_wrap_around() {
        let topology = Topology::single_node(vec![3, 5]).unwrap();
        let cpus: Vec<usize> = assign(&topology, 5, Binding::Pack)
            .iter()
            .map(|p| p.cpu)
            .collect();
        assert_eq!(cpus, [3, 5, 3, 5, 3]);
    }

    #[test]
    fn steal_tiers_go_from_the_own_node_outwards_by_distance() {
        let topology = four_nodes();
        let places = assign(&topology, 8, Binding::Pack);
        let order = steal_order(&topology, &places);
        // Worker 0 (node 0): its node (itself skipped when searching),
        // then node 1 (16), then nodes 2 and 3 together (32).
        assert_eq!(order.of(0), [vec![0, 1], vec![2, 3], vec![4, 5, 6, 7]]);
        // Worker 5 (node 2): its node, then node 3, then nodes 0 and 1.
        assert_eq!(order.of(5), [vec![4, 5], vec![6, 7], vec![0, 1, 2, 3]]);
        assert_eq!(order.workers_by_node[2], (2, vec![4, 5]));
    }

    #[test]
    fn one_node_is_one_tier() {
        let topology = Topology::single_node(vec![0, 1, 2]).unwrap();
        let places = assign(&topology, 3, Binding::Spread);
        assert_eq!(steal_order(&topology, &places).of(1), [vec![0, 1, 2]]);
    }
}
