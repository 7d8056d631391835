//! Restart counting and intensity against a small reference model.
//!
//! * [`RestartIntensity`] alone: random `max`, `period` and restart times,
//!   compared with OTP's `add_restart` (a restart at `t` counts while
//!   `now - t <= period`; the one that makes more than `max` is refused).
//! * A real supervisor: random strategy, children with random restart
//!   types, random intensity (with a period of an hour, so that time plays
//!   no part) and a random sequence of child exits. After each exit the
//!   supervisor's children (ids in order, which run, which got a new
//!   process) are compared with the model, which follows OTP's
//!   `supervisor.erl` (`do_restart`, `restart/3`, `terminate_children`,
//!   `start_children`, `add_restart`).
//!
//! Every wait is on a message (a `Down`, a call's reply): no sleeps, no
//! timing assertions.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotp_scheduler::{
    ExitReason, Pid, ProcessId, exit, exit_self, receive, receive_match, send,
};
use ferrotp_supervision::{
    ChildError, ChildSpec, Down, Restart, RestartIntensity, Shutdown, Strategy, SupervisorSpec,
    monitor,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use common::runtime;

/// Fixed seed, so that CI runs the same cases every time; set
/// `PROPTEST_SEED` (and `PROPTEST_CASES`) to explore others locally.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cases);
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0072_6573_7461_7274);
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------
// RestartIntensity alone.
// ---------------------------------------------------------------------

/// OTP's `add_restart`: keep the restarts with `R >= Now - Period` (the
/// new one included) and refuse when there are more than `max`. Returns
/// (accepted, how many are within the period).
fn model_add(times: &mut Vec<u64>, max: u32, period: u64, now: u64) -> (bool, usize) {
    times.push(now);
    times.retain(|&t| now - t <= period);
    (times.len() <= max as usize, times.len())
}

// ---------------------------------------------------------------------
// The supervisor.
// ---------------------------------------------------------------------

/// How the test ends a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Crash {
    /// Its body returns: `Normal`.
    Normal,
    /// `exit_self(Shutdown)`.
    Shutdown,
    /// `exit_self(custom("crash"))`.
    Custom,
    /// `exit(child, Kill)` from the test: it ends with `Killed`.
    Kill,
}

impl Crash {
    /// The reason the child ends with.
    fn reason(self) -> ExitReason {
        match self {
            Crash::Normal => ExitReason::Normal,
            Crash::Shutdown => ExitReason::Shutdown,
            Crash::Custom => ExitReason::custom("crash"),
            Crash::Kill => ExitReason::Killed,
        }
    }
}

/// Told to a child: end by returning (`None`) or with `exit_self`.
struct End(Option<ExitReason>);

/// Every child's body: wait to be told how to end.
fn child_body() {
    match receive::<End>() {
        End(None) => {}
        End(Some(reason)) => exit_self(reason),
    }
}

#[derive(Clone, Debug)]
struct ModelChild {
    id: Arc<str>,
    restart: Restart,
    /// Incremented each time the child gets a new process.
    generation: u32,
    /// Whether it runs (a transient child that ended cleanly does not).
    running: bool,
}

#[derive(Clone, Debug)]
struct Model {
    strategy: Strategy,
    max_restarts: u32,
    /// Restarts so far (the period is long enough to hold all of them).
    restarts: u32,
    /// The children present, in start order.
    children: Vec<ModelChild>,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The supervisor goes on.
    Continues,
    /// One restart too many: the supervisor stops its children and ends
    /// with `Shutdown`.
    GivesUp,
}

impl Model {
    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| &*c.id == id)
    }

    /// The child at `at` ended with `reason` (OTP's `restart_child` /
    /// `do_restart` / `restart/2,3`).
    fn child_ended(&mut self, at: usize, reason: &ExitReason) -> Outcome {
        let child = &mut self.children[at];
        child.running = false;
        match child.restart {
            // `do_restart` for a temporary child: `del_child` removes it.
            Restart::Temporary => {
                self.children.remove(at);
                return Outcome::Continues;
            }
            // `normal` or `shutdown` for a transient child: `del_child`
            // keeps its spec, without a process.
            Restart::Transient if matches!(reason, ExitReason::Normal | ExitReason::Shutdown) => {
                return Outcome::Continues;
            }
            Restart::Transient | Restart::Permanent => {}
        }
        // `add_restart`: every restart is within the (long) period.
        self.restarts += 1;
        if self.restarts > self.max_restarts {
            return Outcome::GivesUp;
        }
        let crashed = Arc::clone(&self.children[at].id);
        let len = self.children.len();
        let group = match self.strategy {
            Strategy::OneForOne => at..at + 1,
            Strategy::OneForAll => 0..len,
            Strategy::RestForOne => at..len,
        };
        // `terminate_children`: the others of the group are stopped, and
        // temporary ones are removed.
        let mut index = 0;
        self.children.retain(|c| {
            let stays = !(group.contains(&index) && index != at && c.restart == Restart::Temporary);
            index += 1;
            stays
        });
        // `start_children`: what remains of the group starts again, the
        // children that did not run (transient ones that ended cleanly)
        // included.
        let at = self.position(&crashed).expect("the crashed child stays");
        let restarted = match self.strategy {
            Strategy::OneForOne => at..at + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => at..self.children.len(),
        };
        for child in &mut self.children[restarted] {
            child.generation += 1;
            child.running = true;
        }
        Outcome::Continues
    }
}

/// What one child looks like from `which_children`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    id: Arc<str>,
    restart: Restart,
    pid: Option<Pid>,
}

fn observe(sup: &ferrotp_supervision::Supervisor) -> Result<Vec<Seen>, ChildError> {
    sup.which_children().map(|children| {
        children
            .into_iter()
            .map(|info| Seen {
                pid: info.state.pid().cloned(),
                id: info.id,
                restart: info.restart,
            })
            .collect()
    })
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// The children's processes in the order they ended, filled by exit
/// hooks the test registers when it first sees a process. A hook
/// registered then runs before the `Down` of the monitor the supervisor
/// makes when it stops the child (hooks run in registration order), and
/// the supervisor waits for that `Down` before it stops the next child:
/// so the log has the supervisor's stop order.
type EndLog = Arc<Mutex<Vec<ProcessId>>>;

/// The processes that ended since `mark`, `crashed` left out (its hook may
/// run after the supervisor has started reacting to its exit).
fn ended_since(log: &EndLog, mark: usize, crashed: &Pid) -> Vec<ProcessId> {
    log.lock().unwrap()[mark..]
        .iter()
        .copied()
        .filter(|&id| id != crashed.id())
        .collect()
}

/// Compares what the supervisor reports with the model, given what it
/// reported before (`before`, with the model's generations then) and
/// every pid seen so far (`all`, updated here; new ones get an exit hook
/// that writes to `log`).
fn compare(
    model: &Model,
    now: &[Seen],
    before: &HashMap<Arc<str>, (u32, Option<Pid>)>,
    all: &mut Vec<Pid>,
    log: &EndLog,
    context: &str,
) -> Result<(), String> {
    let ids: Vec<&str> = now.iter().map(|c| &*c.id).collect();
    let expected: Vec<&str> = model.children.iter().map(|c| &*c.id).collect();
    ensure!(
        ids == expected,
        "{context}: children {ids:?}, the model has {expected:?}"
    );
    let known: HashSet<ProcessId> = all.iter().map(Pid::id).collect();
    for (seen, modelled) in now.iter().zip(&model.children) {
        let id = &seen.id;
        ensure!(
            seen.restart == modelled.restart,
            "{context}: child {id} has restart {:?}, the model {:?}",
            seen.restart,
            modelled.restart
        );
        ensure!(
            seen.pid.is_some() == modelled.running,
            "{context}: child {id} runs: {}, the model says {}",
            seen.pid.is_some(),
            modelled.running
        );
        let Some(pid) = &seen.pid else { continue };
        ensure!(
            !pid.has_exited(),
            "{context}: child {id} is reported running as {pid}, which has ended"
        );
        match before.get(id) {
            Some((generation, old)) if *generation == modelled.generation => {
                ensure!(
                    old.as_ref() == Some(pid),
                    "{context}: child {id} should have kept its process {old:?}, it is {pid}"
                );
            }
            _ => ensure!(
                !known.contains(&pid.id()),
                "{context}: child {id} should have a new process, it has {pid} (seen before; \
                 it was {:?})",
                before.get(id).and_then(|(_, old)| old.clone())
            ),
        }
    }
    let running: HashSet<ProcessId> = now
        .iter()
        .filter_map(|c| c.pid.as_ref())
        .map(Pid::id)
        .collect();
    for pid in now.iter().filter_map(|c| c.pid.as_ref()) {
        if !known.contains(&pid.id()) {
            let log = Arc::clone(log);
            let id = pid.id();
            pid.on_exit(move |_| log.lock().unwrap().push(id));
            all.push(pid.clone());
        }
    }
    for pid in all.iter() {
        ensure!(
            running.contains(&pid.id()) || pid.has_exited(),
            "{context}: process {pid} no longer belongs to the supervisor but still runs"
        );
    }
    Ok(())
}

fn snapshot(model: &Model, seen: &[Seen]) -> HashMap<Arc<str>, (u32, Option<Pid>)> {
    seen.iter()
        .zip(&model.children)
        .map(|(s, m)| (Arc::clone(&s.id), (m.generation, s.pid.clone())))
        .collect()
}

/// One case: starts the supervisor, applies `events`, checks every step.
fn run_case(
    strategy: Strategy,
    children: Vec<(Restart, bool)>,
    max_restarts: u32,
    events: Vec<(usize, Crash)>,
) -> Result<(), String> {
    let specs: Vec<ChildSpec> = children
        .iter()
        .enumerate()
        .map(|(n, &(restart, brutal))| {
            ChildSpec::worker(format!("c{n}"), child_body)
                .restart(restart)
                .shutdown(if brutal {
                    Shutdown::BrutalKill
                } else {
                    Shutdown::Timeout(Duration::from_millis(100))
                })
        })
        .collect();
    let mut model = Model {
        strategy,
        max_restarts,
        restarts: 0,
        children: specs
            .iter()
            .map(|s| ModelChild {
                id: s.id().into(),
                restart: s.restart_type(),
                generation: 0,
                running: true,
            })
            .collect(),
    };
    let rt = runtime(2);
    rt.block_on(move || {
        let sup = SupervisorSpec::new(strategy)
            .intensity(max_restarts, Duration::from_secs(3600))
            .children(specs)
            .start()
            .map_err(|e| format!("start: {e}"))?;
        let sup_watch = monitor(sup.pid());
        let mut all: Vec<Pid> = Vec::new();
        let log: EndLog = Arc::default();
        let mut seen = observe(&sup).map_err(|e| format!("which_children at start: {e}"))?;
        compare(&model, &seen, &HashMap::new(), &mut all, &log, "at start")?;
        for (step, &(pick, crash)) in events.iter().enumerate() {
            let running: Vec<(usize, Pid)> = seen
                .iter()
                .enumerate()
                .filter_map(|(n, c)| c.pid.clone().map(|p| (n, p)))
                .collect();
            if running.is_empty() {
                break;
            }
            let (at, pid) = running[pick % running.len()].clone();
            let context = format!("step {step}: {} ended by {crash:?}", seen[at].id);
            let before = snapshot(&model, &seen);
            // The link's Exit reaches the supervisor before this Down
            // reaches us (exit hooks run in registration order).
            let mark = log.lock().unwrap().len();
            let watch = monitor(&pid);
            match crash {
                Crash::Normal => send(&pid, End(None)),
                Crash::Shutdown | Crash::Custom => send(&pid, End(Some(crash.reason()))),
                Crash::Kill => exit(&pid, ExitReason::Kill),
            }
            let down = receive_match::<Down>(|d| d.monitor == watch);
            ensure!(
                down.reason == crash.reason(),
                "{context}: the child ended with {}",
                down.reason
            );
            let outcome = model.child_ended(at, &crash.reason());
            // Answered after the Exit, which is already in its mailbox.
            let now = observe(&sup);
            match outcome {
                Outcome::GivesUp => {
                    // `NoProc` if it had already ended when the call
                    // monitored it; the monitor made at start has the reason.
                    ensure!(
                        matches!(
                            now,
                            Err(ChildError::SupervisorDown(
                                ExitReason::Shutdown | ExitReason::NoProc
                            ))
                        ),
                        "{context}: restart {} of at most {max_restarts}: the supervisor \
                         should have given up with Shutdown; which_children: {now:?}",
                        model.restarts
                    );
                    let down = receive_match::<Down>(|d| d.monitor == sup_watch);
                    ensure!(
                        down.reason == ExitReason::Shutdown,
                        "{context}: the supervisor ended with {}",
                        down.reason
                    );
                    for pid in &all {
                        ensure!(
                            pid.has_exited(),
                            "{context}: the supervisor gave up but {pid} still runs"
                        );
                    }
                    // Every other child stopped, newest first.
                    let expected: Vec<ProcessId> = seen
                        .iter()
                        .rev()
                        .filter_map(|c| c.pid.as_ref())
                        .filter(|p| **p != pid)
                        .map(Pid::id)
                        .collect();
                    let stopped = ended_since(&log, mark, &pid);
                    ensure!(
                        stopped == expected,
                        "{context}: giving up, the supervisor stopped {stopped:?}, \
                         expected {expected:?}"
                    );
                    return Ok(());
                }
                Outcome::Continues => {
                    let now = now.map_err(|e| {
                        format!(
                            "{context}: restart {} of at most {max_restarts}: the supervisor \
                             should go on; which_children: {e}",
                            model.restarts
                        )
                    })?;
                    compare(&model, &now, &before, &mut all, &log, &context)?;
                    // The others of the group (those that ran: replaced
                    // or removed) stopped, newest first.
                    let expected: Vec<ProcessId> = seen
                        .iter()
                        .rev()
                        .filter(|c| {
                            model
                                .position(&c.id)
                                .is_none_or(|at| model.children[at].generation != before[&c.id].0)
                        })
                        .filter_map(|c| c.pid.as_ref())
                        .filter(|p| **p != pid)
                        .map(Pid::id)
                        .collect();
                    let stopped = ended_since(&log, mark, &pid);
                    ensure!(
                        stopped == expected,
                        "{context}: the supervisor stopped {stopped:?}, expected {expected:?}"
                    );
                    seen = now;
                }
            }
        }
        let mark = log.lock().unwrap().len();
        sup.stop().map_err(|e| format!("stop: {e}"))?;
        let down = receive_match::<Down>(|d| d.monitor == sup_watch);
        ensure!(
            down.reason == ExitReason::Normal,
            "the stopped supervisor ended with {}",
            down.reason
        );
        for pid in &all {
            ensure!(pid.has_exited(), "after stop, {pid} still runs");
        }
        let expected: Vec<ProcessId> = seen
            .iter()
            .rev()
            .filter_map(|c| c.pid.as_ref())
            .map(Pid::id)
            .collect();
        let stopped = log.lock().unwrap()[mark..].to_vec();
        ensure!(
            stopped == expected,
            "stop: the supervisor stopped {stopped:?}, expected {expected:?}"
        );
        Ok(())
    })
}

fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    prop_oneof![
        Just(Strategy::OneForOne),
        Just(Strategy::OneForAll),
        Just(Strategy::RestForOne),
    ]
}

fn restart() -> impl proptest::strategy::Strategy<Value = Restart> {
    prop_oneof![
        Just(Restart::Permanent),
        Just(Restart::Transient),
        Just(Restart::Temporary),
    ]
}

fn crash() -> impl proptest::strategy::Strategy<Value = Crash> {
    prop_oneof![
        Just(Crash::Normal),
        Just(Crash::Shutdown),
        Just(Crash::Custom),
        Just(Crash::Kill),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// `RestartIntensity::add` agrees with OTP's `add_restart` up to and
    /// including the first refusal (after which a supervisor gives up).
    #[test]
    fn intensity_agrees_with_otp_add_restart(
        max in 0..=4u32,
        period in 1..200u64,
        mut offsets in prop::collection::vec(0..1_000u64, 1..16),
    ) {
        offsets.sort_unstable();
        let origin = Instant::now();
        let mut intensity = RestartIntensity::new(max, Duration::from_millis(period));
        let mut times = Vec::new();
        for (n, &t) in offsets.iter().enumerate() {
            let got = intensity.add(origin + Duration::from_millis(t));
            let (expected, recent) = model_add(&mut times, max, period, t);
            prop_assert_eq!(got, expected, "restart {} at {} ms", n, t);
            prop_assert_eq!(intensity.recent(), recent, "restart {} at {} ms", n, t);
            if !expected {
                break;
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// A real supervisor agrees with the OTP model after every child exit.
    #[test]
    fn supervisor_restarts_agree_with_otp_model(
        strategy in strategy(),
        children in prop::collection::vec((restart(), any::<bool>()), 2..=5),
        max_restarts in 0..=4u32,
        events in prop::collection::vec((0..8usize, crash()), 1..=8),
    ) {
        run_case(strategy, children, max_restarts, events).map_err(TestCaseError::fail)?;
    }
}
