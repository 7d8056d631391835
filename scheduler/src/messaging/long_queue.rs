//! The long-message-queue monitor (OTP 27's `system_monitor`
//! `long_message_queue`): a process whose mailbox grows past a high mark
//! is reported once, and again only after it has drained to a low mark.
//!
//! # Design
//!
//! * **Marks** ([`QueueMarks`]): a high mark and a lower mark, fixed at
//!   spawn, from [`SpawnOptions::long_message_queue`](crate::SpawnOptions::long_message_queue)
//!   or else the runtime's
//!   [`Builder::long_message_queue`](crate::Builder::long_message_queue)
//!   (also the `long_message_queue` key of the configuration file and
//!   `FERROTP_LONG_MESSAGE_QUEUE`). Off by default.
//! * **Where it is looked at**: by the process itself, as it receives:
//!   at each receive (before it takes a message) and at each wake-up
//!   inside one (a selective receive waiting for one message while others
//!   pile up sees each arrival). The length then is exact and O(1) (the
//!   receiver's private count plus the arrivals' tail word), and the send
//!   path is untouched. Like BEAM, which looks at the queue as the
//!   process handles its signals, a process that computes without
//!   receiving is not reported until it receives again (the long-schedule
//!   monitor reports that one).
//! * **Cost when off**: one branch on a field of the process's context,
//!   which each receive already has in hand. No allocation when on either.
//!
//! # Invariants
//!
//! 1. A process is *long* from the moment a look finds at least `high`
//!    messages until a look finds at most `low`; the flag lives in its
//!    control block (so it survives hibernation) and only the process
//!    writes it.
//! 2. Each change of that flag is reported exactly once: becoming long as
//!    a `tracing` warning (report kind `long_message_queue`) and to the
//!    hook; draining to the low mark to the hook only. So across fill and
//!    drain cycles the number of reports is the number of cycles whose
//!    fill reached `high` after a drain to `low`.
//! 3. The hook runs in the reported process, in the middle of its
//!    receive: it may send (also to that process) but must not receive or
//!    block; a panic in it is reported and contained.

use std::num::NonZeroU32;

use crate::process::Pid;

/// The marks of the long-message-queue monitor (module docs): a mailbox
/// reported long once it holds `high` messages, and again only after it
/// has drained to `low`.
///
/// ```
/// use ferrotp_scheduler::QueueMarks;
/// let marks = QueueMarks::new(10_000, 5_000);
/// assert_eq!((marks.high(), marks.low()), (10_000, 5_000));
/// assert_eq!(marks.to_string(), "10000,5000"); // as the config file writes it
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueueMarks {
    high: NonZeroU32,
    low: u32,
}

impl QueueMarks {
    /// A high mark and a lower mark.
    ///
    /// # Panics
    /// If `low` is not below `high` (the monitor could never re-arm).
    pub fn new(high: u32, low: u32) -> Self {
        Self::try_new(high, low).unwrap_or_else(|| {
            panic!(
                "ferrotp: QueueMarks::new({high}, {low}): the low mark must be below the high mark"
            )
        })
    }

    /// [`new`](Self::new), `None` instead of a panic.
    pub fn try_new(high: u32, low: u32) -> Option<Self> {
        if low >= high {
            return None;
        }
        Some(Self {
            high: NonZeroU32::new(high)?,
            low,
        })
    }

    /// The length at which a mailbox is reported long.
    pub fn high(self) -> u32 {
        self.high.get()
    }

    /// The length to which it must drain before it can be reported again.
    pub fn low(self) -> u32 {
        self.low
    }
}

impl std::fmt::Display for QueueMarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.high, self.low)
    }
}

/// A change of a process's long-message-queue state, as the
/// [`long_message_queue_hook`](crate::Builder::long_message_queue_hook)
/// gets it (module docs: the hook runs in that process).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ferrotp_scheduler::{LongMessageQueue, QueueMarks, Runtime, receive, receive_match,
///     self_pid, send, spawn};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let rt = Runtime::builder()
///     .long_message_queue(Some(QueueMarks::new(3, 1)))
///     .long_message_queue_hook(move |event: LongMessageQueue| {
///         log.lock().unwrap().push((event.long, event.length));
///     })
///     .build()?;
/// rt.block_on(|| {
///     let me = self_pid();
///     let slow = spawn(move || {
///         receive_match::<&str>(|m| *m == "go"); // the u64s pile up meanwhile
///         for _ in 0..5 { receive::<u64>(); }
///         receive::<()>(); // drained: 0 queued
///         send(&me, ());
///     });
///     for n in 0..5u64 { send(&slow, n); }
///     send(&slow, "go");
///     send(&slow, ());
///     receive::<()>();
/// });
/// let seen = seen.lock().unwrap();
/// assert_eq!(seen.len(), 2);
/// assert!(seen[0].0 && seen[0].1 >= 3); // long, once
/// assert_eq!(seen[1].0, false); // drained to the low mark
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LongMessageQueue {
    /// The process.
    pub pid: Pid,
    /// Its mailbox's length when looked at.
    pub length: usize,
    /// True: it reached the high mark; false: it drained to the low mark.
    pub long: bool,
    /// The marks it was watched with.
    pub marks: QueueMarks,
}

/// Called with each change (module docs: in the reported process).
pub type LongMessageQueueHook = Box<dyn Fn(LongMessageQueue) + Send + Sync>;

/// The look (module docs): the process of `pcb`, with marks `marks`,
/// finds `length` messages queued.
#[cold]
#[inline(never)]
pub(crate) fn look(pcb: &std::sync::Arc<crate::process::Pcb>, marks: QueueMarks, length: usize) {
    use std::sync::atomic::Ordering;
    // Relaxed: only this process reads and writes its flag.
    let long = pcb.queue_long.load(Ordering::Relaxed);
    let now_long = if !long && length >= marks.high() as usize {
        true
    } else if long && length <= marks.low() as usize {
        false
    } else {
        return;
    };
    pcb.queue_long.store(now_long, Ordering::Relaxed);
    if now_long {
        crate::report::report_process(
            crate::report::Severity::Warning,
            "long_message_queue",
            pcb,
            format_args!(
                "process {} has {length} messages queued (its long-message-queue high mark is \
                 {}); it is reported again once it has drained to {}",
                describe_pcb(pcb),
                marks.high(),
                marks.low()
            ),
        );
    }
    if let Some(hook) = &pcb.shared().long_message_queue_hook {
        let event = LongMessageQueue {
            pid: Pid(std::sync::Arc::clone(pcb)),
            length,
            long: now_long,
            marks,
        };
        crate::worker::contain::contain("the long-message-queue hook", || hook(event));
    }
}

fn describe_pcb(pcb: &crate::process::Pcb) -> String {
    match pcb.name() {
        Some(name) => format!("{} ({name:?})", pcb.id),
        None => pcb.id.to_string(),
    }
}
