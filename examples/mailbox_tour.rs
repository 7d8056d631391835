//! A tour of the ferrotp mailbox with plain OS threads standing in for
//! processes (the scheduler, which parks and wakes processes for real, is
//! the next piece of ferrotp).
//!
//! * four "clients" send requests concurrently, some marked urgent;
//! * the "server" serves urgent requests first (selective receive, resuming
//!   its search from a mark), then the rest in arrival order, parking its
//!   thread on an empty mailbox through the wake protocol;
//! * a call: the client marks its own mailbox, sends, and takes the reply
//!   since the mark, skipping thousands of unrelated queued messages;
//! * backpressure: a sender fills a bounded mailbox and sleeps until the
//!   receiver makes room;
//! * closing: late messages come back to their sender as dead letters.
//!
//! Run: `cargo run --release --example mailbox_tour`

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread;
use std::time::Instant;

use ferrotp::mailbox::{Mailbox, Mark, Receiver, TryPushError, Wait};

#[derive(Debug)]
enum Request {
    Work { client: u32, seq: u32, urgent: bool },
    Stop,
}

/// Wakes a parked thread: what a scheduler does for a process.
struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Takes the first message `pred` accepts, parking the thread until one
/// arrives: a receive, written with the mailbox's wake protocol.
fn receive_matching<T>(rx: &mut Receiver<T>, mut pred: impl FnMut(&T) -> bool) -> T {
    loop {
        if let Some(msg) = rx.take_first(&mut pred) {
            return msg;
        }
        match rx.announce_wait() {
            Wait::Sleep => thread::park(),
            Wait::Ready => {}
            Wait::Closed => panic!("mailbox closed"),
        }
    }
}

/// Sends and wakes the receiver's thread if the push says so.
fn send<T>(mailbox: &Mailbox<T>, receiver: &thread::Thread, msg: T) {
    if mailbox.push(msg).expect("receiver alive").must_wake() {
        receiver.unpark();
    }
}

fn selective_server() {
    const CLIENTS: u32 = 4;
    const PER_CLIENT: u32 = 50_000;
    let mailbox = Arc::new(Mailbox::new());
    let start = Instant::now();
    let server = {
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        thread::spawn(move || {
            let (mut urgent, mut normal, mut stops) = (0u32, 0u32, 0u32);
            let mut last_seq = [None::<u32>; CLIENTS as usize];
            // Where the search for urgent requests stopped: each search
            // resumes there instead of rescanning every normal request
            // queued behind (Erlang's O(n^2) selective-receive trap).
            let mut urgent_scan = Mark::START;
            let is_urgent = |m: &Request| matches!(m, Request::Work { urgent: true, .. });
            while stops < CLIENTS {
                // Urgent work first, whatever else is queued.
                let msg = match rx.take_first_since(&mut urgent_scan, is_urgent) {
                    Some(msg) => msg,
                    None => receive_matching(&mut rx, |_| true),
                };
                match msg {
                    Request::Work {
                        client,
                        seq,
                        urgent: is_urgent,
                    } => {
                        if is_urgent {
                            urgent += 1;
                        } else {
                            // Normal requests of one client stay in order.
                            let last = &mut last_seq[client as usize];
                            assert!(last.is_none_or(|l| l < seq), "client {client} out of order");
                            *last = Some(seq);
                            normal += 1;
                        }
                    }
                    Request::Stop => stops += 1,
                }
            }
            (urgent, normal)
        })
    };
    let server_thread = server.thread().clone();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let mailbox = Arc::clone(&mailbox);
            let server = server_thread.clone();
            thread::spawn(move || {
                for seq in 0..PER_CLIENT {
                    let urgent = seq % 100 == 0;
                    send(
                        &mailbox,
                        &server,
                        Request::Work {
                            client,
                            seq,
                            urgent,
                        },
                    );
                }
                send(&mailbox, &server, Request::Stop);
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let (urgent, normal) = server.join().unwrap();
    let elapsed = start.elapsed();
    let total = urgent + normal;
    println!(
        "selective server: {total} requests from {CLIENTS} clients ({urgent} urgent served first) \
         in {:.1} ms, {:.1} M msg/s",
        elapsed.as_secs_f64() * 1e3,
        f64::from(total) / elapsed.as_secs_f64() / 1e6,
    );
}

fn call_with_deep_mailbox() {
    #[derive(Debug, PartialEq)]
    enum Msg {
        Noise(u32),
        Reply(u64),
    }
    let mailbox = Arc::new(Mailbox::new());
    let mut rx = Receiver::new(Arc::clone(&mailbox));
    for n in 0..100_000 {
        let _ = mailbox.push(Msg::Noise(n));
    }
    let queued = rx.len();
    let start = Instant::now();
    const CALLS: u64 = 1_000;
    for request in 0..CALLS {
        let mut mark = rx.mark();
        // The "server" replies from another thread.
        let replier = {
            let mailbox = Arc::clone(&mailbox);
            let caller = thread::current();
            thread::spawn(move || send(&mailbox, &caller, Msg::Reply(request * 2)))
        };
        let reply = loop {
            if let Some(reply) = rx.take_first_since(&mut mark, |m| matches!(m, Msg::Reply(_))) {
                break reply;
            }
            if rx.announce_wait() == Wait::Sleep {
                thread::park();
            }
        };
        assert_eq!(reply, Msg::Reply(request * 2));
        replier.join().unwrap();
    }
    println!(
        "call: {CALLS} calls with {queued} unrelated messages queued, {:.1} us per call \
         (a thread spawn each; the mark makes the queue depth irrelevant)",
        start.elapsed().as_secs_f64() * 1e6 / CALLS as f64,
    );
    assert_eq!(rx.len(), queued);
}

fn backpressure() {
    const CAPACITY: usize = 8;
    const MESSAGES: u32 = 10_000;
    let mailbox = Arc::new(Mailbox::bounded(CAPACITY));
    let mut rx = Receiver::new(Arc::clone(&mailbox));
    let consumer = thread::spawn(move || {
        let mut sum = 0u64;
        for _ in 0..MESSAGES {
            sum += u64::from(receive_matching(&mut rx, |_| true));
        }
        sum
    });
    let consumer_thread = consumer.thread().clone();
    let mut waiter = mailbox.room_waiter(Waker::from(Arc::new(ThreadWaker(thread::current()))));
    let mut sleeps = 0;
    for n in 0..MESSAGES {
        let mut msg = n;
        loop {
            match waiter.try_push(msg) {
                Ok(pushed) => {
                    if pushed.must_wake() {
                        consumer_thread.unpark();
                    }
                    break;
                }
                Err(TryPushError::Full(back)) => {
                    msg = back;
                    sleeps += 1;
                    thread::park();
                }
                Err(TryPushError::Closed(_)) => unreachable!(),
            }
        }
    }
    drop(waiter);
    let sum = consumer.join().unwrap();
    assert_eq!(sum, u64::from(MESSAGES) * u64::from(MESSAGES - 1) / 2);
    println!(
        "backpressure: {MESSAGES} messages through a mailbox of capacity {CAPACITY}; \
         the sender waited for room {sleeps} times; sum checks out ({sum})"
    );
}

fn dead_letters() {
    let mailbox = Arc::new(Mailbox::new());
    let mut rx = Receiver::new(Arc::clone(&mailbox));
    let _ = mailbox.push("queued before close");
    let dropped: Vec<_> = rx.close().collect();
    let late = mailbox.push("sent after close").unwrap_err().into_inner();
    println!(
        "close: {} queued message(s) handed back on close; late message returned: {late:?}",
        dropped.len()
    );
}

fn main() {
    println!(
        "ferrotp mailbox tour ({} CPUs)",
        thread::available_parallelism().map_or(1, |n| n.get())
    );
    selective_server();
    call_with_deep_mailbox();
    backpressure();
    dead_letters();
}
