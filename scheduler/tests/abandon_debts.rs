//! An abandoned process's debts (module `debt`): what the runtime's own
//! frames on its stack owe others (a `spawn_with` set-up owes its child's
//! end, a blocking send its place among the waiting senders) is paid
//! when the process is abandoned, each debt by its owner's identity, once,
//! whatever order user code left the frames in; and paying runs exit
//! hooks, user code that may send, block, or resume an unwind, without
//! re-entering the abandonment or unwinding out of it.
//!
//! Second adversarial review, programs b02, b03, b04, b06, b12 and b14.
//! Each scenario runs in a child process under a watchdog: before the
//! fixes they crashed (use after free, double free), hung, or ended the
//! wrong process.

mod common;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;

use common::{in_child, wait_exit, wait_until_waiting};
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, SpawnOptions, exit, exit_self, is_exit_unwind, receive,
    receive_timeout, register, self_pid, send, send_signal_message, spawn, spawn_opt, spawn_with,
};

/// Tells a process blocked in `receive::<Go>()` to go on; sent with
/// `send_signal_message`, past a full mailbox's bound.
struct Go;

/// A `spawn_with` child's pid, sent from its set-up.
struct Child(Pid);

/// A child's exit reason, sent by its exit hook.
#[derive(Debug)]
struct ChildEnded(ExitReason);

/// Ends the process that drops it with `exit_self`, from a destructor
/// during a panic: the documented way to have a process abandoned.
struct ExitInUnwind;

impl Drop for ExitInUnwind {
    fn drop(&mut self) {
        exit_self(ExitReason::custom("abandoned on purpose"));
    }
}

/// Gets the running process abandoned: `exit_self` from a destructor
/// during a panic.
fn abandon_myself() {
    let _ = catch_unwind(|| {
        let _exit = ExitInUnwind;
        panic!("unwinding so that exit_self abandons the process");
    });
    unreachable!("an abandoned process never resumes");
}

/// A stack for a coroutine of a process's own. Mapped before the runtime
/// is built, it lies above the runtime's stacks (mappings are handed out
/// downwards), so that code on it passes the runtime's red-zone check
/// (the stack pointer is not below the process stack's floor).
fn user_stack() -> DefaultStack {
    DefaultStack::new(256 * 1024).unwrap()
}

fn runtime_with(workers: usize) -> ferrotp_scheduler::Builder {
    Runtime::builder().workers(workers)
}

/// A message whose destructor, run in the process that drops it, starts
/// a coroutine of its own (safe corosensei API) that calls `spawn_with`
/// and parks for good inside the set-up, leaving the set-up's debt
/// listed while the process goes on.
struct ParksASetUp {
    stack: Option<DefaultStack>,
    to: Pid,
}

/// Sent from the parked set-up: its child, and the process that dropped
/// the message.
struct Parked {
    child: Pid,
    dropped_by: Pid,
}

impl Drop for ParksASetUp {
    fn drop(&mut self) {
        let to = self.to.clone();
        let stack = self.stack.take().unwrap();
        let mut coroutine = Coroutine::with_stack(stack, move |parker: &Yielder<(), ()>, ()| {
            let _ = spawn_with(
                SpawnOptions::new(),
                |child| {
                    let parked = Parked {
                        child: child.clone(),
                        dropped_by: self_pid(),
                    };
                    send(&to, parked);
                    parker.suspend(());
                },
                || {},
            );
        });
        let _ = coroutine.resume(());
        // Parked for good: never resumed, never unwound.
        std::mem::forget(coroutine);
    }
}

/// b02: a blocking send's debt (its place among the waiting senders) and
/// a set-up's debt listed above it by a coroutine of the process's own;
/// the send finishes first. Before the fix it took the set-up's debt off
/// the list (the top one) and left its own, freed, which the abandonment
/// then paid: use after free and double free (SIGSEGV).
#[test]
fn abandoning_a_process_whose_own_coroutine_parked_a_set_up_after_a_send_frees_nothing_twice() {
    in_child(
        "abandoning_a_process_whose_own_coroutine_parked_a_set_up_after_a_send_frees_nothing_twice",
        "run",
        |_| {
            let stack = user_stack();
            let rt = runtime_with(2).build().unwrap();
            rt.block_on(move || {
                let me = self_pid();
                // Full, and abandoned when told: its mailbox closes with
                // its unread message left in it (an ordinary end would
                // drop that message first, with the mailbox open, and so
                // make room for the blocked sender), so the sender
                // blocked on it gets `Closed`, and its message becomes a
                // dead letter, dropped inside its send.
                let full = spawn_opt(SpawnOptions::new().mailbox_capacity(1), || {
                    receive::<Go>();
                    abandon_myself();
                })
                .unwrap();
                send(&full, 0u8);
                let to_full = full.clone();
                let to_me = me.clone();
                let a = spawn(move || {
                    let message = ParksASetUp {
                        stack: Some(stack),
                        to: to_me,
                    };
                    send(&to_full, message);
                    abandon_myself();
                });
                wait_until_waiting(&a);
                send_signal_message(&full, Go);
                let parked = receive::<Parked>();
                assert_eq!(
                    parked.dropped_by, a,
                    "the message was dropped by the sender"
                );
                assert_eq!(wait_exit(&a), ExitReason::custom("abandoned on purpose"));
                // The child of the set-up left parked ends with its
                // spawner.
                assert_eq!(wait_exit(&parked.child), ExitReason::Killed);
            });
            drop(rt);
        },
    );
}

/// Sent by the first coroutine once its set-up's child is launched.
struct Launched(Pid);

struct Ping(Pid);

struct Pong;

/// b03: two set-ups parked in coroutines of the process's own; the first
/// one finishes (its child is launched and runs), the second stays
/// parked, and the process is abandoned. Before the fix the first set-up
/// took the second one's debt off the list, and the abandonment "paid"
/// the running child (marked it exited, ran its exit hook, closed its
/// mailbox) while the parked one's child never ended.
#[test]
fn abandonment_ends_the_child_of_a_parked_set_up_and_not_one_already_launched() {
    in_child(
        "abandonment_ends_the_child_of_a_parked_set_up_and_not_one_already_launched",
        "run",
        |_| {
            let (first_stack, second_stack) = (user_stack(), user_stack());
            let rt = runtime_with(2).build().unwrap();
            rt.block_on(move || {
                let me = self_pid();
                let to_me = me.clone();
                let a = spawn(move || {
                    let to = to_me.clone();
                    let mut first =
                        Coroutine::with_stack(first_stack, move |parker: &Yielder<(), ()>, ()| {
                            let child = spawn_with(
                                SpawnOptions::new(),
                                |_| parker.suspend(()),
                                || {
                                    loop {
                                        let Ping(from) = receive::<Ping>();
                                        send(&from, Pong);
                                    }
                                },
                            )
                            .unwrap();
                            let hook_to = to.clone();
                            let _ = child.on_exit(move |reason| {
                                send(&hook_to, ChildEnded(reason.clone()));
                            });
                            send(&to, Launched(child));
                        });
                    let to = to_me.clone();
                    let mut second =
                        Coroutine::with_stack(second_stack, move |parker: &Yielder<(), ()>, ()| {
                            let _ = spawn_with(
                                SpawnOptions::new(),
                                |child| {
                                    send(&to, Child(child.clone()));
                                    parker.suspend(());
                                },
                                || {},
                            );
                        });
                    let _ = first.resume(());
                    let _ = second.resume(());
                    // The first set-up returns: its child is launched.
                    assert!(first.resume(()).as_return().is_some());
                    // The second stays parked for good.
                    std::mem::forget(second);
                    abandon_myself();
                });
                let Launched(launched) = receive::<Launched>();
                let Child(parked) = receive::<Child>();
                assert_eq!(wait_exit(&a), ExitReason::custom("abandoned on purpose"));
                assert!(
                    !launched.has_exited(),
                    "the launched child was ended: {:?}",
                    launched.exit_reason()
                );
                send(&launched, Ping(self_pid()));
                receive::<Pong>();
                assert!(
                    receive_timeout::<ChildEnded>(std::time::Duration::ZERO).is_none(),
                    "the launched child's exit hook ran"
                );
                assert_eq!(wait_exit(&parked), ExitReason::Killed);
            });
            drop(rt);
        },
    );
}

/// Sent by a destructor that then blocks until its process is killed.
struct Dropping;

/// Blocks in its destructor (a process that is not ending: no clean-up
/// deadline) until its process is killed.
struct BlocksInDrop(Pid);

impl Drop for BlocksInDrop {
    fn drop(&mut self) {
        send(&self.0, Dropping);
        receive::<Go>();
    }
}

/// b04, a failed `spawn_with`: its set-up (which hooked the child)
/// panics, and the spawner, which caught the panic, drops the child's
/// closure, whose destructor blocks; the spawner is killed there. Before
/// the fix the kill's unwind skipped the child's end: its exit hook never
/// ran (a hang).
#[test]
fn a_spawner_killed_while_dropping_a_failed_childs_closure_still_ends_the_child() {
    in_child(
        "a_spawner_killed_while_dropping_a_failed_childs_closure_still_ends_the_child",
        "run",
        |_| {
            let rt = runtime_with(1).build().unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let spawner = spawn(move || {
                    let guard = BlocksInDrop(me.clone());
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        spawn_with(
                            SpawnOptions::new(),
                            |child| {
                                let to = me.clone();
                                let _ = child
                                    .on_exit(move |reason| send(&to, ChildEnded(reason.clone())));
                                panic!("set-up fails");
                            },
                            move || drop(guard),
                        )
                    }));
                    unreachable!("killed while dropping the closure");
                });
                receive::<Dropping>();
                exit(&spawner, ExitReason::Kill);
                assert_eq!(wait_exit(&spawner), ExitReason::Killed);
                let ChildEnded(reason) = receive::<ChildEnded>();
                assert_eq!(reason, ExitReason::Panic("set-up fails".into()));
            });
            drop(rt);
        },
    );
}

/// b04, a spawn that fails to register its name: the spawner drops the
/// closure, whose destructor blocks, and is killed there. Before the fix
/// the child's process slot was never given back.
#[test]
fn a_spawner_killed_while_dropping_a_failed_childs_closure_gives_the_childs_slot_back() {
    in_child(
        "a_spawner_killed_while_dropping_a_failed_childs_closure_gives_the_childs_slot_back",
        "run",
        |_| {
            // One worker: the slots a worker keeps for its own spawns are
            // the ones the spawns below take.
            let rt = runtime_with(1).max_processes(4).build().unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let _taken = register("taken", &me);
                let spawner = spawn(move || {
                    let guard = BlocksInDrop(me.clone());
                    let _ = spawn_opt(SpawnOptions::new().register("taken"), move || drop(guard));
                    unreachable!("killed while dropping the closure");
                });
                receive::<Dropping>();
                exit(&spawner, ExitReason::Kill);
                assert_eq!(wait_exit(&spawner), ExitReason::Killed);
                // This process and three more: the limit.
                common::assert_free_slots(3);
            });
            drop(rt);
        },
    );
}

/// A child's name and pid, sent from its set-up.
struct Named(&'static str, Pid);

/// A child's name and exit reason, sent by its exit hook.
#[derive(Debug, PartialEq)]
struct NamedEnded(&'static str, ExitReason);

/// b06: nested set-ups, each hooking its child with a hook that sends
/// (the documented idiom); the spawner is abandoned in the inner one. The
/// hooks run as the debts are paid; before the fix the first hook's send
/// was a check point that re-entered the abandonment, and the outer
/// child never ended. `swallow`: the inner set-up catches its kill's
/// unwinds until the retries run out; `deadline`: it blocks in a
/// destructor during the kill's unwind past the clean-up deadline.
fn nested_set_ups_abandoned(mode: &str) {
    let rt = runtime_with(2)
        .cleanup_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    let swallow = mode == "swallow";
    rt.block_on(move || {
        let me = self_pid();
        let spawner = spawn(move || {
            let _ = spawn_with(
                SpawnOptions::new(),
                |outer| {
                    let to = me.clone();
                    let _ =
                        outer.on_exit(move |reason| send(&to, NamedEnded("C1", reason.clone())));
                    send(&me, Named("C1", outer.clone()));
                    let _ = spawn_with(
                        SpawnOptions::new(),
                        |inner| {
                            let to = me.clone();
                            let _ = inner
                                .on_exit(move |reason| send(&to, NamedEnded("C2", reason.clone())));
                            send(&me, Named("C2", inner.clone()));
                            if swallow {
                                loop {
                                    let _ = catch_unwind(receive::<Go>);
                                }
                            } else {
                                let _blocks = BlocksInDrop(me.clone());
                                receive::<Go>();
                            }
                        },
                        || {},
                    );
                },
                || {},
            );
        });
        let Named(_, c1) = receive_match_name("C1");
        let Named(_, c2) = receive_match_name("C2");
        wait_until_waiting(&spawner);
        exit(&spawner, ExitReason::Kill);
        assert_eq!(wait_exit(&spawner), ExitReason::Killed);
        assert_eq!(wait_exit(&c2), ExitReason::Killed);
        assert_eq!(wait_exit(&c1), ExitReason::Killed);
        let mut hooks = vec![receive::<NamedEnded>(), receive::<NamedEnded>()];
        hooks.sort_by_key(|ended| ended.0);
        assert_eq!(
            hooks,
            [
                NamedEnded("C1", ExitReason::Killed),
                NamedEnded("C2", ExitReason::Killed)
            ]
        );
    });
    drop(rt);
}

fn receive_match_name(name: &'static str) -> Named {
    ferrotp_scheduler::receive_match::<Named>(|named| named.0 == name)
}

#[test]
fn set_up_children_end_when_their_spawner_that_swallows_its_kill_is_abandoned_by_hooks_that_send() {
    in_child(
        "set_up_children_end_when_their_spawner_that_swallows_its_kill_is_abandoned_by_hooks_that_send",
        "swallow",
        nested_set_ups_abandoned,
    );
}

#[test]
fn set_up_children_end_when_their_spawner_past_its_deadline_is_abandoned_by_hooks_that_send() {
    in_child(
        "set_up_children_end_when_their_spawner_past_its_deadline_is_abandoned_by_hooks_that_send",
        "deadline",
        nested_set_ups_abandoned,
    );
}

/// What the full mailbox's owner received, reported to the test.
struct Got(u32);

/// The live sender's send went through.
struct LiveSent;

/// Sends in its destructor, which blocks on a full mailbox.
struct SendsInDrop(Pid);

impl Drop for SendsInDrop {
    fn drop(&mut self) {
        send(&self.0, 2u32);
    }
}

/// b12: a set-up blocked in a send to a full mailbox (two debts: the
/// child's end and the place among the waiting senders), its spawner
/// abandoned there. Both are paid: the child ends, and a live sender
/// queued behind gets the room. (Held before the fix: a guard.)
fn set_up_blocked_in_a_send_abandoned(mode: &str) {
    let rt = runtime_with(2)
        .cleanup_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    let swallow = mode == "swallow";
    rt.block_on(move || {
        let me = self_pid();
        let reporter = me.clone();
        let full = spawn_opt(SpawnOptions::new().mailbox_capacity(1), move || {
            receive::<Go>();
            loop {
                send(&reporter, Got(receive::<u32>()));
            }
        })
        .unwrap();
        send(&full, 0u32);
        let to_full = full.clone();
        let to_me = me.clone();
        let spawner = spawn(move || {
            let _ = spawn_with(
                SpawnOptions::new(),
                |child| {
                    let to = to_me.clone();
                    let _ = child.on_exit(move |reason| send(&to, ChildEnded(reason.clone())));
                    send(&to_me, Child(child.clone()));
                    if swallow {
                        loop {
                            let _ = catch_unwind(AssertUnwindSafe(|| send(&to_full, 1u32)));
                        }
                    } else {
                        let _sends = SendsInDrop(to_full.clone());
                        send(&to_full, 1u32);
                    }
                },
                || {},
            );
        });
        let Child(child) = receive::<Child>();
        wait_until_waiting(&spawner);
        // A live sender, queued behind the spawner.
        let to_full = full.clone();
        let to_me = me.clone();
        let live = spawn(move || {
            send(&to_full, 3u32);
            send(&to_me, LiveSent);
        });
        wait_until_waiting(&live);
        exit(&spawner, ExitReason::Kill);
        assert_eq!(wait_exit(&spawner), ExitReason::Killed);
        assert_eq!(wait_exit(&child), ExitReason::Killed);
        assert_eq!(receive::<ChildEnded>().0, ExitReason::Killed);
        // Room, one message at a time: the live sender's turn.
        send_signal_message(&full, Go);
        assert_eq!(receive::<Got>().0, 0);
        assert_eq!(receive::<Got>().0, 3);
        receive::<LiveSent>();
        assert_eq!(wait_exit(&live), ExitReason::Normal);
    });
    drop(rt);
}

#[test]
fn a_set_up_swallowing_its_kill_in_a_blocked_send_is_abandoned_and_both_its_debts_paid() {
    in_child(
        "a_set_up_swallowing_its_kill_in_a_blocked_send_is_abandoned_and_both_its_debts_paid",
        "swallow",
        set_up_blocked_in_a_send_abandoned,
    );
}

#[test]
fn a_set_up_blocked_in_a_send_past_its_deadline_is_abandoned_and_both_its_debts_paid() {
    in_child(
        "a_set_up_blocked_in_a_send_past_its_deadline_is_abandoned_and_both_its_debts_paid",
        "deadline",
        set_up_blocked_in_a_send_abandoned,
    );
}

/// A kill's unwind payload, caught by its process in safe code and kept.
static STASH: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);

struct Ready;

/// Has a process catch its kill's unwind and keep the payload in
/// [`STASH`].
fn stash_a_kill_unwind() {
    let me = self_pid();
    let victim = spawn(move || {
        let payload = catch_unwind(AssertUnwindSafe(|| {
            send(&me, Ready);
            loop {
                receive::<Go>();
            }
        }))
        .unwrap_err();
        assert!(is_exit_unwind(payload.as_ref()));
        *STASH.lock().unwrap() = Some(payload);
    });
    receive::<Ready>();
    exit(&victim, ExitReason::Kill);
    assert_eq!(wait_exit(&victim), ExitReason::Killed);
    assert!(STASH.lock().unwrap().is_some());
}

/// b14: the exit hook of a set-up's child, run as the abandoned spawner's
/// debts are paid, resumes a stashed kill unwind. Before the fix it
/// unwound out of the abandonment, through frames whose debts were paid
/// already: double free (abort).
#[test]
fn an_exit_hook_resuming_a_kill_unwind_while_debts_are_paid_is_contained() {
    in_child(
        "an_exit_hook_resuming_a_kill_unwind_while_debts_are_paid_is_contained",
        "run",
        |_| {
            let rt = runtime_with(2)
                .cleanup_timeout(std::time::Duration::from_millis(100))
                .build()
                .unwrap();
            rt.block_on(|| {
                stash_a_kill_unwind();
                let me = self_pid();
                let full = spawn_opt(SpawnOptions::new().mailbox_capacity(1), || {
                    receive::<Go>();
                })
                .unwrap();
                send(&full, 0u32);
                let to_full = full.clone();
                let spawner = spawn(move || {
                    let _ = spawn_with(
                        SpawnOptions::new(),
                        |child| {
                            let _ = child.on_exit(|_| {
                                let stashed = STASH.lock().unwrap().take();
                                if let Some(payload) = stashed {
                                    resume_unwind(payload);
                                }
                            });
                            send(&me, Child(child.clone()));
                            loop {
                                let _ = catch_unwind(AssertUnwindSafe(|| send(&to_full, 1u32)));
                            }
                        },
                        || {},
                    );
                });
                let Child(child) = receive::<Child>();
                wait_until_waiting(&spawner);
                exit(&spawner, ExitReason::Kill);
                assert_eq!(wait_exit(&spawner), ExitReason::Killed);
                assert_eq!(wait_exit(&child), ExitReason::Killed);
                assert!(STASH.lock().unwrap().is_none(), "the hook did not run");
                send_signal_message(&full, Go);
                assert_eq!(wait_exit(&full), ExitReason::Normal);
            });
            drop(rt);
        },
    );
}
