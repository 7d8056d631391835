//! The key-value server of `examples/kv_server`: its protocol
//! (`resp.rs`), commands (`store.rs`) and read buffer (`buffer.rs`)
//! through the unit and property tests in those modules, compiled here;
//! and the server itself (`server.rs`), started in this process on a
//! port of the system's choice and driven over loopback by a real Redis
//! client (the `redis` crate) and by raw sockets for the bad input.

#[allow(dead_code)]
#[path = "../examples/kv_server/buffer.rs"]
mod buffer;
#[allow(dead_code)]
#[path = "../examples/kv_server/resp.rs"]
mod resp;
#[allow(dead_code)]
#[path = "../examples/kv_server/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../examples/kv_server/store.rs"]
mod store;

mod served {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    use ferrotp::{Down, ExitReason, Runtime, exit, monitor, receive_match_timeout};

    use crate::server::{self, Options, Server, ShardMessage};
    use crate::store::shard_of;

    /// Bounds every read, so that a failing test fails instead of hanging.
    const TIMEOUT: Duration = Duration::from_secs(10);

    const SHARDS: usize = 4;

    /// A server in its own runtime, stopped when dropped.
    struct Running {
        runtime: Runtime,
        server: Option<Server>,
    }

    impl Running {
        fn start() -> Self {
            Self::with(Options {
                shards: SHARDS,
                ..Options::default()
            })
        }

        fn with(options: Options) -> Self {
            let runtime = Runtime::builder().workers(2).build().expect("a runtime");
            let server = runtime
                .block_on(move || server::start("127.0.0.1:0", options))
                .expect("the server starts on port 0");
            Running {
                runtime,
                server: Some(server),
            }
        }

        fn address(&self) -> SocketAddr {
            self.server().address()
        }

        fn server(&self) -> &Server {
            self.server.as_ref().expect("running")
        }

        /// Runs `f` with the server in a process of its runtime.
        fn inside<R: Send + 'static>(&self, f: impl FnOnce(Server) -> R + Send + 'static) -> R {
            let server = self.server().clone();
            self.runtime.block_on(move || f(server))
        }

        fn client(&self) -> redis::Connection {
            redis::Client::open(format!("redis://{}/", self.address()))
                .expect("a client")
                .get_connection_with_timeout(TIMEOUT)
                .expect("a connection")
        }

        fn raw(&self) -> TcpStream {
            let stream = TcpStream::connect(self.address()).expect("connected");
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(server) = self.server.take() {
                self.runtime
                    .block_on(move || server.stop())
                    .expect("the server was running");
            }
        }
    }

    /// Sends `request` and reads exactly `expected.len()` bytes back.
    fn exchange(stream: &mut TcpStream, request: &[u8], expected: &[u8]) {
        stream.write_all(request).unwrap();
        let mut got = vec![0; expected.len()];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Reads until the server closes the connection: what it sent.
    fn until_closed(stream: &mut TcpStream) -> String {
        let mut got = Vec::new();
        stream.read_to_end(&mut got).expect("closed, not timed out");
        String::from_utf8_lossy(&got).into_owned()
    }

    fn cmd(name: &str) -> redis::Cmd {
        redis::cmd(name)
    }

    #[test]
    fn a_redis_client_gets_redis_replies() {
        let running = Running::start();
        let mut client = running.client();
        let c = &mut client;
        assert_eq!(cmd("PING").query::<String>(c).unwrap(), "PONG");
        assert_eq!(cmd("PING").arg("hi").query::<String>(c).unwrap(), "hi");
        assert_eq!(
            cmd("SET").arg("a").arg("1").query::<String>(c).unwrap(),
            "OK"
        );
        assert_eq!(
            cmd("GET")
                .arg("a")
                .query::<Option<String>>(c)
                .unwrap()
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            cmd("GET")
                .arg("nothing")
                .query::<Option<String>>(c)
                .unwrap(),
            None
        );
        assert_eq!(cmd("INCR").arg("a").query::<i64>(c).unwrap(), 2);
        assert_eq!(cmd("INCR").arg("n").query::<i64>(c).unwrap(), 1);
        assert_eq!(
            cmd("SET")
                .arg("t")
                .arg("v")
                .arg("EX")
                .arg(100)
                .query::<String>(c)
                .unwrap(),
            "OK"
        );
        assert_eq!(
            cmd("SET")
                .arg("a")
                .arg("3")
                .arg("NX")
                .query::<Option<String>>(c)
                .unwrap(),
            None
        );
        let error = cmd("INCR").arg("t").query::<i64>(c).unwrap_err();
        assert_eq!(error.code(), Some("ERR"));
        assert_eq!(
            error.detail(),
            Some("value is not an integer or out of range")
        );
    }

    #[test]
    fn mget_and_del_over_keys_of_every_shard_answer_in_order() {
        let running = Running::start();
        let mut client = running.client();
        let c = &mut client;
        let keys: Vec<String> = (0..16).map(|i| format!("key{i}")).collect();
        let shards: std::collections::HashSet<usize> = keys
            .iter()
            .map(|k| shard_of(k.as_bytes(), SHARDS))
            .collect();
        assert_eq!(shards.len(), SHARDS, "the keys cover every shard");
        for key in keys.iter().step_by(2) {
            cmd("SET")
                .arg(key)
                .arg(format!("v{key}"))
                .query::<()>(c)
                .unwrap();
        }
        let values: Vec<Option<String>> = cmd("MGET").arg(&keys).query(c).unwrap();
        let expected: Vec<Option<String>> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (i % 2 == 0).then(|| format!("v{key}")))
            .collect();
        assert_eq!(values, expected);
        assert_eq!(cmd("DEL").arg(&keys).query::<i64>(c).unwrap(), 8);
        assert_eq!(cmd("DEL").arg(&keys).query::<i64>(c).unwrap(), 0);
    }

    #[test]
    fn a_pipeline_is_answered_in_order() {
        let running = Running::start();
        let mut client = running.client();
        let mut pipe = redis::pipe();
        for i in 0..16 {
            pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
        }
        for i in 0..16 {
            pipe.cmd("INCR").arg(format!("k{i}"));
        }
        let got: Vec<i64> = pipe.query(&mut client).unwrap();
        assert_eq!(got, (1..=16).collect::<Vec<i64>>());
    }

    #[test]
    fn a_value_larger_than_the_read_buffer_round_trips() {
        let running = Running::start();
        let mut client = running.client();
        let value: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        cmd("SET")
            .arg("big")
            .arg(&value)
            .query::<()>(&mut client)
            .unwrap();
        let got: Vec<u8> = cmd("GET").arg("big").query(&mut client).unwrap();
        assert!(got == value, "the 3 MiB value came back whole");
    }

    #[test]
    fn inline_commands_are_served() {
        let running = Running::start();
        let mut raw = running.raw();
        exchange(&mut raw, b"PING\r\n", b"+PONG\r\n");
        exchange(
            &mut raw,
            b"SET k \"a b\"\r\nGET k\r\n",
            b"+OK\r\n$3\r\na b\r\n",
        );
    }

    #[test]
    fn an_unknown_command_is_an_error_and_the_connection_goes_on() {
        let running = Running::start();
        let mut raw = running.raw();
        exchange(
            &mut raw,
            b"*2\r\n$3\r\nFLY\r\n$4\r\nhigh\r\n",
            b"-ERR unknown command 'FLY', with args beginning with: 'high' \r\n",
        );
        exchange(
            &mut raw,
            b"*1\r\n$3\r\nGET\r\n",
            b"-ERR wrong number of arguments for 'get' command\r\n",
        );
        exchange(&mut raw, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    }

    #[test]
    fn malformed_resp_is_answered_then_closed_and_others_are_served() {
        let running = Running::start();
        let mut raw = running.raw();
        raw.write_all(b"*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n").unwrap();
        assert_eq!(
            until_closed(&mut raw),
            "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n"
        );
        let mut other = running.raw();
        exchange(&mut other, b"PING\r\n", b"+PONG\r\n");
    }

    #[test]
    fn a_1_gib_bulk_length_is_refused_without_waiting_for_it() {
        let running = Running::start();
        let mut raw = running.raw();
        raw.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n")
            .unwrap();
        assert_eq!(
            until_closed(&mut raw),
            "-ERR Protocol error: invalid bulk length\r\n"
        );
        let mut client = running.client();
        assert_eq!(
            cmd("GET")
                .arg("k")
                .query::<Option<String>>(&mut client)
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_client_that_leaves_mid_command_ends_only_its_connection() {
        let running = Running::start();
        let mut raw = running.raw();
        // Answered: its connection process exists, and is the only one.
        exchange(&mut raw, b"PING\r\n", b"+PONG\r\n");
        let connection = running.inside(|server| {
            let mut pids = server.connections().unwrap();
            assert_eq!(pids.len(), 1);
            pids.pop().unwrap()
        });
        // A process of the runtime watches it, and says when it does.
        let (watching, watched) = std::sync::mpsc::channel();
        let (ended, end) = std::sync::mpsc::channel();
        running.runtime.spawn(move || {
            let watch = monitor(&connection);
            watching.send(()).unwrap();
            let down = receive_match_timeout::<Down>(|down| down.monitor == watch, TIMEOUT);
            ended.send(down.map(|down| down.reason)).unwrap();
        });
        watched.recv().unwrap();
        raw.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab")
            .unwrap();
        drop(raw);
        let ended = end.recv().unwrap();
        assert_eq!(ended, Some(ExitReason::Normal));
        let mut client = running.client();
        assert_eq!(cmd("PING").query::<String>(&mut client).unwrap(), "PONG");
        assert_eq!(
            cmd("GET")
                .arg("k")
                .query::<Option<String>>(&mut client)
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_killed_connection_closes_its_socket_only() {
        let running = Running::start();
        let mut doomed = running.raw();
        exchange(&mut doomed, b"PING\r\n", b"+PONG\r\n");
        let victim = running.inside(|server| server.connections().unwrap().pop().unwrap());
        let mut survivor = running.client();
        cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut survivor)
            .unwrap();
        running.inside(move |_| exit(&victim, ExitReason::Kill));
        // Its socket closed as its process unwound.
        assert_eq!(until_closed(&mut doomed), "");
        assert_eq!(
            cmd("GET")
                .arg("k")
                .query::<Option<String>>(&mut survivor)
                .unwrap()
                .as_deref(),
            Some("v")
        );
    }

    #[test]
    fn a_crashed_shard_restarts_empty_and_the_other_shards_keep_their_keys() {
        let running = Running::start();
        let mut client = running.client();
        let mut keys = (0..).map(|i| format!("key{i}"));
        let on_0 = keys.find(|k| shard_of(k.as_bytes(), SHARDS) == 0).unwrap();
        let on_1 = keys.find(|k| shard_of(k.as_bytes(), SHARDS) == 1).unwrap();
        cmd("SET")
            .arg(&on_0)
            .arg("a")
            .query::<()>(&mut client)
            .unwrap();
        cmd("SET")
            .arg(&on_1)
            .arg("b")
            .query::<()>(&mut client)
            .unwrap();
        let (crashed, reason, replacement) = running.inside(|server| {
            let shard = &server.shards()[0];
            let crashed = shard.pid();
            let watch = monitor(&crashed);
            shard.send(ShardMessage::Crash);
            let down = receive_match_timeout::<Down>(|d| d.monitor == watch, TIMEOUT).unwrap();
            (crashed, down.reason, shard.pid())
        });
        assert!(matches!(reason, ExitReason::Panic(_)));
        // A request sent during the restart is held for the replacement,
        // which starts with an empty key space.
        let values: Vec<Option<String>> = cmd("MGET")
            .arg(&on_0)
            .arg(&on_1)
            .query(&mut client)
            .unwrap();
        assert_eq!(values, vec![None, Some("b".to_owned())]);
        let now = running.inside(|server| server.shards()[0].pid());
        assert_ne!(
            now, crashed,
            "a new process serves shard 0 ({replacement:?} when asked)"
        );
    }

    #[test]
    fn clients_beyond_the_maximum_are_told_and_closed() {
        let running = Running::with(Options {
            shards: 1,
            max_clients: 1,
        });
        let mut first = running.raw();
        exchange(&mut first, b"PING\r\n", b"+PONG\r\n");
        let mut second = running.raw();
        assert_eq!(
            until_closed(&mut second),
            "-ERR max number of clients reached\r\n"
        );
        exchange(&mut first, b"PING\r\n", b"+PONG\r\n");
    }
}
