//! The status server in-process on loopback: wire format, HEAD, errors, bounds,
//! gzip, slow and excess clients, and a clean stop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::StatusConfig;
use crate::engine::stats::LocalStats;
use crate::engine::LoopShared;
use crate::status::snapshot::{StatusSources, ThermalSource};
use crate::status::{io_loop, spawn, StatusServerHandle};

// ---- the server on loopback ----

struct Running {
    handle: StatusServerHandle,
    shared: Arc<LoopShared>,
}

fn start(request_timeout: Duration, workers: usize) -> Running {
    let shared = Arc::new(LoopShared::new(1000));
    shared.beat(Instant::now());
    let local = LocalStats {
        active: 3,
        ..LocalStats::default()
    };
    shared.stats.publish(&local);
    shared.set_listen_addrs(vec!["127.0.0.1:7000".parse().unwrap()]);
    let sources = StatusSources::new(
        Arc::clone(&shared),
        ThermalSource::Absent {
            reason: "test without a sensor".into(),
        },
        "echo",
    );
    let config = StatusConfig {
        enabled: true,
        listen: "127.0.0.1:0".parse().unwrap(),
        workers,
        request_timeout,
    };
    Running {
        handle: spawn(sources, &config, io_loop::MAX_CONNECTIONS).unwrap(),
        shared,
    }
}

/// Sends `request` and reads the answer to EOF.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

#[test]
fn serves_status_over_tcp_from_the_live_sources() {
    let server = start(Duration::from_secs(5), 2);
    let addr = server.handle.local_addr();
    let answer = exchange(addr, b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let doc: Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(doc["connections"]["active"], 3);
    assert_eq!(
        doc["thermal"]["unavailable_reason"],
        "test without a sensor"
    );
    // The answer follows the sources.
    let local = LocalStats {
        active: 9,
        ..LocalStats::default()
    };
    server.shared.stats.publish(&local);
    let doc: Value =
        serde_json::from_str(body(&exchange(addr, b"GET /status HTTP/1.0\r\n\r\n"))).unwrap();
    assert_eq!(doc["connections"]["active"], 9);
    server.handle.stop();
}

#[test]
fn status_and_history_on_the_wire_both_say_simulated() {
    let shared = Arc::new(LoopShared::new(1000));
    shared.beat(Instant::now());
    let config = StatusConfig {
        enabled: true,
        listen: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        request_timeout: Duration::from_secs(5),
    };
    for simulated in [true, false] {
        let sources = StatusSources::new(
            Arc::clone(&shared),
            ThermalSource::Absent {
                reason: "test without a sensor".into(),
            },
            "echo",
        )
        .simulated(simulated);
        let handle = spawn(sources, &config, io_loop::MAX_CONNECTIONS).unwrap();
        for path in ["/status", "/status/history"] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            let answer = exchange(handle.local_addr(), request.as_bytes());
            let doc: Value = serde_json::from_str(body(&answer)).unwrap();
            assert_eq!(doc["simulated"], simulated, "{path}: {answer}");
        }
        handle.stop();
    }
}

#[test]
fn head_answers_have_headers_only() {
    let server = start(Duration::from_secs(5), 1);
    let addr = server.handle.local_addr();
    // The page is constant, so both answers must announce the same length.
    let get = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    let head = exchange(addr, b"HEAD / HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.ends_with("\r\n\r\n"), "HEAD carried a body: {head}");
    let length = |a: &str| {
        a.lines()
            .find(|l| l.starts_with("Content-Length:"))
            .map(str::to_string)
    };
    assert_eq!(length(&head), length(&get));
    assert!(!body(&get).is_empty());
}

#[test]
fn wire_errors_get_their_status_codes() {
    let server = start(Duration::from_secs(5), 1);
    let addr = server.handle.local_addr();
    let cases: [(&[u8], &str); 5] = [
        (
            b"POST /status HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "HTTP/1.1 405 ",
        ),
        (b"GET /nothing HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (b"hello there\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET / HTTP/3.0\r\n\r\n", "HTTP/1.1 505 "),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 "),
    ];
    for (request, expected) in cases {
        let answer = exchange(addr, request);
        assert!(
            answer.starts_with(expected),
            "{:?} -> {answer}",
            String::from_utf8_lossy(request)
        );
        let json: Value = serde_json::from_str(body(&answer)).unwrap();
        assert!(json["error"].is_string());
    }
    let post = exchange(addr, b"DELETE /ready HTTP/1.1\r\n\r\n");
    assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
    // The server-wide OPTIONS form is a method question too, not a malformed line.
    let options = exchange(addr, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(options.starts_with("HTTP/1.1 405 "), "{options}");
    assert!(options.contains("\r\nAllow: GET, HEAD\r\n"), "{options}");
}

/// Checks that `answer` carries each of the common headers exactly once.
fn assert_common_headers(what: &str, answer: &str) {
    let head = answer.split_once("\r\n\r\n").map_or(answer, |(h, _)| h);
    for (name, value) in crate::status::http::COMMON_HEADERS {
        let line = format!("\r\n{name}: {value}");
        assert_eq!(
            format!("{head}\r\n")
                .matches(&format!("{line}\r\n"))
                .count(),
            1,
            "{what}: want one {line:?} in\n{head}"
        );
    }
}

#[test]
fn every_answer_on_the_wire_carries_the_common_headers() {
    let server = start(Duration::from_secs(5), 1);
    let addr = server.handle.local_addr();
    let mut oversized = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
    oversized.extend(std::iter::repeat(b'a').take(crate::status::http::MAX_HEAD_BYTES + 100));
    oversized.extend_from_slice(b"\r\n\r\n");
    let cases: [(&[u8], &str); 11] = [
        (b"GET /status HTTP/1.1\r\n\r\n", "HTTP/1.1 200 "),
        (
            b"GET /status HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 ",
        ),
        (b"HEAD / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 "),
        (b"GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 "),
        (b"GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 200 "),
        (b"GET /nothing HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (b"POST /status HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "),
        (b"hello there\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET / HTTP/3.0\r\n\r\n", "HTTP/1.1 505 "),
        (&oversized, "HTTP/1.1 431 "),
    ];
    for (request, expected) in cases {
        let answer = exchange(addr, request);
        assert!(answer.starts_with(expected), "{expected}: {answer}");
        assert_common_headers(expected, &answer);
    }
    server.handle.stop();
    // 408: a request that never finishes.
    let slow = start(Duration::from_millis(300), 1);
    let answer = exchange(slow.handle.local_addr(), b"GET /sta");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert_common_headers("408", &answer);
    slow.handle.stop();
}

#[test]
fn oversized_heads_get_431_without_waiting_for_the_end() {
    let server = start(Duration::from_secs(5), 1);
    let mut stream = TcpStream::connect(server.handle.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut request = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
    request.extend(std::iter::repeat(b'a').take(crate::status::http::MAX_HEAD_BYTES + 100));
    stream.write_all(&request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn gzip_is_negotiated_on_the_wire() {
    let server = start(Duration::from_secs(5), 1);
    let mut stream = TcpStream::connect(server.handle.local_addr()).unwrap();
    stream
        .write_all(b"GET /status HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = crate::status::http::head_end(&answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..end]);
    assert!(head.contains("Content-Encoding: gzip"), "{head}");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&answer[end..])
        .read_to_string(&mut plain)
        .unwrap();
    let doc: Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(doc["schema"], 1);
}

#[test]
fn a_slow_client_gets_408_and_is_closed_at_the_request_deadline() {
    let server = start(Duration::from_millis(300), 1);
    let mut stream = TcpStream::connect(server.handle.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(b"GET /sta").unwrap(); // and never the rest
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("status.request_timeout_ms"), "{text}");
}

#[test]
fn slow_clients_beyond_the_cap_cannot_lock_out_a_normal_request() {
    let server = start(Duration::from_secs(30), 1);
    let addr = server.handle.local_addr();
    // More half-sent requests than the server keeps open; each is held
    // far longer than this test runs.
    let slow: Vec<TcpStream> = (0..io_loop::MAX_CONNECTIONS + 20)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /status HTTP/1.1\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    let answer = exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // The oldest ones were dropped to make room.
    let mut first = slow.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(first.read(&mut buf), Ok(0) | Err(_)),
        "the oldest slow connection was kept"
    );
}

#[test]
fn stop_joins_the_threads_and_closes_the_port() {
    let server = start(Duration::from_secs(5), 3);
    let addr = server.handle.local_addr();
    // A connection in the middle of its request does not hold the stop up.
    let mut pending = TcpStream::connect(addr).unwrap();
    pending.write_all(b"GET /").unwrap();
    server.handle.stop();
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening on {addr} after stop"
    );
    pending
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(pending.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn binding_a_taken_address_names_it_and_the_way_out() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let config = StatusConfig {
        enabled: true,
        listen: addr,
        workers: 1,
        request_timeout: Duration::from_secs(1),
    };
    let sources = StatusSources::new(
        Arc::new(LoopShared::new(1)),
        ThermalSource::Absent {
            reason: String::new(),
        },
        "echo",
    );
    let failure = spawn(sources, &config, io_loop::MAX_CONNECTIONS).unwrap_err();
    let err = failure.to_string();
    assert!(
        err.contains(&format!("status.listen {addr}")) && err.contains("status.enabled = false"),
        "{err}"
    );
    // As main prints it: the whole chain, the hint for a taken port, the OS error once.
    let printed = format!("{:#}", anyhow::Error::from(failure));
    assert!(
        printed.contains("another process holds this port"),
        "{printed}"
    );
    let os_text = std::io::Error::from_raw_os_error(libc::EADDRINUSE).to_string();
    assert_eq!(printed.matches(&os_text).count(), 1, "{printed}");
}

// ---- the network thread alone, with no worker behind it ----

/// Runs an [`io_loop::IoLoop`] whose job queue holds `queue` jobs and that no
/// worker drains, answering its probes from `shared`; returns its address, its
/// stop switch and the queue's far end.
fn workerless_loop(
    queue: usize,
    request_timeout: Duration,
    shared: Arc<LoopShared>,
) -> (
    SocketAddr,
    impl FnOnce(),
    crossbeam_channel::Receiver<io_loop::Job>,
) {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let mut listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let poll = mio::Poll::new().unwrap();
    poll.registry()
        .register(&mut listener, io_loop::LISTENER, mio::Interest::READABLE)
        .unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), io_loop::WAKER).unwrap());
    let (job_tx, job_rx) = crossbeam_channel::bounded(queue);
    let (_answer_tx, answer_rx) = crossbeam_channel::unbounded();
    let stop = Arc::new(AtomicBool::new(false));
    let sources = StatusSources::new(
        shared,
        ThermalSource::Absent {
            reason: "test without a sensor".into(),
        },
        "echo",
    );
    let io = io_loop::IoLoop::new(
        poll,
        listener,
        job_tx,
        answer_rx,
        Arc::new(sources),
        Arc::clone(&stop),
        request_timeout,
        io_loop::MAX_CONNECTIONS,
    );
    let thread = std::thread::spawn(move || io.run());
    let stopper = move || {
        stop.store(true, Relaxed);
        waker.wake().unwrap();
        thread.join().unwrap();
    };
    (addr, stopper, job_rx)
}

/// Sends a `/status` request that fills the one-job queue of a workerless
/// loop (nobody takes it); returns its connection, to keep it open.
fn fill_the_queue(addr: SocketAddr, jobs: &crossbeam_channel::Receiver<io_loop::Job>) -> TcpStream {
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"GET /status HTTP/1.1\r\n\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !jobs.is_full() {
        assert!(
            Instant::now() < deadline,
            "the first request never reached the queue"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first
}

#[test]
fn a_full_queue_answers_503_busy_at_once() {
    let shared = Arc::new(LoopShared::new(1000));
    let (addr, stop, jobs) = workerless_loop(1, Duration::from_secs(30), shared);
    let _first = fill_the_queue(addr, &jobs);
    let busy = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(busy.starts_with("HTTP/1.1 503 "), "{busy}");
    assert!(busy.contains("\r\nRetry-After: 1\r\n"), "{busy}");
    assert_common_headers("503 busy", &busy);
    assert!(body(&busy).contains("busy"), "{busy}");
    assert_eq!(jobs.try_recv().unwrap().head.path, "/status");
    stop();
}

#[test]
fn the_probes_are_answered_without_a_worker_even_with_the_queue_full() {
    let shared = Arc::new(LoopShared::new(1000));
    let (addr, stop, jobs) = workerless_loop(1, Duration::from_secs(30), Arc::clone(&shared));
    let _first = fill_the_queue(addr, &jobs);
    shared.beat(Instant::now());
    let health = exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(health.starts_with("HTTP/1.1 200 "), "{health}");
    assert_common_headers("probe /healthz", &health);
    let doc: Value = serde_json::from_str(body(&health)).unwrap();
    assert_eq!(doc["alive"], true);
    let ready = exchange(addr, b"GET /ready HTTP/1.1\r\n\r\n");
    assert!(ready.starts_with("HTTP/1.1 200 "), "{ready}");
    let head = exchange(addr, b"HEAD /healthz HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 ") && body(&head).is_empty(),
        "{head}"
    );
    // Still answered from the live state: a drain makes /ready 503 for its own reason.
    shared.set_gate(crate::engine::GateState::Draining);
    let draining = exchange(addr, b"GET /ready HTTP/1.1\r\n\r\n");
    assert!(draining.starts_with("HTTP/1.1 503 "), "{draining}");
    assert!(!draining.contains("Retry-After"), "{draining}");
    let doc: Value = serde_json::from_str(body(&draining)).unwrap();
    assert_eq!(doc["reason"], "shutdown", "{draining}");
    // Nothing but the first request ever went to the queue.
    assert_eq!(jobs.try_recv().unwrap().head.path, "/status");
    assert!(jobs.try_recv().is_err());
    stop();
}

#[test]
fn a_request_no_worker_answers_gets_503_at_the_deadline() {
    let shared = Arc::new(LoopShared::new(1000));
    let (addr, stop, jobs) = workerless_loop(4, Duration::from_millis(300), shared);
    let answer = exchange(addr, b"GET /status HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("status.request_timeout_ms"), "{answer}");
    assert_common_headers("503 late", &answer);
    assert_eq!(jobs.try_recv().unwrap().head.path, "/status");
    stop();
}
