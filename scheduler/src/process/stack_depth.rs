//! Deep recursion without a stack overflow: the red zone, and stack
//! segments ([`maybe_grow`]).
//!
//! A process runs on a fixed-size stack (64 KiB by default) with a guard
//! page below it; running into the guard page aborts the program (module
//! `overflow` says why it cannot be made safe in general). Two safe ways
//! keep a process off its guard page.
//!
//! # The red zone
//!
//! Every runtime check point (send, receive, spawn, [`reduce`](crate::reduce),
//! [`yield_now`](crate::yield_now)) also compares the stack pointer with the
//! process's *red zone*: the lowest quarter of its stack, from
//! [`MIN_RED_ZONE`] (at most half the stack) to [`MAX_RED_ZONE`] bytes. A
//! process that reaches a check point inside it panics: an ordinary panic,
//! so its stack unwinds, its destructors run, and it ends with
//! [`ExitReason::StackOverflow`](crate::ExitReason::StackOverflow) (code
//! that catches the panic may go on: the unwind has given the stack back).
//! The panic hook runs on a fresh segment (below), and the unwind and the
//! destructors then run on the red zone. A process that is already
//! unwinding does not panic again (a second unwind inside the first would
//! abort). Recursion that reaches no check point, or whose frames between
//! two check points are bigger than the red zone, can still run into the
//! guard page (the program then aborts with a report naming the process):
//! give such code a [`maybe_grow`] call at each level.
//!
//! # Panic hooks
//!
//! Any panic's hook runs on the panicking process's stack, and the default
//! hook symbolising a backtrace (`RUST_BACKTRACE=1`) needs about 20 KiB,
//! more than a small process stack, or one deep in recursion, has left. So
//! each runtime, as it is built, wraps the panic hook installed then
//! (unless it is the wrapper already): in a process with less than 64 KiB
//! of stack left, the hook runs on a fresh 128 KiB segment. A hook
//! installed after the runtime is built replaces the wrapper until the
//! next runtime is built. std forbids changing the hook on a panicking
//! thread: a runtime built there (in a destructor during an unwind, or in
//! a panic hook) leaves the hook as it is, and until a runtime is built
//! outside a panic, a panic in a process short of stack runs the hook
//! where it is (an overflow there aborts the program with a report).
//! Wrapping waits for std's hook lock, as `std::panic::set_hook` does:
//! building a runtime while another thread's panic hook runs waits for
//! that hook to return (a hook that waits for the new runtime deadlocks).
//!
//! # Segments
//!
//! [`maybe_grow`] (the `stacker` crate's helper, for processes) runs a
//! closure on a fresh stack segment from the worker's stack pool when the
//! stack left is below the red zone the caller names, and on the current
//! stack otherwise. While it runs there, the segment is the process's
//! stack for every purpose: the red zone and the overflow report look at
//! the segment, and the process may block, be killed (the unwind crosses
//! back to the stack below, and the segment returns to the pool) or be
//! abandoned (the segment is quarantined with the rest of the process's
//! stack, module `stack`).

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::context::{HOOK_SEGMENT, Switched, take_segment, try_with_process};
use crate::process::red_zone::stack_pointer;
use crate::process::stack::MAX_STACK_SIZE;
use crate::worker::core::try_with_worker;

/// Below this much stack left, a process's panic hook runs on a segment.
const HOOK_ROOM: usize = 64 * 1024;

/// Bytes of stack left to the running process, down to its guard page (on
/// a [`maybe_grow`] segment: left on the segment); `None` outside a
/// process. Exit hooks that a process runs for a child that never ran
/// (they run outside any process, on the spawner's stack) see the
/// spawner's stack, and [`maybe_grow`] grows it for them.
///
/// ```
/// let (left, deeper) = ferrotp_scheduler::run(|| {
///     fn nested(depth: u32) -> usize {
///         let frame = std::hint::black_box([0u8; 1024]);
///         if depth == 0 {
///             ferrotp_scheduler::remaining_stack().unwrap() + frame[0] as usize
///         } else {
///             nested(depth - 1)
///         }
///     }
///     (ferrotp_scheduler::remaining_stack().unwrap(), nested(8))
/// }).unwrap();
/// assert!(left <= 64 * 1024 && deeper < left);
/// assert_eq!(ferrotp_scheduler::remaining_stack(), None);
/// ```
pub fn remaining_stack() -> Option<usize> {
    crate::process::context::try_with_running_process(|ctx| {
        stack_pointer().saturating_sub(ctx.stack_bounds().low)
    })
}

/// Runs `f` on a fresh stack segment of `stack_size` bytes if the running
/// process has less than `red_zone` bytes of stack left, and on the
/// current stack otherwise (the `stacker` crate's `maybe_grow`, for
/// ferrotp processes). Put it at each level of a deep recursion:
///
/// ```
/// fn depth_first(n: u64) -> u64 {
///     // 32 KiB left or more: go on here; less: on a new 256 KiB segment.
///     ferrotp_scheduler::maybe_grow(32 * 1024, 256 * 1024, || {
///         let frame = std::hint::black_box([n; 64]); // 512 bytes a level
///         if n == 0 { 0 } else { frame[0] + depth_first(n - 1) - n + 1 }
///     })
/// }
/// // 20,000 levels of 512 bytes: 10 MB, on a 64 KiB process stack.
/// let levels = ferrotp_scheduler::run(|| depth_first(20_000)).unwrap();
/// assert_eq!(levels, 20_000);
/// ```
///
/// The segment comes from the worker's stack pool and goes back to it when
/// `f` returns or unwinds. `f` may block, and the process may be killed
/// while it runs (module docs). Outside a process `f` runs on the current
/// thread's stack.
///
/// # Panics
/// If `stack_size` is above the largest process stack (256 MiB), or no
/// stack can be had (the message says why and what to change). A panic
/// of `f` goes on from here.
pub fn maybe_grow<R>(red_zone: usize, stack_size: usize, f: impl FnOnce() -> R) -> R {
    match remaining_stack() {
        Some(left) if left < red_zone => on_segment(stack_size, f),
        _ => f(),
    }
}

/// Runs `f` on a new segment (the slow half of [`maybe_grow`]).
#[cold]
#[inline(never)]
fn on_segment<R>(stack_size: usize, f: impl FnOnce() -> R) -> R {
    assert!(
        stack_size <= MAX_STACK_SIZE,
        "ferrotp::maybe_grow: a stack segment of {stack_size} bytes was asked for; at most \
         {MAX_STACK_SIZE} are allowed"
    );
    let segment = match take_segment(stack_size) {
        Ok(segment) => segment,
        Err(error) => panic!("ferrotp::maybe_grow: system_limit: {error}"),
    };
    let on = Switched::to(segment);
    // A panic (or a kill's unwind) is caught on the segment and thrown on
    // from here once the process is back on its own stack, so that the
    // overflow handler knows which guard page is the process's while the
    // unwind goes on below.
    let result = corosensei::on_stack(on.stack(), || catch_unwind(AssertUnwindSafe(f)));
    drop(on);
    match result {
        Ok(value) => value,
        Err(payload) => resume_unwind(payload),
    }
}

/// The panic hook's type.
type Hook = dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static;

/// The wrapper installed last, by address: data pointer and vtable
/// (another hook allocated where a dropped wrapper was has another
/// vtable). Only compared, never dereferenced.
struct Installed(*const Hook);

// SAFETY: the pointer is never dereferenced, only compared.
unsafe impl Send for Installed {}

/// The wrapper installed last ([`install_panic_hook`]).
static INSTALLED: std::sync::Mutex<Option<Installed>> = std::sync::Mutex::new(None);

/// A runtime has wrapped the hook: set after the first wrap, read
/// without a lock (a thread inside the panic hook must not wait for
/// [`INSTALLED`], whose holder may be waiting for std's hook lock).
static EVER_WRAPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// [`install_panic_hook`] on a panicking thread (a runtime built in a
/// destructor during an unwind, or inside the panic hook itself): std
/// refuses to change the hook there. No other thread may change it for
/// this one either, now or later: if this thread is inside the hook it
/// holds std's hook lock, and a thread waiting to take that lock for
/// writing stops every later panic in the program (std's lock lets no new
/// reader past a waiting writer) until the hook returns, which may wait
/// for one of them: a deadlock. And the runtime's own calls (`block_on`,
/// `spawn`) must not wait for that lock, for the same reason. So the hook
/// stays as it is until a runtime is built outside a panic; if no runtime
/// has wrapped it before, this says so. Never waits for a lock.
/// The crash report of a process that panics: its pid, name, where and
/// why, and a backtrace when `RUST_BACKTRACE` asks for one (module
/// `report`). Straight to standard error with no `tracing` subscriber;
/// else kept for the process's end (nothing here runs the program's code:
/// a panic inside a panic hook aborts).
#[cold]
fn crash_report(pcb: &crate::process::Pcb, info: &std::panic::PanicHookInfo<'_>) {
    let message = match ExitReason::from_panic(info.payload()) {
        ExitReason::Panic(message) => message,
        other => other.to_string().into(),
    };
    let name = pcb
        .name()
        .map(|name| format!(" ({name:?})"))
        .unwrap_or_default();
    let at = info
        .location()
        .map(|at| format!(" at {at}"))
        .unwrap_or_default();
    let backtrace = std::backtrace::Backtrace::capture();
    let backtrace = match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => {
            format!(
                "\nstack backtrace:\n{}",
                short_backtrace(&backtrace.to_string())
            )
        }
        _ => String::new(),
    };
    let report = format!(
        "process {}{name} panicked{at}:\n{message}{backtrace}",
        pcb.id
    );
    if crate::report::traced() {
        let _ = crate::process::context::try_with_running_process(|ctx| {
            ctx.keep_crash_report(report.into_boxed_str());
        });
    } else {
        let _ = writeln!(std::io::stderr(), "ferrotp: {report}");
    }
}

/// The frames of a process's panic that are the process's own: from
/// below the panic machinery (and this hook) to above the runtime's
/// process entry, as std's default hook shortens a thread's. All of them
/// with `RUST_BACKTRACE=full`.
fn short_backtrace(full: &str) -> String {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v == "full") {
        return full.to_owned();
    }
    // A frame is its numbered line and the `at ...` lines below it.
    let mut frames: Vec<String> = Vec::new();
    for line in full.lines() {
        let numbered = line
            .trim_start()
            .split_once(": ")
            .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
        match frames.last_mut() {
            Some(frame) if !numbered => {
                frame.push('\n');
                frame.push_str(line);
            }
            _ => frames.push(line.to_owned()),
        }
    }
    let start = frames
        .iter()
        .rposition(|f| {
            f.contains("rust_begin_unwind")
                || f.contains("core::panicking::")
                || f.contains("std::panicking::begin_panic")
        })
        .map_or(0, |at| at + 1);
    let end = frames
        .iter()
        .position(|f| f.contains("ferrotp_scheduler::process::entry::"))
        .unwrap_or(frames.len())
        .max(start);
    let mut short = frames[start..end].join("\n");
    short.push_str(
        "\nnote: frames of the panic machinery and of the runtime are omitted; \
         RUST_BACKTRACE=full shows them",
    );
    short
}

#[cold]
fn unwrapped_on_a_panicking_thread() {
    if EVER_WRAPPED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    crate::report::report(
        crate::report::Severity::Warning,
        "runtime",
        None,
        format_args!(
            "a runtime built while its thread panics (in a destructor during an unwind, or in \
             a panic hook) cannot wrap the panic hook: until a runtime is built outside a \
             panic, a panic in a process with little stack left runs the hook on that stack, \
             which may overflow it (the program then aborts with a report)"
        ),
    );
}

/// Makes every panic hook run with room: ferrotp's hook wraps the one
/// installed now and, in a process with less than 64 KiB of stack left,
/// runs it on a fresh 128 KiB segment (the default hook symbolising a
/// backtrace, `RUST_BACKTRACE=1`, takes about 20 KiB, which a small
/// process stack, or one deep in recursion, does not have). While the hook
/// runs, the process does not give its worker up where it can avoid it:
/// std holds its hook lock meanwhile. Called as each runtime is built:
/// the hook installed then is wrapped unless it is the wrapper already (a
/// hook installed since an earlier runtime, the default hook restored by a
/// test harness say, is wrapped in its turn). A hook installed after the
/// runtime is built replaces the wrapper and runs on the process's own
/// stack. On a panicking thread nothing is wrapped
/// ([`unwrapped_on_a_panicking_thread`]).
///
/// Like `std::panic::set_hook`, this waits for std's hook lock: a runtime
/// built while another thread's panic hook runs waits for that hook to
/// return.
pub(crate) fn install_panic_hook() {
    if std::thread::panicking() {
        unwrapped_on_a_panicking_thread();
        return;
    }
    let mut installed = INSTALLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let current = std::panic::take_hook();
    if let Some(Installed(ours)) = *installed
        && std::ptr::eq(&raw const *current, ours)
    {
        std::panic::set_hook(current);
        return;
    }
    let previous = current;
    let wrapper: Box<Hook> = Box::new(move |info| {
        let was = try_with_process(|ctx| ctx.set_in_panic_hook(true));
        // A process's panic is reported as the process's crash (its pid and
        // name, not its worker thread's); any other goes to the hook that
        // was installed before.
        let process =
            crate::process::context::try_with_running_process(|ctx| std::sync::Arc::clone(ctx.pcb));
        let hook = || match &process {
            Some(pcb) => crash_report(pcb, info),
            None => previous(info),
        };
        // The process's stack, even while it runs another's exit hooks
        // (`context::shielded`).
        let left = crate::process::context::try_with_running_process(|ctx| {
            stack_pointer().saturating_sub(ctx.stack_bounds().low)
        });
        let roomy = left.is_none_or(|left| left >= HOOK_ROOM);
        let segment = if roomy {
            None
        } else {
            // A panic inside the pool's own borrow (never user code)
            // runs the hook where it is.
            try_with_worker(|core| {
                core.stacks
                    .try_borrow_mut()
                    .ok()
                    .and_then(|mut pool| pool.take(HOOK_SEGMENT).ok())
            })
            .flatten()
        };
        match segment {
            Some(segment) => {
                let on = Switched::to(segment);
                corosensei::on_stack(on.stack(), hook);
            }
            None => hook(),
        }
        if let Some(was) = was {
            let _ = try_with_process(|ctx| ctx.set_in_panic_hook(was));
        }
    });
    *installed = Some(Installed(&raw const *wrapper));
    std::panic::set_hook(wrapper);
    EVER_WRAPPED.store(true, std::sync::atomic::Ordering::Relaxed);
}
