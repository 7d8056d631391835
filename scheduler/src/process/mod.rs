//! What a process is: its control block and [`Pid`], the context it runs
//! in, its code before it first runs, its stack, and what happens when
//! that stack runs short or its clean-up blocks.
//!
//! | file | what it holds |
//! |---|---|
//! | `control_block.rs` | the shared half of a process ([`Pcb`]): mailbox, run state, exit record, exit hooks; [`Pid`] |
//! | `context.rs` | the running process's context and the thread-local that finds it; check points, suspension, stack segments |
//! | `coroutine.rs` | what a process's coroutine yields and returns to its worker |
//! | `current.rs` | what a process asks about itself: [`self_pid`](crate::self_pid), [`reduce`](crate::reduce), [`yield_now`](crate::yield_now) |
//! | `entry.rs` | a never-run process's closure |
//! | `hibernation.rs` | resumable bodies, which own no stack while they wait ([`Resumable`](crate::Resumable)) |
//! | `process_id.rs` | the number that names a process |
//! | `run_state.rs` | the run state word and wake-up permits (loom-checked) |
//! | `stack.rs` | slab-carved, guarded, pooled stacks |
//! | `red_zone.rs` | where a process's stack ends and its red zone begins |
//! | `stack_depth.rs` | [`maybe_grow`](crate::maybe_grow), [`remaining_stack`](crate::remaining_stack), the panic hook that runs with room |
//! | `panic_payload.rs` | dropping a caught panic payload whose destructor may panic |
//! | `overflow.rs` | the report (and abort) on a stack overflow |
//! | `unwind_units.rs` | the panic count a process carries while it unwinds |
//! | `debt.rs` | what a runtime frame owes others if its process is abandoned |
//!
//! # Layers, and the one pair
//!
//! Files depend one way, down. From the bottom:
//!
//! 1. leaves: identities, the run state word, signal bits, exit reasons
//!    and hooks, envelopes, the timer wheel, stacks and their red zone,
//!    the coroutine protocol (`coroutine.rs`), topology, placement,
//!    settings, per-worker counters;
//! 2. **the pair**: the control block (`control_block.rs`) and the
//!    runtime's shared state (`worker/shared.rs`) refer to each other, and
//!    to nothing else above the leaves. A process belongs to one runtime
//!    (its anchor holds the shared state), and the runtime's queues and
//!    name table hold processes. Cutting that would put a trait object or
//!    a type parameter on every wake-up and spawn;
//! 3. the worker's core (`worker/core.rs`): what process code reaches of
//!    its worker, and the thread-local that finds it; the exit-signal
//!    message and the scan a check point makes for it
//!    (`lifecycle/exit_signal.rs`); dropping a caught panic payload
//!    (`panic_payload.rs`);
//! 4. the running process's context (`context.rs`): check points,
//!    suspension, receive's wait, stack segments;
//! 5. what runs on top of the context: panics contained
//!    (`worker/contain.rs`), delivery and wake-ups
//!    (`messaging/delivery.rs`), exit hooks run as a process ends
//!    (`lifecycle/end.rs`), debts, the red-zone helpers, overflow, and the
//!    APIs (messaging, signals, spawn, names, time);
//! 6. the run loop (`worker/run_loop.rs`), then the runtime's set-up
//!    (`runtime/`).
//!
//! A few methods of the control block are defined in the layer that needs
//! them (`Pcb::wake` in `messaging/delivery.rs`, `Pcb::set_exited` and
//! `Pid::on_exit` in `lifecycle/end.rs`), so that the control block itself
//! stays below the worker and the context.

pub(crate) mod context;
mod control_block;
pub(crate) mod coroutine;
pub(crate) mod current;
pub(crate) mod debt;
pub(crate) mod entry;
pub(crate) mod hibernation;
pub(crate) mod overflow;
pub(crate) mod panic_payload;
pub mod process_id;
pub(crate) mod red_zone;
pub mod run_state;
pub mod stack;
pub(crate) mod stack_depth;
pub(crate) mod unwind_units;

pub(crate) use control_block::{Anchor, Envelope, Extras, Pcb, PcbMailbox};
pub use control_block::{DeadLetter, ExitHook, Pid};
