//! An agent as a state machine (`ferrotp::statem`), after the Elixir
//! guide's `AgentFSM`: states idle, processing, complete and error.
//!
//! * `Submit(task)` is a call. In `Idle` it starts a worker process for
//!   the task and moves to `Processing`; the caller's reply address is
//!   kept and answered from a later state (`Complete` or `Error`).
//! * A `Submit` that comes while the agent is busy is **postponed**: it is
//!   handled again, in its order, once the state has changed, and again
//!   until it finds the agent idle.
//! * `Processing` has a **state timeout**: a task that takes too long
//!   moves the agent to `Error`, and the worker is killed. A state change
//!   (the worker's answer) cancels the timeout.
//! * `Complete` and `Error` go back to `Idle` at once, through an
//!   **internal event** inserted by the transition.
//! * `Status` is a call answered in **any state**.
//! * The **state enter call** records each transition with its old state.
//!
//! Four clients submit at once: two tasks succeed, one fails, one hangs
//! until the state timeout. The order the agent takes them in depends on
//! scheduling, so the example checks what is certain: each client's
//! answer, the counts, and that the history holds three transitions per
//! task.
//!
//! Run: `cargo run --example agent_fsm`

use std::time::Duration;

use ferrotp::statem::{Context, Enter, Event, Init, StateMachine, Transition};
use ferrotp::{ExitReason, Pid, ReplyTo, exit, receive, self_pid, send, spawn};

/// How long a task may take before the agent gives up on it.
const TASK_TIMEOUT: Duration = Duration::from_millis(50);
/// How long a client waits for its answer (postponed behind the others).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq)]
enum State {
    Idle,
    Processing,
    Complete,
    Error,
}

enum Call {
    Submit(String, ReplyTo<Result<String, String>>),
    Status(ReplyTo<Status>),
}

enum Msg {
    /// From the worker: the task's result.
    Done(Result<String, String>),
    /// The state timeout of `Processing`.
    TookTooLong,
    /// Back to idle (an internal event).
    Reset,
}

/// What a client gets: the task's result, or why the call failed.
type Answer = Result<Result<String, String>, ferrotp::CallError>;

#[derive(Debug, Clone, PartialEq)]
struct Status {
    state: State,
    completed: u32,
    failed: u32,
}

#[derive(Default)]
struct Agent {
    /// The caller of the task in hand, and its worker.
    current: Option<(ReplyTo<Result<String, String>>, Pid)>,
    completed: u32,
    failed: u32,
    history: Vec<String>,
    /// Told the history as the agent stops.
    report: Option<Pid>,
}

impl Agent {
    /// Starts a worker for `task`: it answers the agent with a `Done`,
    /// except for "hang", which never answers.
    fn start_worker(task: String, agent: ferrotp::statem::StatemRef<Agent>) -> Pid {
        spawn(move || match task.as_str() {
            "hang" => {
                receive::<()>();
            }
            "fail" => agent.send(Msg::Done(Err(format!("{task}: failed")))),
            _ => agent.send(Msg::Done(Ok(task.to_uppercase()))),
        })
    }

    /// Answers the caller in hand with `result`, and goes to `state`,
    /// then back to idle.
    fn finish(&mut self, result: Result<String, String>, state: State) -> Transition<Self> {
        let (reply, _worker) = self.current.take().expect("a task is in hand");
        Transition::next_state(state)
            .reply(reply, result)
            .next_event(Msg::Reset)
    }
}

impl StateMachine for Agent {
    type State = State;
    type Call = Call;
    type Message = Msg;

    fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ExitReason> {
        Ok(Init::state(State::Idle))
    }

    fn handle_event(
        &mut self,
        state: &State,
        event: Event<Call, Msg>,
        ctx: &mut Context<Self>,
    ) -> Transition<Self> {
        match (state, event) {
            (_, Event::Call(Call::Status(reply))) => {
                let status = Status {
                    state: state.clone(),
                    completed: self.completed,
                    failed: self.failed,
                };
                Transition::keep_state().reply(reply, status)
            }
            (State::Idle, Event::Call(Call::Submit(task, reply))) => {
                let worker = Agent::start_worker(task, ctx.myself().clone());
                self.current = Some((reply, worker));
                Transition::next_state(State::Processing)
                    .state_timeout(TASK_TIMEOUT, Msg::TookTooLong)
            }
            // Busy: the submit waits for the next state change.
            (_, event @ Event::Call(Call::Submit(..))) => Transition::keep_state().postpone(event),
            (State::Processing, Event::Cast(Msg::Done(result))) => {
                if result.is_ok() {
                    self.completed += 1;
                    self.finish(result, State::Complete)
                } else {
                    self.failed += 1;
                    self.finish(result, State::Error)
                }
            }
            (State::Processing, Event::StateTimeout(Msg::TookTooLong)) => {
                self.failed += 1;
                if let Some((_, worker)) = &self.current {
                    exit(worker, ExitReason::Kill);
                }
                self.finish(Err("hang: took too long".to_owned()), State::Error)
            }
            (State::Complete | State::Error, Event::Internal(Msg::Reset)) => {
                Transition::next_state(State::Idle)
            }
            _ => Transition::keep_state(),
        }
    }

    fn enter(&mut self, old: &State, state: &State, _: &mut Context<Self>) -> Enter<Self> {
        if old != state {
            self.history.push(format!("{old:?} -> {state:?}"));
        }
        Enter::keep()
    }

    fn terminate(&mut self, _: &ExitReason, _: &State, _: &mut Context<Self>) {
        if let Some(report) = &self.report {
            send(report, std::mem::take(&mut self.history));
        }
    }
}

fn main() {
    let (answers, status, history) = ferrotp::run(|| {
        let agent = Agent {
            report: Some(self_pid()),
            ..Agent::default()
        }
        .start()
        .expect("the agent starts");
        let me = self_pid();
        let tasks = ["alpha", "fail", "hang", "beta"];
        for task in tasks {
            let (agent, me) = (agent.clone(), me.clone());
            spawn(move || {
                let answer = agent.call(|reply| Call::Submit(task.to_owned(), reply), CALL_TIMEOUT);
                send(&me, (task, answer));
            });
        }
        let mut answers: Vec<(&str, Answer)> = tasks.iter().map(|_| receive()).collect();
        answers.sort_by_key(|(task, _)| *task);
        let status = agent.call(Call::Status, CALL_TIMEOUT).expect("status");
        agent
            .stop(ExitReason::Normal, CALL_TIMEOUT)
            .expect("the agent stops");
        (answers, status, receive::<Vec<String>>())
    })
    .expect("the runtime runs");

    for (task, answer) in &answers {
        println!("{task:>5}: {answer:?}");
    }
    println!("status: {status:?}");
    println!("{} transitions: {}", history.len(), history.join(", "));

    assert_eq!(
        answers,
        vec![
            ("alpha", Ok(Ok("ALPHA".to_owned()))),
            ("beta", Ok(Ok("BETA".to_owned()))),
            ("fail", Ok(Err("fail: failed".to_owned()))),
            ("hang", Ok(Err("hang: took too long".to_owned()))),
        ]
    );
    assert_eq!(
        status,
        Status {
            state: State::Idle,
            completed: 2,
            failed: 2
        }
    );
    // Idle -> Processing -> Complete or Error -> Idle, for each task.
    assert_eq!(history.len(), 12);
    assert_eq!(
        history
            .iter()
            .filter(|h| *h == "Idle -> Processing")
            .count(),
        4
    );
    assert_eq!(
        history
            .iter()
            .filter(|h| *h == "Processing -> Error")
            .count(),
        2
    );
    println!("checked: every answer, the counts and the transitions");
}
