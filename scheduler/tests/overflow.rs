//! Stack overflow of a process (module `overflow`), in child processes:
//! an overflow is reported with the process's pid, name and stack size and
//! aborts; another fault still crashes as usual.

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ferrotp_scheduler::{
    ExitReason, Runtime, SpawnOptions, receive, self_pid, send, spawn, spawn_opt, yield_now,
};

/// Which fault the child should make.
const CHILD: &str = "OVERFLOW_TEST_CHILD";

/// Runs this test binary again, running only `test` with `CHILD=fault`.
fn child(test: &str, fault: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, fault)
        .output()
        .unwrap()
}

/// Recurses until the stack runs out (`black_box` hides that the limit
/// is never reached), with a frame big enough to reach the guard page
/// soon.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[7]
}

/// In the child: a process named "deep" with a 64 KiB stack faults as
/// told; the root waits forever.
fn fault_in_a_process(fault: &str) -> ! {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let fault = fault.to_owned();
    rt.block_on(move || {
        let options = SpawnOptions::new().name("deep").stack_size(64 * 1024);
        spawn_opt(options, move || match fault.as_str() {
            "overflow" => {
                black_box(recurse(0));
            }
            _ => {
                let null = black_box(8usize) as *const u8;
                // SAFETY: not safe, on purpose: the read of address 8
                // faults, in a child process the test only watches die.
                black_box(unsafe { null.read_volatile() });
            }
        })
        .unwrap();
        receive::<()>();
    });
    unreachable!("the child dies of its fault")
}

/// A runtime that ends only the overflowing process.
fn exit_process_runtime() -> Runtime {
    // SAFETY: the only overflows in these tests are `recurse`'s plain
    // computation: no lock held, no runtime or library call under way.
    unsafe {
        Runtime::builder()
            .workers(1)
            .exit_process_on_stack_overflow()
    }
    .build()
    .unwrap()
}

/// In the child, with the `exit_process` opt-in: a process overflows;
/// the runtime goes on. Prints what the root saw.
fn overflow_and_go_on() {
    let rt = exit_process_runtime();
    let (reason, after) = rt.block_on(|| {
        let me = self_pid();
        let options = SpawnOptions::new().name("deep").stack_size(64 * 1024);
        let deep = spawn_opt(options, || {
            black_box(recurse(0));
        })
        .unwrap();
        deep.on_exit(move |reason| send(&me, reason.clone()));
        let reason = receive::<ExitReason>();
        // Its mailbox is closed: this is a dead letter.
        send(&deep, 1u64);
        let me = self_pid();
        spawn(move || send(&me, 6u64 * 7));
        (reason, receive::<u64>())
    });
    println!(
        "overflowed: {reason}; after: {after}; dead letters: {}",
        rt.dead_letters()
    );
}

#[test]
fn a_process_stack_overflow_names_the_process_and_aborts() {
    if let Ok(fault) = std::env::var(CHILD) {
        fault_in_a_process(&fault);
    }
    let out = child(
        "a_process_stack_overflow_names_the_process_and_aborts",
        "overflow",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    let report = stderr
        .lines()
        .find(|line| line.starts_with("ferrotp: process <0."))
        .unwrap_or_else(|| panic!("no report in: {stderr}"));
    assert!(
        report.ends_with(
            "(\"deep\") has overflowed its stack of 65536 bytes; give it a bigger stack with \
             SpawnOptions::stack_size, or every process one with Builder::stack_size"
        ),
        "{report}"
    );
}

#[test]
fn another_fault_in_a_process_still_crashes_as_usual() {
    if let Ok(fault) = std::env::var(CHILD) {
        fault_in_a_process(&fault);
    }
    let out = child("another_fault_in_a_process_still_crashes_as_usual", "null");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{stderr}");
    assert!(!stderr.contains("overflowed its stack"), "{stderr}");
}

#[test]
fn exit_process_mode_ends_only_the_overflowing_process() {
    if std::env::var(CHILD).is_ok() {
        overflow_and_go_on();
        return;
    }
    let out = child(
        "exit_process_mode_ends_only_the_overflowing_process",
        "exit",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("overflowed: stack overflow; after: 42; dead letters: 1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("ferrotp: ending that process with reason `stack overflow`"),
        "{stderr}"
    );
}

/// Writes of the scoped thread of the overflowing process.
static WRITES: AtomicU64 = AtomicU64::new(0);
const POISON: u64 = 0xDEAD_BEEF_DEAD_BEEF;

/// In the child, with the `exit_process` opt-in: a process lends a local
/// to a scoped thread that writes it for ever, then overflows. Its stack
/// must not go back to the pool: processes started after it would have
/// their locals changed under them (before the fix: 3 runs of 3).
fn overflow_with_a_lent_local() {
    let rt = exit_process_runtime();
    let (reason, clean) = rt.block_on(|| {
        let deep = spawn_opt(SpawnOptions::new().stack_size(64 * 1024), || {
            let mut cell = [0u64; 16];
            std::thread::scope(|scope| {
                let lent = &mut cell;
                scope.spawn(move || {
                    loop {
                        for slot in lent.iter_mut() {
                            // SAFETY: a valid, exclusive reference.
                            unsafe { std::ptr::write_volatile(slot, POISON) };
                        }
                        WRITES.fetch_add(1, Ordering::SeqCst);
                        std::thread::yield_now();
                    }
                });
                while WRITES.load(Ordering::SeqCst) == 0 {
                    std::hint::spin_loop();
                }
                black_box(recurse(0));
            });
        })
        .unwrap();
        let reason = common_wait(&deep);
        let me = self_pid();
        let clean = std::sync::Arc::new(AtomicUsize::new(0));
        for _ in 0..32 {
            let (me, clean) = (me.clone(), std::sync::Arc::clone(&clean));
            spawn(move || {
                let local = black_box([1u64; 512]);
                let seen = WRITES.load(Ordering::SeqCst);
                while WRITES.load(Ordering::SeqCst) < seen + 3 {
                    yield_now();
                }
                if black_box(&local).iter().all(|&v| v == 1) {
                    clean.fetch_add(1, Ordering::SeqCst);
                }
                send(&me, ());
            });
        }
        for _ in 0..32 {
            receive::<()>();
        }
        (reason, clean.load(Ordering::SeqCst))
    });
    drop(rt);
    let seen = WRITES.load(Ordering::SeqCst);
    while WRITES.load(Ordering::SeqCst) < seen + 100 {
        std::thread::yield_now();
    }
    println!("overflowed: {reason}; clean locals: {clean} of 32");
}

fn common_wait(pid: &ferrotp_scheduler::Pid) -> ExitReason {
    while !pid.has_exited() {
        yield_now();
    }
    pid.exit_reason().unwrap()
}

#[test]
fn an_overflowed_stack_is_quarantined() {
    if std::env::var(CHILD).is_ok() {
        overflow_with_a_lent_local();
        return;
    }
    let out = child("an_overflowed_stack_is_quarantined", "lent");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(
        stdout.contains("overflowed: stack overflow; clean locals: 32 of 32"),
        "{stdout}"
    );
}

/// Drops by recursing until the stack runs out.
struct DeepDrop;

impl Drop for DeepDrop {
    fn drop(&mut self) {
        black_box(recurse(0));
    }
}

/// In the child, with the `exit_process` opt-in: a process overflows while
/// it unwinds (a destructor recurses during a panic). It cannot be ended
/// alone (its unwind would never finish), so the program aborts, and the
/// report says so (before the fix it said it ended only the process).
fn overflow_while_unwinding() {
    let rt = exit_process_runtime();
    rt.block_on(|| {
        spawn_opt(
            SpawnOptions::new().name("deep").stack_size(64 * 1024),
            || {
                let _deep = DeepDrop;
                panic!("unwinding");
            },
        )
        .unwrap();
        receive::<()>();
    });
}

#[test]
fn an_overflow_while_unwinding_aborts_and_says_so() {
    if std::env::var(CHILD).is_ok() {
        overflow_while_unwinding();
        return;
    }
    let out = child(
        "an_overflow_while_unwinding_aborts_and_says_so",
        "unwinding",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(
        stderr.contains("(\"deep\") has overflowed its stack of 65536 bytes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fatal runtime error: stack overflow in a ferrotp process, aborting"),
        "{stderr}"
    );
    assert!(!stderr.contains("ending that process"), "{stderr}");
}
