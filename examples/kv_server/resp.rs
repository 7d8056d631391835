//! RESP2, the Redis serialization protocol: the request decoder and the
//! reply encoder that the ferrotp server, its tokio twin
//! (`benches/kv/tokio_server.rs`) and the tests share, and the reply
//! parser and request encoder that the clients (the load generator, the
//! tests) use.
//!
//! # Design
//!
//! A client sends each command as an array of bulk strings
//! (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), or as an *inline* command, one
//! line of words (`PING\r\n`, what `redis-benchmark` sends for
//! `PING_INLINE` and what a person types into `telnet`). A
//! [`RequestDecoder`] reads requests off the front of a connection's
//! read buffer as bytes arrive. It is incremental in the strong sense:
//! the arguments of an array that are complete are taken out of the
//! buffer at once (their bytes are reported consumed, and the decoder
//! keeps them), so a long array that arrives in many small reads is
//! scanned once, not once per read. [`parse_request`] is the stateless
//! form for a buffer that holds whole requests.
//!
//! Bad input is an error, never a panic and never an unbounded wait or
//! allocation: each limit is Redis's, and so is each message, which the
//! server sends as `-ERR Protocol error: ...` before it closes the
//! connection ([`ProtocolError::reply`]):
//!
//! | input | limit | message |
//! |---|---|---|
//! | an inline line without `\n` | [`MAX_INLINE_LEN`] (64 KiB) | `too big inline request` |
//! | an array or bulk header without `\r` | [`MAX_INLINE_LEN`] | `too big mbulk count string`, `too big bulk count string` |
//! | an array length | at most [`MAX_ARRAY_LEN`] (1M), an integer | `invalid multibulk length` |
//! | a bulk length | 0 to [`MAX_BULK_LEN`] (512 MiB, Redis's `proto-max-bulk-len`), an integer | `invalid bulk length` |
//! | an array element that is not a bulk string | | `expected '$', got 'x'` |
//! | an inline line with an unclosed quote | | `unbalanced quotes in request` |
//!
//! A declared bulk length is never allocated up front: the decoder waits
//! for the bytes, and the buffer grows only as they come. An empty array
//! (`*0`, `*-1`) or an empty inline line is skipped, as Redis does.
//!
//! Replies are [`Reply`] values, written by [`Reply::encode`]; a simple
//! string or an error that holds `\r` or `\n` (an unknown command's name
//! echoed back, say) has them written as spaces, so that no input can
//! forge a reply.

use std::borrow::Cow;
use std::fmt;

/// The longest line an inline request, or an array or bulk header, may
/// take before its end: Redis's `PROTO_INLINE_MAX_SIZE`.
pub const MAX_INLINE_LEN: usize = 64 * 1024;

/// The most elements a request array may declare.
pub const MAX_ARRAY_LEN: usize = 1024 * 1024;

/// The longest bulk string a request may declare: Redis's default
/// `proto-max-bulk-len`.
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// Nesting depth at which [`parse_reply`] gives up (replies of this
/// server nest one level; the limit bounds the recursion on hostile input).
pub const MAX_REPLY_DEPTH: usize = 32;

/// A request: the command name and its arguments, as the client sent them.
pub type Args = Vec<Vec<u8>>;

/// Why a request could not be read: the connection's bytes are not RESP,
/// or break a limit (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// An inline request with no `\n` in its first [`MAX_INLINE_LEN`] bytes.
    InlineTooLong,
    /// An array header with no `\r` in its first [`MAX_INLINE_LEN`] bytes.
    ArrayHeaderTooLong,
    /// A bulk header with no `\r` in its first [`MAX_INLINE_LEN`] bytes.
    BulkHeaderTooLong,
    /// An array length that is not an integer, or above [`MAX_ARRAY_LEN`].
    InvalidArrayLength,
    /// A bulk length that is not an integer, negative, or above
    /// [`MAX_BULK_LEN`].
    InvalidBulkLength,
    /// An array element that does not start with `$`: the byte it starts with.
    ExpectedBulk(u8),
    /// A bulk string not followed by `\r\n`.
    ExpectedCrlf,
    /// An inline request with a quote that is not closed.
    UnbalancedQuotes,
    /// A reply (client side) that starts with none of `+ - : $ *`.
    UnknownReplyType(u8),
    /// A reply (client side) whose integer is not one.
    InvalidInteger,
    /// A reply (client side) nested deeper than [`MAX_REPLY_DEPTH`].
    TooDeep,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            Self::InlineTooLong => f.write_str("too big inline request"),
            Self::ArrayHeaderTooLong => f.write_str("too big mbulk count string"),
            Self::BulkHeaderTooLong => f.write_str("too big bulk count string"),
            Self::InvalidArrayLength => f.write_str("invalid multibulk length"),
            Self::InvalidBulkLength => f.write_str("invalid bulk length"),
            Self::ExpectedBulk(byte) => write!(f, "expected '$', got '{}'", char::from(*byte)),
            Self::ExpectedCrlf => f.write_str("expected '\\r\\n' after bulk data"),
            Self::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            Self::UnknownReplyType(byte) => write!(f, "unknown reply type byte 0x{byte:02x}"),
            Self::InvalidInteger => f.write_str("invalid integer in reply"),
            Self::TooDeep => write!(f, "reply nested deeper than {MAX_REPLY_DEPTH}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl ProtocolError {
    /// What the server answers before it closes the connection.
    pub fn reply(&self) -> Reply {
        Reply::Error(format!("ERR {self}").into())
    }
}

/// Reads requests off the front of a connection's buffer (module docs).
///
/// ```ignore
/// let mut decoder = RequestDecoder::new();
/// let (request, consumed) = decoder.decode(b"*1\r\n$4\r\nPING\r\n*1\r\n")?;
/// assert_eq!((request, consumed), (Some(vec![b"PING".to_vec()]), 14));
/// // The rest is kept: the next decode goes on from the array's header.
/// assert_eq!(decoder.decode(b"*1\r\n")?, (None, 4));
/// ```
#[derive(Debug, Default)]
pub struct RequestDecoder {
    /// The array being read, once its header has been consumed.
    array: Option<PartialArray>,
}

#[derive(Debug)]
struct PartialArray {
    /// Elements declared by the header.
    declared: usize,
    /// Elements read so far.
    args: Args,
    /// The length of the next bulk, once its header has been consumed.
    bulk_len: Option<usize>,
}

impl RequestDecoder {
    /// A decoder at the start of a request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the decoder holds part of a request (a client that
    /// disconnects now disconnects mid-command).
    pub fn is_mid_request(&self) -> bool {
        self.array.is_some()
    }

    /// Reads the next request from the start of `buf`.
    ///
    /// Returns the request, or `None` if `buf` ends before it does, and
    /// in both cases how many bytes of `buf` were used: the caller drops
    /// them before the next call, which passes the bytes that follow
    /// (with whatever has arrived since). After an error the connection's
    /// stream is out of step and must be closed.
    ///
    /// # Errors
    /// A [`ProtocolError`] for input that is not a request (module docs).
    pub fn decode(&mut self, buf: &[u8]) -> Result<(Option<Args>, usize), ProtocolError> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            if let Some(array) = &mut self.array {
                let (args, used) = array.advance(rest)?;
                if args.is_some() {
                    self.array = None;
                }
                return Ok((args, at + used));
            }
            let Some(&first) = rest.first() else {
                return Ok((None, at));
            };
            if first == b'*' {
                let Some((declared, used)) = read_header(rest, Header::Array)? else {
                    return Ok((None, at));
                };
                at += used;
                let declared = match usize::try_from(declared) {
                    // Redis skips an empty or null array.
                    Err(_) | Ok(0) => continue,
                    Ok(n) if n > MAX_ARRAY_LEN => return Err(ProtocolError::InvalidArrayLength),
                    Ok(n) => n,
                };
                self.array = Some(PartialArray {
                    declared,
                    // Bounded: a header's promise is not an allocation.
                    args: Vec::with_capacity(declared.min(16)),
                    bulk_len: None,
                });
            } else {
                let Some(newline) = memchr(b'\n', rest) else {
                    if rest.len() > MAX_INLINE_LEN {
                        return Err(ProtocolError::InlineTooLong);
                    }
                    return Ok((None, at));
                };
                if newline > MAX_INLINE_LEN {
                    return Err(ProtocolError::InlineTooLong);
                }
                let line = &rest[..newline];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                at += newline + 1;
                let args = split_inline(line)?;
                if !args.is_empty() {
                    return Ok((Some(args), at));
                }
            }
        }
    }
}

impl PartialArray {
    /// Reads the array's remaining elements from `buf`: the whole array
    /// and the bytes used, or `None` and the bytes of the elements (and
    /// the bulk header) completed meanwhile, which it keeps.
    fn advance(&mut self, buf: &[u8]) -> Result<(Option<Args>, usize), ProtocolError> {
        let mut at = 0;
        while self.args.len() < self.declared {
            let rest = &buf[at..];
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let Some(&first) = rest.first() else {
                        return Ok((None, at));
                    };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedBulk(first));
                    }
                    let Some((len, used)) = read_header(rest, Header::Bulk)? else {
                        return Ok((None, at));
                    };
                    let len = usize::try_from(len)
                        .ok()
                        .filter(|&len| len <= MAX_BULK_LEN)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    at += used;
                    self.bulk_len = Some(len);
                    len
                }
            };
            let rest = &buf[at..];
            if rest.len() < len + 2 {
                return Ok((None, at));
            }
            if &rest[len..len + 2] != b"\r\n" {
                return Err(ProtocolError::ExpectedCrlf);
            }
            self.args.push(rest[..len].to_vec());
            self.bulk_len = None;
            at += len + 2;
        }
        Ok((Some(std::mem::take(&mut self.args)), at))
    }
}

/// Which header [`read_header`] reads, for its errors.
#[derive(Clone, Copy)]
enum Header {
    Array,
    Bulk,
}

impl Header {
    fn too_long(self) -> ProtocolError {
        match self {
            Header::Array => ProtocolError::ArrayHeaderTooLong,
            Header::Bulk => ProtocolError::BulkHeaderTooLong,
        }
    }

    fn invalid(self) -> ProtocolError {
        match self {
            Header::Array => ProtocolError::InvalidArrayLength,
            Header::Bulk => ProtocolError::InvalidBulkLength,
        }
    }
}

/// Reads a `*n\r\n` or `$n\r\n` header at the start of `buf` (its first
/// byte, the type, is not checked): `n` and the header's length, or
/// `None` if its end has not arrived.
fn read_header(buf: &[u8], header: Header) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(cr) = memchr(b'\r', &buf[1..]).map(|at| at + 1) else {
        return if buf.len() > MAX_INLINE_LEN {
            Err(header.too_long())
        } else {
            Ok(None)
        };
    };
    let Some(&lf) = buf.get(cr + 1) else {
        return Ok(None);
    };
    match parse_i64(&buf[1..cr]) {
        Some(n) if lf == b'\n' => Ok(Some((n, cr + 2))),
        _ => Err(header.invalid()),
    }
}

/// Parses a decimal integer as Redis's `string2ll` does: an optional
/// `-`, then digits with no leading zero (`0` itself excepted), within
/// `i64`; no sign `+`, no spaces. Commands use it for their integer
/// arguments and values (`INCR`, `EX`).
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    // Accumulated negatively, so that i64::MIN fits.
    let mut n: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(digit - b'0'))?;
    }
    if negative { Some(n) } else { n.checked_neg() }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&byte| byte == needle)
}

/// Splits an inline request into words as Redis's `sdssplitargs` does:
/// words are separated by spaces; `"..."` takes the escapes `\n \r \t
/// \b \a \\ \"` and `\xHH`, `'...'` takes `\'`; a closing quote must end
/// its word; a NUL byte ends the line (Redis reads it as a C string).
fn split_inline(line: &[u8]) -> Result<Args, ProtocolError> {
    let line = &line[..memchr(0, line).unwrap_or(line.len())];
    let mut words = Vec::new();
    let mut at = 0;
    loop {
        while line.get(at).is_some_and(|&c| is_space(c)) {
            at += 1;
        }
        if at == line.len() {
            return Ok(words);
        }
        let mut word = Vec::new();
        loop {
            match line.get(at) {
                None => break,
                Some(&c) if is_space(c) => break,
                Some(b'"') => at = double_quoted(line, at + 1, &mut word)?,
                Some(b'\'') => at = single_quoted(line, at + 1, &mut word)?,
                Some(&c) => {
                    word.push(c);
                    at += 1;
                }
            }
        }
        words.push(word);
    }
}

/// The C library's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Reads a `"..."` word from just after its opening quote: the index
/// after the closing quote, which must end the word.
fn double_quoted(line: &[u8], mut at: usize, word: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match (line.get(at), line.get(at + 1)) {
            (None, _) => return Err(ProtocolError::UnbalancedQuotes),
            (Some(b'\\'), Some(b'x')) => {
                let hex = |i: usize| line.get(i).and_then(|&c| char::from(c).to_digit(16));
                if let (Some(high), Some(low)) = (hex(at + 2), hex(at + 3)) {
                    word.push((high * 16 + low) as u8);
                    at += 4;
                } else {
                    word.push(b'x');
                    at += 2;
                }
            }
            (Some(b'\\'), Some(&escaped)) => {
                word.push(match escaped {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                at += 2;
            }
            (Some(b'"'), next) => {
                if next.is_some_and(|&c| !is_space(c)) {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                return Ok(at + 1);
            }
            (Some(&c), _) => {
                word.push(c);
                at += 1;
            }
        }
    }
}

/// Reads a `'...'` word from just after its opening quote, as
/// [`double_quoted`] does.
fn single_quoted(line: &[u8], mut at: usize, word: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match (line.get(at), line.get(at + 1)) {
            (None, _) => return Err(ProtocolError::UnbalancedQuotes),
            (Some(b'\\'), Some(b'\'')) => {
                word.push(b'\'');
                at += 2;
            }
            (Some(b'\''), next) => {
                if next.is_some_and(|&c| !is_space(c)) {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                return Ok(at + 1);
            }
            (Some(&c), _) => {
                word.push(c);
                at += 1;
            }
        }
    }
}

/// Reads one whole request from the start of `buf`: the request and its
/// length in bytes, or `None` if `buf` ends before the request does
/// ([`RequestDecoder`] without its memory of a partly read request).
///
/// # Errors
/// As [`RequestDecoder::decode`].
pub fn parse_request(buf: &[u8]) -> Result<Option<(Args, usize)>, ProtocolError> {
    let (args, used) = RequestDecoder::new().decode(buf)?;
    Ok(args.map(|args| (args, used)))
}

/// Writes `args` as a request (an array of bulk strings), as clients send
/// them.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.push(b'*');
    push_decimal(out, args.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        push_bulk(out, arg.as_ref());
    }
}

/// A reply, as RESP2 has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`: a simple string (no `\r` or `\n` in it).
    Simple(Cow<'static, str>),
    /// `-ERR ...`: an error; its first word is its kind, as in Redis
    /// (`ERR`, `WRONGTYPE`...).
    Error(Cow<'static, str>),
    /// `:42`.
    Integer(i64),
    /// `$5\r\nhello`: a binary-safe string.
    Bulk(Vec<u8>),
    /// `$-1`: no value (`GET` of a missing key).
    Null,
    /// `*2\r\n...`: replies in order (`MGET`).
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Simple(Cow::Borrowed("OK"));

    /// An error reply; `message` starts with its kind (`ERR ...`).
    pub fn error(message: impl Into<Cow<'static, str>>) -> Self {
        Reply::Error(message.into())
    }

    /// Appends the reply's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => push_line(out, b'+', text),
            Reply::Error(text) => push_line(out, b'-', text),
            Reply::Integer(n) => {
                out.push(b':');
                push_decimal(out, *n);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(bytes) => push_bulk(out, bytes),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                out.push(b'*');
                push_decimal(out, items.len() as i64);
                out.extend_from_slice(b"\r\n");
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// A simple string or error line, `\r` and `\n` written as spaces.
fn push_line(out: &mut Vec<u8>, kind: u8, text: &str) {
    out.push(kind);
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    push_decimal(out, bytes.len() as i64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn push_decimal(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[start..]);
}

/// Reads one reply from the start of `buf` (the client side): the reply
/// and its length, or `None` if `buf` ends before it does. `$-1` and
/// `*-1` both read as [`Reply::Null`].
///
/// # Errors
/// A [`ProtocolError`] for bytes that are not a reply, or one nested
/// deeper than [`MAX_REPLY_DEPTH`].
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    parse_reply_at(buf, 0)
}

fn parse_reply_at(buf: &[u8], depth: usize) -> Result<Option<(Reply, usize)>, ProtocolError> {
    if depth > MAX_REPLY_DEPTH {
        return Err(ProtocolError::TooDeep);
    }
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let Some(end) = buf[1..].windows(2).position(|pair| pair == b"\r\n") else {
        return Ok(None);
    };
    let line = &buf[1..=end];
    let after_line = end + 3;
    let integer = || parse_i64(line).ok_or(ProtocolError::InvalidInteger);
    let text = || Cow::Owned(String::from_utf8_lossy(line).into_owned());
    match kind {
        b'+' => Ok(Some((Reply::Simple(text()), after_line))),
        b'-' => Ok(Some((Reply::Error(text()), after_line))),
        b':' => Ok(Some((Reply::Integer(integer()?), after_line))),
        b'$' => match integer()? {
            -1 => Ok(Some((Reply::Null, after_line))),
            len if len < 0 || len as u64 > MAX_BULK_LEN as u64 => {
                Err(ProtocolError::InvalidBulkLength)
            }
            len => {
                let len = len as usize;
                let rest = &buf[after_line..];
                if rest.len() < len + 2 {
                    return Ok(None);
                }
                if &rest[len..len + 2] != b"\r\n" {
                    return Err(ProtocolError::ExpectedCrlf);
                }
                Ok(Some((
                    Reply::Bulk(rest[..len].to_vec()),
                    after_line + len + 2,
                )))
            }
        },
        b'*' => match integer()? {
            -1 => Ok(Some((Reply::Null, after_line))),
            len if len < 0 || len as u64 > MAX_ARRAY_LEN as u64 => {
                Err(ProtocolError::InvalidArrayLength)
            }
            len => {
                let mut items = Vec::with_capacity((len as usize).min(16));
                let mut at = after_line;
                for _ in 0..len {
                    let Some((item, used)) = parse_reply_at(&buf[at..], depth + 1)? else {
                        return Ok(None);
                    };
                    items.push(item);
                    at += used;
                }
                Ok(Some((Reply::Array(items), at)))
            }
        },
        other => Err(ProtocolError::UnknownReplyType(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(words: &[&str]) -> Args {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn encoded(reply: &Reply) -> Vec<u8> {
        let mut out = Vec::new();
        reply.encode(&mut out);
        out
    }

    /// Decodes `input` in one decoder, fed in the pieces given: every
    /// request, or the first error.
    fn decode_pieces(pieces: &[&[u8]]) -> Result<Vec<Args>, ProtocolError> {
        let mut decoder = RequestDecoder::new();
        let mut buf = Vec::new();
        let mut requests = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                let (request, used) = decoder.decode(&buf)?;
                buf.drain(..used);
                match request {
                    Some(request) => requests.push(request),
                    None => break,
                }
            }
        }
        Ok(requests)
    }

    #[test]
    fn an_array_of_bulk_strings_is_a_request() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        assert_eq!(
            parse_request(input),
            Ok(Some((
                vec![b"SET".to_vec(), b"k".to_vec(), Vec::new()],
                input.len()
            )))
        );
    }

    #[test]
    fn a_bulk_string_is_binary_safe() {
        let input = b"*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n";
        assert_eq!(
            parse_request(input),
            Ok(Some((
                vec![b"GET".to_vec(), b"a\r\nb".to_vec()],
                input.len()
            )))
        );
    }

    #[test]
    fn an_inline_command_is_a_request() {
        assert_eq!(parse_request(b"PING\r\n"), Ok(Some((args(&["PING"]), 6))));
        assert_eq!(
            parse_request(b"  set  k  v\n"),
            Ok(Some((args(&["set", "k", "v"]), 12)))
        );
    }

    #[test]
    fn inline_quotes_follow_redis() {
        let request = |line: &[u8]| parse_request(line).map(|r| r.map(|(args, _)| args));
        assert_eq!(
            request(b"SET \"a b\" 'c\\'d'\r\n"),
            Ok(Some(args(&["SET", "a b", "c'd"])))
        );
        assert_eq!(
            request(b"SET k \"\\x41\\n\\q\"\r\n"),
            Ok(Some(args(&["SET", "k", "A\nq"])))
        );
        assert_eq!(
            request(b"GET \"k\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            request(b"GET \"k\"x\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(
            decode_pieces(&[b"\r\n*0\r\n*-1\r\n   \n*1\r\n$4\r\nPING\r\n"]),
            Ok(vec![args(&["PING"])])
        );
    }

    #[test]
    fn a_request_cut_anywhere_is_read_once_the_rest_comes() {
        let input: &[u8] = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nPING\r\n";
        for cut in 0..input.len() {
            let (head, tail) = input.split_at(cut);
            assert_eq!(
                decode_pieces(&[head, tail]),
                Ok(vec![args(&["GET", "key"]), args(&["PING"])]),
                "cut at {cut}"
            );
        }
        // Byte by byte.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            decode_pieces(&bytes),
            Ok(vec![args(&["GET", "key"]), args(&["PING"])])
        );
    }

    #[test]
    fn complete_elements_are_consumed_before_the_array_ends() {
        let mut decoder = RequestDecoder::new();
        assert_eq!(decoder.decode(b"*3\r\n$1\r\na\r\n$2\r\nb"), Ok((None, 15)));
        assert!(decoder.is_mid_request());
        // The caller passes again what was not consumed ("b"), and more.
        assert_eq!(
            decoder.decode(b"bb\r\n$1\r\nc\r\n"),
            Ok((Some(args(&["a", "bb", "c"])), 11))
        );
        assert!(!decoder.is_mid_request());
    }

    #[test]
    fn lengths_beyond_the_limits_are_errors() {
        // A 1 GiB bulk: refused at its header, nothing allocated.
        assert_eq!(
            parse_request(b"*2\r\n$3\r\nSET\r\n$1073741824\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        let max_bulk = format!("*1\r\n${MAX_BULK_LEN}\r\n");
        assert_eq!(parse_request(max_bulk.as_bytes()), Ok(None));
        let over = format!("*1\r\n${}\r\n", MAX_BULK_LEN + 1);
        assert_eq!(
            parse_request(over.as_bytes()),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_request(format!("*{}\r\n", MAX_ARRAY_LEN + 1).as_bytes()),
            Err(ProtocolError::InvalidArrayLength)
        );
        assert_eq!(
            parse_request(format!("*{MAX_ARRAY_LEN}\r\n").as_bytes()),
            Ok(None)
        );
        assert_eq!(
            parse_request(b"*99999999999999999999\r\n"),
            Err(ProtocolError::InvalidArrayLength)
        );
    }

    #[test]
    fn garbage_lengths_are_errors() {
        for header in [
            &b"*x\r\n"[..],
            b"*+1\r\n",
            b"*01\r\n",
            b"* 1\r\n",
            b"*\r\n",
            b"*1\rx",
        ] {
            assert_eq!(
                parse_request(header),
                Err(ProtocolError::InvalidArrayLength),
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
        for header in [&b"*1\r\n$-1\r\n"[..], b"*1\r\n$-0\r\n", b"*1\r\n$abc\r\n"] {
            assert_eq!(parse_request(header), Err(ProtocolError::InvalidBulkLength));
        }
        assert_eq!(
            parse_request(b"*1\r\n:1\r\n"),
            Err(ProtocolError::ExpectedBulk(b':'))
        );
        assert_eq!(
            parse_request(b"*1\r\n$1\r\nab\r\n"),
            Err(ProtocolError::ExpectedCrlf)
        );
    }

    #[test]
    fn lines_without_an_end_are_errors_past_64_kib() {
        let long = vec![b'a'; MAX_INLINE_LEN];
        assert_eq!(parse_request(&long), Ok(None));
        let longer = vec![b'a'; MAX_INLINE_LEN + 1];
        assert_eq!(parse_request(&longer), Err(ProtocolError::InlineTooLong));
        let mut header = b"*1".to_vec();
        header.resize(MAX_INLINE_LEN + 1, b'1');
        assert_eq!(
            parse_request(&header),
            Err(ProtocolError::ArrayHeaderTooLong)
        );
        let mut bulk = b"*1\r\n$1".to_vec();
        bulk.resize(MAX_INLINE_LEN + 5, b'1');
        assert_eq!(parse_request(&bulk), Err(ProtocolError::BulkHeaderTooLong));
    }

    #[test]
    fn protocol_errors_read_as_redis_writes_them() {
        assert_eq!(
            encoded(&ProtocolError::InvalidBulkLength.reply()),
            b"-ERR Protocol error: invalid bulk length\r\n"
        );
        assert_eq!(
            encoded(&ProtocolError::ExpectedBulk(b'x').reply()),
            b"-ERR Protocol error: expected '$', got 'x'\r\n"
        );
        assert_eq!(
            encoded(&ProtocolError::UnbalancedQuotes.reply()),
            b"-ERR Protocol error: unbalanced quotes in request\r\n"
        );
    }

    #[test]
    fn replies_encode_as_resp2() {
        assert_eq!(encoded(&Reply::OK), b"+OK\r\n");
        assert_eq!(encoded(&Reply::error("ERR no")), b"-ERR no\r\n");
        assert_eq!(encoded(&Reply::Integer(-42)), b":-42\r\n");
        assert_eq!(
            encoded(&Reply::Integer(i64::MIN)),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(encoded(&Reply::Bulk(b"hi".to_vec())), b"$2\r\nhi\r\n");
        assert_eq!(encoded(&Reply::Bulk(Vec::new())), b"$0\r\n\r\n");
        assert_eq!(encoded(&Reply::Null), b"$-1\r\n");
        assert_eq!(
            encoded(&Reply::Array(vec![Reply::Bulk(b"a".to_vec()), Reply::Null])),
            b"*2\r\n$1\r\na\r\n$-1\r\n"
        );
        assert_eq!(encoded(&Reply::Array(Vec::new())), b"*0\r\n");
    }

    #[test]
    fn no_line_break_reaches_a_simple_string_or_error() {
        assert_eq!(
            encoded(&Reply::error("ERR unknown command 'a\r\n+OK'")),
            b"-ERR unknown command 'a  +OK'\r\n"
        );
    }

    #[test]
    fn integers_parse_as_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.5",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn replies_parse_back() {
        let input = b"*3\r\n+OK\r\n$-1\r\n:7\r\nextra";
        assert_eq!(
            parse_reply(input),
            Ok(Some((
                Reply::Array(vec![Reply::OK, Reply::Null, Reply::Integer(7)]),
                input.len() - 5
            )))
        );
        assert_eq!(parse_reply(b"*2\r\n+OK\r\n"), Ok(None));
        let deep = b"*1\r\n".repeat(MAX_REPLY_DEPTH + 2);
        assert_eq!(parse_reply(&deep), Err(ProtocolError::TooDeep));
    }

    fn reply_strategy() -> impl Strategy<Value = Reply> {
        let line = "[^\r\n]{0,20}".prop_map(Cow::Owned);
        let leaf = prop_oneof![
            line.clone().prop_map(Reply::Simple),
            line.prop_map(Reply::Error),
            any::<i64>().prop_map(Reply::Integer),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Reply::Bulk),
            Just(Reply::Null),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            proptest::collection::vec(inner, 0..6).prop_map(Reply::Array)
        })
    }

    fn request_strategy() -> impl Strategy<Value = Args> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 1..6)
    }

    /// Fixed seed, so that CI runs the same cases every time; set
    /// `PROPTEST_SEED` to explore others locally.
    fn config() -> ProptestConfig {
        let seed = std::env::var("PROPTEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x7265_7370);
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn an_encoded_reply_parses_back_whole(reply in reply_strategy()) {
            let bytes = encoded(&reply);
            prop_assert_eq!(parse_reply(&bytes), Ok(Some((reply, bytes.len()))));
            for cut in 0..bytes.len() {
                prop_assert_eq!(parse_reply(&bytes[..cut]), Ok(None));
            }
        }

        #[test]
        fn encoded_requests_decode_back_in_any_pieces(
            requests in proptest::collection::vec(request_strategy(), 1..5),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut bytes = Vec::new();
            for request in &requests {
                encode_request(request, &mut bytes);
            }
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                pieces.push(&bytes[from..cut]);
                from = cut;
            }
            prop_assert_eq!(decode_pieces(&pieces), Ok(requests));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            split in any::<prop::sample::Index>(),
        ) {
            if let Ok(Some((_, used))) = parse_request(&bytes) {
                prop_assert!(used <= bytes.len());
            }
            if let Ok(Some((_, used))) = parse_reply(&bytes) {
                prop_assert!(used <= bytes.len());
            }
            let (head, tail) = bytes.split_at(split.index(bytes.len() + 1));
            let _ = decode_pieces(&[head, tail]);
        }

        #[test]
        fn resp_like_bytes_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()),
                    Just(b"\r".to_vec()), Just(b"\n".to_vec()), Just(b"-1".to_vec()),
                    Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\x".to_vec()),
                    "[0-9]{1,3}".prop_map(String::into_bytes),
                    "[a-z ]{1,4}".prop_map(String::into_bytes),
                ],
                0..40,
            ),
        ) {
            let bytes = parts.concat();
            let whole = decode_pieces(&[&bytes]);
            let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
            // Fed whole or byte by byte, a stream reads the same.
            prop_assert_eq!(decode_pieces(&byte_by_byte), whole);
            let _ = parse_reply(&bytes);
        }
    }
}
