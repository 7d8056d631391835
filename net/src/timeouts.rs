//! A socket's read and write timeouts, settable through a shared
//! reference (`Read for &TcpStream` reads them), as `std`'s are.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// No timeout.
const NONE: u64 = u64::MAX;

/// Read and write timeouts, in nanoseconds (`NONE`: none).
#[derive(Debug)]
pub(crate) struct Timeouts {
    read: AtomicU64,
    write: AtomicU64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            read: AtomicU64::new(NONE),
            write: AtomicU64::new(NONE),
        }
    }
}

fn encode(timeout: Option<Duration>) -> io::Result<u64> {
    match timeout {
        None => Ok(NONE),
        Some(zero) if zero.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ferrotp::net: a zero timeout is not allowed (use None for no timeout)",
        )),
        Some(timeout) => Ok(u64::try_from(timeout.as_nanos())
            .unwrap_or(NONE - 1)
            .min(NONE - 1)),
    }
}

fn decode(nanos: u64) -> Option<Duration> {
    (nanos != NONE).then(|| Duration::from_nanos(nanos))
}

fn deadline(nanos: u64) -> Option<Instant> {
    // A timeout beyond the clock's range is no timeout.
    decode(nanos).and_then(|timeout| Instant::now().checked_add(timeout))
}

impl Timeouts {
    pub(crate) fn set_read(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read.store(encode(timeout)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn set_write(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write.store(encode(timeout)?, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn read(&self) -> Option<Duration> {
        decode(self.read.load(Ordering::Relaxed))
    }

    pub(crate) fn write(&self) -> Option<Duration> {
        decode(self.write.load(Ordering::Relaxed))
    }

    /// The deadline of a read starting now.
    pub(crate) fn read_deadline(&self) -> Option<Instant> {
        deadline(self.read.load(Ordering::Relaxed))
    }

    /// The deadline of a write starting now.
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        deadline(self.write.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_timeout_is_refused_and_none_clears() {
        let timeouts = Timeouts::default();
        assert_eq!(
            timeouts.set_read(Some(Duration::ZERO)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        timeouts.set_read(Some(Duration::from_millis(5))).unwrap();
        timeouts.set_write(Some(Duration::MAX)).unwrap();
        assert_eq!(timeouts.read(), Some(Duration::from_millis(5)));
        assert!(timeouts.write().is_some());
        assert!(
            timeouts.write_deadline().is_none_or(|d| d > Instant::now()),
            "capped, never in the past"
        );
        timeouts.set_read(None).unwrap();
        assert_eq!(timeouts.read(), None);
        assert!(timeouts.read_deadline().is_none());
    }
}
