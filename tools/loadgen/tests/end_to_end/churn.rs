//! churn against honest and broken servers.

use crate::run::{assert_keys, count, loadgen, own_pid, Run, COMMON_KEYS};
use crate::servers::{refused_addr, Behaviour, TestServer};

#[test]
fn echo_server_exchanges_are_verified_and_reported() {
    let server = TestServer::start(Behaviour::Echo);
    let pid = own_pid();
    let run = loadgen(&[
        "churn",
        "--addr",
        &server.addr(),
        "--workers",
        "8",
        "--threads",
        "2",
        "--size",
        "100",
        "--duration",
        "1",
        "--server-pid",
        &pid,
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_keys(&run, &COMMON_KEYS);
    assert_keys(
        &run,
        &[
            "workers",
            "exchanges",
            "exchanges_per_s",
            "p50_us",
            "p99_us",
            "server_cpu_s_per_million",
        ],
    );
    assert_eq!(run.json["mode"], "churn");
    assert_eq!(count(&run, "workers"), 8);
    assert_eq!(count(&run, "errors"), 0);
    assert!(count(&run, "exchanges") > 0);
    let p50 = run.json["p50_us"].as_f64().unwrap();
    let p99 = run.json["p99_us"].as_f64().unwrap();
    assert!(0.0 < p50 && p50 <= p99, "{p50} {p99}");
}

#[test]
fn server_closing_before_echo_is_closed_early() {
    let server = TestServer::start(Behaviour::CloseAfterReading(64));
    let run = loadgen(&[
        "churn",
        "--addr",
        &server.addr(),
        "--workers",
        "4",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(count(&run, "exchanges"), 0);
    let closed_early = run.json["error_kinds"]["closed_early"].as_u64().unwrap();
    assert!(closed_early >= 4, "{}", run.json);
    assert_eq!(
        count(&run, "errors"),
        closed_early,
        "only closed_early expected: {}",
        run.json
    );
}

#[test]
fn corrupted_echo_is_a_mismatch() {
    let run = short_churn_against(Behaviour::FlipByteAt(10));
    assert!(
        run.json["error_kinds"]["mismatch"].as_u64().unwrap() >= 2,
        "{}",
        run.json
    );
    assert_eq!(count(&run, "exchanges"), 0);
}

#[test]
fn refused_connects_are_counted_and_retried_after_10_ms_not_100() {
    let run = loadgen(&[
        "churn",
        "--addr",
        &refused_addr(),
        "--workers",
        "1",
        "--duration",
        "1",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    let refused = run.json["error_kinds"]["connect_refused"].as_u64().unwrap();
    // A 10 ms back-off allows ~100 attempts in 1 s (no back-off would allow
    // thousands); waiting for the 100 ms deadline scan instead gave ~10.
    assert!(
        (30..=110).contains(&refused),
        "{refused} refused connects: {}",
        run.json
    );
}

#[test]
fn bytes_beyond_the_echo_are_a_mismatch() {
    let run = short_churn_against(Behaviour::EchoPlusOneByte);
    let mismatch = run.json["error_kinds"]["mismatch"].as_u64().unwrap();
    assert!(mismatch >= 2, "{}", run.json);
    assert_eq!(count(&run, "errors"), mismatch, "{}", run.json);
    assert_eq!(count(&run, "exchanges"), 0);
    assert!(
        run.stderr
            .contains("mismatch: 1 bytes arrived that were never sent"),
        "{}",
        run.stderr
    );
}

/// A 0.3 s churn run of 2 workers against a test server that misbehaves as
/// `behaviour`, which must fail it (exit 1).
fn short_churn_against(behaviour: Behaviour) -> Run {
    let server = TestServer::start(behaviour);
    let run = loadgen(&[
        "churn",
        "--addr",
        &server.addr(),
        "--workers",
        "2",
        "--duration",
        "0.3",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    run
}
