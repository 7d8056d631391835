//! A connection's read buffer, shared by the ferrotp server and its tokio
//! twin: bytes are read into it, and every complete request in it is
//! taken out at once, so that a pipeline of requests that arrived
//! together is run as one batch and answered with one write.
//!
//! # Design
//!
//! One `Vec<u8>`, initialised once, with the unread bytes between
//! `start` and `end`: a read fills the room after `end` (no zeroing per
//! read), decoding moves `start`. Before a read the buffer makes room:
//! it moves the unread bytes to the front if that frees enough, else it
//! doubles. A buffer grown for a large request shrinks back once it is
//! empty, so an idle connection holds [`READ_ROOM`] bytes whatever it
//! once received. A declared bulk length is never allocated ahead of
//! its bytes (the decoder only waits): a client grows its buffer only by
//! sending.

use crate::resp::{Args, ProtocolError, RequestDecoder};

/// A fresh buffer's size, and the least room left for a read.
pub const READ_ROOM: usize = 16 * 1024;

/// Above this size, an empty buffer shrinks back to [`READ_ROOM`].
const SHRINK_ABOVE: usize = 1024 * 1024;

/// A connection's unread bytes (module docs).
#[derive(Debug)]
pub struct ReadBuffer {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    decoder: RequestDecoder,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadBuffer {
    /// An empty buffer of [`READ_ROOM`] bytes.
    pub fn new() -> Self {
        Self {
            bytes: vec![0; READ_ROOM],
            start: 0,
            end: 0,
            decoder: RequestDecoder::new(),
        }
    }

    /// Room to read into (at least a quarter of [`READ_ROOM`]); tell
    /// [`filled`](Self::filled) how much was read.
    pub fn room(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.bytes.len() > SHRINK_ABOVE {
                self.bytes = vec![0; READ_ROOM];
            }
        }
        if self.bytes.len() - self.end < READ_ROOM / 4 {
            if self.start >= self.bytes.len() / 2 {
                self.bytes.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let doubled = self.bytes.len() * 2;
                self.bytes.resize(doubled, 0);
            }
        }
        &mut self.bytes[self.end..]
    }

    /// Counts `n` bytes read into [`room`](Self::room).
    pub fn filled(&mut self, n: usize) {
        assert!(self.end + n <= self.bytes.len(), "read past the room given");
        self.end += n;
    }

    /// The bytes not yet decoded.
    pub fn unread(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// Whether the client is in the middle of a request: bytes of it are
    /// buffered, or decoded and held by the decoder.
    pub fn is_mid_request(&self) -> bool {
        self.start != self.end || self.decoder.is_mid_request()
    }

    /// Takes every complete request out of the buffer, in order, and the
    /// protocol error that stopped the decoding, if any (the requests
    /// before it are still to be answered; the connection is then
    /// closed).
    pub fn requests(&mut self) -> (Vec<Args>, Option<ProtocolError>) {
        let mut requests = Vec::new();
        loop {
            match self.decoder.decode(&self.bytes[self.start..self.end]) {
                Ok((request, used)) => {
                    self.start += used;
                    match request {
                        Some(request) => requests.push(request),
                        None => return (requests, None),
                    }
                }
                Err(error) => return (requests, Some(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` into `buffer` as a socket would, in reads of at most
    /// `chunk` bytes, decoding after each.
    fn feed(buffer: &mut ReadBuffer, input: &[u8], chunk: usize) -> Vec<Args> {
        let mut requests = Vec::new();
        for piece in input.chunks(chunk) {
            let mut piece = piece;
            while !piece.is_empty() {
                let room = buffer.room();
                let n = room.len().min(piece.len());
                room[..n].copy_from_slice(&piece[..n]);
                buffer.filled(n);
                piece = &piece[n..];
            }
            let (batch, error) = buffer.requests();
            assert_eq!(error, None);
            requests.extend(batch);
        }
        requests
    }

    #[test]
    fn a_pipeline_read_at_once_is_one_batch() {
        let mut buffer = ReadBuffer::new();
        let input = b"PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
        let room = buffer.room();
        room[..input.len()].copy_from_slice(input);
        buffer.filled(input.len());
        let (batch, error) = buffer.requests();
        assert_eq!(
            batch,
            vec![vec![b"PING".to_vec()], vec![b"GET".to_vec(), b"k".to_vec()]]
        );
        assert_eq!(error, None);
        assert!(buffer.is_mid_request());
        assert_eq!(buffer.unread(), b"PI");
    }

    #[test]
    fn a_request_larger_than_the_buffer_grows_it_then_it_shrinks_back() {
        let mut buffer = ReadBuffer::new();
        let value = vec![b'v'; 3 * SHRINK_ABOVE];
        let mut input = Vec::new();
        crate::resp::encode_request(&[&b"SET"[..], b"k", &value], &mut input);
        let requests = feed(&mut buffer, &input, 4096);
        assert_eq!(requests, vec![vec![b"SET".to_vec(), b"k".to_vec(), value]]);
        assert!(!buffer.is_mid_request());
        buffer.room();
        assert_eq!(
            buffer.bytes.len(),
            READ_ROOM,
            "an empty buffer shrinks back"
        );
    }

    #[test]
    fn a_long_stream_of_small_requests_stays_in_a_small_buffer() {
        let mut buffer = ReadBuffer::new();
        let input = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n".repeat(10_000);
        let requests = feed(&mut buffer, &input, 1000);
        assert_eq!(requests.len(), 10_000);
        assert_eq!(buffer.bytes.len(), READ_ROOM);
    }

    #[test]
    fn a_protocol_error_comes_after_the_requests_before_it() {
        let mut buffer = ReadBuffer::new();
        let input = b"PING\r\n*1\r\n$1073741824\r\n";
        let room = buffer.room();
        room[..input.len()].copy_from_slice(input);
        buffer.filled(input.len());
        assert_eq!(
            buffer.requests(),
            (
                vec![vec![b"PING".to_vec()]],
                Some(ProtocolError::InvalidBulkLength)
            )
        );
    }
}
