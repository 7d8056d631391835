//! [`ProcessGroups::global`]: one scope per group type for the whole
//! program (OTP's default scope, `pg`).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock};

use super::scope::{ProcessGroups, lock};

/// The global scopes, by group type: each a `ProcessGroups<G>`.
type Scopes = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

impl<G: Eq + Hash + Clone + Send + Sync + 'static> ProcessGroups<G> {
    /// The program's scope for groups of type `G` (OTP's default scope):
    /// every call with the same `G` returns a handle to the same scope,
    /// in every runtime and thread. For a scope of its own, a library
    /// makes one with [`new`](Self::new) (or uses a group type of its
    /// own).
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::self_pid;
    /// ferrotp::run(|| {
    ///     #[derive(Clone, PartialEq, Eq, Hash, Debug)]
    ///     struct Topic(&'static str);
    ///     ProcessGroups::global().join(Topic("news"), &self_pid()).unwrap();
    ///     // Elsewhere, the same scope:
    ///     assert_eq!(ProcessGroups::<Topic>::global().members(&Topic("news")), [self_pid()]);
    /// }).unwrap();
    /// ```
    pub fn global() -> Self {
        static SCOPES: OnceLock<Mutex<Scopes>> = OnceLock::new();
        let mut scopes = lock(SCOPES.get_or_init(Mutex::default));
        scopes
            .entry(TypeId::of::<G>())
            .or_insert_with(|| Box::new(Self::new()))
            .downcast_ref::<Self>()
            .expect("the scope stored under G's TypeId is a ProcessGroups<G>")
            .clone()
    }
}
