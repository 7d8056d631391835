//! A process whose body has ended drops the messages it left unread, with
//! its mailbox open at first (a destructor may call another process and
//! get the reply), then closed: senders that keep sending cannot keep it
//! from ending; while it drains, only a kill (or shutdown) acts, and it
//! ends with its body's reason.
//!
//! Second adversarial review, programs b05 and b16. Each scenario runs in
//! a child process under a watchdog: before the fix the drain never ended
//! while messages kept arriving (a hang, at shutdown too).

mod common;

use std::sync::{Arc, mpsc};

use common::{in_child, wait_exit};
use ferrotp_scheduler::{
    ExitReason, Link, Pid, Runtime, SpawnOptions, exit, link_signal, receive, receive_timeout,
    self_pid, send, send_signal_message, spawn, spawn_with, trap_exit,
};

struct Go;

/// A message whose destructor sends it again to its owner: with `send`,
/// or past any bound with `send_signal_message` (a token returned to its
/// owner, the owner being the process that drops it).
struct Token {
    owner: Pid,
    past_the_bound: bool,
}

impl Drop for Token {
    fn drop(&mut self) {
        let again = Token {
            owner: self.owner.clone(),
            past_the_bound: self.past_the_bound,
        };
        if self.past_the_bound {
            send_signal_message(&self.owner, again);
        } else {
            send(&self.owner, again);
        }
    }
}

/// Messages queued for the server before its body ends.
const BACKLOG: usize = 50_000;

/// Each message the server drops makes its sender send this many more:
/// a sender that keeps sending as long as the server drops what it sent
/// keeps its mailbox from ever being empty.
const FANOUT: usize = 3;

/// The sender stops after this many messages if the server has not
/// ended by then. A server that drops the backlog with its mailbox open
/// and then closes it makes the sender send `FANOUT * BACKLOG` messages
/// while it drops the backlog, which it drops after closing its mailbox,
/// making the sender send `FANOUT` times as many again (dead letters,
/// which the sender drops itself): `12 * BACKLOG` in all, far fewer.
/// Before the fix the server went on as long as messages came.
const SEND_LIMIT: usize = 40 * BACKLOG;

/// Who is told when the server drops a [`Flood`] message.
#[derive(Clone)]
enum Sender {
    Thread(mpsc::Sender<()>),
    Process(Pid),
}

/// Tells a sending process that one of its messages was dropped.
struct Dropped;

/// What the server is flooded with: dropped by the server, it takes a
/// while (longer than sending one), then tells its sender.
struct Flood {
    server: Pid,
    sender: Sender,
}

impl Drop for Flood {
    fn drop(&mut self) {
        // Not a dead letter, dropped by the sender itself.
        if ferrotp_scheduler::try_self_pid().as_ref() != Some(&self.server) {
            return;
        }
        let mut x = 1u64;
        for i in 0..500 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        match &self.sender {
            Sender::Thread(dropped) => {
                let _ = dropped.send(());
            }
            Sender::Process(pid) => send(pid, Dropped),
        }
    }
}

/// The sender's loop: `FANOUT` messages for each one dropped, until the
/// server has ended (true) or `SEND_LIMIT` (false).
fn keep_sending(server: &Pid, sender: &Sender, mut next: impl FnMut()) -> bool {
    let mut sent = 0;
    loop {
        next();
        if server.has_exited() {
            return true;
        }
        for _ in 0..FANOUT {
            if sent == SEND_LIMIT {
                return false;
            }
            let flood = Flood {
                server: server.clone(),
                sender: sender.clone(),
            };
            send(server, flood);
            sent += 1;
        }
    }
}

/// b05: a server crashes with a backlog of messages while their sender
/// keeps sending (`flood_threads`: a plain thread; `flood_procs`: a
/// process on the other worker), or while the unread message it drops
/// sends itself to it again (`selfsend_sig`, `selfsend`). It ends, with
/// the sender still sending, and the runtime shuts down. Returns the
/// server's exit reason.
fn flooded_server(mode: &str) -> ExitReason {
    let mut builder = Runtime::builder().workers(2);
    if mode.starts_with("selfsend") {
        // It may end at the deadline.
        builder = builder.cleanup_timeout(std::time::Duration::from_millis(200));
    }
    // Otherwise the default (5 s), far longer than the flood lasts: the
    // deadline does not end the drain (before the fix, being preempted
    // started it).
    let rt = builder.build().unwrap();
    let (ended, reason) = mpsc::channel();
    let (dropped, dropped_rx) = mpsc::channel();
    let wake_sender = dropped.clone();
    let body_mode = mode.to_owned();
    let server = rt.block_on(move || {
        spawn_with(
            SpawnOptions::new().worker(0),
            |pid| {
                let _ = pid.on_exit(move |reason| {
                    let _ = ended.send(reason.clone());
                    let _ = wake_sender.send(());
                });
            },
            move || {
                let me = self_pid();
                match body_mode.as_str() {
                    "selfsend_sig" | "selfsend" => {
                        let token = Token {
                            owner: me.clone(),
                            past_the_bound: body_mode == "selfsend_sig",
                        };
                        send(&me, token);
                    }
                    _ => {
                        receive::<Go>();
                    }
                }
                panic!("server crashes");
            },
        )
        .unwrap()
    });
    let (kept_up, sender) = match mode {
        "flood_threads" => {
            let to = server.clone();
            let sender = Sender::Thread(dropped);
            let sending = sender.clone();
            let thread = std::thread::spawn(move || {
                keep_sending(&to, &sending, || {
                    let _ = dropped_rx.recv();
                })
            });
            (Some(thread), Some(sender))
        }
        "flood_procs" => {
            let to = server.clone();
            let pid = rt
                .spawn_opt(SpawnOptions::new().worker(1), move || {
                    let me = Sender::Process(self_pid());
                    if !keep_sending(&to, &me, || {
                        receive::<Dropped>();
                    }) {
                        panic!("the sender gave up");
                    }
                })
                .unwrap();
            (None, Some(Sender::Process(pid)))
        }
        _ => (None, None),
    };
    if let Some(sender) = &sender {
        for _ in 0..BACKLOG {
            let flood = Flood {
                server: server.clone(),
                sender: sender.clone(),
            };
            send(&server, flood);
        }
        send(&server, Go);
    }
    let reason = reason.recv().unwrap();
    if let Some(thread) = kept_up {
        assert!(
            thread.join().unwrap(),
            "the server was still dropping its unread messages after {SEND_LIMIT} more"
        );
    }
    if let Some(Sender::Process(pid)) = sender {
        // Wakes it, if it waits, to see that the server has ended.
        send(&pid, Dropped);
        while !pid.has_exited() {
            std::thread::yield_now();
        }
        assert_eq!(
            pid.exit_reason(),
            Some(ExitReason::Normal),
            "the server was still dropping its unread messages after {SEND_LIMIT} more"
        );
    }
    drop(rt);
    reason
}

#[test]
fn a_crashed_server_ends_with_its_reason_while_a_thread_keeps_sending_to_it() {
    in_child(
        "a_crashed_server_ends_with_its_reason_while_a_thread_keeps_sending_to_it",
        "flood_threads",
        |mode| {
            assert_eq!(
                flooded_server(mode),
                ExitReason::Panic("server crashes".into())
            );
        },
    );
}

#[test]
fn a_crashed_server_ends_with_its_reason_while_a_process_keeps_sending_to_it() {
    in_child(
        "a_crashed_server_ends_with_its_reason_while_a_process_keeps_sending_to_it",
        "flood_procs",
        |mode| {
            assert_eq!(
                flooded_server(mode),
                ExitReason::Panic("server crashes".into())
            );
        },
    );
}

/// Its unread message's destructor sends it again past the bound, for
/// ever: the drain ends (with the panic's reason, or, if it counts as
/// blocked, at the clean-up deadline).
#[test]
fn a_process_whose_unread_message_returns_itself_past_the_bound_ends() {
    in_child(
        "a_process_whose_unread_message_returns_itself_past_the_bound_ends",
        "selfsend_sig",
        |mode| {
            let reason = flooded_server(mode);
            println!("ended with {reason:?}");
            assert!(
                reason == ExitReason::Panic("server crashes".into())
                    || reason == ExitReason::custom("cleanup_timeout"),
                "{reason:?}"
            );
        },
    );
}

/// The same with a plain `send` (a guard: held before the fix, ended by
/// the clean-up deadline).
#[test]
fn a_process_whose_unread_message_sends_itself_again_ends() {
    in_child(
        "a_process_whose_unread_message_sends_itself_again_ends",
        "selfsend",
        |mode| {
            let reason = flooded_server(mode);
            println!("ended with {reason:?}");
            assert!(
                reason == ExitReason::Panic("server crashes".into())
                    || reason == ExitReason::custom("cleanup_timeout"),
                "{reason:?}"
            );
        },
    );
}

/// A link that always stands.
struct Always;

impl Link for Always {
    fn take_effect(&self) -> bool {
        true
    }
}

/// Links `a` and `b` with exit hooks, as crate `ferrotp-supervision` does:
/// each one's end is an exit signal to the other.
fn link(a: &Pid, b: &Pid) {
    for (from, to) in [(a, b), (b, a)] {
        let (from_hook, to) = (from.clone(), to.clone());
        let _ = from.on_exit(move |reason| {
            link_signal(&to, &from_hook, reason.clone(), Arc::new(Always));
        });
    }
}

/// Sent by the called process for each call.
struct Called;

/// Sent by a destructor that got through its call.
struct CallDone;

/// An unread message whose destructor calls a process that never
/// answers.
struct Calls {
    callee: Pid,
    report_to: Pid,
}

impl Drop for Calls {
    fn drop(&mut self) {
        send(&self.callee, self_pid());
        let _ = receive_timeout::<u64>(std::time::Duration::from_secs(3600));
        send(&self.report_to, CallDone);
    }
}

struct BodyEnded;

struct Crash;

/// Sent once the crashing link partner's hooks (its link's first) ran.
struct PartnerGone;

/// P's end, seen by a monitor (an exit hook).
struct Down(ExitReason);

struct Ping(Pid);

struct Pong;

/// b16: exit signals while a process drops its unread messages, whose
/// destructors block: a linked process crashes, a trappable `exit`
/// arrives (neither changes anything), then a kill interrupts the
/// blocked destructor and unwinds the others at once. It ends with its
/// body's reason (`Normal`): its monitor sees that, and its other link
/// partner survives. A guard: held before the fix.
fn signals_during_the_drain(mode: &str) {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let traps = mode == "trap";
    rt.block_on(move || {
        let me = self_pid();
        let to_me = me.clone();
        let callee = spawn(move || {
            loop {
                let _caller = receive::<Pid>();
                send(&to_me, Called);
            }
        });
        let crashes = spawn(|| {
            receive::<Crash>();
            panic!("the link partner crashes");
        });
        let survives = spawn(|| {
            loop {
                let Ping(from) = receive::<Ping>();
                send(&from, Pong);
            }
        });
        let (to_callee, to_me) = (callee.clone(), me.clone());
        let (partners, monitor_to) = ((crashes.clone(), survives.clone()), me.clone());
        let p = spawn_with(
            SpawnOptions::new(),
            |p| {
                link(p, &partners.0);
                link(p, &partners.1);
                let _ = p.on_exit(move |reason| send(&monitor_to, Down(reason.clone())));
            },
            move || {
                if traps {
                    trap_exit(true);
                }
                let me = self_pid();
                for _ in 0..3 {
                    let call = Calls {
                        callee: to_callee.clone(),
                        report_to: to_me.clone(),
                    };
                    send(&me, call);
                }
                send(&to_me, BodyEnded);
            },
        )
        .unwrap();
        let to_me = me.clone();
        let _ = crashes.on_exit(move |_| send(&to_me, PartnerGone));
        receive::<BodyEnded>();
        // P blocks in its first unread message's destructor.
        receive::<Called>();
        send(&crashes, Crash);
        assert_eq!(
            wait_exit(&crashes),
            ExitReason::Panic("the link partner crashes".into())
        );
        receive::<PartnerGone>();
        exit(&p, ExitReason::custom("trappable"));
        exit(&p, ExitReason::Kill);
        let Down(reason) = receive::<Down>();
        assert_eq!(reason, ExitReason::Normal);
        assert_eq!(p.exit_reason(), Some(ExitReason::Normal));
        assert!(
            receive_timeout::<CallDone>(std::time::Duration::ZERO).is_none(),
            "a destructor went on past the kill"
        );
        send(&survives, Ping(self_pid()));
        receive::<Pong>();
        assert!(!survives.has_exited());
    });
    drop(rt);
}

#[test]
fn only_a_kill_acts_on_a_trapping_process_dropping_its_unread_messages() {
    in_child(
        "only_a_kill_acts_on_a_trapping_process_dropping_its_unread_messages",
        "trap",
        signals_during_the_drain,
    );
}

#[test]
fn only_a_kill_acts_on_a_process_dropping_its_unread_messages() {
    in_child(
        "only_a_kill_acts_on_a_process_dropping_its_unread_messages",
        "notrap",
        signals_during_the_drain,
    );
}
