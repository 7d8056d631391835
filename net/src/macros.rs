//! What the socket types share, written once: the four timeout methods
//! over a `timeouts: Timeouts` field, `Read` and `Write` (for `&T` and
//! `T`) over an `io: IoSource<_>` field whose source reads and writes
//! through a shared reference, as `mio`'s streams do, and the test of a
//! non-blocking connect's end ([`connect_outcome`]).

/// `set_read_timeout`, `set_write_timeout`, `read_timeout` and
/// `write_timeout`, as `std`'s, over `self.timeouts`.
macro_rules! timeout_methods {
    ($what:literal) => {
        #[doc = concat!("How long a ", $what, " may wait to read (`None`, the default: for ever);")]
        /// a wait that lasts longer fails with `TimedOut`.
        ///
        /// # Errors
        /// `InvalidInput` for a zero duration, as `std`.
        pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
            self.timeouts.set_read(timeout)
        }

        #[doc = concat!("How long a ", $what, " may wait to write (`None`, the default: for ever).")]
        ///
        /// # Errors
        /// `InvalidInput` for a zero duration, as `std`.
        pub fn set_write_timeout(
            &self,
            timeout: Option<std::time::Duration>,
        ) -> std::io::Result<()> {
            self.timeouts.set_write(timeout)
        }

        /// The read timeout.
        ///
        /// # Errors
        /// None; a `Result` as `std`'s.
        pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            Ok(self.timeouts.read())
        }

        /// The write timeout.
        ///
        /// # Errors
        /// None; a `Result` as `std`'s.
        pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            Ok(self.timeouts.write())
        }
    };
}

/// `Read` and `Write` for `&$stream` and `$stream`: each call one
/// operation of `self.io`, with the stream's timeout as its deadline.
macro_rules! stream_read_write {
    ($stream:ty) => {
        impl std::io::Read for &$stream {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io
                    .read_with(self.timeouts.read_deadline(), |mut socket| {
                        std::io::Read::read(&mut socket, buf)
                    })
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.io
                    .read_with(self.timeouts.read_deadline(), |mut socket| {
                        std::io::Read::read_vectored(&mut socket, bufs)
                    })
            }
        }

        impl std::io::Write for &$stream {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.io
                    .write_with(self.timeouts.write_deadline(), |mut socket| {
                        std::io::Write::write(&mut socket, buf)
                    })
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.io
                    .write_with(self.timeouts.write_deadline(), |mut socket| {
                        std::io::Write::write_vectored(&mut socket, bufs)
                    })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $stream {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Write for $stream {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use {stream_read_write, timeout_methods};

/// Whether a non-blocking connect has ended, from the socket's
/// `SO_ERROR` and its peer's address, read once it turned writable: the
/// error, done (it has a peer), or `WouldBlock` (still in progress: not
/// connected yet, no error), so that the caller waits again.
pub(crate) fn connect_outcome<A>(
    pending_error: std::io::Result<Option<std::io::Error>>,
    peer: std::io::Result<A>,
) -> std::io::Result<()> {
    if let Some(error) = pending_error? {
        return Err(error);
    }
    match peer {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotConnected => {
            Err(std::io::ErrorKind::WouldBlock.into())
        }
        Err(error) => Err(error),
    }
}
