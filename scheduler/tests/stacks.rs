//! Process stacks: slabs, guard pages, pooling and trimming.
//!
//! Tests that must crash (a guard-page hit) or that exhaust a process-wide
//! limit (memory mappings) run in a child process: the test binary re-runs
//! itself with `STACKS_TEST_CHILD` set and only that test selected.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use corosensei::{Coroutine, CoroutineResult};
use ferrotp_scheduler::stack::{
    GuardMode, MIN_STACK_SIZE, StackAllocator, StackError, StackPool, page_size, usable_size,
};

const CHILD: &str = "STACKS_TEST_CHILD";

/// Runs `test` (this test's own name) again in a child process with
/// `STACKS_TEST_CHILD=mode`; returns its exit status.
fn in_child(test: &str, mode: &str) -> std::process::ExitStatus {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(CHILD, mode)
        // The child's own test summary would be counted as ours; its
        // panic messages still reach stderr.
        .stdout(Stdio::null())
        .status()
        .unwrap()
}

fn child_mode() -> Option<String> {
    std::env::var(CHILD).ok()
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn sizes_round_up_to_pages_and_a_minimum() {
    let page = page_size();
    assert_eq!(usable_size(1), MIN_STACK_SIZE);
    assert_eq!(usable_size(64 * 1024), 64 * 1024);
    assert_eq!(usable_size(64 * 1024 + 1), 64 * 1024 + page);
}

#[test]
fn stacks_are_recycled_by_the_pool() {
    let mut pool = StackPool::new(StackAllocator::new());
    let stack = pool.take(64 * 1024).unwrap();
    let guard = stack.guard();
    assert_eq!(stack.usable(), 64 * 1024);
    pool.give(stack);
    assert_eq!(pool.idle(), 1);
    let again = pool.take(64 * 1024).unwrap();
    assert_eq!(again.guard(), guard, "the idle stack is reused");
    // A different size gets a different stack.
    let other = pool.take(128 * 1024).unwrap();
    assert_eq!(other.usable(), 128 * 1024);
    assert_ne!(other.guard(), guard);
    pool.give(again);
    pool.give(other);
}

#[test]
fn stacks_from_one_allocator_move_between_pools() {
    let allocator = StackAllocator::new();
    let mut first = StackPool::new(allocator.clone());
    let mut second = StackPool::new(allocator.clone());
    let stack = first.take(32 * 1024).unwrap();
    let guard = stack.guard();
    second.give(stack);
    assert_eq!(second.take(32 * 1024).unwrap().guard(), guard);
    assert_eq!(allocator.carved(), 1);
}

/// Recurses until `used` bytes of stack below `base` are in use (measured
/// by the address of a local, so independent of frame sizes); returns the
/// depth reached.
#[inline(never)]
fn recurse_until(base: usize, used: usize) -> u64 {
    let marker = std::hint::black_box([0u8; 256]);
    let here = marker.as_ptr() as usize;
    if base - here >= used {
        return u64::from(marker[0]);
    }
    1 + recurse_until(base, used) + u64::from(std::hint::black_box(marker)[255])
}

#[test]
fn a_coroutine_can_use_most_of_a_pooled_stack() {
    let mut pool = StackPool::new(StackAllocator::new());
    let stack = pool.take(64 * 1024).unwrap();
    // Where the stack starts.
    let base = corosensei::stack::Stack::base(&stack).get();
    assert!(base >= stack.guard().end + stack.usable());
    let mut coroutine = Coroutine::with_stack(stack, move |yielder, used: usize| {
        let first = recurse_until(base, used);
        let more: usize = yielder.suspend(first);
        recurse_until(base, more)
    });
    // 48 of 64 KiB, twice (the stack unwinds in between).
    let CoroutineResult::Yield(first) = coroutine.resume(48 * 1024) else {
        panic!("expected a yield");
    };
    let CoroutineResult::Return(second) = coroutine.resume(48 * 1024) else {
        panic!("expected a return");
    };
    assert!(first > 10 && second > 10, "depths {first} and {second}");
    pool.give(coroutine.into_stack());
}

#[test]
fn the_whole_usable_range_is_writable() {
    let mut pool = StackPool::new(StackAllocator::new());
    let stack = pool.take(64 * 1024).unwrap();
    let low = stack.guard().end as *mut u8;
    // SAFETY: `low..low + usable` is the stack's usable memory, unused.
    unsafe {
        low.write_volatile(1);
        low.add(stack.usable() - 1).write_volatile(2);
        assert_eq!(
            low.read_volatile() + low.add(stack.usable() - 1).read_volatile(),
            3
        );
    }
    pool.give(stack);
}

fn write_to_guard_page(mode: Option<GuardMode>) -> ! {
    let allocator = match mode {
        Some(mode) => StackAllocator::with_guard_mode(mode),
        None => StackAllocator::new(),
    };
    let mut pool = StackPool::new(allocator);
    // The first stack's guard decides the mode; later ones come in
    // batches, their guards installed together: the last of 40 is in the
    // third batch.
    let mut taken: Vec<_> = (0..40).map(|_| pool.take(64 * 1024).unwrap()).collect();
    let stack = taken.pop().unwrap();
    let guard = stack.guard().start as *mut u8;
    // SAFETY: deliberately not: this must fault.
    unsafe { guard.add(100).write_volatile(1) };
    eprintln!("wrote to a guard page without faulting");
    std::process::exit(3);
}

#[test]
fn writing_a_guard_page_faults() {
    match child_mode().as_deref() {
        Some("default") => write_to_guard_page(None),
        Some("mprotect") => write_to_guard_page(Some(GuardMode::Mprotect)),
        _ => {}
    }
    for mode in ["default", "mprotect"] {
        let status = in_child("writing_a_guard_page_faults", mode);
        assert_eq!(
            status.signal(),
            Some(libc::SIGSEGV),
            "{mode} guard: {status}"
        );
    }
}

#[test]
fn madvise_guards_cost_no_mappings() {
    // Counting the process's mappings is only meaningful with no other
    // test mapping or unmapping slabs meanwhile: measure in a child.
    if child_mode().as_deref() != Some("mappings") {
        let status = in_child("madvise_guards_cost_no_mappings", "mappings");
        assert!(status.success(), "child: {status}");
        return;
    }
    let allocator = StackAllocator::new();
    let mut pool = StackPool::new(allocator.clone());
    let before = mappings();
    let stacks: Vec<_> = (0..5_000).map(|_| pool.take(64 * 1024).unwrap()).collect();
    let added = mappings() - before;
    match allocator.guard_mode() {
        Some(GuardMode::Madvise) => {
            // One mapping per slab of 256 stacks, not two per stack.
            assert!(
                added <= allocator.slabs() + 2,
                "{added} mappings for {} slabs",
                allocator.slabs()
            );
            assert_eq!(allocator.slabs(), 5_000usize.div_ceil(256));
        }
        other => {
            // This kernel lacks MADV_GUARD_INSTALL (before Linux 6.13).
            assert_eq!(other, Some(GuardMode::Mprotect));
            assert!(added >= 5_000, "mprotect guards split the slabs");
        }
    }
    for stack in stacks {
        pool.give(stack);
    }
}

#[test]
fn the_mprotect_fallback_names_vm_max_map_count_at_its_limit() {
    if child_mode().as_deref() == Some("exhaust") {
        let mut pool = StackPool::new(StackAllocator::with_guard_mode(GuardMode::Mprotect));
        let mut stacks = Vec::new();
        let error = loop {
            match pool.take(16 * 1024) {
                Ok(stack) => stacks.push(stack),
                Err(error) => break error,
            }
            assert!(stacks.len() < 1_000_000, "no limit reached");
        };
        assert!(
            matches!(error, StackError::MapCountLimit { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("vm.max_map_count"), "{message}");
        assert!(message.contains("MADV_GUARD_INSTALL"), "{message}");
        // Two mappings per stack: the limit stops it near half the sysctl.
        let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            stacks.len() <= limit / 2 + 10,
            "{} stacks under a limit of {limit}",
            stacks.len()
        );
        std::process::exit(0);
    }
    let status = in_child(
        "the_mprotect_fallback_names_vm_max_map_count_at_its_limit",
        "exhaust",
    );
    assert!(status.success(), "child: {status}");
}

#[test]
fn trimming_releases_the_pages_of_the_coldest_idle_stacks() {
    let mut pool = StackPool::new(StackAllocator::new());
    let stacks: Vec<_> = (0..=StackPool::WARM)
        .map(|_| pool.take(MIN_STACK_SIZE).unwrap())
        .collect();
    for stack in &stacks {
        let low = stack.guard().end as *mut u8;
        // SAFETY: the stack's usable memory, unused by anyone.
        unsafe { low.write_volatile(0xab) };
    }
    for stack in stacks {
        pool.give(stack);
    }
    let first_byte = |stack: &ferrotp_scheduler::stack::ProcessStack| {
        // SAFETY: the lowest usable byte of an idle stack we hold.
        unsafe { (stack.guard().end as *const u8).read_volatile() }
    };
    // Giving never trims; `trim` releases all but the WARM most recent.
    pool.trim();
    let mut taken: Vec<_> = (0..=StackPool::WARM)
        .map(|_| pool.take(MIN_STACK_SIZE).unwrap())
        .collect();
    let coldest = taken.pop().unwrap();
    assert_eq!(
        first_byte(&coldest),
        0,
        "the coldest was trimmed: a zero page"
    );
    assert!(
        taken.iter().all(|s| first_byte(s) == 0xab),
        "the warm ones kept their pages"
    );
    pool.give(coldest);
    for stack in taken {
        pool.give(stack);
    }
    // Trimming again after a take-back leaves nothing stale.
    pool.trim();
    assert_eq!(pool.idle(), StackPool::WARM + 1);
}
