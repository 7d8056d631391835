//! What nearly every ferrotp program uses, in one import:
//! `use ferrotp::prelude::*;`.
//!
//! The prelude holds Erlang's everyday built-ins and OTP's supervisor
//! specs, and nothing a program names only now and then:
//!
//! * starting: [`run`] and [`Runtime`] (whose `builder()` configures one);
//! * servers: the [`actor`] module, the [`Actor`] trait, [`Next`],
//!   typed [`ActorRef`]s, [`call`] with [`ReplyTo`] and [`CallError`];
//! * processes: [`spawn`], [`spawn_opt`] with [`SpawnOptions`],
//!   [`self_pid`] and [`Pid`];
//! * messages: [`send`], [`receive`], [`receive_timeout`],
//!   [`receive_match`], a multi-clause [`Select`] and typed [`Subject`]s;
//! * time: [`sleep`] and [`send_after`];
//! * names: [`register`] and [`whereis`];
//! * exits: [`ExitReason`], [`exit`], [`exit_self`], [`trap_exit`] and the
//!   [`Exit`] message a trapping process receives;
//! * links and monitors: [`link`], [`unlink`], [`spawn_link`],
//!   [`monitor`], [`demonitor`] with [`Demonitor`], [`spawn_monitor`],
//!   the [`Down`] message and its [`MonitorRef`];
//! * supervisors: [`SupervisorSpec`], [`ChildSpec`], [`Strategy`],
//!   [`Restart`], [`Shutdown`], the running [`Supervisor`], and
//!   [`DynamicSupervisorSpec`].
//!
//! Everything else (error types, introspection, metrics, timers'
//! references, configuration, the building blocks of links) is at the
//! crate's top level: name it there when you need it.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::prelude::*;
//!
//! // A counter process: adds what it is sent, tells the total on request.
//! enum Counter {
//!     Add(u64),
//!     Total(Subject<u64>),
//! }
//!
//! let total = run(|| {
//!     let counter = spawn(|| {
//!         let mut sum = 0;
//!         loop {
//!             match receive::<Counter>() {
//!                 Counter::Add(n) => sum += n,
//!                 Counter::Total(reply) => reply.send(sum),
//!             }
//!         }
//!     });
//!     let watch = monitor(&counter);
//!     for n in 1..=10 {
//!         send(&counter, Counter::Add(n));
//!     }
//!     let reply = Subject::new();
//!     send(&counter, Counter::Total(reply.clone()));
//!     let total = reply.receive_timeout(Duration::from_secs(5)).expect("the counter answers");
//!
//!     exit(&counter, ExitReason::Kill);
//!     let down = receive::<Down>();
//!     assert_eq!((down.monitor, down.reason), (watch, ExitReason::Killed));
//!     total
//! })
//! .unwrap();
//! assert_eq!(total, 55);
//! ```

pub use crate::actor::{self, Actor, ActorRef, Next};
pub use ferrotp_scheduler::{
    CallError, Exit, ExitReason, Pid, ReplyTo, Runtime, Select, SpawnOptions, Subject, call, exit,
    exit_self, receive, receive_match, receive_timeout, register, run, self_pid, send, send_after,
    sleep, spawn, spawn_opt, trap_exit, whereis,
};
pub use ferrotp_supervision::{
    ChildSpec, Demonitor, Down, DynamicSupervisorSpec, MonitorRef, Restart, Shutdown, Strategy,
    Supervisor, SupervisorSpec, demonitor, link, monitor, spawn_link, spawn_monitor, unlink,
};
