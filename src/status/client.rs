//! `warden status [--addr HOST:PORT] [--json]`: fetches `GET /status` from
//! a running warden over plain HTTP/1.1 and prints it as a short table
//! ([`super::table`]) or as the raw JSON. An answer that is not a warden's
//! (an HTML error page, another service) is quoted by its first
//! [`EXCERPT_CHARS`] characters on one line, never dumped whole, and is
//! named as not a warden's: warden's own error bodies are always JSON
//! `{"error", "status"}`. A busy warden (`503` with `Retry-After`) is asked
//! once more after at most [`MAX_RETRY_WAIT`]. Nothing the server sends
//! reaches the terminal as a control character: they are printed escaped.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::head_end;
use super::json::SCHEMA_VERSION;
use super::table::{printable, MissingField};
use crate::config::defaults::DEFAULT_STATUS_LISTEN;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the whole answer may take.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read.
pub const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;
/// Longest wait before the one retry of a busy answer (`503` with `Retry-After`),
/// whatever `Retry-After` asks.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);
/// Most characters of an answer's body quoted in an error.
pub const EXCERPT_CHARS: usize = 200;

/// Why `warden status` failed. OS errors are part of the message, not an
/// error `source`, so the chain printed with `{:#}` names them once.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `--addr` is not HOST:PORT.
    #[error("--addr {addr:?}: {reason}; expected HOST:PORT, e.g. 127.0.0.1:9181")]
    BadAddress {
        /// What was given.
        addr: String,
        /// Why it is wrong.
        reason: String,
    },
    /// Nothing listens there.
    #[error("no warden status server at {addr}: connection refused; is warden running? see status.listen in its config")]
    Refused {
        /// The address tried.
        addr: SocketAddr,
    },
    /// Connecting or talking failed otherwise.
    #[error("cannot talk to the warden status server at {addr}: {os_error}")]
    Io {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        os_error: io::Error,
    },
    /// No complete answer in time.
    #[error("the warden status server at {addr} did not answer within {} s", ANSWER_TIMEOUT.as_secs())]
    Timeout {
        /// The address tried.
        addr: SocketAddr,
    },
    /// It answered with an error status and a warden error body.
    #[error("the warden status server at {addr} answered HTTP {status}: {message}")]
    Status {
        /// The address tried.
        addr: SocketAddr,
        /// HTTP status code.
        status: u16,
        /// The `error` text of its JSON answer, escaped and shortened.
        message: String,
        /// What its `Retry-After` header asked for (delay-seconds form), if anything.
        retry_after: Option<Duration>,
    },
    /// The answer is over [`MAX_ANSWER_BYTES`]: far more than any status document.
    #[error(
        "{addr} sent an answer larger than the {} MiB `warden status` reads{}: a warden status \
         document is a few kB, so this is not a warden status server (is --addr right? the \
         status page is on status.listen, default {DEFAULT_STATUS_LISTEN})",
        MAX_ANSWER_BYTES >> 20,
        declared.map(|n| format!(" ({n} bytes announced)")).unwrap_or_default()
    )]
    TooLarge {
        /// The address tried.
        addr: SocketAddr,
        /// Its `Content-Length`, when it sent one.
        declared: Option<u64>,
    },
    /// Something answers there, but not in HTTP (another service's port).
    #[error(
        "{addr} answered, but not with HTTP ({what_it_sent}): is it a warden status port? \
         (the status page is on status.listen, default {DEFAULT_STATUS_LISTEN})"
    )]
    NotHttp {
        /// The address tried.
        addr: SocketAddr,
        /// "it echoed the request back", or `it sent "<its first bytes>"`.
        what_it_sent: String,
    },
    /// It answered HTTP, but not like a warden status server.
    #[error("{addr} did not answer like a warden status server: {reason}")]
    NotWarden {
        /// The address tried.
        addr: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// It serves another layout of the status document than this client
    /// reads: the client and the daemon are different warden versions.
    #[error(
        "the warden at {addr} (version {daemon_version}) serves status schema {served}, \
         but this `warden status` (version {}) understands only schema {SCHEMA_VERSION}: \
         the client and the daemon are different warden versions; run the `warden` binary \
         that matches the running daemon (the raw document is at http://{addr}/status)",
        env!("CARGO_PKG_VERSION")
    )]
    SchemaMismatch {
        /// The address tried.
        addr: SocketAddr,
        /// The `schema` value it served, as JSON (`2`, `"1"`).
        served: String,
        /// Its `version` field, or "unknown".
        daemon_version: String,
    },
    /// The document says it is schema [`SCHEMA_VERSION`] but lacks what the
    /// table shows: printing it would give a table of "?".
    #[error(
        "the status document from {addr} says \"schema\": {SCHEMA_VERSION} but lacks {missing}, \
         which the table shows; it is not a whole warden status document \
         (`warden status --addr {addr} --json` prints it as it came)"
    )]
    Incomplete {
        /// The address tried.
        addr: SocketAddr,
        /// The first section or field the table needs that it lacks.
        missing: MissingField,
    },
    /// Printing failed (stdout closed).
    #[error("cannot print the status: {0}")]
    Print(io::Error),
}

impl ClientError {
    /// True when the command line was wrong (exit 2), not the server or the network (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, ClientError::BadAddress { .. })
    }
}

/// Runs `warden status`: prints the status of the warden at `addr`
/// (default `127.0.0.1:9181`) as a table, or as JSON with `json`.
pub fn run(addr: Option<&str>, json: bool) -> Result<(), ClientError> {
    let (addr, body) = fetch_first(&resolve(addr)?, "/status")?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| ClientError::NotWarden {
        addr,
        reason: format!(
            "it answered HTTP 200 with a body that is not JSON ({e}): {}",
            excerpt(&body)
        ),
    })?;
    check_schema(addr, &doc)?;
    let text = if json {
        json_for_terminal(&String::from_utf8_lossy(&body))
    } else {
        super::table::render(&doc).map_err(|missing| ClientError::Incomplete { addr, missing })?
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .map_err(ClientError::Print)
}

/// `json` (a valid JSON text) with every control character but the
/// whitespace between tokens written as a `\uXXXX` escape: the same JSON
/// value, which cannot drive the terminal. (Raw controls can only be inside
/// strings, where the escape means the same; JSON itself forbids those below
/// U+0020 there, but DEL and the C1 range, such as U+009B CSI, are allowed raw.)
pub fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if crate::text::needs_escape(c) && !matches!(c, '\n' | '\r' | '\t') {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Accepts a `/status` document only in the layout this client reads,
/// [`SCHEMA_VERSION`]: a table or `--json` output of another layout would
/// be silently wrong or empty.
pub fn check_schema(addr: SocketAddr, doc: &Value) -> Result<(), ClientError> {
    let Some(served) = doc.get("schema") else {
        return Err(ClientError::NotWarden {
            addr,
            reason: format!(
                "its JSON has no \"schema\" field (a warden status document has \"schema\": {SCHEMA_VERSION})"
            ),
        });
    };
    if served.as_u64() == Some(u64::from(SCHEMA_VERSION)) {
        return Ok(());
    }
    Err(ClientError::SchemaMismatch {
        addr,
        served: printable(&served.to_string()),
        daemon_version: printable(
            doc.get("version")
                .and_then(Value::as_str)
                .unwrap_or("unknown"),
        ),
    })
}

/// `--addr` (or the default) as the socket addresses it resolves to, never none.
/// A name such as `localhost` may give `::1` first while warden listens on
/// 127.0.0.1 only, so every one is kept for [`fetch_first`].
pub fn resolve(addr: Option<&str>) -> Result<Vec<SocketAddr>, ClientError> {
    let Some(text) = addr else {
        return Ok(vec![DEFAULT_STATUS_LISTEN]);
    };
    let bad = |reason: String| ClientError::BadAddress {
        addr: text.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(bad("it resolves to no address".into()));
    }
    Ok(addrs)
}

/// GETs `path` from the first of `addrs` that takes the connection, as curl
/// does; the error is the last address's when none does.
pub fn fetch_first(addrs: &[SocketAddr], path: &str) -> Result<(SocketAddr, Vec<u8>), ClientError> {
    let mut last = None;
    for &addr in addrs {
        match fetch(addr, path) {
            Ok(body) => return Ok((addr, body)),
            Err(e @ (ClientError::Refused { .. } | ClientError::Io { .. })) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("resolve never returns an empty list"))
}

/// GETs `path` and returns the body of a 200 answer, all of it within
/// [`ANSWER_TIMEOUT`] of connecting. A `503` with `Retry-After` (a busy
/// warden) is retried once, after the delay it asks for but at most
/// [`MAX_RETRY_WAIT`].
pub fn fetch(addr: SocketAddr, path: &str) -> Result<Vec<u8>, ClientError> {
    match fetch_within(addr, path, ANSWER_TIMEOUT) {
        Err(ClientError::Status {
            status: 503,
            retry_after: Some(wait),
            ..
        }) => {
            std::thread::sleep(retry_delay(wait));
            fetch_within(addr, path, ANSWER_TIMEOUT)
        }
        other => other,
    }
}

/// How long to wait before the one retry a busy answer asking for `asked` gets.
fn retry_delay(asked: Duration) -> Duration {
    asked.min(MAX_RETRY_WAIT)
}

/// A stream whose reads all end by one deadline: a server that trickles a
/// byte now and then cannot stretch the answer past it.
struct DeadlineReader {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// [`fetch`] with the whole answer due within `answer_timeout`.
fn fetch_within(
    addr: SocketAddr,
    path: &str,
    answer_timeout: Duration,
) -> Result<Vec<u8>, ClientError> {
    let io_error = |os_error: io::Error| match os_error.kind() {
        io::ErrorKind::ConnectionRefused => ClientError::Refused { addr },
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout { addr },
        _ => ClientError::Io { addr, os_error },
    };
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(io_error)?;
    let deadline = Instant::now() + answer_timeout;
    stream
        .set_write_timeout(Some(answer_timeout))
        .map_err(io_error)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nUser-Agent: warden-status/{}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).map_err(io_error)?;
    let answer = DeadlineReader { stream, deadline };
    let raw = read_answer(answer, MAX_ANSWER_BYTES).map_err(|e| match e {
        ReadFailure::NotHttp(first_bytes) => ClientError::NotHttp {
            addr,
            what_it_sent: if request.starts_with(&first_bytes) {
                "it echoed the request back".to_string()
            } else {
                format!("it sent {first_bytes:?}")
            },
        },
        ReadFailure::TooLarge(declared) => ClientError::TooLarge { addr, declared },
        ReadFailure::Io(os_error) => io_error(os_error),
    })?;
    let SplitAnswer {
        status,
        body,
        retry_after,
    } = split_answer(&raw).map_err(|reason| ClientError::NotWarden { addr, reason })?;
    if status == 200 {
        return Ok(body.to_vec());
    }
    // Every warden error body is JSON with an "error" string: anything else
    // (an HTML 404 page, another API's JSON) comes from something else.
    let warden_error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(excerpt_text));
    match warden_error {
        Some(message) => Err(ClientError::Status {
            addr,
            status,
            message,
            retry_after,
        }),
        None => Err(ClientError::NotWarden {
            addr,
            reason: format!(
                "it answered HTTP {status} with a body that is not warden's JSON error: {}",
                excerpt(body)
            ),
        }),
    }
}

/// An answer's body for an error message: on one line, control characters
/// escaped, cut after [`EXCERPT_CHARS`] characters with the whole size said.
pub fn excerpt(body: &[u8]) -> String {
    match one_line(&String::from_utf8_lossy(body)) {
        (text, _) if text.is_empty() => "(an empty body)".to_string(),
        (text, true) => format!("{text}… ({} bytes in all)", body.len()),
        (text, false) => text,
    }
}

/// The error text of a JSON error answer, as [`excerpt`] shows a body.
fn excerpt_text(text: &str) -> String {
    match one_line(text) {
        (text, true) => format!("{text}…"),
        (text, false) => text,
    }
}

/// `text` trimmed, control characters escaped, and at most
/// [`EXCERPT_CHARS`] characters of it; true when it was cut.
fn one_line(text: &str) -> (String, bool) {
    let trimmed = text.trim();
    let excerpt: String = trimmed.chars().take(EXCERPT_CHARS).collect();
    let cut = excerpt.len() < trimmed.len();
    (crate::text::escape_controls(&excerpt).into_owned(), cut)
}

/// Every HTTP/1.x answer starts with this.
const HTTP_PREFIX: &[u8] = b"HTTP/";
/// Most bytes of a non-HTTP answer quoted in the error.
const QUOTED_BYTES: usize = 40;

/// Why [`read_answer`] stopped short.
#[derive(Debug)]
enum ReadFailure {
    /// The first bytes are not an HTTP status line; the start of them.
    NotHttp(String),
    /// The answer is over the limit; its `Content-Length`, if it has one.
    TooLarge(Option<u64>),
    /// Reading failed (or timed out).
    Io(io::Error),
}

/// Reads an answer of at most `limit` bytes to EOF, but gives up as soon as
/// its first bytes show it is not HTTP: a server of another protocol (an
/// echo service, SSH) may never close, and waiting for it would only end in
/// a misleading timeout. A head announcing a body over `limit` ends it too.
fn read_answer(answer: impl Read, limit: u64) -> Result<Vec<u8>, ReadFailure> {
    let mut answer = answer.take(limit.saturating_add(1));
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut head_checked = false;
    loop {
        let n = match answer.read(&mut chunk) {
            Ok(0) if raw.len() as u64 > limit => {
                let declared = head_end(&raw).and_then(|end| content_length(&raw[..end]));
                return Err(ReadFailure::TooLarge(declared));
            }
            Ok(0) => return Ok(raw),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadFailure::Io(e)),
        };
        let checked = raw.len();
        raw.extend_from_slice(&chunk[..n]);
        if !head_checked {
            if let Some(end) = head_end(&raw) {
                head_checked = true;
                let declared = content_length(&raw[..end]);
                if declared.is_some_and(|length| length > limit) {
                    return Err(ReadFailure::TooLarge(declared));
                }
            }
        }
        if checked < HTTP_PREFIX.len() {
            let seen = raw.len().min(HTTP_PREFIX.len());
            if raw[..seen] != HTTP_PREFIX[..seen] {
                let quoted = &raw[..raw.len().min(QUOTED_BYTES)];
                return Err(ReadFailure::NotHttp(
                    String::from_utf8_lossy(quoted).into_owned(),
                ));
            }
        }
    }
}

/// The `Content-Length` of a head, if it has a readable one.
fn content_length(head: &[u8]) -> Option<u64> {
    header(head, "content-length")?.parse().ok()
}

/// The value of header `name` (lowercase) in a head, trimmed.
fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    std::str::from_utf8(head).ok()?.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The parts of an answer `warden status` looks at.
#[derive(Debug, PartialEq, Eq)]
struct SplitAnswer<'a> {
    status: u16,
    body: &'a [u8],
    /// `Retry-After` in its delay-seconds form (an HTTP-date is not honoured).
    retry_after: Option<Duration>,
}

/// Splits an HTTP/1.1 answer (read to EOF) into status code, body and `Retry-After`.
fn split_answer(raw: &[u8]) -> Result<SplitAnswer<'_>, String> {
    let end = head_end(raw).ok_or("the answer has no complete HTTP head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the answer's head is not text")?;
    let status_line = head.lines().next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut body = &raw[end..];
    let length = content_length(&raw[..end]).and_then(|n| usize::try_from(n).ok());
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("content-encoding:"))
    {
        return Err("the answer is compressed although none was asked for".into());
    }
    if let Some(length) = length {
        if body.len() < length {
            return Err(format!(
                "the answer was cut short: {} of {length} body bytes",
                body.len()
            ));
        }
        body = &body[..length];
    }
    let retry_after = header(&raw[..end], "retry-after")
        .and_then(|secs| secs.parse::<u64>().ok())
        .map(Duration::from_secs);
    Ok(SplitAnswer {
        status,
        body,
        retry_after,
    })
}

#[cfg(test)]
mod tests;
