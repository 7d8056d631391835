//! What a process is: its control block and [`Pid`], the context it runs
//! in, its code before it first runs, its stack, and what happens when
//! that stack runs short or its clean-up blocks.
//!
//! | file | what it holds |
//! |---|---|
//! | `control_block.rs` | the shared half of a process ([`Pcb`]): mailbox, run state, exit record; [`Pid`]; delivery and wake-up |
//! | `context.rs` | the running process's context and the thread-locals that find it and its worker; suspension points |
//! | `coroutine.rs` | what a process's coroutine yields and returns to its worker |
//! | `current.rs` | what a process asks about itself: [`self_pid`](crate::self_pid), [`reduce`](crate::reduce), [`yield_now`](crate::yield_now) |
//! | `entry.rs` | a never-run process's closure |
//! | `process_id.rs` | the number that names a process |
//! | `run_state.rs` | the run state word and wake-up permits (loom-checked) |
//! | `stack.rs` | slab-carved, guarded, pooled stacks |
//! | `stack_depth.rs` | the red zone and [`maybe_grow`](crate::maybe_grow) |
//! | `overflow.rs` | the report (and abort) on a stack overflow |
//! | `unwind_units.rs` | the panic count a process carries while it unwinds |
//! | `debt.rs` | what a runtime frame owes others if its process is abandoned |
//!
//! # The one circle
//!
//! Everything else in the crate depends one way, down, but the engine is
//! one knot of files that refer to each other, and that is by design:
//! a worker (`worker/run_loop.rs`) runs processes and a woken process is
//! queued on its worker; the context (`context.rs`) is how code on a
//! process's stack finds both; a control block's anchor holds the
//! runtime's shared state (`worker/shared.rs`), whose tables (run queues,
//! names in `lifecycle/name_table.rs`) hold control blocks; and the check
//! points in the context act on exit signals (`lifecycle/signal.rs`), the
//! red zone (`stack_depth.rs`), overflow (`overflow.rs`) and debts
//! (`debt.rs`), each of which reads the running context. Breaking it would
//! put a trait object or a callback on the switch and wake-up paths,
//! which we measure per instruction; the knot is kept to these nine files.
//! Nothing above them (the messaging API, spawn, the registry API, the
//! time API, the builder) is referred to from inside it; what they use
//! below them are leaves (envelopes, exit reasons and hooks, signal bits,
//! the timer wheel, stacks).

pub(crate) mod context;
mod control_block;
pub(crate) mod coroutine;
pub(crate) mod current;
pub(crate) mod debt;
pub(crate) mod entry;
pub(crate) mod overflow;
pub mod process_id;
pub mod run_state;
pub mod stack;
pub(crate) mod stack_depth;
pub(crate) mod unwind_units;

pub(crate) use control_block::{
    Anchor, Envelope, Pcb, PcbMailbox, dead_letter, deliver, try_deliver, unless_recursing,
};
pub use control_block::{DeadLetter, ExitHook, Pid};
