//! hold against honest and broken servers.

use crate::run::{assert_keys, count, loadgen, own_pid, COMMON_KEYS};
use crate::servers::{refused_addr, Behaviour, TestServer};

#[test]
fn every_connection_is_verified_twice() {
    let server = TestServer::start(Behaviour::Echo);
    let pid = own_pid();
    let run = loadgen(&[
        "hold",
        "--addr",
        &server.addr(),
        "--connections",
        "300",
        "--rate",
        "3000",
        "--sources",
        "3",
        "--hold",
        "0.5",
        "--server-pid",
        &pid,
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_keys(&run, &COMMON_KEYS);
    assert_keys(
        &run,
        &[
            "connections",
            "established",
            "verified_initial",
            "verified_final",
            "server_rss_per_conn_bytes",
        ],
    );
    assert_eq!(run.json["mode"], "hold");
    for key in [
        "connections",
        "established",
        "verified_initial",
        "verified_final",
    ] {
        assert_eq!(count(&run, key), 300, "{key}");
    }
    assert!(count(&run, "server_rss_per_conn_bytes") > 0);
    assert_eq!(
        count(&run, "server_rss_per_conn_bytes"),
        (count(&run, "server_rss_bytes") as f64 / 300.0).round() as u64
    );
    assert!(run.json["duration_s"].as_f64().unwrap() >= 0.5);
}

#[test]
fn without_server_pid_per_connection_memory_is_null() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "hold",
        "--addr",
        &server.addr(),
        "--connections",
        "5",
        "--hold",
        "0",
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(run.json["server_rss_per_conn_bytes"].is_null());
    assert!(!run
        .json
        .as_object()
        .unwrap()
        .contains_key("server_rss_bytes"));
}

#[test]
fn corruption_after_the_hold_fails_the_final_verification() {
    // 16-byte messages: the first occupies stream offsets 0..16, the second 16..32.
    let server = TestServer::start(Behaviour::FlipByteAt(20));
    let run = loadgen(&[
        "hold",
        "--addr",
        &server.addr(),
        "--connections",
        "10",
        "--hold",
        "0.2",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(count(&run, "established"), 10);
    assert_eq!(count(&run, "verified_initial"), 10);
    assert_eq!(count(&run, "verified_final"), 0);
    assert_eq!(run.json["error_kinds"]["mismatch"], 10, "{}", run.json);
}

#[test]
fn server_closing_held_connections_is_detected() {
    let server = TestServer::start(Behaviour::CloseAfterEchoing(16));
    let run = loadgen(&[
        "hold",
        "--addr",
        &server.addr(),
        "--connections",
        "4",
        "--hold",
        "0.5",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(count(&run, "verified_initial"), 4);
    assert_eq!(count(&run, "verified_final"), 0);
    assert_eq!(run.json["error_kinds"]["closed_early"], 4, "{}", run.json);
}

#[test]
fn server_closing_before_the_first_echo_is_closed_early() {
    let server = TestServer::start(Behaviour::CloseAfterReading(16));
    let run = loadgen(&[
        "hold",
        "--addr",
        &server.addr(),
        "--connections",
        "4",
        "--hold",
        "0.2",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(count(&run, "verified_initial"), 0);
    assert_eq!(run.json["error_kinds"]["closed_early"], 4, "{}", run.json);
}

#[test]
fn refused_connections_are_counted() {
    let run = loadgen(&[
        "hold",
        "--addr",
        &refused_addr(),
        "--connections",
        "6",
        "--hold",
        "0",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(count(&run, "established"), 0);
    assert_eq!(
        run.json["error_kinds"]["connect_refused"], 6,
        "{}",
        run.json
    );
}

#[test]
fn long_runs_print_progress_each_second() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "hold",
        "--addr",
        &server.addr(),
        "--connections",
        "4",
        "--hold",
        "3.6",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no --json, yet stdout: {}",
        run.stdout
    );
    let lines = run
        .stderr
        .lines()
        .filter(|line| line.contains("] hold:"))
        .count();
    assert!(lines >= 3, "expected progress lines:\n{}", run.stderr);
}
