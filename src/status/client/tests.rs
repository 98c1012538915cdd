//! Tests of `warden status`: addresses, answers that are not a warden's,
//! deadlines, and the errors that name them.

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
fn an_html_error_page_is_quoted_by_its_start_with_its_status() {
    let page = html_error_page();
    let addr = answering_server("502 Bad Gateway", "text/html", &page);
    let err = fetch(addr, "/status").unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 502, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the warden status server at {addr} answered HTTP 502: <!DOCTYPE html>\\r\\n"
        )) && text.ends_with(&format!("… ({} bytes in all)", page.len()))
            && !text.contains('\n'),
        "{text}"
    );
    assert!(text.len() < 400, "{} bytes: {text}", text.len());
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
