//! Every row of the exit-signal table in the crate docs: reason × sent by
//! a link or by `exit` (from another process or from the receiver itself)
//! × receiver trapping exits or not. Erlang's reference manual,
//! *Processes*, "Receiving Exit Signals", is the specification.

mod common;

use ferrotp_scheduler::{
    Exit, ExitReason, Pid, Select, exit, exit_self, receive, self_pid, send, spawn, trap_exit,
};
use ferrotp_supervision::{Down, link, monitor};

use common::runtime;

#[derive(Clone, Copy, Debug)]
enum Via {
    /// A linked process ends with the reason.
    Link,
    /// `exit(receiver, reason)` from another process.
    ExitFromOther,
    /// `exit(self, reason)` by the receiver.
    ExitFromItself,
    /// The receiver links to a process that has already ended.
    LinkToDead,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The receiver ended with this reason.
    Died(ExitReason),
    /// The receiver got an `Exit` message with this reason, from the
    /// expected sender.
    Message(ExitReason),
    /// The receiver went on as if nothing happened.
    Ignored,
}

struct Probe;
struct Trigger(ExitReason);
struct Alive;

/// Runs one row: what a receiver (trapping or not) does with an exit
/// signal carrying `reason` that comes `via`.
fn outcome(reason: ExitReason, via: Via, trapping: bool) -> Outcome {
    let rt = runtime(2);
    rt.block_on(move || {
        let root = self_pid();
        let dead = spawn(|| {});
        let watch_dead = monitor(&dead);
        receive::<Down>();
        drop(watch_dead);
        let receiver = {
            let root = root.clone();
            let dead = dead.clone();
            spawn(move || {
                trap_exit(trapping);
                send(&root, Alive);
                loop {
                    let me = self_pid();
                    enum Got {
                        Exit(Exit),
                        Probe,
                        Trigger(ExitReason),
                    }
                    match Select::new()
                        .on(Got::Exit)
                        .on(|_: Probe| Got::Probe)
                        .on(|Trigger(r)| Got::Trigger(r))
                        .wait()
                    {
                        Got::Exit(signal) => send(&root, (signal.from, signal.reason)),
                        Got::Probe => send(&root, Alive),
                        Got::Trigger(reason) => {
                            match via {
                                Via::ExitFromItself => exit(&me, reason),
                                Via::LinkToDead => link(&dead),
                                _ => unreachable!(),
                            }
                            // Queued behind the signal it just caused.
                            send(&me, Probe);
                        }
                    }
                }
            })
        };
        receive::<Alive>();
        let watch_receiver = monitor(&receiver);
        let expected_from: Pid = match via {
            Via::Link => {
                let target = receiver.clone();
                let reason_for_sender = reason.clone();
                let root_for_sender = root.clone();
                let sender = spawn(move || {
                    link(&target);
                    send(&root_for_sender, Alive);
                    let Trigger(_) = receive::<Trigger>();
                    match reason_for_sender {
                        ExitReason::Normal => {}
                        ExitReason::Panic(message) => panic!("{message}"),
                        ExitReason::Killed => loop {
                            receive::<()>();
                        },
                        other => exit_self(other),
                    }
                });
                receive::<Alive>();
                let watch_sender = monitor(&sender);
                send(&sender, Trigger(reason.clone()));
                if reason == ExitReason::Killed {
                    exit(&sender, ExitReason::Kill);
                }
                // The link's signal was queued before this Down (hooks run
                // in registration order), so the probe below comes after it.
                let down = receive::<Down>();
                assert_eq!(down.monitor, watch_sender);
                assert_eq!(down.reason, reason, "the sender ended as asked");
                sender
            }
            Via::ExitFromOther => {
                exit(&receiver, reason.clone());
                root.clone()
            }
            Via::ExitFromItself => {
                send(&receiver, Trigger(reason.clone()));
                receiver.clone()
            }
            Via::LinkToDead => {
                send(&receiver, Trigger(reason.clone()));
                dead.clone()
            }
        };
        if matches!(via, Via::Link | Via::ExitFromOther) {
            send(&receiver, Probe);
        }
        enum Seen {
            Report(Option<Pid>, ExitReason),
            Alive,
            Down(Down),
        }
        let seen = Select::new()
            .on(|(from, reason): (Option<Pid>, ExitReason)| Seen::Report(from, reason))
            .on(|_: Alive| Seen::Alive)
            .on_match(move |d: &Down| d.monitor == watch_receiver, Seen::Down)
            .wait();
        let result = match seen {
            Seen::Down(down) => Outcome::Died(down.reason),
            Seen::Alive => Outcome::Ignored,
            Seen::Report(from, reason) => {
                assert_eq!(from, Some(expected_from), "the Exit names its sender");
                Outcome::Message(reason)
            }
        };
        exit(&receiver, ExitReason::Kill);
        result
    })
}

fn custom() -> ExitReason {
    ExitReason::custom("user reason")
}

fn panic_reason() -> ExitReason {
    ExitReason::Panic("deliberate".into())
}

// Reason `Normal`.

#[test]
fn normal_over_a_link_is_ignored_unless_trapped() {
    assert_eq!(
        outcome(ExitReason::Normal, Via::Link, false),
        Outcome::Ignored
    );
    assert_eq!(
        outcome(ExitReason::Normal, Via::Link, true),
        Outcome::Message(ExitReason::Normal)
    );
}

#[test]
fn normal_from_another_process_is_ignored_unless_trapped() {
    assert_eq!(
        outcome(ExitReason::Normal, Via::ExitFromOther, false),
        Outcome::Ignored
    );
    assert_eq!(
        outcome(ExitReason::Normal, Via::ExitFromOther, true),
        Outcome::Message(ExitReason::Normal)
    );
}

#[test]
fn normal_from_itself_ends_the_process_unless_trapped() {
    assert_eq!(
        outcome(ExitReason::Normal, Via::ExitFromItself, false),
        Outcome::Died(ExitReason::Normal)
    );
    assert_eq!(
        outcome(ExitReason::Normal, Via::ExitFromItself, true),
        Outcome::Message(ExitReason::Normal)
    );
}

// Abnormal reasons: the receiver ends with the reason, or traps it.

fn abnormal_row(reason: ExitReason) {
    for via in [Via::Link, Via::ExitFromOther, Via::ExitFromItself] {
        assert_eq!(
            outcome(reason.clone(), via, false),
            Outcome::Died(reason.clone()),
            "{reason} via {via:?}, not trapping"
        );
        assert_eq!(
            outcome(reason.clone(), via, true),
            Outcome::Message(reason.clone()),
            "{reason} via {via:?}, trapping"
        );
    }
}

#[test]
fn shutdown_ends_the_receiver_or_is_trapped() {
    abnormal_row(ExitReason::Shutdown);
}

/// `killed` is an ordinary reason: a trapping process linked to a killed
/// process survives it (what lets a supervisor restart a killed child).
#[test]
fn killed_is_an_ordinary_reason_and_can_be_trapped() {
    abnormal_row(ExitReason::Killed);
}

#[test]
fn panic_ends_the_receiver_or_is_trapped() {
    abnormal_row(panic_reason());
}

#[test]
fn a_user_reason_ends_the_receiver_or_is_trapped() {
    abnormal_row(custom());
}

#[test]
fn linking_to_an_ended_process_sends_noproc() {
    assert_eq!(
        outcome(ExitReason::NoProc, Via::LinkToDead, false),
        Outcome::Died(ExitReason::NoProc)
    );
    assert_eq!(
        outcome(ExitReason::NoProc, Via::LinkToDead, true),
        Outcome::Message(ExitReason::NoProc)
    );
}

/// `kill` cannot be trapped, from another process or from itself; the
/// process ends with `killed`.
#[test]
fn kill_cannot_be_trapped_and_ends_the_receiver_with_killed() {
    for via in [Via::ExitFromOther, Via::ExitFromItself] {
        for trapping in [false, true] {
            assert_eq!(
                outcome(ExitReason::Kill, via, trapping),
                Outcome::Died(ExitReason::Killed),
                "kill via {via:?}, trapping: {trapping}"
            );
        }
    }
}
