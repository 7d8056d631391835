//! [`JoinError`]: why a process could not join a group.

use ferrotp_scheduler::Pid;

/// Why [`ProcessGroups::join`](super::ProcessGroups::join) did not make
/// a process a member.
///
/// ```
/// use ferrotp::pg::{JoinError, ProcessGroups};
/// let error = ferrotp::run(|| {
///     let gone = ferrotp::spawn(|| {});
///     while !gone.has_exited() { ferrotp::yield_now(); }
///     ProcessGroups::new().join("g", &gone).unwrap_err()
/// }).unwrap();
/// assert!(matches!(error, JoinError::Exited(_)));
/// assert!(error.to_string().contains("has ended"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// This process had ended: a process that has ended cannot join a
    /// group (it would only be removed again).
    Exited(Pid),
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(pid) => write!(
                f,
                "process {pid} has ended, so it cannot join a group (only a running process can)"
            ),
        }
    }
}

impl std::error::Error for JoinError {}
