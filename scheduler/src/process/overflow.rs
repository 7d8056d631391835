//! Stack overflow of a process: a clear report instead of a bare
//! segmentation fault, and the abort that Rust itself does for threads.
//!
//! Each process stack has a guard page below it (module `stack`); running
//! off the end of the stack touches it and the kernel raises `SIGSEGV`.
//! The runtime installs, once per OS process, a `SIGSEGV`/`SIGBUS` handler
//! that runs on the thread's alternate signal stack (the overflowed stack
//! has no room left). It reads the running process from the thread-local
//! `CURRENT` and compares the fault address with that process's guard page
//! (recorded in its control block when it got its stack, or a stack
//! segment):
//!
//! * a hit: it writes which process overflowed, its name and its stack
//!   size, and how to raise it, to standard error, then aborts;
//! * anything else (a null pointer, a guard page of a thread's own stack):
//!   it hands the signal to the handler that was installed before (Rust's
//!   own, which reports thread stack overflows), or restores the default
//!   action so that the fault kills the program as usual.
//!
//! # Why abort, and the safe alternatives
//!
//! Ending only the overflowing process from the signal handler cannot be
//! made safe in general: its frames are discarded without unwinding, so a
//! lock it held (its own, malloc's arena lock, the runtime's exit-hook
//! table) stays locked for good and a structure it was changing stays
//! half-changed, and no caller can know which calls take locks. So the
//! default is to abort, and ending only the process
//! ([`OnStackOverflow::ExitProcess`], through corosensei's trap API) is an
//! `unsafe` opt-in in code whose caller promises that overflows happen
//! only in plain computation
//! ([`Builder::exit_process_on_stack_overflow`](crate::Builder::exit_process_on_stack_overflow));
//! its stack is quarantined (module `stack`). Programs survive deep
//! recursion safely with the red zone (a process that reaches a check point
//! with little stack left panics, so its destructors run) and with
//! [`maybe_grow`](crate::maybe_grow), which runs a closure on a fresh
//! stack segment (module `stack_depth`).
//!
//! The handler only reads memory and calls `write` and `abort`, both
//! async-signal-safe; the report is formatted into a buffer on the
//! alternate stack, without allocating.
//!
//! Each worker thread makes sure it has an alternate signal stack: Rust's
//! runtime gives one to the threads it starts when its own handler is in
//! place, and [`AltStack::ensure`] maps one otherwise.

use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::OnceLock;

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::context::current_pcb_address;
use crate::process::coroutine::Finished;
use crate::process::stack::OnStackOverflow;
use crate::worker::core::try_with_worker;

/// The actions that were installed before ours, to hand other faults to.
struct Previous {
    segv: libc::sigaction,
    bus: libc::sigaction,
}

// SAFETY: plain C data (function addresses and flags), written once
// before any signal can use it and only read after.
unsafe impl Sync for Previous {}
// SAFETY: as above.
unsafe impl Send for Previous {}

static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// Installs the handler, once per OS process.
pub(crate) fn install() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: `sigaction` with a zeroed, then filled, action; our
        // handler is an `extern "C"` function of the `SA_SIGINFO` shape.
        unsafe {
            Previous {
                segv: replace_action(libc::SIGSEGV),
                bus: replace_action(libc::SIGBUS),
            }
        }
    });
}

/// # Safety
/// `signal` is a valid signal number.
unsafe fn replace_action(signal: libc::c_int) -> libc::sigaction {
    // SAFETY: a zeroed `sigaction` is valid (no handler, empty flags).
    let mut action: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: as above.
    let mut previous: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    action.sa_sigaction = on_fault as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: valid pointers to the two actions.
    unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, &mut previous);
    }
    previous
}

extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid `siginfo_t` for SA_SIGINFO
    // handlers; for SIGSEGV and SIGBUS `si_addr` is the fault address.
    let address = unsafe { (*info).si_addr() } as usize;
    if let Some((pcb, shielded)) = current_pcb_address() {
        // SAFETY: `CURRENT` (or `SHIELDED`) points at the running
        // process's context only while that process runs on this thread,
        // and its control block outlives it; we only read plain fields.
        let pcb = unsafe { &*pcb };
        let guard = pcb.guard_page();
        if guard.contains(&address) {
            // Not while it runs another's exit hooks (`context::shielded`):
            // their bookkeeping (the rest of the hooks, the slot's return)
            // would be cut off. Abort with the report instead.
            let exit_process =
                !shielded && pcb.shared().config.on_stack_overflow == OnStackOverflow::ExitProcess;
            // Decided before the report, so that it says what happens.
            // SAFETY: the fault is this process's stack overflow, on this
            // thread, and `context` is the interrupted register context.
            let ended = exit_process && unsafe { end_process(context) };
            report_overflow(pcb, ended);
            if ended {
                return;
            }
            // SAFETY: async-signal-safe, never returns.
            unsafe { libc::abort() };
        }
    }
    // SAFETY: forwarding the signal as the kernel gave it.
    unsafe { hand_on(signal, info, context) };
}

/// Redirects the interrupted process to return `StackOverflow` to its
/// worker (corosensei's trap API); false if it cannot (no trap handler
/// kept, or the stack pointer is not in the process's stack).
///
/// # Safety
/// Called from the fault handler for a stack overflow of the process
/// running on this thread, with the kernel's `ucontext_t`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn end_process(context: *mut libc::c_void) -> bool {
    // Not while the thread unwinds (its panic count would never come
    // down), nor inside the runtime's own bookkeeping (a queue left
    // borrowed would stop the worker): abort instead.
    if std::thread::panicking() {
        return false;
    }
    let trap = try_with_worker(|core| {
        if core.in_bookkeeping() {
            None
        } else {
            core.trap.take()
        }
    });
    let Some(Some(trap)) = trap else {
        return false;
    };
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: the kernel's context for this signal.
    let registers = unsafe { &mut (*context).uc_mcontext.gregs };
    let stack_pointer = registers[libc::REG_RSP as usize] as usize;
    if !trap.stack_ptr_in_bounds(stack_pointer) {
        return false;
    }
    // The interrupted code runs on this coroutine's stack (checked above);
    // the registers are updated below as the returned values say, so that
    // returning from the handler runs the trap function, which ends the
    // coroutine with this result. Its frames are discarded without running
    // destructors: the caller of `Builder::exit_process_on_stack_overflow`
    // promised that none of them holds a lock or half-changed state, and
    // the worker quarantines the stack (`Finished::trapped`).
    // SAFETY: so nothing still pointing into that stack is disturbed.
    let regs = unsafe {
        trap.setup_trap_handler(|| Finished {
            reason: ExitReason::StackOverflow,
            budget: 0,
            trapped: true,
            hibernate: None,
        })
    };
    registers[libc::REG_RIP as usize] = regs.rip as i64;
    registers[libc::REG_RSP as usize] = regs.rsp as i64;
    registers[libc::REG_RBP as usize] = regs.rbp as i64;
    registers[libc::REG_RDI as usize] = regs.rdi as i64;
    registers[libc::REG_RSI as usize] = regs.rsi as i64;
    true
}

/// Other platforms: the process cannot be ended alone; abort.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
unsafe fn end_process(_context: *mut libc::c_void) -> bool {
    false
}

/// Writes the report to standard error, formatted without allocating;
/// `ended`: only the process ends, else the program aborts.
fn report_overflow(pcb: &crate::process::Pcb, ended: bool) {
    let mut out = Buffer::new();
    let _ = write!(out, "\nferrotp: process {}", pcb.id);
    if let Some(name) = pcb.name() {
        let _ = write!(out, " ({name:?})");
    }
    let _ = writeln!(
        out,
        " has overflowed its stack of {} bytes; give it a bigger stack with \
         SpawnOptions::stack_size, or every process one with Builder::stack_size",
        pcb.stack_size
    );
    let _ = if ended {
        writeln!(
            out,
            "ferrotp: ending that process with reason `stack overflow`"
        )
    } else {
        writeln!(
            out,
            "fatal runtime error: stack overflow in a ferrotp process, aborting"
        )
    };
    let bytes = out.as_bytes();
    // SAFETY: `write` to fd 2 from a valid buffer; async-signal-safe.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// Hands a fault that is not a process's stack overflow to the action
/// installed before ours, or to the default action.
///
/// # Safety
/// The arguments are those the kernel passed to our handler.
unsafe fn hand_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = PREVIOUS.get().map(|p| {
        if signal == libc::SIGBUS {
            p.bus
        } else {
            p.segv
        }
    });
    match previous {
        Some(action)
            if action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN =>
        {
            if action.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: an SA_SIGINFO action's address is such a handler.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(action.sa_sigaction) };
                handler(signal, info, context);
            } else {
                // SAFETY: otherwise it is a one-argument handler.
                let handler: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(action.sa_sigaction) };
                handler(signal);
            }
        }
        _ => {
            // The default action: restore it and return; the faulting
            // instruction runs again and the kernel ends the program.
            // SAFETY: a zeroed action with SIG_DFL is valid.
            unsafe {
                let mut default: libc::sigaction = MaybeUninit::zeroed().assume_init();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, ptr::null_mut());
            }
        }
    }
}

/// A fixed buffer that `write!` can fill without allocating (text past
/// its end is cut).
struct Buffer {
    bytes: [u8; 512],
    len: usize,
}

impl Buffer {
    fn new() -> Self {
        Self {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Write for Buffer {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = text.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&text.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// A worker thread's alternate signal stack, if it had to map one (it is
/// unmapped when the worker ends).
pub(crate) struct AltStack {
    mapped: Option<(*mut libc::c_void, usize)>,
}

impl AltStack {
    const SIZE: usize = 64 * 1024;

    /// Makes sure this thread has an alternate signal stack.
    pub(crate) fn ensure() -> Self {
        // SAFETY: a zeroed `stack_t` is valid plain data.
        let mut current: libc::stack_t = unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: querying with a null new stack only fills `current`.
        unsafe { libc::sigaltstack(ptr::null(), &mut current) };
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return Self { mapped: None };
        }
        // SAFETY: an anonymous private mapping; checked below.
        let memory = unsafe {
            libc::mmap(
                ptr::null_mut(),
                Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if memory == libc::MAP_FAILED {
            // Without one, an overflow is a plain SIGSEGV, as before.
            return Self { mapped: None };
        }
        let stack = libc::stack_t {
            ss_sp: memory,
            ss_flags: 0,
            ss_size: Self::SIZE,
        };
        // SAFETY: `stack` describes the mapping made above.
        unsafe { libc::sigaltstack(&stack, ptr::null_mut()) };
        Self {
            mapped: Some((memory, Self::SIZE)),
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if let Some((memory, size)) = self.mapped {
            // SAFETY: disable the stack we installed, then unmap it; no
            // signal handler runs on it any more (we are not in one).
            unsafe {
                let disable = libc::stack_t {
                    ss_sp: ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                libc::sigaltstack(&disable, ptr::null_mut());
                libc::munmap(memory, size);
            }
        }
    }
}
