//! `IoSource`: operations that suspend only their process, on the
//! worker's poller (module `io`).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrotp_scheduler::io::IoSource;
use ferrotp_scheduler::{ExitReason, Runtime, exit, receive, self_pid, send, spawn};

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn read_some(source: &IoSource<UnixStream>, deadline: Option<Instant>) -> std::io::Result<Vec<u8>> {
    let mut buf = [0; 64];
    let n = source.read_with(deadline, |mut s| s.read(&mut buf))?;
    Ok(buf[..n].to_vec())
}

/// On one worker: the reader waits, the worker runs the writer meanwhile,
/// which could not happen if the read blocked the thread.
#[test]
fn a_read_suspends_only_its_process() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let got = rt.block_on(|| {
        let (a, b) = pair();
        let me = self_pid();
        spawn(move || {
            let source = IoSource::new(a);
            send(&me, "reading");
            let first = read_some(&source, None).unwrap();
            send(&me, first);
            let second = read_some(&source, None).unwrap();
            send(&me, second);
        });
        let writer = IoSource::new(b);
        // The reader is about to wait: nothing has been written.
        assert_eq!(receive::<&str>(), "reading");
        writer.write_with(None, |mut s| s.write(b"one")).unwrap();
        let first = receive::<Vec<u8>>();
        writer.write_with(None, |mut s| s.write(b"two")).unwrap();
        (first, receive::<Vec<u8>>())
    });
    assert_eq!(got, (b"one".to_vec(), b"two".to_vec()));
}

#[test]
fn a_read_past_its_deadline_times_out_and_the_source_still_works() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (kind, later) = rt.block_on(|| {
        let (a, mut b) = pair();
        let source = IoSource::new(a);
        let deadline = Instant::now() + Duration::from_millis(5);
        let kind = read_some(&source, Some(deadline)).unwrap_err().kind();
        b.write_all(b"late").unwrap();
        (kind, read_some(&source, None).unwrap())
    });
    assert_eq!(kind, ErrorKind::TimedOut);
    assert_eq!(later, b"late");
}

/// A process killed while it waits on a socket ends at once with the
/// kill's reason, and its socket closes (the peer reads the end).
#[test]
fn a_killed_waiter_ends_and_its_socket_closes() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (reason, peer_read) = rt.block_on(|| {
        let (a, b) = pair();
        let me = self_pid();
        let waiter = spawn(move || {
            let source = IoSource::new(a);
            send(&me, "waiting");
            let _ = read_some(&source, None);
            unreachable!("nothing is ever written");
        });
        assert_eq!(receive::<&str>(), "waiting");
        let (tx, rx) = mpsc::channel();
        let _hook = waiter.on_exit(move |reason| tx.send(reason.clone()).unwrap());
        exit(&waiter, ExitReason::Kill);
        let reason = loop {
            if let Ok(reason) = rx.try_recv() {
                break reason;
            }
            ferrotp_scheduler::yield_now();
        };
        let peer = IoSource::new(b);
        (reason, read_some(&peer, None).unwrap())
    });
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(
        peer_read, b"",
        "end of stream: the waiter's socket was closed"
    );
}

/// Outside a process, an operation blocks the thread, as `std` does.
#[test]
fn outside_a_process_the_thread_blocks() {
    let (a, b) = pair();
    let writer = std::thread::spawn(move || {
        let source = IoSource::new(b);
        source
            .write_with(None, |mut s| s.write(b"from a thread"))
            .unwrap();
        source
    });
    let source = IoSource::new(a);
    let got = read_some(&source, None).unwrap();
    drop(writer.join().unwrap());
    assert_eq!(got, b"from a thread");
    assert_eq!(
        read_some(&source, None).unwrap(),
        b"",
        "the writer's end closed"
    );
}

/// Many processes echo over socket pairs on two workers: every byte
/// comes back, in order, whichever worker polls which socket.
#[test]
fn many_echoes_over_two_workers_lose_nothing() {
    const PAIRS: usize = 64;
    const ROUNDS: u8 = 50;
    let rt = Runtime::builder().workers(2).build().unwrap();
    let total = rt.block_on(|| {
        let me = self_pid();
        for _ in 0..PAIRS {
            let (a, b) = pair();
            spawn(move || {
                let echo = IoSource::new(b);
                let mut buf = [0u8; 1];
                loop {
                    match echo.read_with(None, |mut s| s.read(&mut buf)) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            echo.write_with(None, |mut s| s.write(&buf)).unwrap();
                        }
                    }
                }
            });
            let me = me.clone();
            spawn(move || {
                let client = IoSource::new(a);
                let mut sum = 0u64;
                for round in 0..ROUNDS {
                    client.write_with(None, |mut s| s.write(&[round])).unwrap();
                    let mut buf = [0u8; 1];
                    let n = client.read_with(None, |mut s| s.read(&mut buf)).unwrap();
                    assert_eq!((n, buf[0]), (1, round), "echoed in order");
                    sum += u64::from(buf[0]);
                }
                send(&me, sum);
            });
        }
        (0..PAIRS).map(|_| receive::<u64>()).sum::<u64>()
    });
    let per_pair: u64 = (0..u64::from(ROUNDS)).sum();
    assert_eq!(total, per_pair * PAIRS as u64);
}

/// A source that outlived the runtime it was registered in works in a
/// process of another runtime: its registration moves to that runtime's
/// poller at the first wait there.
#[test]
fn a_source_outliving_its_runtime_works_in_another() {
    let (a, b) = pair();
    let first = Runtime::builder().workers(1).build().unwrap();
    let source = first.block_on(move || {
        let source = IoSource::new(a);
        let deadline = Instant::now() + Duration::from_millis(1);
        // Registered with this runtime's poller by the wait.
        assert_eq!(
            read_some(&source, Some(deadline)).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        source
    });
    drop(first);
    let second = Runtime::builder().workers(1).build().unwrap();
    let got = second.block_on(move || {
        let me = self_pid();
        let reader = spawn(move || send(&me, read_some(&source, None).unwrap()));
        // The reader waits (on this runtime's poller now) before anything
        // is written.
        common::wait_until_waiting(&reader);
        (&b).write_all(b"late").unwrap();
        receive::<Vec<u8>>()
    });
    assert_eq!(got, b"late");
}

/// An exit hook runs on the worker's thread outside any process: a read
/// there that would block returns `WouldBlock` rather than stall the
/// worker (and the runtime's shutdown with it).
#[test]
fn a_read_that_would_block_in_an_exit_hook_is_refused() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = mpsc::channel();
    rt.block_on(move || {
        let (a, b) = pair();
        let short_lived = spawn(|| ());
        let _hook = short_lived.on_exit(move |_| {
            let _keep = &b;
            let source = IoSource::new(a);
            tx.send(read_some(&source, None).map_err(|e| e.kind()))
                .unwrap();
        });
    });
    drop(rt);
    assert_eq!(rx.recv().unwrap(), Err(ErrorKind::WouldBlock));
}

/// A socket registered with worker 0's poller, then read by a process on
/// worker 1 while worker 0 runs a computation that never yields: the
/// registration moves to worker 1's poller as its reader waits, so the
/// read completes (before the move, its wake-up waited for worker 0,
/// which polled only once the hog ended: the hog's bound, 20 s here).
#[test]
fn a_socket_follows_its_reader_to_another_worker() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (read_by_reader, hog_bounded) = rt.block_on(|| {
        let (a, b) = pair();
        let me = self_pid();
        ferrotp_scheduler::spawn_opt(
            ferrotp_scheduler::SpawnOptions::new().worker(0),
            move || {
                let source = IoSource::new(a);
                let deadline = Instant::now() + Duration::from_millis(1);
                // Registered with worker 0's poller by this wait.
                let _ = read_some(&source, Some(deadline));
                send(&me, source);
            },
        )
        .unwrap();
        let source = receive::<IoSource<UnixStream>>();
        let read = Arc::new(AtomicBool::new(false));
        let me = self_pid();
        let reader_read = Arc::clone(&read);
        let reader = ferrotp_scheduler::spawn_opt(
            ferrotp_scheduler::SpawnOptions::new().worker(1),
            move || {
                let got = read_some(&source, None).unwrap();
                reader_read.store(true, Ordering::SeqCst);
                send(&me, got);
            },
        )
        .unwrap();
        common::wait_until_waiting(&reader);
        let (started_tx, started_rx) = mpsc::channel();
        let hog_read = Arc::clone(&read);
        let me = self_pid();
        ferrotp_scheduler::spawn_opt(
            ferrotp_scheduler::SpawnOptions::new().worker(0),
            move || {
                started_tx.send(()).unwrap();
                let start = Instant::now();
                // Never yields: no check point in the loop.
                while !hog_read.load(Ordering::SeqCst) {
                    if start.elapsed() > Duration::from_secs(20) {
                        send(&me, "hog gave up");
                        return;
                    }
                    std::hint::spin_loop();
                }
                send(&me, "hog released");
            },
        )
        .unwrap();
        let writer = std::thread::spawn(move || {
            started_rx.recv().unwrap();
            (&b).write_all(b"moved").unwrap();
            b
        });
        let got = receive::<Vec<u8>>();
        let hog = receive::<&str>();
        drop(writer.join().unwrap());
        (got, hog)
    });
    assert_eq!(read_by_reader, b"moved");
    assert_eq!(hog_bounded, "hog released");
}
