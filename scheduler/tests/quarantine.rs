//! Stacks that something may still point into are never reused nor
//! unmapped (module `stack`, "Lifetime"): a stack keeps its slab mapped
//! after its pool and allocator are gone, and an abandoned process's
//! stack stays mapped (and out of use) after its runtime is dropped,
//! while a thread it lent a reference to keeps writing there.
//!
//! Each reproduction crashed (SIGSEGV) before the fix, so the ones that
//! involve a runtime run in a child process.

mod common;

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use common::{child_mode, rerun_in_child, runtime, wait_exit};
use corosensei::{Coroutine, CoroutineResult, Yielder};
use ferrotp_scheduler::stack::{StackAllocator, StackPool};
use ferrotp_scheduler::{ExitReason, exit, receive, send, spawn, yield_now};

#[test]
fn a_stack_keeps_its_slab_mapped_after_its_pool_and_allocator_are_dropped() {
    let allocator = StackAllocator::new();
    let mut pool = StackPool::new(allocator.clone());
    let stack = pool.take(64 * 1024).unwrap();
    drop(pool);
    drop(allocator);
    // Before the fix the slab was unmapped here and this faulted.
    let mut coroutine = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| {
        let frame = black_box([7u64; 512]);
        frame.iter().sum::<u64>()
    });
    assert_eq!(coroutine.resume(()), CoroutineResult::Return(7 * 512));
}

/// Writes counted by the scoped thread of the abandoned process.
static WRITES: AtomicU64 = AtomicU64::new(0);
/// The value it writes, and what a local of a later process must never
/// read back.
const POISON: u64 = 0xDEAD_BEEF_DEAD_BEEF;

/// In the child: a process lends a local to a scoped thread that writes it
/// for ever, then catches every unwind of its kill until it is abandoned.
/// New processes run on the same worker; the runtime is dropped; the
/// thread must keep writing into still-mapped memory that nobody else
/// uses.
fn abandon_a_borrowed_stack() {
    let rt = runtime(1);
    let clean_locals = rt.block_on(|| {
        let stubborn = spawn(|| {
            let mut cell = [0u64; 16];
            std::thread::scope(|scope| {
                let lent = &mut cell;
                scope.spawn(move || {
                    loop {
                        for slot in lent.iter_mut() {
                            // SAFETY: `slot` is a valid, exclusive reference.
                            unsafe { std::ptr::write_volatile(slot, POISON) };
                        }
                        WRITES.fetch_add(1, Ordering::SeqCst);
                        std::thread::yield_now();
                    }
                });
                loop {
                    let _ = catch_unwind(AssertUnwindSafe(receive::<()>));
                }
            });
        });
        while WRITES.load(Ordering::SeqCst) == 0 {
            yield_now();
        }
        exit(&stubborn, ExitReason::Kill);
        assert_eq!(wait_exit(&stubborn), ExitReason::Killed);
        // Processes that start now must not get the abandoned stack: their
        // locals would change under them.
        let me = ferrotp_scheduler::self_pid();
        let clean = std::sync::Arc::new(AtomicUsize::new(0));
        for _ in 0..32 {
            let (me, clean) = (me.clone(), std::sync::Arc::clone(&clean));
            spawn(move || {
                let local = black_box([1u64; 64]);
                let seen = WRITES.load(Ordering::SeqCst);
                while WRITES.load(Ordering::SeqCst) < seen + 3 {
                    yield_now();
                }
                if black_box(&local).iter().all(|&v| v == 1) {
                    clean.fetch_add(1, Ordering::SeqCst);
                }
                send(&me, ());
            });
        }
        for _ in 0..32 {
            receive::<()>();
        }
        clean.load(Ordering::SeqCst)
    });
    drop(rt);
    // The runtime is gone; the thread goes on writing into the quarantined
    // stack (before the fix: SIGSEGV, the slab was unmapped).
    let seen = WRITES.load(Ordering::SeqCst);
    while WRITES.load(Ordering::SeqCst) < seen + 100 {
        std::thread::yield_now();
    }
    println!("clean locals: {clean_locals} of 32; still writing after the runtime was dropped");
}

#[test]
fn an_abandoned_stack_is_never_reused_nor_unmapped() {
    if child_mode().is_some() {
        abandon_a_borrowed_stack();
        return;
    }
    let out = rerun_in_child("an_abandoned_stack_is_never_reused_nor_unmapped", "abandon");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(
        stdout.contains("clean locals: 32 of 32; still writing after the runtime was dropped"),
        "{stdout}"
    );
    assert!(stderr.contains("it is abandoned"), "{stderr}");
}
