//! The HTTP/1.x wire format the status server speaks, as pure functions:
//! parsing a request head from bytes ([`parse_head`]) and turning a
//! [`Response`] into bytes ([`Response::to_bytes`]).
//!
//! Only what a status endpoint needs: a request line, headers, no body (the
//! server answers every request with `Connection: close`, so a body the
//! client may send is never read as a next request). Heads are capped at
//! [`MAX_HEAD_BYTES`]; anything malformed is an [`HeadError`] that maps to
//! one 4xx/5xx answer.

use std::time::SystemTime;

use crate::logging::civil_from_days;

/// Largest request head accepted (request line plus headers), in bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most header lines accepted in one request.
pub const MAX_HEADERS: usize = 64;

/// The request method, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: a GET without the body.
    Head,
    /// Any other (syntactically valid) method token, answered with 405.
    Other(String),
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            other => Method::Other(other.to_string()),
        }
    }
}

/// A parsed request head: what routing needs and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The path of the target, without the query string.
    pub path: String,
    /// The `Accept-Encoding` header, if present (several are joined by commas).
    pub accept_encoding: Option<String>,
}

impl RequestHead {
    /// A head for `method` and `path` with no headers (tests, the client).
    pub fn new(method: Method, path: &str) -> RequestHead {
        RequestHead {
            method,
            path: path.to_string(),
            accept_encoding: None,
        }
    }

    /// The same head with an `Accept-Encoding` header.
    pub fn with_accept_encoding(mut self, value: &str) -> RequestHead {
        self.accept_encoding = Some(value.to_string());
        self
    }
}

/// Why a request head could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The head exceeds [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    #[error("request head larger than {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} header lines")]
    TooLarge,
    /// The request line is not `METHOD SP TARGET SP HTTP/x.y`.
    #[error("malformed request line: {0}")]
    BadRequestLine(String),
    /// A header line is not `name: value`.
    #[error("malformed header line: {0}")]
    BadHeader(String),
    /// Bytes outside visible ASCII, space and tab.
    #[error("request head is not ASCII text")]
    NotText,
    /// An HTTP version other than 1.0 and 1.1.
    #[error("HTTP version {0} not supported; use HTTP/1.1")]
    Version(String),
}

impl HeadError {
    /// The status code that answers this error.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge => 431,
            HeadError::Version(_) => 505,
            _ => 400,
        }
    }
}

/// Where the end of the head (`CRLF CRLF`, or a bare `LF LF`) is in `buf`:
/// the index just past it, if the head is complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            let rest = &buf[i + 1..];
            if rest.first() == Some(&b'\n') {
                return Some(i + 2);
            }
            if rest.starts_with(b"\r\n") {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Parses a complete request head (as delimited by [`head_end`]).
pub fn parse_head(head: &[u8]) -> Result<RequestHead, HeadError> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    if head
        .iter()
        .any(|&b| !(b == b'\t' || b == b'\r' || b == b'\n' || (0x20..0x7f).contains(&b)))
    {
        return Err(HeadError::NotText);
    }
    // Checked above: every byte is ASCII.
    let text = std::str::from_utf8(head).map_err(|_| HeadError::NotText)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    // RFC 9112 §2.2: ignore at least one empty line before the request line.
    let request_line = lines.by_ref().find(|l| !l.is_empty()).unwrap_or("");
    let (method, path) = parse_request_line(request_line)?;
    let mut accept_encoding: Option<String> = None;
    let mut count = 0;
    for line in lines.take_while(|l| !l.is_empty()) {
        count += 1;
        if count > MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        if line.starts_with([' ', '\t']) {
            return Err(HeadError::BadHeader(format!(
                "obsolete line folding in {line:?}"
            )));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HeadError::BadHeader(format!("{line:?} has no colon")))?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HeadError::BadHeader(format!("bad header name {name:?}")));
        }
        if name.eq_ignore_ascii_case("accept-encoding") {
            let value = value.trim();
            accept_encoding = Some(match accept_encoding {
                Some(before) => format!("{before}, {value}"),
                None => value.to_string(),
            });
        }
    }
    Ok(RequestHead {
        method,
        path,
        accept_encoding,
    })
}

fn parse_request_line(line: &str) -> Result<(Method, String), HeadError> {
    let bad = || HeadError::BadRequestLine(format!("{line:?}"));
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(bad());
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v if v.starts_with("HTTP/") => return Err(HeadError::Version(v.to_string())),
        _ => return Err(bad()),
    }
    // RFC 9112 §3.2.4: `*` (asterisk-form) is a valid target of OPTIONS only;
    // it then reaches routing, which answers every method but GET/HEAD with 405.
    let path = if target == "*" && method == "OPTIONS" {
        target.to_string()
    } else {
        target_path(target).ok_or_else(bad)?
    };
    Ok((Method::from_token(method), path))
}

/// The path of an origin-form (`/a?b`) or absolute-form (`http://h/a?b`) target.
fn target_path(target: &str) -> Option<String> {
    let without_query = target.split(['?', '#']).next().unwrap_or("");
    if without_query.starts_with('/') {
        return Some(without_query.to_string());
    }
    let rest = without_query
        .strip_prefix("http://")
        .or_else(|| without_query.strip_prefix("https://"))?;
    Some(match rest.find('/') {
        Some(slash) => rest[slash..].to_string(),
        None => "/".to_string(),
    })
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Headers every answer carries, whatever its status (docs/STATUS.md,
/// "Behaviour common to all endpoints"): answers are live state, never to be
/// cached, and any of them may be gzipped for a client that asks.
pub const COMMON_HEADERS: [(&str, &str); 2] =
    [("Cache-Control", "no-store"), ("Vary", "Accept-Encoding")];

/// A response ready to be serialised: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Headers besides Content-Type, Content-Length, Date, Connection and
    /// the [`COMMON_HEADERS`], which [`to_bytes`](Self::to_bytes) writes itself.
    pub headers: Vec<(&'static str, String)>,
    /// The body (already encoded when `Content-Encoding` is set).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a body and no extra headers.
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of header `name` (case-insensitive) among the answer's own
    /// headers; the [`COMMON_HEADERS`] are not among them.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The bytes on the wire: status line, headers (the [`COMMON_HEADERS`]
    /// on every answer, error or not), and the body unless `head_only`.
    pub fn to_bytes(&self, now: SystemTime, head_only: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + if head_only { 0 } else { self.body.len() });
        let head = format!(
            "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            http_date(now),
            self.content_type,
            self.body.len()
        );
        out.extend_from_slice(head.as_bytes());
        let own = self.headers.iter().map(|(n, v)| (*n, v.as_str()));
        for (name, value) in COMMON_HEADERS.into_iter().chain(own) {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// The standard reason phrase of the codes this server uses.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// `now` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), for `Date`.
pub fn http_date(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let rem = secs % 86_400;
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_a_browser_request() {
        let raw = b"GET /status?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n";
        let end = head_end(raw).unwrap();
        assert_eq!(end, raw.len());
        let head = parse_head(&raw[..end]).unwrap();
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.path, "/status");
        assert_eq!(head.accept_encoding.as_deref(), Some("gzip, deflate, br"));
    }

    #[test]
    fn head_end_waits_for_the_blank_line_and_accepts_bare_lf() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.0\n\nrest"), Some(16));
        let head = parse_head(b"HEAD / HTTP/1.0\n\n").unwrap();
        assert_eq!(head.method, Method::Head);
    }

    #[test]
    fn other_methods_and_absolute_targets_parse() {
        let head = parse_head(b"DELETE http://localhost:9181/ready HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(head.method, Method::Other("DELETE".into()));
        assert_eq!(head.path, "/ready");
        assert_eq!(
            parse_head(b"GET http://h HTTP/1.1\r\n\r\n").unwrap().path,
            "/"
        );
    }

    #[test]
    fn options_with_the_asterisk_form_parses_and_other_methods_do_not() {
        let head = parse_head(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(head.method, Method::Other("OPTIONS".into()));
        assert_eq!(head.path, "*");
        for raw in [
            &b"GET * HTTP/1.1\r\n\r\n"[..],
            b"OPTIONS *x HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse_head(raw).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn repeated_accept_encoding_headers_are_joined() {
        let head =
            parse_head(b"GET / HTTP/1.1\r\naccept-encoding: br\r\nACCEPT-ENCODING: gzip\r\n\r\n")
                .unwrap();
        assert_eq!(head.accept_encoding.as_deref(), Some("br, gzip"));
    }

    #[test]
    fn malformed_heads_are_errors_with_their_status() {
        let cases: [(&[u8], u16); 8] = [
            (b"GET /\r\n\r\n", 400),
            (b"GET  / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 505),
            (b"GET / FTP/1.0\r\n\r\n", 400),
            (b"GET relative HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
            (b"GET /\xff HTTP/1.1\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            let err = parse_head(raw).unwrap_err();
            assert_eq!(
                err.status(),
                status,
                "{:?}: {err}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn oversized_heads_are_431() {
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        raw.extend(std::iter::repeat(b'a').take(MAX_HEAD_BYTES));
        assert_eq!(parse_head(&raw).unwrap_err(), HeadError::TooLarge);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(parse_head(raw.as_bytes()).unwrap_err().status(), 431);
    }

    #[test]
    fn responses_serialise_with_length_and_close() {
        let response = Response::new(404, "application/json", b"{}".to_vec())
            .with_header("Allow", "GET, HEAD");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let text = String::from_utf8(response.to_bytes(now, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(
            text.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nContent-Length: 2\r\n"));
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
        let head_only = String::from_utf8(response.to_bytes(now, true)).unwrap();
        assert!(head_only.ends_with("\r\n\r\n") && head_only.contains("Content-Length: 2"));
    }

    #[test]
    fn every_status_carries_the_common_headers_once() {
        for status in [200, 400, 404, 405, 408, 431, 500, 503, 505] {
            let response = Response::new(status, "application/json", b"{}".to_vec())
                .with_header("Retry-After", "1");
            for head_only in [false, true] {
                let text = String::from_utf8(response.to_bytes(SystemTime::UNIX_EPOCH, head_only))
                    .unwrap();
                let head = text.split_once("\r\n\r\n").unwrap().0;
                for (name, value) in COMMON_HEADERS {
                    let line = format!("\r\n{name}: {value}\r\n");
                    assert_eq!(
                        format!("{head}\r\n").matches(&line).count(),
                        1,
                        "{status}: {text}"
                    );
                }
                assert!(head.contains("\r\nRetry-After: 1"), "{text}");
            }
        }
    }

    #[test]
    fn http_date_handles_leap_years() {
        let feb29 = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(http_date(feb29), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }
}
