//! ferrotp's sockets inside processes: exact bytes, order, timeouts,
//! errors, killed waiters, and use from plain threads.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::mpsc;
use std::time::Duration;

use ferrotp_net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, SpawnOptions, exit, receive, self_pid, send, spawn, spawn_opt,
};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Waits (yielding) until `pid` has ended; its reason.
fn wait_end(pid: &Pid) -> ExitReason {
    let (tx, rx) = mpsc::channel();
    let _hook = pid.on_exit(move |reason| {
        let _ = tx.send(reason.clone());
    });
    loop {
        if let Ok(reason) = rx.try_recv() {
            return reason;
        }
        ferrotp_scheduler::yield_now();
    }
}

/// A line-echo server, one process per connection, and 100 clients
/// spread over two workers: every client gets its own lines back, in
/// order, through a `BufReader`.
#[test]
fn a_line_echo_server_serves_every_client_in_order() {
    const CLIENTS: usize = 100;
    const LINES: usize = 20;
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(move || {
            for stream in listener.incoming() {
                let stream = stream.unwrap();
                spawn(move || {
                    let mut writer = &stream;
                    for line in BufReader::new(&stream).lines() {
                        let line = line.unwrap();
                        writer.write_all(format!("{line}\n").as_bytes()).unwrap();
                    }
                });
            }
        });
        let me = self_pid();
        for client in 0..CLIENTS {
            let me = me.clone();
            spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut reader = BufReader::new(&stream);
                let mut ok = 0usize;
                for n in 0..LINES {
                    (&stream)
                        .write_all(format!("client {client} line {n}\n").as_bytes())
                        .unwrap();
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    assert_eq!(line, format!("client {client} line {n}\n"));
                    ok += 1;
                }
                send(&me, ok);
            });
        }
        (0..CLIENTS).map(|_| receive::<usize>()).sum::<usize>()
    });
    assert_eq!(got, CLIENTS * LINES);
}

#[test]
fn timeouts_end_waits_with_timed_out_and_zero_is_refused() {
    let rt = runtime(1);
    let (accept, read, zero, still_usable) = rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = listener
            .accept_timeout(Duration::from_millis(3))
            .unwrap_err()
            .kind();
        let client = TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(3)))
            .unwrap();
        let read = (&client).read(&mut [0; 8]).unwrap_err().kind();
        let zero = client
            .set_read_timeout(Some(Duration::ZERO))
            .unwrap_err()
            .kind();
        (&server).write_all(b"after").unwrap();
        let mut buf = [0; 5];
        (&client).read_exact(&mut buf).unwrap();
        (accept, read, zero, buf)
    });
    assert_eq!(accept, ErrorKind::TimedOut);
    assert_eq!(read, ErrorKind::TimedOut);
    assert_eq!(zero, ErrorKind::InvalidInput);
    assert_eq!(&still_usable, b"after");
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let rt = runtime(1);
    let error = rt.block_on(|| {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let zero = TcpStream::connect_timeout(&addr, Duration::ZERO)
            .unwrap_err()
            .kind();
        (TcpStream::connect(addr).unwrap_err().kind(), zero)
    });
    assert_eq!(
        error,
        (ErrorKind::ConnectionRefused, ErrorKind::InvalidInput)
    );
}

/// A process killed while it waits in `accept` ends at once with the
/// kill's reason, and its listener is closed (a connect is refused).
#[test]
fn a_process_killed_in_accept_ends_and_its_listener_closes() {
    let rt = runtime(2);
    let (reason, connect) = rt.block_on(|| {
        let me = self_pid();
        let acceptor = spawn(move || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            send(&me, listener.local_addr().unwrap());
            let _ = listener.accept();
            unreachable!("nobody connects");
        });
        let addr = receive::<SocketAddr>();
        exit(&acceptor, ExitReason::Kill);
        let reason = wait_end(&acceptor);
        (
            reason,
            TcpStream::connect(addr).map(|_| ()).unwrap_err().kind(),
        )
    });
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(connect, ErrorKind::ConnectionRefused);
}

/// A process killed in the middle of a read: the peer reads the end of
/// the stream, and the other processes of the worker go on.
#[test]
fn a_process_killed_in_a_read_closes_its_stream() {
    let rt = runtime(1);
    let (reason, peer) = rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let me = self_pid();
        let reader = spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            send(&me, "connected");
            let _ = stream.read(&mut [0; 1]);
            unreachable!("nothing is written");
        });
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(receive::<&str>(), "connected");
        exit(&reader, ExitReason::Custom("stop".into()));
        let reason = wait_end(&reader);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).unwrap();
        (reason, rest)
    });
    assert_eq!(reason, ExitReason::Custom("stop".into()));
    assert_eq!(peer, b"");
}

/// Sleeping, a receive timeout and a socket wait on one worker: the
/// parked worker wakes for each timer while sockets are registered.
#[test]
fn timers_fire_while_the_worker_waits_on_sockets() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let me = self_pid();
        let idle = TcpStream::connect(addr).unwrap();
        let (_server_side, _) = listener.accept().unwrap();
        let sleeper = me.clone();
        spawn(move || {
            ferrotp_scheduler::sleep(Duration::from_millis(2));
            send(&sleeper, "slept");
        });
        spawn(move || {
            // Waits on the socket (registered) with a deadline.
            idle.set_read_timeout(Some(Duration::from_millis(4)))
                .unwrap();
            let kind = (&idle).read(&mut [0; 1]).unwrap_err().kind();
            send(
                &me,
                if kind == ErrorKind::TimedOut {
                    "timed out"
                } else {
                    "?"
                },
            );
        });
        let mut got = vec![receive::<&str>(), receive::<&str>()];
        got.sort_unstable();
        got
    });
    assert_eq!(got, ["slept", "timed out"]);
}

/// Two handles to one connection (`try_clone`) in two processes: one
/// writes, the other reads, concurrently.
#[test]
fn a_cloned_stream_reads_in_one_process_while_another_writes() {
    let rt = runtime(2);
    let echoed = rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut buf = [0; 1024];
            loop {
                match (&stream).read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => (&stream).write_all(&buf[..n]).unwrap(),
                }
            }
        });
        let stream = TcpStream::connect(addr).unwrap();
        let writer = stream.try_clone().unwrap();
        spawn(move || {
            for n in 0..1000u32 {
                (&writer).write_all(&n.to_le_bytes()).unwrap();
            }
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut all = Vec::new();
        (&stream).read_to_end(&mut all).unwrap();
        all
    });
    let expected: Vec<u8> = (0..1000u32).flat_map(u32::to_le_bytes).collect();
    assert_eq!(echoed, expected);
}

/// A migratable process (it may move between workers between
/// suspensions) keeps using the socket registered with the poller of the
/// worker it first waited on.
#[test]
fn a_migratable_process_keeps_its_socket_across_workers() {
    let rt = runtime(2);
    let sum = rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let me = self_pid();
        // SAFETY: the closure holds no `!Send` value and no thread-local
        // reference across a suspension.
        let options = unsafe { SpawnOptions::new().migratable() };
        spawn_opt(options, move || {
            let (stream, _) = listener.accept().unwrap();
            let mut sum = 0u64;
            let mut buf = [0; 1];
            for _ in 0..200 {
                (&stream).read_exact(&mut buf).unwrap();
                sum += u64::from(buf[0]);
                ferrotp_scheduler::yield_now();
                (&stream).write_all(&buf).unwrap();
            }
            send(&me, sum);
        })
        .unwrap();
        let client = TcpStream::connect(addr).unwrap();
        for n in 0..200u32 {
            let byte = (n % 256) as u8;
            (&client).write_all(&[byte]).unwrap();
            let mut back = [0; 1];
            (&client).read_exact(&mut back).unwrap();
            assert_eq!(back[0], byte);
        }
        receive::<u64>()
    });
    assert_eq!(sum, (0..200u64).map(|n| n % 256).sum::<u64>());
}

#[test]
fn udp_datagrams_come_back_whole() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        spawn(move || {
            let mut buf = [0; 64];
            loop {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        let mut got = Vec::new();
        for n in 0..10u8 {
            client.send(&[n; 3]).unwrap();
            let mut buf = [0; 64];
            let len = client.recv(&mut buf).unwrap();
            got.push(buf[..len].to_vec());
        }
        got
    });
    let expected: Vec<Vec<u8>> = (0..10u8).map(|n| vec![n; 3]).collect();
    assert_eq!(got, expected);
}

#[test]
fn unix_sockets_connect_and_stream() {
    let dir = std::env::temp_dir().join(format!("ferrotp-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("unix.sock");
    let _ = std::fs::remove_file(&path);
    let rt = runtime(1);
    let got = rt.block_on({
        let path = path.clone();
        move || {
            let listener = UnixListener::bind(&path).unwrap();
            spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                stream.write_all(b"over unix").unwrap();
            });
            let mut client = UnixStream::connect(&path).unwrap();
            let mut got = String::new();
            client.read_to_string(&mut got).unwrap();
            got
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(got, "over unix");
}

/// A plain thread uses the same sockets, blocking its thread, against a
/// server in processes.
#[test]
fn plain_threads_block_as_with_std() {
    let rt = runtime(1);
    let (tx, rx) = mpsc::channel();
    rt.spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        tx.send(listener.local_addr().unwrap()).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).unwrap();
        stream.write_all(&buf).unwrap();
    });
    let addr = rx.recv().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"block").unwrap();
    let mut buf = [0; 5];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"block");
}

/// At shutdown, a process in its clean-up on worker 1 writes 4 MiB to a
/// socket registered with worker 0's poller: worker 0 keeps polling until
/// every worker has drained, so the write completes.
#[test]
fn a_clean_up_write_at_shutdown_uses_another_workers_poller() {
    const BYTES: usize = 4 << 20;
    struct FlushOnDrop(Option<TcpStream>);
    impl Drop for FlushOnDrop {
        fn drop(&mut self) {
            if let Some(mut stream) = self.0.take() {
                stream.write_all(&vec![7u8; BYTES]).unwrap();
            }
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        peer.read_to_end(&mut all).unwrap();
        all.len()
    });
    let rt = runtime(2);
    rt.block_on(move || {
        let me = self_pid();
        // Registered with worker 0's poller by a wait there.
        let registrar = spawn_opt(SpawnOptions::new().worker(0), move || {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            let _ = (&stream).read(&mut [0; 1]);
            send(&me, stream);
        })
        .unwrap();
        let stream = receive::<TcpStream>();
        let _ = registrar;
        let me = self_pid();
        spawn_opt(SpawnOptions::new().worker(1), move || {
            let _flush = FlushOnDrop(Some(stream));
            send(&me, "holding");
            receive::<()>(); // until shutdown unwinds it
        })
        .unwrap();
        assert_eq!(receive::<&str>(), "holding");
    });
    drop(rt);
    assert_eq!(reader.join().unwrap(), BYTES);
}

/// A process that reads a socket that never runs dry (its peer keeps it
/// full) is preempted: a sleeper on the same worker still gets its turn.
#[test]
fn a_process_reading_an_always_ready_socket_is_preempted() {
    let rt = runtime(1);
    let woke = rt.block_on(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let me = self_pid();
        spawn(move || {
            let _peer = b;
            (&_peer).write_all(&[1; 1024]).unwrap();
            let mut buf = [0; 16];
            loop {
                // Always readable: never suspends to wait.
                let _ = (&a).read(&mut buf[..0]);
            }
        });
        spawn(move || {
            ferrotp_scheduler::sleep(Duration::from_millis(1));
            send(&me, "woke");
        });
        receive::<&str>()
    });
    assert_eq!(woke, "woke");
}
