//! A document workflow as a state machine (`ferrotp::statem`), after the
//! Elixir guide's `WorkflowFSM`: draft, review, approved, published.
//!
//! * `Edit` is a cast taken only in `Draft`; an edit sent while the
//!   document is in review is **postponed** until it is back in draft
//!   (after a rejection).
//! * In `Draft`, an **event timeout** autosaves after a quiet spell: any
//!   event cancels it.
//! * Entering `Review` arms a **generic timeout**, "reminder", that nags
//!   the reviewer and re-arms itself; the enter call of every other state
//!   cancels it by name.
//! * `Approved` publishes by itself on a **state timeout**, unless an
//!   explicit `Publish` comes first.
//! * `AwaitPublished` is a call answered **from a later state**: its
//!   reply address is kept until the document is published.
//!
//! Run: `cargo run --example workflow_fsm`

use std::time::Duration;

use ferrotp::statem::{Context, Enter, Event, Init, StateMachine, StatemRef, Transition};
use ferrotp::{ExitReason, Pid, ReplyTo, receive, receive_timeout, self_pid, send, spawn};

const REMIND_EVERY: Duration = Duration::from_millis(5);
const AUTOSAVE_AFTER: Duration = Duration::from_millis(2);
const AUTO_PUBLISH_AFTER: Duration = Duration::from_millis(2);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq)]
enum State {
    Draft,
    Review,
    Approved,
    Published,
}

enum Call {
    Submit(ReplyTo<Result<(), String>>),
    Approve(ReplyTo<Result<(), String>>),
    Reject(String, ReplyTo<Result<(), String>>),
    /// Answered once published: the published text.
    AwaitPublished(ReplyTo<String>),
    /// The reviewers' notes so far.
    Notes(ReplyTo<Vec<String>>),
}

enum Msg {
    Edit(String),
    Autosave,
    Remind,
    Publish,
}

/// A message to the reviewer: a reminder in review round `n`.
#[derive(Debug)]
struct Reminder(u32);

/// A message to the author: the draft was autosaved.
#[derive(Debug)]
struct Saved(String);

struct Workflow {
    text: String,
    reviewer: Pid,
    author: Pid,
    /// Review rounds so far.
    round: u32,
    notes: Vec<String>,
    waiting: Vec<ReplyTo<String>>,
}

fn refused(what: &str, state: &State) -> Result<(), String> {
    Err(format!("cannot {what} in {state:?}"))
}

impl StateMachine for Workflow {
    type State = State;
    type Call = Call;
    type Message = Msg;

    fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ExitReason> {
        Ok(Init::state(State::Draft))
    }

    fn handle_event(
        &mut self,
        state: &State,
        event: Event<Call, Msg>,
        _: &mut Context<Self>,
    ) -> Transition<Self> {
        use State::*;
        match (state, event) {
            (_, Event::Call(Call::AwaitPublished(reply))) => {
                if *state == Published {
                    return Transition::keep_state().reply(reply, self.text.clone());
                }
                self.waiting.push(reply);
                Transition::keep_state()
            }
            (Draft, Event::Cast(Msg::Edit(text))) => {
                self.text = text;
                Transition::keep_state().event_timeout(AUTOSAVE_AFTER, Msg::Autosave)
            }
            (_, event @ Event::Cast(Msg::Edit(_))) => Transition::keep_state().postpone(event),
            (Draft, Event::EventTimeout(Msg::Autosave)) => {
                send(&self.author, Saved(self.text.clone()));
                Transition::keep_state()
            }
            (_, Event::Call(Call::Notes(reply))) => {
                Transition::keep_state().reply(reply, self.notes.clone())
            }
            (Draft, Event::Call(Call::Submit(reply))) if self.text.is_empty() => {
                Transition::keep_state().reply(reply, Err("nothing to submit".to_owned()))
            }
            (Draft, Event::Call(Call::Submit(reply))) => {
                Transition::next_state(Review).reply(reply, Ok(()))
            }
            (Review, Event::Timeout(_, Msg::Remind)) => {
                send(&self.reviewer, Reminder(self.round));
                Transition::keep_state().timeout("reminder", REMIND_EVERY, Msg::Remind)
            }
            (Review, Event::Call(Call::Approve(reply))) => {
                Transition::next_state(Approved).reply(reply, Ok(()))
            }
            (Review, Event::Call(Call::Reject(note, reply))) => {
                self.notes.push(note);
                Transition::next_state(Draft).reply(reply, Ok(()))
            }
            (Approved, Event::Cast(Msg::Publish) | Event::StateTimeout(Msg::Publish)) => {
                Transition::next_state(Published)
            }
            (_, Event::Call(Call::Submit(reply))) => {
                Transition::keep_state().reply(reply, refused("submit", state))
            }
            (_, Event::Call(Call::Approve(reply) | Call::Reject(_, reply))) => {
                Transition::keep_state().reply(reply, refused("review", state))
            }
            _ => Transition::keep_state(),
        }
    }

    fn enter(&mut self, _old: &State, state: &State, _: &mut Context<Self>) -> Enter<Self> {
        let enter = Enter::keep();
        match state {
            State::Review => {
                self.round += 1;
                enter.timeout("reminder", REMIND_EVERY, Msg::Remind)
            }
            State::Approved => enter
                .cancel_timeout("reminder")
                .state_timeout(AUTO_PUBLISH_AFTER, Msg::Publish),
            State::Published => {
                let text = self.text.clone();
                self.waiting
                    .drain(..)
                    .fold(enter, |enter, reply| enter.reply(reply, text.clone()))
            }
            State::Draft => enter.cancel_timeout("reminder"),
        }
    }
}

/// Waits for a reminder of review round `round` (a late one of an
/// earlier round is skipped).
fn reminded(round: u32) {
    while receive::<Reminder>().0 != round {}
}

/// The reviewer: rejects the first round when reminded, approves the
/// second; tells `main` how each went.
fn reviewer(workflow: StatemRef<Workflow>, main: Pid) {
    reminded(1);
    let rejected = workflow.call(|r| Call::Reject("too short".to_owned(), r), CALL_TIMEOUT);
    reminded(2);
    let approved = workflow.call(Call::Approve, CALL_TIMEOUT);
    send(&main, (rejected, approved));
}

fn main() {
    let (refused_submit, saved, reviewed, published, late, notes) = ferrotp::run(|| {
        let me = self_pid();
        // The reviewer is spawned first, so the workflow knows its pid;
        // it gets the workflow's address once that has started.
        let reviewer_pid = spawn(move || {
            let workflow = receive::<StatemRef<Workflow>>();
            reviewer(workflow, me);
        });
        let workflow = Workflow {
            text: String::new(),
            reviewer: reviewer_pid.clone(),
            author: self_pid(),
            round: 0,
            notes: Vec::new(),
            waiting: Vec::new(),
        }
        .start()
        .expect("the workflow starts");
        send(&reviewer_pid, workflow.clone());

        let refused_submit = workflow.call(Call::Submit, CALL_TIMEOUT).unwrap();
        workflow.cast(Msg::Edit("ferrotp".to_owned()));
        // Nothing else is sent to it meanwhile, so the autosave comes
        // (any event, a call too, would cancel it).
        let Saved(saved) = receive_timeout::<Saved>(CALL_TIMEOUT).expect("autosaved");

        // A reader waits for publication: its call is answered from a
        // later state.
        let main = self_pid();
        let reader = workflow.clone();
        spawn(move || {
            let text = reader.call(Call::AwaitPublished, CALL_TIMEOUT);
            send(&main, text);
        });
        workflow.call(Call::Submit, CALL_TIMEOUT).unwrap().unwrap();
        // In review: this edit waits for the rejection.
        workflow.cast(Msg::Edit(
            "ferrotp: the OTP process model in Rust".to_owned(),
        ));
        // The reviewer rejects when first reminded; submit again once
        // back in draft (a submit in review is refused: try again).
        while workflow.call(Call::Submit, CALL_TIMEOUT).unwrap().is_err() {
            ferrotp::yield_now();
        }
        let reviewed = receive_timeout::<(
            Result<Result<(), String>, ferrotp::CallError>,
            Result<Result<(), String>, ferrotp::CallError>,
        )>(CALL_TIMEOUT)
        .expect("reviewed");
        let published = receive_timeout::<Result<String, ferrotp::CallError>>(CALL_TIMEOUT)
            .expect("the reader is answered")
            .unwrap();
        // Asked after publication: answered at once.
        let late = workflow.call(Call::AwaitPublished, CALL_TIMEOUT).unwrap();
        let notes = workflow.call(Call::Notes, CALL_TIMEOUT).unwrap();
        workflow.stop(ExitReason::Normal, CALL_TIMEOUT).unwrap();
        (refused_submit, saved, reviewed, published, late, notes)
    })
    .expect("the runtime runs");

    println!("first submit (empty draft): {refused_submit:?}");
    println!("autosaved: {saved:?}");
    println!("review (reject, approve): {reviewed:?}, notes: {notes:?}");
    println!("published (answered from a later state): {published:?}");
    println!("asked after publication: {late:?}");

    assert_eq!(refused_submit, Err("nothing to submit".to_owned()));
    assert_eq!(saved, "ferrotp");
    assert_eq!(reviewed, (Ok(Ok(())), Ok(Ok(()))));
    assert_eq!(notes, vec!["too short".to_owned()]);
    assert_eq!(published, "ferrotp: the OTP process model in Rust");
    assert_eq!(late, published);
    println!("checked: the refusal, the autosave, the review, the published text");
}
