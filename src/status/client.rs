//! `warden status [--addr HOST:PORT] [--json]`: fetches `GET /status` from
//! a running warden over plain HTTP/1.1 and prints it as a short table
//! ([`super::table`]) or as the raw JSON.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::json::SCHEMA_VERSION;
use crate::config::defaults::DEFAULT_STATUS_LISTEN;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the whole answer may take.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

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
    /// It answered with an error status.
    #[error("the warden status server at {addr} answered {status}: {message}")]
    Status {
        /// The address tried.
        addr: SocketAddr,
        /// HTTP status code.
        status: u16,
        /// The error text of its answer.
        message: String,
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
        reason: format!("the answer is not JSON ({e})"),
    })?;
    check_schema(addr, &doc)?;
    let text = if json {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        super::table::render(&doc)
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
        served: served.to_string(),
        daemon_version: doc
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
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
/// [`ANSWER_TIMEOUT`] of connecting.
pub fn fetch(addr: SocketAddr, path: &str) -> Result<Vec<u8>, ClientError> {
    fetch_within(addr, path, ANSWER_TIMEOUT)
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
    let raw = read_answer(answer.take(MAX_ANSWER_BYTES)).map_err(|e| match e {
        ReadFailure::NotHttp(first_bytes) => ClientError::NotHttp {
            addr,
            what_it_sent: if request.starts_with(&first_bytes) {
                "it echoed the request back".to_string()
            } else {
                format!("it sent {first_bytes:?}")
            },
        },
        ReadFailure::Io(os_error) => io_error(os_error),
    })?;
    let (status, body) =
        split_answer(&raw).map_err(|reason| ClientError::NotWarden { addr, reason })?;
    if status != 200 {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
        return Err(ClientError::Status {
            addr,
            status,
            message,
        });
    }
    Ok(body.to_vec())
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
    /// Reading failed (or timed out).
    Io(io::Error),
}

/// Reads an answer to EOF, but gives up as soon as its first bytes show it
/// is not HTTP: a server of another protocol (an echo service, SSH) may
/// never close, and waiting for it would only end in a misleading timeout.
fn read_answer(mut answer: impl Read) -> Result<Vec<u8>, ReadFailure> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match answer.read(&mut chunk) {
            Ok(0) => return Ok(raw),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadFailure::Io(e)),
        };
        let checked = raw.len();
        raw.extend_from_slice(&chunk[..n]);
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

/// Splits an HTTP/1.1 answer (read to EOF) into status code and body.
fn split_answer(raw: &[u8]) -> Result<(u16, &[u8]), String> {
    let end = super::http::head_end(raw).ok_or("the answer has no complete HTTP head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the answer's head is not text")?;
    let status_line = head.lines().next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut body = &raw[end..];
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
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
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_addresses_and_names_bad_ones() {
        assert_eq!(resolve(None).unwrap(), [DEFAULT_STATUS_LISTEN]);
        assert_eq!(resolve(Some("127.0.0.1:1234")).unwrap()[0].port(), 1234);
        assert_eq!(resolve(Some("[::1]:80")).unwrap()[0].port(), 80);
        let err = resolve(Some("127.0.0.1")).unwrap_err().to_string();
        assert!(
            err.contains("--addr \"127.0.0.1\"") && err.contains("HOST:PORT"),
            "{err}"
        );
    }

    #[test]
    fn splits_answers() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing";
        assert_eq!(split_answer(raw).unwrap(), (200, &b"{}"[..]));
        let raw = b"HTTP/1.1 503 Service Unavailable\r\n\r\n{\"error\":\"x\"}";
        assert_eq!(split_answer(raw).unwrap().0, 503);
        assert!(split_answer(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(
            split_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                .unwrap_err()
                .contains("cut short")
        );
    }

    #[test]
    fn refused_connections_say_what_to_check() {
        // Bind then drop: the port is very likely free and refuses.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let err = fetch(addr, "/status").unwrap_err();
        assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("no warden status server at 127.0.0.1:")
                && text.contains("is warden running?"),
            "{text}"
        );
    }

    /// A server of another protocol on 127.0.0.1:0 that sends `greeting`,
    /// then echoes what it reads and never closes first (like warden's own
    /// echo service).
    fn echo_server(greeting: &'static [u8]) -> (SocketAddr, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(greeting).unwrap();
            // Bounded: the client closes long before this.
            conn.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        });
        (addr, thread)
    }

    #[test]
    fn an_echo_port_is_named_as_not_http_instead_of_timing_out() {
        let (addr, server) = echo_server(b"");
        let err = fetch(addr, "/status").unwrap_err();
        assert!(matches!(err, ClientError::NotHttp { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{addr} answered, but not with HTTP"))
                && text.contains("(it echoed the request back)")
                && text.contains("is it a warden status port?")
                && text.contains("status.listen, default 127.0.0.1:9181"),
            "{text}"
        );
        server.join().unwrap();
    }

    #[test]
    fn another_protocol_is_quoted() {
        let (addr, server) = echo_server(b"SSH-2.0-OpenSSH_9.2\r\n");
        let err = fetch(addr, "/status").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("answered, but not with HTTP (it sent \"SSH-2.0-OpenSSH_9.2"),
            "{text}"
        );
        server.join().unwrap();
    }

    /// Hands out `chunks` one read at a time, then fails like a read timeout.
    struct Trickle(Vec<&'static [u8]>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        }
    }

    #[test]
    fn the_first_byte_that_is_not_http_ends_the_read() {
        // No timeout needed: it stops on the 'S' before asking for more.
        let err = read_answer(Trickle(vec![b"S"])).unwrap_err();
        assert!(
            matches!(&err, ReadFailure::NotHttp(s) if s == "S"),
            "{err:?}"
        );
        let err = read_answer(Trickle(vec![b"HT", b"TP/1.1 200 OK\r\n", b"\r\n"])).unwrap_err();
        assert!(
            matches!(err, ReadFailure::Io(_)),
            "an HTTP answer split across reads is read on: {err:?}"
        );
        let err = read_answer(Trickle(vec![b"HT", b"XP/1.1"])).unwrap_err();
        assert!(
            matches!(&err, ReadFailure::NotHttp(s) if s == "HTXP/1.1"),
            "{err:?}"
        );
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(read_answer(&whole[..]).unwrap(), whole);
        assert_eq!(read_answer(&b""[..]).unwrap(), b"");
    }

    #[test]
    fn only_the_understood_schema_is_accepted() {
        let addr = DEFAULT_STATUS_LISTEN;
        let doc = serde_json::json!({"schema": SCHEMA_VERSION, "version": "0.1.0"});
        check_schema(addr, &doc).unwrap();

        let newer = serde_json::json!({"schema": 2, "version": "9.9.9"});
        let err = check_schema(addr, &newer).unwrap_err();
        assert!(matches!(err, ClientError::SchemaMismatch { .. }), "{err:?}");
        assert!(!err.is_usage());
        assert_eq!(
            err.to_string(),
            format!(
                "the warden at 127.0.0.1:9181 (version 9.9.9) serves status schema 2, \
                 but this `warden status` (version {}) understands only schema 1: \
                 the client and the daemon are different warden versions; run the `warden` \
                 binary that matches the running daemon (the raw document is at \
                 http://127.0.0.1:9181/status)",
                env!("CARGO_PKG_VERSION")
            )
        );

        for (served, shown) in [
            (serde_json::json!("1"), "schema \"1\""),
            (serde_json::json!(0), "schema 0"),
            (serde_json::json!(1.5), "schema 1.5"),
            (serde_json::json!(null), "schema null"),
        ] {
            let doc = serde_json::json!({ "schema": served });
            let text = check_schema(addr, &doc).unwrap_err().to_string();
            assert!(
                text.contains(&format!("(version unknown) serves status {shown},")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_missing_schema_is_named() {
        for doc in [
            serde_json::json!({"version": "0.1.0"}),
            serde_json::json!([1]),
        ] {
            let err = check_schema(DEFAULT_STATUS_LISTEN, &doc).unwrap_err();
            assert!(matches!(err, ClientError::NotWarden { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "127.0.0.1:9181 did not answer like a warden status server: its JSON has no \
                 \"schema\" field (a warden status document has \"schema\": 1)"
            );
        }
    }

    #[test]
    fn io_errors_are_printed_once() {
        let os_error = io::Error::from_raw_os_error(libc::ECONNRESET);
        let os_text = os_error.to_string();
        let err = ClientError::Io {
            addr: DEFAULT_STATUS_LISTEN,
            os_error,
        };
        let text = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(text.matches(&os_text).count(), 1, "{text}");
    }

    /// A server on 127.0.0.1:0 that sends `answer` one byte every `gap`
    /// (bounded: it stops when the client goes away).
    fn trickling_server(answer: &'static [u8], gap: Duration) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Take the request first, so closing does not reset the connection.
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = conn.read(&mut [0u8; 1024]);
            for byte in answer {
                if conn.write_all(std::slice::from_ref(byte)).is_err() {
                    return;
                }
                std::thread::sleep(gap);
            }
        });
        addr
    }

    #[test]
    fn a_trickled_answer_cannot_outlast_the_answer_timeout() {
        // 51 bytes at one per 100 ms take 5.1 s; the whole answer is due in 1 s.
        let addr = trickling_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"schema\":1}",
            Duration::from_millis(100),
        );
        let err = fetch_within(addr, "/status", Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    }

    #[test]
    fn a_refusing_address_falls_through_to_the_next() {
        let refusing = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let serving = trickling_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"schema\":1}",
            Duration::ZERO,
        );
        let (addr, body) = fetch_first(&[refusing, serving], "/status").unwrap();
        assert_eq!((addr, &body[..]), (serving, &b"{\"schema\":1}"[..]));
        let err = fetch_first(&[refusing], "/status").unwrap_err();
        assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
    }
}
