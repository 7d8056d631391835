//! Corosensei's own unwinding, on our stacks: dropping (or
//! force-unwinding) a suspended corosensei coroutine runs the destructors
//! of everything on its stack, and a body that catches the unwind cannot
//! survive it. The runtime itself ends processes through exit signals
//! (module `signal`: the process unwinds itself from its suspension
//! point); these tests keep the stack implementation honest under the
//! unwinder.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use corosensei::{Coroutine, CoroutineResult};
use ferrotp_scheduler::stack::{StackAllocator, StackPool};

/// Records its name when dropped.
struct Guard(&'static str, Rc<RefCell<Vec<&'static str>>>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

#[test]
fn dropping_a_suspended_coroutine_runs_the_destructors_on_its_stack() {
    let mut pool = StackPool::new(StackAllocator::new());
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&dropped);
    let mut coroutine = Coroutine::with_stack(pool.take(64 * 1024).unwrap(), move |yielder, ()| {
        let _outer = Guard("outer", Rc::clone(&log));
        {
            let _inner = Guard("inner", Rc::clone(&log));
            yielder.suspend(1);
        }
        yielder.suspend(2);
    });
    assert_eq!(coroutine.resume(()), CoroutineResult::Yield(1));
    assert!(dropped.borrow().is_empty());
    coroutine.force_unwind();
    assert_eq!(*dropped.borrow(), ["inner", "outer"], "innermost first");
    assert!(coroutine.done());
    pool.give(coroutine.into_stack());
}

#[test]
fn a_body_that_catches_the_unwind_is_unwound_again_at_its_next_suspend() {
    let mut pool = StackPool::new(StackAllocator::new());
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&dropped);
    let mut coroutine = Coroutine::with_stack(pool.take(64 * 1024).unwrap(), move |yielder, ()| {
        let _outer = Guard("outer", Rc::clone(&log));
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _inner = Guard("inner", Rc::clone(&log));
            yielder.suspend(1);
        }));
        // User code swallowed the unwind and tries to carry on: its next
        // blocking call (a suspend) must not return.
        assert!(caught.is_err());
        log.borrow_mut().push("caught");
        yielder.suspend(2);
        log.borrow_mut().push("survived");
    });
    assert_eq!(coroutine.resume(()), CoroutineResult::Yield(1));
    coroutine.force_unwind();
    assert_eq!(*dropped.borrow(), ["inner", "caught", "outer"]);
    pool.give(coroutine.into_stack());
}

#[test]
fn a_body_that_catches_the_unwind_and_returns_just_ends() {
    let mut pool = StackPool::new(StackAllocator::new());
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&dropped);
    let mut coroutine = Coroutine::with_stack(pool.take(64 * 1024).unwrap(), move |yielder, ()| {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _inner = Guard("inner", Rc::clone(&log));
            yielder.suspend(1);
        }));
        // A process body that turns panics into exit reasons would return
        // here: the runtime must decide the exit reason of a killed process
        // itself, not trust this value (corosensei discards it).
        caught.is_err()
    });
    assert_eq!(coroutine.resume(()), CoroutineResult::Yield(1));
    coroutine.force_unwind();
    assert!(coroutine.done());
    assert_eq!(*dropped.borrow(), ["inner"]);
    pool.give(coroutine.into_stack());
}
