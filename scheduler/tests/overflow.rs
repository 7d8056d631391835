//! Stack overflow of a process (module `overflow`), in child processes:
//! an overflow is reported with the process's pid, name and stack size and
//! aborts; another fault still crashes as usual.

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use ferrotp_scheduler::{
    ExitReason, OnStackOverflow, Runtime, SpawnOptions, receive, self_pid, send, spawn, spawn_opt,
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

/// In the child, with `OnStackOverflow::ExitProcess`: a process
/// overflows; the runtime goes on. Prints what the root saw.
fn overflow_and_go_on() {
    let rt = Runtime::builder()
        .workers(1)
        .on_stack_overflow(OnStackOverflow::ExitProcess)
        .build()
        .unwrap();
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
