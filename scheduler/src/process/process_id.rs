//! Process identity: the number that names a process, printed the way
//! Erlang prints a pid.
//!
//! A [`ProcessId`] is a node number (0 for this runtime; other values are
//! kept for the distribution layer planned later) and a 64-bit number
//! unique within the node. It prints as `<node.number.serial>`, Erlang's
//! form, with the low 32 bits as the number and the high 32 bits as the
//! serial, so the first four billion processes print as `<0.N.0>`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The identity of a process: [`Pid::id`](crate::Pid::id) returns it,
/// and a pid prints as its id does.
///
/// ```
/// use ferrotp_scheduler::{ProcessId, run, self_pid, spawn};
/// let (me, child) = run(|| (self_pid(), spawn(|| {}))).unwrap();
/// assert_ne!(me.id(), child.id());
/// assert_eq!(me.to_string(), me.id().to_string());
/// assert_eq!(me.id().node(), 0); // this runtime's own node
/// assert_eq!(ProcessId::new(0, 42).to_string(), "<0.42.0>");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId {
    node: u32,
    number: u64,
}

impl ProcessId {
    /// The identity of process `number` on `node` (0: this runtime).
    pub const fn new(node: u32, number: u64) -> Self {
        Self { node, number }
    }

    /// A fresh identity on this node: each call returns a number never
    /// returned before in this OS process.
    ///
    /// ```
    /// use ferrotp_scheduler::process_id::ProcessId;
    /// let a = ProcessId::next_local();
    /// let b = ProcessId::next_local();
    /// assert!(a < b);
    /// assert_eq!(a.node(), 0);
    /// ```
    pub fn next_local() -> Self {
        Self::new(0, Self::reserve_local(1).start)
    }

    /// Reserves `count` fresh numbers on this node at once (workers take
    /// them in blocks, so that spawning does not make every core increment
    /// one shared counter).
    ///
    /// ```
    /// use ferrotp_scheduler::process_id::ProcessId;
    /// let block = ProcessId::reserve_local(10);
    /// assert_eq!(block.end - block.start, 10);
    /// assert!(ProcessId::next_local().number() >= block.end);
    /// ```
    pub fn reserve_local(count: u64) -> std::ops::Range<u64> {
        // Relaxed: uniqueness needs only the atomicity of the increment.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let start = NEXT.fetch_add(count, Ordering::Relaxed);
        start..start + count
    }

    /// The node part (0: this runtime).
    pub fn node(&self) -> u32 {
        self.node
    }

    /// The number within the node.
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl fmt::Display for ProcessId {
    /// `<node.number.serial>`:
    ///
    /// ```
    /// use ferrotp_scheduler::process_id::ProcessId;
    /// assert_eq!(ProcessId::new(0, 42).to_string(), "<0.42.0>");
    /// assert_eq!(ProcessId::new(3, (7 << 32) | 5).to_string(), "<3.5.7>");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<{}.{}.{}>",
            self.node,
            self.number & 0xffff_ffff,
            self.number >> 32
        )
    }
}
