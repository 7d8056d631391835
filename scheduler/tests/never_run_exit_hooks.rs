//! The exit hooks of a child that never ran (its `spawn_with` set-up
//! failed) run on the spawner's thread but outside any process, as exit
//! hooks run everywhere else: a hook cannot end, block or abandon the
//! spawner in the middle of the child's end, so the child's slot goes
//! back, every other hook runs, and the spawner stays killable. And a
//! runtime built during a panic still wraps the panic hook.
//!
//! Third adversarial review, programs c01, c02, c03 and c05. Each
//! scenario runs in a child process under a watchdog: before the fixes
//! they leaked a slot, hung, lost exit hooks, or aborted.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use common::{in_child, wait_exit, wait_until_waiting};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, SpawnError, SpawnOptions, exit, exit_self, receive, self_pid, send,
    send_signal_message, spawn, spawn_opt, spawn_with,
};

/// Tells a waiting process to go on.
struct Go;

/// What a child's exit hook reports: which hook, and the reason.
#[derive(Debug, PartialEq)]
struct HookRan(usize, ExitReason);

/// The reason a failed set-up gives its child.
fn setup_failed() -> ExitReason {
    ExitReason::Panic("set-up fails".into())
}

/// c01: a never-run child's exit hook calls `exit_self`. Before the fix
/// the hook ran as the spawner, so `exit_self` ended the spawner in the
/// middle of the child's end, skipping the return of the child's slot:
/// each such spawn leaked one, and the runtime soon refused all spawns.
/// Now the hook runs outside any process: its `exit_self` panics (a
/// misuse), the panic is contained, and the spawner's own panic goes on.
#[test]
fn exit_self_in_a_never_run_childs_hook_leaks_no_slot() {
    in_child(
        "exit_self_in_a_never_run_childs_hook_leaks_no_slot",
        "run",
        |_| {
            let rt = Runtime::builder()
                .workers(1)
                .max_processes(4)
                .build()
                .unwrap();
            rt.block_on(|| {
                // Twice the limit: a leak of one slot each would exhaust it.
                for _ in 0..8 {
                    let spawner = spawn(|| {
                        let _ = spawn_with(
                            SpawnOptions::new(),
                            |child| {
                                let _ = child.on_exit(|_| exit_self(ExitReason::custom("hook")));
                                panic!("set-up fails");
                            },
                            || {},
                        );
                    });
                    assert_eq!(wait_exit(&spawner), setup_failed());
                }
                // This process and three more: the limit, and no more.
                let waiting: Vec<Pid> = (0..3)
                    .map(|n| {
                        spawn_opt(SpawnOptions::new(), || {
                            receive::<Go>();
                        })
                        .unwrap_or_else(|error| panic!("spawn {n} of 3 failed: {error}"))
                    })
                    .collect();
                assert!(matches!(
                    spawn_opt(SpawnOptions::new(), || {}),
                    Err(SpawnError::TooManyProcesses { limit: 4 })
                ));
                for pid in &waiting {
                    send(pid, Go);
                    assert_eq!(wait_exit(pid), ExitReason::Normal);
                }
            });
            drop(rt);
        },
    );
}

/// c02: a never-run child's exit hook sends to a full bounded mailbox.
/// Before the fix the send blocked the spawner inside the child's end,
/// where no exit signal could reach it: the spawner could not be killed,
/// and shutdown hung. Now the hook's send, outside any process, goes
/// past the bound, and the spawner goes on.
#[test]
fn a_never_run_childs_hook_sending_to_a_full_mailbox_does_not_block_the_spawner() {
    in_child(
        "a_never_run_childs_hook_sending_to_a_full_mailbox_does_not_block_the_spawner",
        "run",
        |_| {
            let rt = Runtime::builder().workers(1).build().unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let full = spawn_opt(SpawnOptions::new().mailbox_capacity(1), move || {
                    receive::<Go>();
                    let got = [receive::<u32>(), receive::<u32>()];
                    send(&me, got);
                })
                .unwrap();
                wait_until_waiting(&full);
                send(&full, 1u32);
                let me = self_pid();
                let to = full.clone();
                let spawner = spawn(move || {
                    let failed = catch_unwind(AssertUnwindSafe(|| {
                        spawn_with(
                            SpawnOptions::new(),
                            |child| {
                                let _ = child.on_exit(move |_| send(&to, 2u32));
                                panic!("set-up fails");
                            },
                            || {},
                        )
                    }));
                    assert!(failed.is_err());
                    send(&me, Go);
                    // Waits to be killed.
                    receive::<u32>();
                });
                receive::<Go>();
                exit(&spawner, ExitReason::Kill);
                assert_eq!(wait_exit(&spawner), ExitReason::Killed);
                // The hook's message went in past the bound, after the
                // one that filled the mailbox.
                send_signal_message(&full, Go);
                assert_eq!(receive::<[u32; 2]>(), [1, 2]);
            });
            drop(rt);
        },
    );
}

/// c03: the spawner is ending (killed; a destructor in its unwind does a
/// `spawn_with` whose set-up fails) and the child's first exit hook
/// blocks in a receive. Before the fix the hook ran as the dying
/// spawner, which the clean-up deadline then abandoned in the middle of
/// the child's end: the eight hooks after it never ran. Now the hook's
/// receive, outside any process, panics (contained), and all eight run.
#[test]
fn a_blocking_hook_of_a_never_run_child_costs_no_other_hook_when_its_spawner_is_ending() {
    in_child(
        "a_blocking_hook_of_a_never_run_child_costs_no_other_hook_when_its_spawner_is_ending",
        "run",
        |_| {
            /// Spawns a child whose set-up hooks it nine times and fails.
            struct SpawnsInDrop(Pid);
            impl Drop for SpawnsInDrop {
                fn drop(&mut self) {
                    let to = self.0.clone();
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        spawn_with(
                            SpawnOptions::new(),
                            move |child| {
                                let _ = child.on_exit(|_| {
                                    receive::<Go>();
                                });
                                for hook in 1..=8 {
                                    let to = to.clone();
                                    let _ = child.on_exit(move |reason| {
                                        send(&to, HookRan(hook, reason.clone()));
                                    });
                                }
                                panic!("set-up fails");
                            },
                            || {},
                        )
                    }));
                }
            }
            let rt = Runtime::builder()
                .workers(1)
                .cleanup_timeout(Duration::from_millis(50))
                .build()
                .unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let spawner = spawn(move || {
                    let _spawns = SpawnsInDrop(me);
                    receive::<Go>();
                });
                wait_until_waiting(&spawner);
                exit(&spawner, ExitReason::Kill);
                assert_eq!(wait_exit(&spawner), ExitReason::Killed);
                let mut ran: Vec<HookRan> = (0..8).map(|_| receive::<HookRan>()).collect();
                ran.sort_by_key(|HookRan(hook, _)| *hook);
                let expected: Vec<HookRan> =
                    (1..=8).map(|hook| HookRan(hook, setup_failed())).collect();
                assert_eq!(ran, expected);
            });
            drop(rt);
        },
    );
}

/// c05: a runtime built while the thread panics (in a destructor during
/// an unwind) with the smallest stacks, and a process that panics: with
/// `RUST_BACKTRACE=1` std's hook needs more stack than the process has.
/// Before the fix the runtime could not wrap the hook then (std refuses
/// `take_hook` on a panicking thread), and the hook overflowed the
/// process's stack: the program aborted. Now another thread wraps it, and
/// the hook runs on a segment of its own.
#[test]
fn a_runtime_built_during_a_panic_still_gives_the_panic_hook_room() {
    const TEST: &str = "a_runtime_built_during_a_panic_still_gives_the_panic_hook_room";
    let expected = format!(
        "the process ended with {:?}",
        ExitReason::Panic("a panic in a small stack".into())
    );
    if common::child_mode().is_none() {
        let out = common::rerun_in_child_with(TEST, "run", &[("RUST_BACKTRACE", "1")]);
        common::assert_child_passed(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&expected), "{stdout}");
        return;
    }
    in_child(TEST, "run", |_| {
        /// Builds a runtime as it drops, and runs a panicking process.
        struct BuildsInDrop;
        impl Drop for BuildsInDrop {
            fn drop(&mut self) {
                assert!(std::thread::panicking());
                let rt = Runtime::builder()
                    .workers(1)
                    .stack_size(ferrotp_scheduler::stack::MIN_STACK_SIZE)
                    .build()
                    .unwrap();
                let reason = rt.block_on(|| {
                    let pid = spawn(|| panic!("a panic in a small stack"));
                    wait_exit(&pid)
                });
                drop(rt);
                println!("the process ended with {reason:?}");
            }
        }
        let caught = catch_unwind(|| {
            let _builds = BuildsInDrop;
            panic!("the thread panics");
        });
        assert!(caught.is_err());
    });
}
