//! Request and reply (`call`, `ReplyTo`, `PendingReply`): OTP's
//! `gen:call` semantics with EEP 53 aliases — the callee is watched for
//! the call's duration, and a reply that comes after the call returned
//! never lands in the caller's mailbox.

use std::time::Duration;

use ferrotp_scheduler::{
    CallError, ExitReason, PendingReply, Pid, ReplyTo, call, exit, mailbox_len, receive, self_pid,
    send, spawn,
};

mod common;
use common::{runtime, wait_exit, wait_until_waiting};

const LONG: Duration = Duration::from_secs(60);

/// A server that answers `(n, reply)` with `n + 1`, for ever.
fn incrementer() -> Pid {
    spawn(|| {
        loop {
            let (n, reply) = receive::<(u64, ReplyTo<u64>)>();
            reply.send(n + 1);
        }
    })
}

#[test]
fn a_call_returns_the_reply_and_leaves_the_mailbox_as_it_was() {
    let rt = runtime(2);
    let (replies, backlog) = rt.block_on(|| {
        let me = self_pid();
        for n in 0..10_000u32 {
            send(&me, n); // unrelated messages, queued before the calls
        }
        let server = incrementer();
        let replies: Vec<_> = (0..100u64)
            .map(|n| call(&server, |reply: ReplyTo<u64>| (n, reply), LONG).unwrap())
            .collect();
        let backlog: Vec<u32> = (0..mailbox_len()).map(|_| receive::<u32>()).collect();
        (replies, backlog)
    });
    assert_eq!(replies, (1..=100).collect::<Vec<u64>>());
    assert_eq!(
        backlog,
        (0..10_000).collect::<Vec<u32>>(),
        "untouched, in order"
    );
}

/// EEP 53: once the call has timed out, the reply is dropped on arrival;
/// it is not in the caller's mailbox, and the replier learns it was late.
#[test]
fn a_reply_after_the_timeout_never_reaches_the_mailbox() {
    let rt = runtime(1);
    let (outcome, late_delivered, len) = rt.block_on(|| {
        let me = self_pid();
        let server = spawn(move || {
            let reply = receive::<ReplyTo<u64>>();
            receive::<&str>(); // "answer now"
            send(&me, reply.send(5));
        });
        let outcome = call(
            &server,
            |reply: ReplyTo<u64>| reply,
            Duration::from_millis(5),
        );
        send(&server, "answer now");
        let late_delivered = receive::<bool>();
        (outcome, late_delivered, mailbox_len())
    });
    assert_eq!(outcome, Err(CallError::Timeout));
    assert!(!late_delivered, "the replier is told its reply was late");
    assert_eq!(len, 0, "the late reply is not in the mailbox");
}

/// A late reply to an earlier call must not be taken for the reply to the
/// call open now.
#[test]
fn a_late_reply_never_answers_the_next_call() {
    let rt = runtime(2);
    let (first, second, len) = rt.block_on(|| {
        let slow = spawn(|| {
            let reply = receive::<ReplyTo<&'static str>>();
            let (go, done) = receive::<(&str, Pid)>();
            assert_eq!(go, "answer now");
            send(&done, reply.send("late"));
        });
        let first = call(
            &slow,
            |reply: ReplyTo<&str>| reply,
            Duration::from_millis(5),
        );
        let slow_for_relay = slow.clone();
        // The second call's callee makes the first callee answer, waits
        // until it has, then answers with what the late reply was told.
        let relay = spawn(move || {
            let reply = receive::<ReplyTo<String>>();
            send(&slow_for_relay, ("answer now", self_pid()));
            let delivered = receive::<bool>();
            reply.send(format!("relay; the late reply delivered: {delivered}"));
        });
        let second = call(&relay, |reply: ReplyTo<String>| reply, LONG);
        (first, second, mailbox_len())
    });
    assert_eq!(first, Err(CallError::Timeout));
    assert_eq!(
        second.as_deref(),
        Ok("relay; the late reply delivered: false")
    );
    assert_eq!(len, 0);
}

#[test]
fn a_callee_that_panics_ends_the_call_with_its_reason() {
    let rt = runtime(2);
    let (outcome, len) = rt.block_on(|| {
        let server = spawn(|| {
            let _reply = receive::<ReplyTo<u8>>();
            panic!("cannot serve");
        });
        (
            call(&server, |reply: ReplyTo<u8>| reply, LONG),
            mailbox_len(),
        )
    });
    assert_eq!(
        outcome,
        Err(CallError::Exited(ExitReason::Panic("cannot serve".into())))
    );
    assert_eq!(len, 0, "no Down or Exit message is left behind");
}

#[test]
fn a_callee_killed_during_the_call_ends_it_with_killed() {
    let rt = runtime(2);
    let outcome = rt.block_on(|| {
        let server = spawn(|| {
            let _reply = receive::<ReplyTo<u8>>();
            receive::<()>(); // never comes
        });
        let killer = {
            let server = server.clone();
            spawn(move || {
                wait_until_waiting(&server);
                // Waiting after the request arrived: the caller waits too.
                while ferrotp_scheduler::process_info(&server)
                    .unwrap()
                    .mailbox_len
                    > 0
                {
                    ferrotp_scheduler::yield_now();
                }
                exit(&server, ExitReason::Killed);
            })
        };
        let outcome = call(&server, |reply: ReplyTo<u8>| reply, LONG);
        wait_exit(&killer);
        outcome
    });
    assert_eq!(outcome, Err(CallError::Exited(ExitReason::Killed)));
}

#[test]
fn a_call_to_an_ended_process_is_noproc_and_sends_nothing() {
    let rt = runtime(2);
    let outcome = rt.block_on(|| {
        let gone = spawn(|| {});
        wait_exit(&gone);
        call(&gone, |reply: ReplyTo<u8>| reply, LONG)
    });
    assert_eq!(outcome, Err(CallError::NoProc));
    assert_eq!(rt.metrics().dead_letters, 0, "the request was not sent");
}

#[test]
fn a_reply_address_dropped_unanswered_ends_the_call_with_noreply() {
    let rt = runtime(2);
    let (outcome, alive) = rt.block_on(|| {
        let server = spawn(|| {
            let reply = receive::<ReplyTo<u8>>();
            drop(reply); // discards the request, and lives on
            receive::<()>();
        });
        let outcome = call(&server, |reply: ReplyTo<u8>| reply, LONG);
        let alive = !server.has_exited();
        exit(&server, ExitReason::Killed);
        (outcome, alive)
    });
    assert_eq!(outcome, Err(CallError::NoReply));
    assert!(alive);
}

/// Unread requests dropped as the callee ends are its end, not "no reply".
#[test]
fn requests_queued_at_a_callee_that_ends_get_its_exit_reason() {
    let rt = runtime(1);
    let outcomes = rt.block_on(|| {
        let me = self_pid();
        let server = spawn(move || {
            // Lets the callers queue their requests, then ends.
            receive::<&str>();
            ferrotp_scheduler::exit_self(ExitReason::custom("closing"));
        });
        let callers: Vec<Pid> = (0..3)
            .map(|_| {
                let (me, server) = (me.clone(), server.clone());
                spawn(move || send(&me, call(&server, |reply: ReplyTo<u8>| reply, LONG)))
            })
            .collect();
        for caller in &callers {
            wait_until_waiting(caller);
        }
        send(&server, "end");
        (0..3)
            .map(|_| receive::<Result<u8, CallError>>())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        outcomes,
        vec![Err(CallError::Exited(ExitReason::custom("closing"))); 3]
    );
}

#[test]
fn a_process_that_calls_itself_gets_an_error_not_a_hang() {
    let rt = runtime(1);
    let outcome = rt.block_on(|| call(&self_pid(), |reply: ReplyTo<u8>| reply, LONG));
    assert_eq!(outcome, Err(CallError::CalledSelf));
}

/// A server may keep the reply address and answer later, from another
/// process (OTP's `gen_server:reply/2`).
#[test]
fn a_reply_address_can_be_answered_later_by_another_process() {
    let rt = runtime(2);
    let outcome = rt.block_on(|| {
        let worker = spawn(|| {
            let (n, reply) = receive::<(u64, ReplyTo<u64>)>();
            reply.send(n * 10);
        });
        let server = spawn(move || {
            let request = receive::<(u64, ReplyTo<u64>)>();
            send(&worker, request); // handed on
            receive::<()>();
        });
        call(&server, |reply: ReplyTo<u64>| (4u64, reply), LONG)
    });
    assert_eq!(outcome, Ok(40));
}

/// The request closure may itself call: each call has its own generation.
#[test]
fn a_request_built_with_a_nested_call_gets_its_own_reply() {
    let rt = runtime(2);
    let outcome = rt.block_on(|| {
        let server = incrementer();
        call(
            &server,
            |reply: ReplyTo<u64>| {
                (
                    call(&server, |inner: ReplyTo<u64>| (1u64, inner), LONG).unwrap(),
                    reply,
                )
            },
            LONG,
        )
    });
    assert_eq!(outcome, Ok(3));
}

/// A caller killed while it waits: the call's slot is closed as it
/// unwinds, the late reply is refused, the caller ends `Killed`.
#[test]
fn a_caller_killed_while_waiting_refuses_the_late_reply() {
    let rt = runtime(2);
    let (reason, delivered) = rt.block_on(|| {
        let me = self_pid();
        let server = spawn(move || {
            let reply = receive::<ReplyTo<u8>>();
            receive::<()>();
            send(&me, reply.send(1));
        });
        let caller = {
            let server = server.clone();
            spawn(move || {
                let _ = call(&server, |reply: ReplyTo<u8>| reply, LONG);
                unreachable!("killed while waiting");
            })
        };
        wait_until_waiting(&caller);
        while ferrotp_scheduler::process_info(&server)
            .unwrap()
            .mailbox_len
            > 0
            || !matches!(
                ferrotp_scheduler::process_info(&server).unwrap().status,
                ferrotp_scheduler::ProcessStatus::Waiting
            )
        {
            ferrotp_scheduler::yield_now();
        }
        exit(&caller, ExitReason::Killed);
        let reason = wait_exit(&caller);
        send(&server, ());
        (reason, receive::<bool>())
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(!delivered);
}

#[test]
fn many_callers_on_two_workers_each_get_their_own_replies() {
    let rt = runtime(2);
    let totals = rt.block_on(|| {
        let me = self_pid();
        let server = incrementer();
        for caller in 0..8u64 {
            let (me, server) = (me.clone(), server.clone());
            spawn(move || {
                let sum: u64 = (0..500u64)
                    .map(|n| {
                        call(
                            &server,
                            |reply: ReplyTo<u64>| (caller * 1_000 + n, reply),
                            LONG,
                        )
                        .unwrap()
                    })
                    .sum();
                send(&me, (caller, sum, mailbox_len()));
            });
        }
        let mut totals: Vec<(u64, u64, usize)> = (0..8).map(|_| receive()).collect();
        totals.sort_unstable();
        totals
    });
    for (caller, sum, left) in totals {
        let expected: u64 = (0..500u64).map(|n| caller * 1_000 + n + 1).sum();
        assert_eq!((sum, left), (expected, 0), "caller {caller}");
    }
}

/// `PendingReply` as a start acknowledgement: a child that dies before it
/// acknowledges ends the wait with its reason.
#[test]
fn a_pending_reply_watching_a_child_that_dies_first_gets_its_reason() {
    let rt = runtime(2);
    let (acked, died, gone) = rt.block_on(|| {
        let (mut pending, ack) = PendingReply::<u32>::new();
        let child = spawn(move || {
            ack.send(1);
            receive::<()>();
        });
        pending.watch(&child);
        let acked = pending.wait(LONG);

        let (mut pending, ack) = PendingReply::<u32>::new();
        let child = spawn(move || {
            let _ack = ack;
            receive::<()>();
            panic!("init failed");
        });
        assert!(pending.watch(&child));
        send(&child, ());
        let died = pending.wait(LONG);

        // Watching a child that has already ended: NoProc.
        let (mut pending, _ack) = PendingReply::<u32>::new();
        let gone = spawn(|| {});
        wait_exit(&gone);
        assert!(!pending.watch(&gone));
        (acked, died, pending.wait(LONG))
    });
    assert_eq!(acked, Ok(1));
    assert_eq!(
        died,
        Err(CallError::Exited(ExitReason::Panic("init failed".into())))
    );
    assert_eq!(gone, Err(CallError::NoProc));
}

#[test]
fn a_second_open_reply_panics_with_a_clear_message() {
    let rt = runtime(1);
    let message = rt.block_on(|| {
        let child = spawn(|| {
            let _first = PendingReply::<u8>::new();
            let _second = PendingReply::<u8>::new();
        });
        wait_exit(&child)
    });
    let ExitReason::Panic(message) = message else {
        panic!("{message:?}")
    };
    assert!(message.contains("one reply at a time"), "{message}");
}

/// A callee that leaks the request (so its reply address is never
/// dropped) and then ends: the call's late watch of the callee tells the
/// end, long before the timeout.
#[test]
fn a_callee_that_leaks_the_request_and_ends_is_seen_by_the_late_watch() {
    let rt = runtime(2);
    let outcome = rt.block_on(|| {
        let leaky = spawn(|| {
            let reply = receive::<ReplyTo<u8>>();
            std::mem::forget(reply);
            ferrotp_scheduler::exit_self(ExitReason::custom("leaked it"));
        });
        call(&leaky, |reply: ReplyTo<u8>| reply, LONG)
    });
    assert_eq!(
        outcome,
        Err(CallError::Exited(ExitReason::custom("leaked it")))
    );
}
