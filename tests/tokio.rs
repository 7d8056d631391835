//! Feature `tokio`: futures of tokio's sockets and timers awaited inside
//! processes (the facade's dev-dependency on itself turns the feature on
//! for its tests, so `cargo test --workspace` runs these).
#![cfg(feature = "tokio")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{ExitReason, Runtime, await_future, exit, process_info, spawn, tokio_handle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{runtime, wait_exit};

const LONG: Duration = Duration::from_secs(60);

/// A server on a plain thread: answers each line of one connection with
/// it in upper case, then reports how the connection ended.
fn upper_case_server() -> (std::net::SocketAddr, mpsc::Receiver<&'static str>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (ended, ends) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut lines = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) => break ended.send("closed by the client").unwrap(),
                Ok(_) => writer.write_all(line.to_uppercase().as_bytes()).unwrap(),
                Err(_) => break ended.send("error").unwrap(),
            }
        }
    });
    (address, ends)
}

/// A tokio TCP client in a process: connect, write, read, through
/// tokio's I/O driver, polled in the runtime's tokio context.
#[test]
fn a_process_talks_tcp_with_tokio() {
    let (address, ends) = upper_case_server();
    let rt = runtime(1);
    let answer = rt.block_on(move || {
        await_future(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await?;
            stream.write_all(b"hello from a process\n").await?;
            let mut answer = vec![0; "HELLO FROM A PROCESS\n".len()];
            stream.read_exact(&mut answer).await?;
            Ok::<_, std::io::Error>(String::from_utf8(answer).unwrap())
        })
    });
    assert_eq!(answer.unwrap(), "HELLO FROM A PROCESS\n");
    assert_eq!(ends.recv_timeout(LONG), Ok("closed by the client"));
}

/// A process killed while it awaits a read ends at once; its socket is
/// dropped with its stack, and the server sees the connection close.
#[test]
fn a_killed_process_closes_its_tokio_socket() {
    let (address, ends) = upper_case_server();
    let rt = runtime(1);
    let reason = rt.block_on(move || {
        let reader = spawn(move || {
            await_future(async move {
                let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
                let mut never = [0; 1];
                let _ = stream.read(&mut never).await;
                unreachable!("the server never writes first");
            });
        });
        while process_info(&reader)
            .is_some_and(|info| info.status != ferrotp::ProcessStatus::Waiting)
        {
            ferrotp::yield_now();
        }
        exit(&reader, ExitReason::Kill);
        wait_exit(&reader)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(ends.recv_timeout(LONG), Ok("closed by the client"));
}

/// Tokio's timer in many processes of one worker, interleaved: each poll
/// enters and leaves tokio's context (a guard kept across a suspension
/// would be dropped out of order, and tokio panics then).
#[test]
fn processes_sleep_on_tokios_timer_interleaved() {
    let rt = runtime(1);
    let reasons = rt.block_on(|| {
        let sleepers: Vec<_> = (0..8u64)
            .map(|n| {
                spawn(move || {
                    for _ in 0..3 {
                        await_future(async move {
                            tokio::time::sleep(Duration::from_millis(n % 3)).await;
                        });
                    }
                })
            })
            .collect();
        sleepers.iter().map(wait_exit).collect::<Vec<_>>()
    });
    assert_eq!(reasons, vec![ExitReason::Normal; 8]);
}

/// `tokio_handle` spawns tokio tasks from a process; a runtime given with
/// `Builder::tokio_handle` is the one used.
#[test]
fn a_given_tokio_runtime_runs_what_processes_spawn() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("given-tokio")
        .enable_all()
        .build()
        .unwrap();
    let rt = Runtime::builder()
        .workers(1)
        .tokio_handle(tokio.handle().clone())
        .build()
        .unwrap();
    let thread = rt.block_on(|| {
        let task = tokio_handle().spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            std::thread::current().name().map(str::to_owned)
        });
        await_future(task).unwrap()
    });
    assert_eq!(thread.as_deref(), Some("given-tokio"));
    drop(rt);
    // Still the caller's to use after the ferrotp runtime is gone.
    assert_eq!(tokio.block_on(async { 1 }), 1);
}

/// The runtime's own tokio runtime shuts down with it, without waiting
/// for a task that never ends.
#[test]
fn the_owned_tokio_runtime_shuts_down_with_the_runtime() {
    let rt = runtime(1);
    let handle = rt.block_on(|| {
        let handle = tokio_handle();
        handle.spawn(std::future::pending::<()>());
        handle
    });
    assert_eq!(rt.tokio_handle().runtime_flavor(), handle.runtime_flavor());
    drop(rt);
    // Its tasks are gone with it.
    let late = handle.spawn(async { 1 });
    let result = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(late);
    assert!(result.unwrap_err().is_cancelled());
}
