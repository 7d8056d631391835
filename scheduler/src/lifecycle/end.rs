//! How a process's end is made known: its exit hooks run, each contained
//! (a panicking hook is reported, the others still run), and
//! [`Pid::on_exit`] registers one. Links, monitors and registered names
//! are built on these hooks.

use std::sync::Arc;

use crate::lifecycle::exit_hooks::{ClosedHooks, HookTag, SharedHook};
use crate::lifecycle::exit_reason::ExitReason;
use crate::process::{ExitHook, Pcb, Pid};
use crate::worker::contain::{contain, contain_deferring};

impl Pcb {
    /// The process has ended with `reason` (unless an earlier reason was
    /// recorded, such as `Killed` or `Shutdown` before the unwind): the
    /// end is published, then its exit hooks run here.
    ///
    /// # Safety
    /// As for [`Pcb::set_exit_reason`].
    pub(crate) unsafe fn set_exited(&self, reason: ExitReason) {
        // SAFETY: forwarded.
        let hooks = unsafe { self.publish_exit(reason) };
        if !hooks.is_empty() {
            self.run_exit_hooks(hooks);
        }
    }

    #[cold]
    fn run_exit_hooks(&self, hooks: ClosedHooks) {
        let reason = self.exit_reason().unwrap_or(ExitReason::NoProc);
        // Every hook runs: an exit signal that ends the process running
        // them (a hook called exit_self) goes on after the last.
        let mut unwind = None;
        for hook in hooks {
            let deferred = contain_deferring("an exit hook", || hook.run(&reason));
            unwind = unwind.or(deferred);
        }
        if let Some(unwind) = unwind {
            std::panic::resume_unwind(unwind);
        }
    }
}

impl Pid {
    /// Registers `hook` to run once, with the exit reason, when the
    /// process ends (on the thread that ends it, outside any process: a
    /// hook should be short and must not block; sending is fine). If the
    /// process has already ended, the hook runs at once, here, with
    /// [`ExitReason::NoProc`]. A panicking hook is reported and contained.
    ///
    /// Links and monitors are built on this.
    ///
    /// ```
    /// use ferrotp_scheduler::{ExitReason, receive, run, self_pid, send, spawn};
    /// let reason = run(|| {
    ///     let me = self_pid();
    ///     let child = spawn(|| { receive::<()>(); });
    ///     // A monitor in a line: the hook sends the reason to `me`.
    ///     child.on_exit(move |reason| send(&me, reason.clone()));
    ///     send(&child, ());
    ///     receive::<ExitReason>()
    /// }).unwrap();
    /// assert_eq!(reason, ExitReason::Normal);
    /// ```
    pub fn on_exit(&self, hook: impl FnOnce(&ExitReason) + Send + 'static) -> ExitHook {
        self.hook_in_lane(Box::new(hook), false)
    }

    /// [`on_exit`](Self::on_exit), with a tag saying what the hook stands
    /// for: [`exit_hook_tags`](Self::exit_hook_tags) lists it while the
    /// hook is registered (links and monitors tag theirs, so that
    /// `process_info` can list them). On a process that has ended the
    /// hook runs at once, as for `on_exit`, and the tag is dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ferrotp_scheduler::{receive, run, send, spawn};
    /// let (before, after) = run(|| {
    ///     let child = spawn(|| { receive::<()>(); });
    ///     let hook = child.on_exit_tagged(Arc::new("watching"), |_| {});
    ///     let tags = |pid: &ferrotp_scheduler::Pid| -> Vec<&'static str> {
    ///         pid.exit_hook_tags().iter().filter_map(|t| t.downcast_ref().copied()).collect()
    ///     };
    ///     let before = tags(&child);
    ///     hook.remove();
    ///     let after = tags(&child);
    ///     send(&child, ());
    ///     (before, after)
    /// }).unwrap();
    /// assert_eq!((before, after), (vec!["watching"], vec![]));
    /// ```
    pub fn on_exit_tagged(
        &self,
        tag: HookTag,
        hook: impl FnOnce(&ExitReason) + Send + 'static,
    ) -> ExitHook {
        match self.0.hooks.add_tagged(Box::new(hook), tag) {
            Ok(id) => ExitHook::new(self.clone(), Some(id)),
            Err(hook) => {
                contain("an exit hook", || hook(&ExitReason::NoProc));
                ExitHook::new(self.clone(), None)
            }
        }
    }

    /// Registers side `side` of `hook`, a hook that two registrations
    /// share (a link's or a monitor's record, registered on both its
    /// processes), without an allocation of its own: it runs as an
    /// [`on_exit`](Self::on_exit) hook does (at once, with `NoProc`, if
    /// the process has ended), and [`exit_hook_tags`](Self::exit_hook_tags)
    /// lists the tag it makes for the side.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ferrotp_scheduler::{ExitReason, HookTag, SharedHook, receive, run, send, spawn};
    /// /// Reports which side ended.
    /// struct Pair(ferrotp_scheduler::Pid);
    /// impl SharedHook for Pair {
    ///     fn on_exit(self: Arc<Self>, side: u8, _: &ExitReason) { send(&self.0, side); }
    ///     fn tag(self: Arc<Self>, side: u8) -> HookTag { Arc::new(side) }
    /// }
    /// let (tags, ended) = run(|| {
    ///     let pair = Arc::new(Pair(ferrotp_scheduler::self_pid()));
    ///     let (a, b) = (spawn(|| { receive::<()>(); }), spawn(|| { receive::<()>(); }));
    ///     a.on_exit_shared(pair.clone(), 0);
    ///     b.on_exit_shared(pair, 1);
    ///     let tags: Vec<u8> = b.exit_hook_tags().iter().filter_map(|t| t.downcast_ref().copied()).collect();
    ///     send(&b, ());
    ///     (tags, receive::<u8>())
    /// }).unwrap();
    /// assert_eq!((tags, ended), (vec![1], 1));
    /// ```
    pub fn on_exit_shared(&self, hook: Arc<dyn SharedHook>, side: u8) -> ExitHook {
        match self.0.hooks.add_shared(hook, side) {
            Ok(id) => ExitHook::new(self.clone(), Some(id)),
            Err(hook) => {
                contain("an exit hook", || hook.on_exit(side, &ExitReason::NoProc));
                ExitHook::new(self.clone(), None)
            }
        }
    }

    /// The tags of the process's registered exit hooks
    /// ([`on_exit_tagged`](Self::on_exit_tagged)), in registration order;
    /// empty once it has ended. A snapshot: hooks come and go meanwhile.
    pub fn exit_hook_tags(&self) -> Vec<HookTag> {
        self.0.hooks.tags()
    }

    /// [`on_exit`](Self::on_exit) for a hook that runs before the others.
    pub(crate) fn on_exit_first(
        &self,
        hook: impl FnOnce(&ExitReason) + Send + 'static,
    ) -> ExitHook {
        self.hook_in_lane(Box::new(hook), true)
    }

    fn hook_in_lane(&self, hook: crate::lifecycle::exit_hooks::Hook, first: bool) -> ExitHook {
        let added = if first {
            self.0.hooks.add_first(hook)
        } else {
            self.0.hooks.add(hook)
        };
        match added {
            Ok(id) => ExitHook::new(self.clone(), Some(id)),
            Err(hook) => {
                contain("an exit hook", || hook(&ExitReason::NoProc));
                ExitHook::new(self.clone(), None)
            }
        }
    }
}
