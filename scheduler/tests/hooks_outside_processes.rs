//! User hooks the runtime runs outside any process (an exit hook run at
//! once for an ended pid, the dead-letter hook of a send from a plain
//! thread, exit hooks and timers' dead letters run by a worker, the
//! closures of never-run processes discarded by `Runtime::drop`): a
//! panic or unwind from them is contained without touching the thread's
//! own panic count, a kill's unwind payload resumed by a hook does not
//! take a worker down, and the panic hook a runtime wraps is the one
//! installed when it is built.
//!
//! Second adversarial review, programs b01, b15 and b17; fourth, a09
//! and a11 (a runtime built inside a panic hook; a panic payload whose
//! destructor panics). Each scenario runs in a child process under a
//! watchdog: before the fixes they left the thread "panicking" for good,
//! aborted, or deadlocked.

mod common;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{PanicsAsItDrops, in_child, in_child_with, wait_exit};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, SpawnOptions, exit, exit_self, is_exit_unwind, receive, self_pid,
    send, send_after, spawn, spawn_opt, spawn_with,
};

/// Runs `f` when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// What a plain thread's state is after a panic it caught: whether it
/// still reads as panicking, and whether a mutex it locked before the
/// panic and unlocked after is poisoned.
fn after_a_caught_panic(during_the_unwind: impl FnOnce()) -> (bool, bool) {
    let mutex = Mutex::new(0);
    let guard = mutex.lock().unwrap();
    let mut during_the_unwind = Some(during_the_unwind);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _calls = OnDrop(|| (during_the_unwind.take().unwrap())());
        panic!("a plain panic on a plain thread");
    }));
    assert!(caught.is_err());
    let panicking = std::thread::panicking();
    drop(guard);
    (panicking, mutex.is_poisoned())
}

/// The line the child prints, and the parent looks for.
fn state_line(panicking: bool, poisoned: bool) -> String {
    format!("after the caught panic: panicking {panicking}, mutex poisoned {poisoned}")
}

/// b01: from a destructor running during a plain thread's own unwind, a
/// call that runs a user hook on that thread (inside the runtime's
/// `contain`). Before the fix `contain` took the thread's real panic
/// count: after the catch the thread read as panicking for good, and its
/// mutexes were poisoned.
fn hook_during_a_plain_threads_unwind(mode: &str) {
    let rt = Runtime::builder()
        .workers(2)
        .dead_letter_hook(|_| {})
        .build()
        .unwrap();
    let ended = rt.block_on(|| {
        let pid = spawn(|| {});
        wait_exit(&pid);
        pid
    });
    let (panicking, poisoned) = after_a_caught_panic(|| match mode {
        // The hook runs at once, here, with `NoProc`.
        "on_exit" => {
            let _ = ended.on_exit(|_| {});
        }
        // A dead letter: the hook runs here.
        "dead_letter" => send(&ended, 1u32),
        _ => unreachable!(),
    });
    println!("{}", state_line(panicking, poisoned));
    drop(rt);
}

fn check_child_state(test: &str, mode: &str, scenario: impl FnOnce(&str)) {
    if common::child_mode().is_some() {
        in_child(test, mode, scenario);
        return;
    }
    let out = common::rerun_in_child(test, mode);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&state_line(false, false)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_child_passed(&out);
}

#[test]
fn an_exit_hook_run_at_once_during_a_plain_threads_unwind_leaves_its_panic_count_alone() {
    check_child_state(
        "an_exit_hook_run_at_once_during_a_plain_threads_unwind_leaves_its_panic_count_alone",
        "on_exit",
        hook_during_a_plain_threads_unwind,
    );
}

#[test]
fn a_dead_letter_hook_run_during_a_plain_threads_unwind_leaves_its_panic_count_alone() {
    check_child_state(
        "a_dead_letter_hook_run_during_a_plain_threads_unwind_leaves_its_panic_count_alone",
        "dead_letter",
        hook_during_a_plain_threads_unwind,
    );
}

/// b01, with no explicit call: a runtime dropped during a thread's
/// unwind (a failing test) discards the never-run processes left in its
/// injector on that thread.
#[test]
fn a_runtime_dropped_during_an_unwind_leaves_the_threads_panic_count_alone() {
    check_child_state(
        "a_runtime_dropped_during_an_unwind_leaves_the_threads_panic_count_alone",
        "run",
        |_| {
            let mutex = Mutex::new(0);
            let guard = mutex.lock().unwrap();
            let caught = catch_unwind(AssertUnwindSafe(|| {
                let rt = Runtime::builder().workers(1).build().unwrap();
                let release = Arc::new(AtomicBool::new(false));
                let started = Arc::new(AtomicBool::new(false));
                let (released, has_started) = (Arc::clone(&release), Arc::clone(&started));
                // Holds the only worker, with no check point, until the
                // unwind below starts: what is spawned meanwhile stays in
                // the injector (so many that the worker cannot run them
                // all before it sees the shutdown).
                rt.spawn(move || {
                    has_started.store(true, Ordering::SeqCst);
                    while !released.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                });
                while !started.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                for _ in 0..10_000 {
                    rt.spawn(|| {});
                }
                // Dropped before `rt`.
                let _release = OnDrop(move || release.store(true, Ordering::SeqCst));
                panic!("a test fails while its runtime is up");
            }));
            assert!(caught.is_err());
            let panicking = std::thread::panicking();
            drop(guard);
            println!("{}", state_line(panicking, mutex.is_poisoned()));
        },
    );
}

/// A kill's unwind payload, caught by its process in safe code and kept.
static STASH: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);

/// Where [`resume_stashed`] reports that it resumed the payload.
static REPORT_TO: Mutex<Option<Pid>> = Mutex::new(None);

/// Sent as the resumed payload unwinds out of the hook.
struct HookUnwinds;

struct Ready;

struct Go;

/// A hook's body: resumes the stashed kill unwind, if any, reporting it
/// as it unwinds.
fn resume_stashed() {
    let stashed = STASH.lock().unwrap().take();
    let Some(payload) = stashed else {
        return;
    };
    let _report = OnDrop(|| {
        if let Some(to) = REPORT_TO.lock().unwrap().as_ref() {
            send(to, HookUnwinds);
        }
    });
    resume_unwind(payload);
}

/// b15: an exit hook, or a timer's dead-letter hook, run by a worker
/// outside any process, resumes a kill's unwind payload. Before the fix
/// it unwound into the worker's run loop, which aborted the program.
fn worker_hook_resumes_a_kill_unwind(mode: &str) {
    let rt = Runtime::builder()
        .workers(2)
        .dead_letter_hook(|_| resume_stashed())
        .build()
        .unwrap();
    let exit_hook = mode == "exit_hook";
    rt.block_on(move || {
        let me = self_pid();
        *REPORT_TO.lock().unwrap() = Some(me.clone());
        let to = me.clone();
        let victim = spawn(move || {
            let payload = catch_unwind(AssertUnwindSafe(|| {
                send(&to, Ready);
                loop {
                    receive::<Go>();
                }
            }))
            .unwrap_err();
            assert!(is_exit_unwind(payload.as_ref()));
            *STASH.lock().unwrap() = Some(payload);
        });
        receive::<Ready>();
        exit(&victim, ExitReason::Kill);
        assert_eq!(wait_exit(&victim), ExitReason::Killed);
        if exit_hook {
            // It ends normally: its worker runs the hook.
            let ends = spawn_with(
                SpawnOptions::new(),
                |pid| {
                    let _ = pid.on_exit(|_| resume_stashed());
                },
                || {
                    receive::<Go>();
                },
            )
            .unwrap();
            send(&ends, Go);
            assert_eq!(wait_exit(&ends), ExitReason::Normal);
        } else {
            // Delivered to an ended process by the worker's timers.
            let ended = spawn(|| {});
            wait_exit(&ended);
            send_after(Duration::ZERO, &ended, 1u8);
        }
        receive::<HookUnwinds>();
        // Both workers still run processes.
        for worker in 0..2 {
            let to = me.clone();
            spawn_opt(SpawnOptions::new().worker(worker), move || {
                send(&to, worker)
            })
            .unwrap();
        }
        let mut answers = [receive::<usize>(), receive::<usize>()];
        answers.sort_unstable();
        assert_eq!(answers, [0, 1]);
    });
    drop(rt);
}

#[test]
fn an_exit_hook_run_by_a_worker_that_resumes_a_kill_unwind_does_not_take_the_runtime_down() {
    in_child(
        "an_exit_hook_run_by_a_worker_that_resumes_a_kill_unwind_does_not_take_the_runtime_down",
        "exit_hook",
        worker_hook_resumes_a_kill_unwind,
    );
}

#[test]
fn a_timers_dead_letter_hook_that_resumes_a_kill_unwind_does_not_take_the_runtime_down() {
    in_child(
        "a_timers_dead_letter_hook_that_resumes_a_kill_unwind_does_not_take_the_runtime_down",
        "dead_letter",
        worker_hook_resumes_a_kill_unwind,
    );
}

/// b17: a runtime wraps the panic hook installed when it is built, also
/// when an earlier runtime wrapped another one (here the default hook,
/// restored with `take_hook`, as test harnesses and command-line tools
/// do). Before the fix the wrapper was installed once per program: with
/// `RUST_BACKTRACE=1` a 16 KiB process's panic ran the default hook on
/// its own small stack, and the program aborted.
#[test]
fn a_second_runtime_wraps_the_hook_installed_after_the_first() {
    in_child_with(
        "a_second_runtime_wraps_the_hook_installed_after_the_first",
        "run",
        &[("RUST_BACKTRACE", "1")],
        |_| {
            let first = Runtime::builder().workers(1).build().unwrap();
            first.block_on(|| ());
            drop(first);
            drop(std::panic::take_hook());
            let second = Runtime::builder().workers(1).build().unwrap();
            let reason = second.block_on(|| {
                let small = spawn_opt(SpawnOptions::new().stack_size(16 * 1024), || {
                    panic!("at once")
                })
                .unwrap();
                wait_exit(&small)
            });
            assert_eq!(reason, ExitReason::Panic("at once".into()));
        },
    );
}

/// a09: a panic hook installed before any runtime builds one (a logger
/// started lazily, say), and a process of that runtime panics while the
/// hook waits for it. std refuses `take_hook` on a panicking thread; the
/// fix for c05 had another thread wrap the hook, which this thread
/// joined while holding std's hook lock: a deadlock. Its next fix left
/// that thread waiting for the lock, which (std's lock lets no new
/// reader past a waiting writer) stopped the process's panic until the
/// hook returned: a deadlock again. Now a runtime built on a panicking
/// thread leaves the hook alone.
#[test]
fn a_runtime_built_inside_a_panic_hook_does_not_deadlock() {
    in_child(
        "a_runtime_built_inside_a_panic_hook_does_not_deadlock",
        "run",
        |_| {
            static REASONS: Mutex<Vec<ExitReason>> = Mutex::new(Vec::new());
            static FIRST: AtomicBool = AtomicBool::new(true);
            std::panic::set_hook(Box::new(|_| {
                // The process's panic below runs this hook too.
                if !FIRST.swap(false, Ordering::SeqCst) {
                    return;
                }
                let rt = Runtime::builder().workers(1).build().unwrap();
                let reason = rt.block_on(|| {
                    let panics = spawn(|| panic!("a panic inside the hook's runtime"));
                    wait_exit(&panics)
                });
                drop(rt);
                REASONS.lock().unwrap().push(reason);
            }));
            let caught = catch_unwind(|| panic!("a panic whose hook builds a runtime"));
            assert!(caught.is_err());
            drop(std::panic::take_hook());
            assert_eq!(
                *REASONS.lock().unwrap(),
                [ExitReason::Panic(
                    "a panic inside the hook's runtime".into()
                )]
            );
        },
    );
}

/// a11, run by a worker: a process's exit hook panics with a payload
/// whose destructor panics. Before the fix the runtime dropped the
/// payload outside its net: the second panic reached the worker's run
/// loop, and the program aborted. Now both are reported, the next hook
/// runs, and a process whose body panics so ends with its first panic.
#[test]
fn a_panic_payload_that_panics_as_it_drops_takes_no_worker_down() {
    in_child(
        "a_panic_payload_that_panics_as_it_drops_takes_no_worker_down",
        "run",
        |_| {
            struct SecondHookRan(ExitReason);
            let rt = Runtime::builder().workers(1).build().unwrap();
            rt.block_on(|| {
                let me = self_pid();
                let ends = spawn_with(
                    SpawnOptions::new(),
                    |pid| {
                        let _ = pid.on_exit(|_| std::panic::panic_any(PanicsAsItDrops));
                        let _ = pid.on_exit(move |reason| send(&me, SecondHookRan(reason.clone())));
                    },
                    || {
                        receive::<Go>();
                    },
                )
                .unwrap();
                send(&ends, Go);
                let SecondHookRan(reason) = receive::<SecondHookRan>();
                assert_eq!(reason, ExitReason::Normal);
                let panics = spawn(|| std::panic::panic_any(PanicsAsItDrops));
                assert_eq!(
                    wait_exit(&panics),
                    ExitReason::Panic("panic with a non-string payload".into())
                );
            });
            drop(rt);
        },
    );
}

/// A panic payload whose destructor ends its process with `exit_self`.
struct ExitsAsItDrops;

impl Drop for ExitsAsItDrops {
    fn drop(&mut self) {
        exit_self(ExitReason::custom("from the payload's destructor"));
    }
}

/// Fourth review, M2: a process's body panics with a payload whose
/// destructor calls `exit_self`. Before the fix the payload was dropped
/// before the body's reason was recorded, so the destructor's reason
/// replaced the panic's; now it is dropped after, as unread messages are.
#[test]
fn a_panic_payloads_destructor_does_not_change_its_process_reason() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let reason = rt.block_on(|| {
        let panics = spawn(|| std::panic::panic_any(ExitsAsItDrops));
        wait_exit(&panics)
    });
    assert_eq!(
        reason,
        ExitReason::Panic("panic with a non-string payload".into())
    );
    drop(rt);
}

/// A message whose destructor panics.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("an unread message's destructor panics");
    }
}

/// Fourth review, D2: standard error cannot be written (a full disk, a
/// closed pipe). Before the fix the runtime reported contained panics
/// with `eprintln!`, which panics then: a panicking unread message's
/// report panicked out of the process's last net, and the program
/// aborted. Reports that cannot be written are now dropped.
#[test]
fn contained_panics_do_not_abort_when_standard_error_is_full() {
    in_child(
        "contained_panics_do_not_abort_when_standard_error_is_full",
        "run",
        |_| {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&full);
            // SAFETY: `fd` is open (owned by `full`, alive here) and 2 is
            // standard error: it now writes to /dev/full.
            let duplicated = unsafe { libc::dup2(fd, 2) };
            assert_eq!(duplicated, 2);
            let rt = Runtime::builder().workers(1).build().unwrap();
            let reasons = rt.block_on(|| {
                let leaves_one = spawn_with(
                    SpawnOptions::new(),
                    |pid| send(pid, PanicsWhenDropped),
                    || {},
                )
                .unwrap();
                let payload = spawn(|| std::panic::panic_any(PanicsAsItDrops));
                [wait_exit(&leaves_one), wait_exit(&payload)]
            });
            drop(rt);
            assert_eq!(
                reasons,
                [
                    ExitReason::Normal,
                    ExitReason::Panic("panic with a non-string payload".into())
                ]
            );
            println!("both processes ended");
        },
    );
}

/// The id of the calling thread.
fn thread_id() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Yields until thread `tid` of this process sleeps (blocked on a lock).
fn wait_until_asleep(tid: libc::pid_t) {
    let path = format!("/proc/self/task/{tid}/stat");
    loop {
        let stat = std::fs::read_to_string(&path).unwrap();
        // The state follows the parenthesised name.
        let state = stat.rsplit(')').next().unwrap().trim_start().chars().next();
        if state == Some('S') {
            return;
        }
        std::thread::yield_now();
    }
}

/// Fifth review, D1: thread A's panic hook builds a runtime while thread B
/// builds one. B's build holds the runtime's record of its wrapper while
/// it waits for std's hook lock, which A holds as it runs the hook; before
/// the fix A's build then waited for that record: a deadlock. Now a build
/// on a panicking thread takes no lock.
#[test]
fn a_runtime_built_in_a_panic_hook_while_another_thread_builds_one_does_not_deadlock() {
    in_child(
        "a_runtime_built_in_a_panic_hook_while_another_thread_builds_one_does_not_deadlock",
        "run",
        |_| {
            static BUILDER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
            static BUILT_IN_HOOK: AtomicBool = AtomicBool::new(false);
            let (go, building) = std::sync::mpsc::channel::<()>();
            let other = std::thread::spawn(move || {
                building.recv().unwrap();
                BUILDER.store(thread_id(), Ordering::SeqCst);
                drop(Runtime::builder().workers(1).build().unwrap());
            });
            let go = Mutex::new(Some(go));
            std::panic::set_hook(Box::new(move |_| {
                let Some(go) = go.lock().unwrap().take() else {
                    return;
                };
                go.send(()).unwrap();
                let mut builder = 0;
                while builder == 0 {
                    builder = BUILDER.load(Ordering::SeqCst);
                    std::thread::yield_now();
                }
                // The other thread now waits for std's hook lock, which
                // this thread holds.
                wait_until_asleep(builder);
                drop(Runtime::builder().workers(1).build().unwrap());
                BUILT_IN_HOOK.store(true, Ordering::SeqCst);
            }));
            let caught = catch_unwind(|| panic!("a panic whose hook builds a runtime"));
            assert!(caught.is_err());
            other.join().unwrap();
            drop(std::panic::take_hook());
            assert!(BUILT_IN_HOOK.load(Ordering::SeqCst));
        },
    );
}

/// Fifth review, D2: a runtime built during a panic, then used from a
/// panic hook (waiting for one of its processes, which panics) while a
/// plain thread calls `spawn` on it. Before the fix that `spawn` did the
/// wrap the build could not, waiting for std's hook lock behind the hook:
/// the process's panic then waited behind it, and the hook for the
/// process: a deadlock. Now only a build touches the hook.
#[test]
fn a_runtime_built_during_a_panic_never_waits_for_the_hook_lock_in_spawn() {
    in_child(
        "a_runtime_built_during_a_panic_never_waits_for_the_hook_lock_in_spawn",
        "run",
        |_| {
            static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
            static REASONS: Mutex<Vec<ExitReason>> = Mutex::new(Vec::new());
            /// Builds the runtime as it drops.
            struct BuildsInDrop;
            impl Drop for BuildsInDrop {
                fn drop(&mut self) {
                    let rt = Runtime::builder().workers(1).build().unwrap();
                    assert!(RUNTIME.set(rt).is_ok());
                }
            }
            let caught = catch_unwind(|| {
                let _builds = BuildsInDrop;
                panic!("the runtime is built during this panic");
            });
            assert!(caught.is_err());
            // The plain thread: told the process's pid, it spawns a process
            // that tells it to go on.
            let (tell, told) = std::sync::mpsc::channel::<Pid>();
            let plain = std::thread::spawn(move || {
                let waiting = told.recv().unwrap();
                RUNTIME.get().unwrap().spawn(move || send(&waiting, Go));
            });
            let tell = Mutex::new(Some(tell));
            std::panic::set_hook(Box::new(move |_| {
                // The process's own panic runs this hook too.
                let Some(tell) = tell.lock().unwrap().take() else {
                    return;
                };
                let reason = RUNTIME.get().unwrap().block_on(move || {
                    let panics = spawn(move || {
                        tell.send(self_pid()).unwrap();
                        receive::<Go>();
                        panic!("a panic while another thread's hook waits");
                    });
                    wait_exit(&panics)
                });
                REASONS.lock().unwrap().push(reason);
            }));
            let caught = catch_unwind(|| panic!("a panic whose hook uses the runtime"));
            assert!(caught.is_err());
            plain.join().unwrap();
            drop(std::panic::take_hook());
            assert_eq!(
                *REASONS.lock().unwrap(),
                [ExitReason::Panic(
                    "a panic while another thread's hook waits".into()
                )]
            );
        },
    );
}
