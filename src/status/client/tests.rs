//! Tests of `warden status`: addresses, answers that are not a warden's,
//! deadlines, and the errors that name them.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

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
    assert_eq!(
        split_answer(raw).unwrap(),
        SplitAnswer {
            status: 200,
            body: b"{}",
            retry_after: None
        }
    );
    let raw = b"HTTP/1.1 503 Service Unavailable\r\nretry-after:  1 \r\n\r\n{\"error\":\"x\"}";
    let busy = split_answer(raw).unwrap();
    assert_eq!(busy.status, 503);
    assert_eq!(busy.retry_after, Some(Duration::from_secs(1)));
    let dated = b"HTTP/1.1 503 x\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n";
    assert_eq!(split_answer(dated).unwrap().retry_after, None);
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
    let err = read_answer(Trickle(vec![b"S"]), MAX_ANSWER_BYTES).unwrap_err();
    assert!(
        matches!(&err, ReadFailure::NotHttp(s) if s == "S"),
        "{err:?}"
    );
    let err = read_answer(
        Trickle(vec![b"HT", b"TP/1.1 200 OK\r\n", b"\r\n"]),
        MAX_ANSWER_BYTES,
    )
    .unwrap_err();
    assert!(
        matches!(err, ReadFailure::Io(_)),
        "an HTTP answer split across reads is read on: {err:?}"
    );
    let err = read_answer(Trickle(vec![b"HT", b"XP/1.1"]), MAX_ANSWER_BYTES).unwrap_err();
    assert!(
        matches!(&err, ReadFailure::NotHttp(s) if s == "HTXP/1.1"),
        "{err:?}"
    );
    let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(read_answer(&whole[..], MAX_ANSWER_BYTES).unwrap(), whole);
    assert_eq!(read_answer(&b""[..], MAX_ANSWER_BYTES).unwrap(), b"");
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
fn trickling_server(answer: impl Into<Vec<u8>>, gap: Duration) -> SocketAddr {
    let answer = answer.into();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        // Take the request first, so closing does not reset the connection.
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = conn.read(&mut [0u8; 1024]);
        for byte in &answer {
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

/// An HTTP answer with `status` and `body`, whole at once.
fn answering_server(status: &str, content_type: &str, body: &str) -> SocketAddr {
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    trickling_server(answer, Duration::ZERO)
}

/// An nginx-like error page of well over [`EXCERPT_CHARS`] characters.
fn html_error_page() -> String {
    let mut page = String::from(
        "<!DOCTYPE html>\r\n<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n",
    );
    for _ in 0..40 {
        page.push_str("<p>padding so the page is long</p>\r\n");
    }
    page.push_str("</body>\r\n</html>\r\n");
    page
}

#[test]
fn excerpts_are_one_short_line() {
    let page = html_error_page();
    let text = excerpt(page.as_bytes());
    assert!(
        text.starts_with("<!DOCTYPE html>\\r\\n<html>\\r\\n<head><title>502 Bad Gateway"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("… ({} bytes in all)", page.len())),
        "{text}"
    );
    assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
    let (shown, _) = text.split_once('…').unwrap();
    let shown_chars = page.trim().chars().take(EXCERPT_CHARS).collect::<String>();
    assert_eq!(shown, shown_chars.replace('\r', "\\r").replace('\n', "\\n"));
    assert_eq!(excerpt(b"  Not Found\n"), "Not Found");
    assert_eq!(
        excerpt(b"bell\x07 and \x1b[31m"),
        "bell\\u{7} and \\u{1b}[31m"
    );
    assert_eq!(excerpt(b" \r\n"), "(an empty body)");
    // Cut on a character, not a byte, and the size is the body's in bytes.
    let wide = "é".repeat(EXCERPT_CHARS + 1);
    assert_eq!(
        excerpt(wide.as_bytes()),
        format!(
            "{}… ({} bytes in all)",
            "é".repeat(EXCERPT_CHARS),
            wide.len()
        )
    );
    // Exactly the limit is not cut.
    let exact = "x".repeat(EXCERPT_CHARS);
    assert_eq!(excerpt(exact.as_bytes()), exact);
}

#[test]
fn an_html_error_page_is_named_not_warden_and_quoted_by_its_start_with_its_status() {
    let page = html_error_page();
    let addr = answering_server("502 Bad Gateway", "text/html", &page);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(matches!(err, ClientError::NotWarden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{addr} did not answer like a warden status server: it answered HTTP 502 with a \
             body that is not warden's JSON error: <!DOCTYPE html>\\r\\n"
        )) && text.ends_with(&format!("… ({} bytes in all)", page.len()))
            && !text.contains('\n'),
        "{text}"
    );
    assert!(text.len() < 400, "{} bytes: {text}", text.len());
}

#[test]
fn another_http_server_404_is_not_blamed_on_warden() {
    // What `python3 -m http.server` answers for /status.
    let page = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title></head>\n\
                <body><h1>Error response</h1><p>Error code: 404</p></body></html>\n";
    let addr = answering_server("404 File not found", "text/html;charset=utf-8", page);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(matches!(err, ClientError::NotWarden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{addr} did not answer like a warden status server: it answered HTTP 404"
        )) && text.contains("<!DOCTYPE HTML>"),
        "{text}"
    );
    assert!(!text.contains("the warden status server at"), "{text}");
    // JSON without warden's "error" field is someone else's too.
    let addr = answering_server(
        "404 Not Found",
        "application/json",
        r#"{"detail":"Not Found"}"#,
    );
    let err = fetch(addr, "/status").unwrap_err();
    assert!(matches!(err, ClientError::NotWarden { .. }), "{err:?}");
}

#[test]
fn a_warden_error_body_is_quoted_as_warden_s() {
    let body = r#"{"error": "no answer within 2000 ms (status.request_timeout_ms); retry shortly", "status": 503}"#;
    let addr = answering_server("503 Service Unavailable", "application/json", body);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Status {
                status: 503,
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the warden status server at {addr} answered HTTP 503: no answer within 2000 ms \
             (status.request_timeout_ms); retry shortly"
        )
    );
}

/// A server on 127.0.0.1:0 that gives the n-th connection `answers[n]` whole,
/// then closes its port; returns its address and a count of connections served.
fn scripted_server(answers: Vec<String>) -> (SocketAddr, std::sync::Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&served);
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = conn.read(&mut [0u8; 1024]);
            count.fetch_add(1, Relaxed);
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    (addr, served)
}

/// A JSON answer with `status`, an `{"error"}` body and `extra` header lines.
fn json_error(status: &str, extra: &str) -> String {
    let body = r#"{"error": "status server busy: every worker is answering; retry shortly", "status": 503}"#;
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const BUSY: &str = "503 Service Unavailable";

#[test]
fn a_busy_answer_with_retry_after_is_retried_once() {
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"schema\":1}".to_string();
    let (addr, served) = scripted_server(vec![json_error(BUSY, "Retry-After: 1\r\n"), ok]);
    assert_eq!(fetch(addr, "/status").unwrap(), b"{\"schema\":1}");
    assert_eq!(served.load(Relaxed), 2);
    // Busy twice: one retry only, and the second answer is the one reported.
    let (addr, served) = scripted_server(vec![
        json_error(BUSY, "Retry-After: 0\r\n"),
        json_error(BUSY, "Retry-After: 0\r\n"),
        json_error(BUSY, "Retry-After: 0\r\n"),
    ]);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("status server busy"), "{err}");
    assert_eq!(served.load(Relaxed), 2);
}

#[test]
fn without_retry_after_a_503_is_not_retried() {
    let (addr, served) = scripted_server(vec![json_error(BUSY, ""), json_error(BUSY, "")]);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(served.load(Relaxed), 1);
}

#[test]
fn a_long_retry_after_is_capped() {
    assert_eq!(retry_delay(Duration::from_secs(3600)), MAX_RETRY_WAIT);
    assert_eq!(
        retry_delay(Duration::from_millis(300)),
        Duration::from_millis(300)
    );
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"schema\":1}".to_string();
    let (addr, served) = scripted_server(vec![json_error(BUSY, "Retry-After: 0\r\n"), ok]);
    assert!(fetch(addr, "/status").is_ok());
    assert_eq!(served.load(Relaxed), 2, "retried once");
}

#[test]
fn an_answer_over_the_cap_is_called_too_large_not_cut_short() {
    // Announced: refused as soon as the head is in, without reading the body.
    let huge = 50 * 1024 * 1024 + 19;
    let (addr, _) = scripted_server(vec![format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {huge}\r\n\r\n{}",
        "x".repeat(1000)
    )]);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(
        matches!(err, ClientError::TooLarge { declared: Some(n), .. } if n == huge),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{addr} sent an answer larger than the 16 MiB `warden status` reads \
             ({huge} bytes announced): a warden status document is a few kB"
        )),
        "{text}"
    );
    assert!(!text.contains("cut short"), "{text}");
    // Unannounced: read up to the cap, then refused.
    let endless = b"HTTP/1.1 200 OK\r\n\r\n"
        .iter()
        .chain(&[b'x'; 100])
        .copied()
        .collect::<Vec<u8>>();
    let err = read_answer(&endless[..], 50).unwrap_err();
    assert!(matches!(err, ReadFailure::TooLarge(None)), "{err:?}");
    assert_eq!(
        read_answer(&endless[..], endless.len() as u64).unwrap(),
        endless
    );
}

#[test]
fn json_output_cannot_drive_the_terminal() {
    let raw = "{\n  \"service\": \"echo\u{9b}31m\u{7f}\",\t\"ok\": true\r\n}";
    let shown = json_for_terminal(raw);
    assert_eq!(
        shown,
        "{\n  \"service\": \"echo\\u009b31m\\u007f\",\t\"ok\": true\r\n}"
    );
    let before: Value = serde_json::from_str(raw).unwrap();
    let after: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(before, after, "the same JSON value");
}

#[test]
fn a_schema_mismatch_escapes_what_the_server_sent() {
    let doc = serde_json::json!({"schema": "\u{9b}2J", "version": "9\u{1b}]0;x\u{7}"});
    let text = check_schema(DEFAULT_STATUS_LISTEN, &doc)
        .unwrap_err()
        .to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("(version 9\\u{1b}]0;x\\u{7})"), "{text}");
}

#[test]
fn a_plain_text_answer_to_200_is_quoted_not_parsed_as_a_table() {
    let addr = answering_server("200 OK", "text/plain", "Hello from some other server\n");
    let err = run(Some(&addr.to_string()), false).unwrap_err();
    assert!(matches!(err, ClientError::NotWarden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{addr} did not answer like a warden status server: it answered HTTP 200 with a body \
             that is not JSON ("
        )) && text.ends_with("): Hello from some other server"),
        "{text}"
    );
}

#[test]
fn a_schema_1_document_without_the_tables_sections_is_named() {
    let addr = answering_server("200 OK", "application/json", r#"{"schema":1}"#);
    let err = run(Some(&addr.to_string()), false).unwrap_err();
    assert!(matches!(err, ClientError::Incomplete { .. }), "{err:?}");
    assert!(!err.is_usage());
    assert_eq!(
        err.to_string(),
        format!(
            "the status document from {addr} says \"schema\": 1 but lacks the \"version\" field, \
             which the table shows; it is not a whole warden status document \
             (`warden status --addr {addr} --json` prints it as it came)"
        )
    );
}
