//! Restart intensity: at most `max` restarts in any `period` (OTP's
//! `intensity` and `period`). A supervisor adds each restart; the one that
//! makes more than `max` within `period` of each other is refused, and the
//! supervisor gives up (stops its children and exits with `Shutdown`).
//!
//! As in OTP's `add_restart`, a restart at `t` counts while the newest is
//! at most `period` after it; with `max = 0` the first restart is refused.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The restarts a supervisor made within its period (module docs).
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrotp_supervision::RestartIntensity;
/// let mut intensity = RestartIntensity::new(1, Duration::from_secs(5));
/// let t = Instant::now();
/// assert!(intensity.add(t));                              // 1 in 5 s: fine
/// assert!(!intensity.add(t + Duration::from_secs(4)));    // 2 in 5 s: too many
/// let mut intensity = RestartIntensity::new(1, Duration::from_secs(5));
/// assert!(intensity.add(t));
/// assert!(intensity.add(t + Duration::from_secs(6)));     // the first has aged out
/// ```
#[derive(Clone, Debug)]
pub struct RestartIntensity {
    max: u32,
    period: Duration,
    /// Restart times within the period, oldest first.
    restarts: VecDeque<Instant>,
}

impl RestartIntensity {
    /// At most `max` restarts in `period`.
    pub fn new(max: u32, period: Duration) -> Self {
        Self {
            max,
            period,
            restarts: VecDeque::new(),
        }
    }

    /// Records a restart at `now` (not earlier than the last one); false
    /// if it makes one too many.
    pub fn add(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.restarts.front() {
            if now.saturating_duration_since(oldest) > self.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.max as usize
    }

    /// How many restarts are within the period (as of the last `add`).
    pub fn recent(&self) -> usize {
        self.restarts.len()
    }
}
