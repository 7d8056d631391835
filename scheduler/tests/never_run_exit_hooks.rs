//! The exit hooks of a child that never ran (its `spawn_with` set-up
//! failed) run on the spawner's thread but outside any process, as exit
//! hooks run everywhere else: a hook cannot end, block or abandon the
//! spawner in the middle of the child's end, so the child's slot goes
//! back, every other hook runs, and the spawner stays killable. And a
//! runtime built during a panic still wraps the panic hook.
//!
//! Third adversarial review, programs c01, c02, c03 and c05; fourth,
//! programs a01, a02, a10 and a11 (the hooks run on the spawner's stack,
//! may leave a panic in flight, or panic with a payload whose destructor
//! panics). Each scenario runs in a child process under a watchdog:
//! before the fixes they leaked a slot, hung, lost exit hooks, crashed
//! with no report, or left the spawner unkillable.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use corosensei::{Coroutine, Yielder};

use common::{PanicsAsItDrops, in_child, wait_exit, wait_until_waiting};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, SpawnOptions, exit, exit_self, maybe_grow, receive, remaining_stack,
    self_pid, send, send_signal_message, spawn, spawn_opt, spawn_with,
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
                    let reason = spawner_of_a_failed_set_up(SpawnOptions::new(), |child| {
                        let _ = child.on_exit(|_| exit_self(ExitReason::custom("hook")));
                    });
                    assert_eq!(reason, setup_failed());
                }
                // This process and three more: the limit, and no more.
                common::assert_free_slots(3);
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

/// c05: a runtime built while its thread panics (in a destructor during
/// an unwind) cannot wrap the panic hook: std refuses to change it there,
/// and neither another thread (fourth and fifth reviews: deadlocks behind
/// std's hook lock) nor the runtime's later calls may wait to. Before the
/// fix nothing said so, and a process short of stack then overflowed in
/// the hook with no warning; now the build says so, the runtime works,
/// and the next runtime built outside a panic wraps the hook: with
/// `RUST_BACKTRACE=1` a panic in a 16 KiB process of either runtime then
/// has room.
#[test]
fn a_runtime_built_during_a_panic_says_the_hook_is_unwrapped_until_the_next_build() {
    const TEST: &str =
        "a_runtime_built_during_a_panic_says_the_hook_is_unwrapped_until_the_next_build";
    let expected = format!(
        "ended with {:?} and {:?}",
        ExitReason::Panic("a panic in a process of the first runtime".into()),
        ExitReason::Panic("a panic in a small stack".into())
    );
    if common::child_mode().is_none() {
        let out = common::rerun_in_child_with(TEST, "run", &[("RUST_BACKTRACE", "1")]);
        common::assert_child_passed(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stdout.contains(&expected), "{stdout}");
        assert!(
            stderr.contains(
                "ferrotp: a runtime built while its thread panics (in a destructor during an \
                 unwind, or in a panic hook) cannot wrap the panic hook"
            ),
            "{stderr}"
        );
        return;
    }
    in_child(TEST, "run", |_| {
        /// Builds a runtime as it drops, into its slot.
        struct BuildsInDrop<'a>(&'a mut Option<Runtime>);
        impl Drop for BuildsInDrop<'_> {
            fn drop(&mut self) {
                assert!(std::thread::panicking());
                *self.0 = Some(Runtime::builder().workers(1).build().unwrap());
            }
        }
        let mut slot = None;
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _builds = BuildsInDrop(&mut slot);
            panic!("the thread panics");
        }));
        assert!(caught.is_err());
        let first = slot.expect("built during the unwind");
        // Default stacks: room for the unwrapped hook.
        let first_reason = first.block_on(|| {
            let pid = spawn(|| panic!("a panic in a process of the first runtime"));
            wait_exit(&pid)
        });
        let second = Runtime::builder().workers(1).build().unwrap();
        drop(second);
        let small = first.block_on(|| {
            let pid = spawn_opt(
                SpawnOptions::new().stack_size(ferrotp_scheduler::stack::MIN_STACK_SIZE),
                || panic!("a panic in a small stack"),
            )
            .unwrap();
            wait_exit(&pid)
        });
        drop(first);
        println!("ended with {first_reason:?} and {small:?}");
    });
}

/// The spawner's stack in the tests of hooks that need more: room for the
/// set-up's failure and the child's end (debug builds' frames are big),
/// not for a recursion of half a megabyte.
const SPAWNER_STACK: usize = 64 * 1024;

/// Spawns, from a process with a [`SPAWNER_STACK`], a child whose set-up
/// gives it `hook` and fails; returns the spawner's exit reason.
fn never_run_child_of_a_spawner(hook: impl FnOnce(&ExitReason) + Send + 'static) -> ExitReason {
    spawner_of_a_failed_set_up(
        SpawnOptions::new().stack_size(SPAWNER_STACK),
        move |child| {
            let _ = child.on_exit(hook);
        },
    )
}

/// Spawns a process (with `options`) that calls `spawn_with`, whose
/// set-up runs `hook_up` on the child and then panics with "set-up fails";
/// returns the spawner's exit reason once it has ended.
fn spawner_of_a_failed_set_up(
    options: SpawnOptions,
    hook_up: impl FnOnce(&Pid) + Send + 'static,
) -> ExitReason {
    let spawner = spawn_opt(options, move || {
        let _ = spawn_with(
            SpawnOptions::new(),
            move |child| {
                hook_up(child);
                panic!("set-up fails");
            },
            || {},
        );
    })
    .unwrap();
    wait_exit(&spawner)
}

/// 1,000 levels of 512 bytes (half a megabyte), each under `maybe_grow`.
fn depth_first(n: u64) -> u64 {
    maybe_grow(32 * 1024, 256 * 1024, || {
        let frame = std::hint::black_box([n; 64]);
        if n == 0 {
            0
        } else {
            frame[0] + depth_first(n - 1) - n + 1
        }
    })
}

/// a01: a never-run child's hook recurses deeply under `maybe_grow`, on
/// a spawner with a 64 KiB stack. The hooks run on the spawner's stack; before the fix
/// `remaining_stack` (so `maybe_grow`) saw no process there and never
/// grew it: a bare SIGSEGV with no report.
#[test]
fn maybe_grow_grows_the_spawners_stack_for_a_never_run_childs_hook() {
    in_child(
        "maybe_grow_grows_the_spawners_stack_for_a_never_run_childs_hook",
        "run",
        |_| {
            let rt = Runtime::builder().workers(1).build().unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let reason = never_run_child_of_a_spawner(move |reason| {
                    let left = remaining_stack();
                    send(&me, (reason.clone(), left.is_some(), depth_first(1000)));
                });
                assert_eq!(reason, setup_failed());
                assert_eq!(
                    receive::<(ExitReason, bool, u64)>(),
                    (setup_failed(), true, 1000)
                );
            });
            drop(rt);
        },
    );
}

/// A frame bigger than the spawner's whole stack.
#[inline(never)]
fn big_frame() -> u64 {
    let frame = std::hint::black_box([7u8; 96 * 1024]);
    frame.iter().map(|&b| u64::from(b)).sum()
}

/// a02: a never-run child's hook overflows the spawner's stack. Before
/// the fix the overflow handler saw no process (the hooks run outside
/// any), and the program died of a bare SIGSEGV; now it aborts with the
/// overflow report, as for any process.
#[test]
fn a_never_run_childs_hook_that_overflows_the_spawners_stack_is_reported() {
    const TEST: &str = "a_never_run_childs_hook_that_overflows_the_spawners_stack_is_reported";
    if common::child_mode().is_some() {
        common::watchdog(common::CHILD_LIMIT);
        let rt = Runtime::builder().workers(1).build().unwrap();
        rt.block_on(|| {
            let me = self_pid();
            never_run_child_of_a_spawner(move |_| send(&me, big_frame()));
            unreachable!("the overflow aborts the program");
        });
        return;
    }
    let out = common::rerun_in_child(TEST, "run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(
        stderr.contains("has overflowed its stack of 65536 bytes"),
        "{stderr}"
    );
}

/// Parks its coroutine as it drops: in a panic's unwind, the panic stays
/// in flight for as long as the coroutine is parked.
struct ParkOnDrop<'a>(&'a Yielder<(), ()>);

impl Drop for ParkOnDrop<'_> {
    fn drop(&mut self) {
        self.0.suspend(());
    }
}

/// Leaves a panic in flight on this thread for good (safe code): a
/// coroutine parked in its unwind, leaked.
fn leave_a_panic_in_flight() {
    let mut coroutine: Coroutine<(), (), ()> = Coroutine::new(|yielder, ()| {
        let _park = ParkOnDrop(yielder);
        panic!("parked in its unwind");
    });
    let _ = coroutine.resume(());
    std::mem::forget(coroutine);
}

/// a10: a never-run child's hook leaves a panic in flight. Before the
/// fix that count became the spawner's: it read as panicking for good,
/// so its next wait counted as clean-up and it was abandoned at the
/// clean-up deadline, and a kill could not reach it. Now the count is
/// taken off as the hooks end, as a worker does for hooks it runs.
#[test]
fn a_panic_left_in_flight_by_a_never_run_childs_hook_is_not_the_spawners() {
    in_child(
        "a_panic_left_in_flight_by_a_never_run_childs_hook_is_not_the_spawners",
        "run",
        |_| {
            let rt = Runtime::builder()
                .workers(1)
                .cleanup_timeout(Duration::from_millis(1))
                .build()
                .unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let spawner = spawn(move || {
                    let failed = catch_unwind(AssertUnwindSafe(|| {
                        spawn_with(
                            SpawnOptions::new(),
                            |child| {
                                let _ = child.on_exit(|_| leave_a_panic_in_flight());
                                panic!("set-up fails");
                            },
                            || {},
                        )
                    }));
                    assert!(failed.is_err());
                    send(&me, std::thread::panicking());
                    let echo = receive::<u32>();
                    send(&me, echo);
                    receive::<Go>();
                });
                assert!(!receive::<bool>(), "the spawner reads as panicking");
                wait_until_waiting(&spawner);
                send(&spawner, 7u32);
                assert_eq!(receive::<u32>(), 7);
                wait_until_waiting(&spawner);
                exit(&spawner, ExitReason::Kill);
                assert_eq!(wait_exit(&spawner), ExitReason::Killed);
            });
            drop(rt);
        },
    );
}

/// a11: a never-run child's first hook panics with a payload whose
/// destructor panics. Before the fix the runtime dropped the payload
/// outside its net: the second panic skipped the other hooks and the
/// slot's return, and the spawner ended with it instead of its own.
#[test]
fn a_hook_payload_that_panics_as_it_drops_costs_no_hook_nor_slot() {
    in_child(
        "a_hook_payload_that_panics_as_it_drops_costs_no_hook_nor_slot",
        "run",
        |_| {
            static SECOND_HOOKS: AtomicUsize = AtomicUsize::new(0);
            let rt = Runtime::builder()
                .workers(1)
                .max_processes(4)
                .build()
                .unwrap();
            rt.block_on(|| {
                for _ in 0..4 {
                    let reason = spawner_of_a_failed_set_up(SpawnOptions::new(), |child| {
                        let _ = child.on_exit(|_| std::panic::panic_any(PanicsAsItDrops));
                        let _ = child.on_exit(|_| {
                            SECOND_HOOKS.fetch_add(1, Ordering::SeqCst);
                        });
                    });
                    assert_eq!(reason, setup_failed());
                }
                assert_eq!(SECOND_HOOKS.load(Ordering::SeqCst), 4);
                common::assert_free_slots(3);
            });
            drop(rt);
        },
    );
}

/// Fourth review, M1: a never-run child's first hook leaves a panic in
/// flight; the next hook must not see it (as hooks a worker runs do
/// not). Before the fix it was taken off only after all the hooks.
#[test]
fn a_panic_left_in_flight_by_one_hook_is_not_the_next_hooks() {
    in_child(
        "a_panic_left_in_flight_by_one_hook_is_not_the_next_hooks",
        "run",
        |_| {
            let rt = Runtime::builder().workers(1).build().unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let spawner = spawn(move || {
                    let _ = spawn_with(
                        SpawnOptions::new(),
                        |child| {
                            let _ = child.on_exit(|_| leave_a_panic_in_flight());
                            let _ = child.on_exit(move |_| send(&me, std::thread::panicking()));
                            panic!("set-up fails");
                        },
                        || {},
                    );
                });
                assert!(!receive::<bool>(), "the second hook reads as panicking");
                assert_eq!(wait_exit(&spawner), setup_failed());
            });
            drop(rt);
        },
    );
}

thread_local! {
    /// A coroutine of the user's, parked in its unwind by one hook and
    /// resumed by a later hook or process on the same thread.
    static PARKED: std::cell::RefCell<Vec<Coroutine<(), (), ()>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Parks a coroutine in its unwind, kept for [`resume_parked`]: one unit
/// of panic count on this thread until it is resumed.
fn park_an_unwind() {
    let mut coroutine: Coroutine<(), (), ()> = Coroutine::new(|yielder, ()| {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _park = ParkOnDrop(yielder);
            panic!("parked in its unwind, for a while");
        }));
    });
    let _ = coroutine.resume(());
    PARKED.with(|parked| parked.borrow_mut().push(coroutine));
}

/// Resumes the coroutine [`park_an_unwind`] parked last: its unwind ends
/// in its own catch, one unit off this thread's count.
fn resume_parked() {
    let parked = PARKED.with(|parked| parked.borrow_mut().pop());
    let mut coroutine = parked.expect("a coroutine was parked");
    assert!(matches!(
        coroutine.resume(()),
        corosensei::CoroutineResult::Return(())
    ));
}

/// Whether any of 100 new processes reads as panicking.
fn any_new_process_panicking() -> bool {
    let me = self_pid();
    for _ in 0..100 {
        let to = me.clone();
        spawn(move || send(&to, std::thread::panicking()));
    }
    (0..100).fold(false, |any, _| any | receive::<bool>())
}

/// A plain thread kept in the middle of an unwind until the returned
/// sender is dropped: while it unwinds, std's program-wide panic count is
/// not zero, so every thread's `panicking()` reads its own count (std
/// skips that read when the program-wide count is zero).
fn unwinding_witness() -> (std::thread::JoinHandle<()>, std::sync::mpsc::Sender<()>) {
    /// Waits for the release as it drops.
    struct WaitsInDrop(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>);
    impl Drop for WaitsInDrop {
        fn drop(&mut self) {
            self.0.send(()).unwrap();
            let _ = self.1.recv();
        }
    }
    let (unwinding, is_unwinding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let witness = std::thread::spawn(move || {
        let _waits = WaitsInDrop(unwinding, released);
        panic!("a witness thread, unwinding");
    });
    is_unwinding.recv().unwrap();
    (witness, release)
}

/// Fifth review, c05 s1/s2/s4: a hook parks a coroutine of the user's
/// in its unwind; the runtime takes that unit off as a leftover; a later
/// hook (of the same child, never run or run) or a later process resumes
/// the coroutine after all, and its unwind takes one more off: std's count
/// went below zero, wrapped round, and read as panicking for good once
/// any thread unwound (the worker then made carriers until it ran out of
/// memory, and aborted). Now the runtime brings such a count back to
/// zero after the user code that resumed it.
fn parked_unwind_resumed_later(mode: &str) {
    let (witness, release) = unwinding_witness();
    let rt = Runtime::builder().workers(1).build().unwrap();
    let mode = mode.to_owned();
    rt.block_on(move || {
        let me = self_pid();
        let hooked = catch_unwind(AssertUnwindSafe(|| {
            spawn_with(
                SpawnOptions::new(),
                |child| {
                    let _ = child.on_exit(|_| park_an_unwind());
                    if mode == "process2" {
                        let _ = child.on_exit(|_| park_an_unwind());
                    }
                    if !mode.starts_with("process") {
                        let _ = child.on_exit(|_| resume_parked());
                    }
                    let _ = child.on_exit(move |reason| send(&me, reason.clone()));
                    if mode == "never" {
                        panic!("set-up fails");
                    }
                },
                || {},
            )
        }));
        // A failed set-up's panic goes on from `spawn_with`.
        assert_eq!(hooked.is_err(), mode == "never");
        let expected = if mode == "never" {
            setup_failed()
        } else {
            ExitReason::Normal
        };
        assert_eq!(receive::<ExitReason>(), expected);
        if mode.starts_with("process") {
            // One worker: the hooks ran on this thread.
            resume_parked();
            if mode == "process2" {
                // Two below zero.
                resume_parked();
            }
            // Handing the worker back brings the count back to zero.
            ferrotp_scheduler::yield_now();
        }
        assert!(!std::thread::panicking(), "this process reads as panicking");
        assert!(!any_new_process_panicking());
    });
    drop(rt);
    drop(release);
    assert!(witness.join().is_err());
    assert!(!std::thread::panicking());
}

#[test]
fn a_parked_unwind_resumed_by_a_later_hook_of_a_never_run_child_leaves_the_count_at_zero() {
    in_child(
        "a_parked_unwind_resumed_by_a_later_hook_of_a_never_run_child_leaves_the_count_at_zero",
        "never",
        parked_unwind_resumed_later,
    );
}

#[test]
fn a_parked_unwind_resumed_by_a_later_hook_run_by_a_worker_leaves_the_count_at_zero() {
    in_child(
        "a_parked_unwind_resumed_by_a_later_hook_run_by_a_worker_leaves_the_count_at_zero",
        "ran",
        parked_unwind_resumed_later,
    );
}

#[test]
fn a_parked_unwind_resumed_by_a_later_process_leaves_the_count_at_zero() {
    in_child(
        "a_parked_unwind_resumed_by_a_later_process_leaves_the_count_at_zero",
        "process",
        parked_unwind_resumed_later,
    );
}

/// Sixth review, D1: two leftovers resumed in one slice take the count
/// two below zero; a single probe left it one below, and the worker then
/// took units off for ever (out of memory: an abort).
#[test]
fn two_parked_unwinds_resumed_by_one_process_leave_the_count_at_zero() {
    in_child(
        "two_parked_unwinds_resumed_by_one_process_leave_the_count_at_zero",
        "process2",
        parked_unwind_resumed_later,
    );
}
