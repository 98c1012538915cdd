//! pingpong against honest and broken servers.

use crate::run::{assert_keys, count, loadgen, own_pid, COMMON_KEYS};
use crate::servers::{refused_addr, Behaviour, TestServer};

const PINGPONG_KEYS: [&str; 10] = [
    "connections",
    "size",
    "rate_cap",
    "msgs",
    "msgs_per_s",
    "p50_us",
    "p99_us",
    "p999_us",
    "verified_bytes",
    "server_cpu_s_per_million",
];

#[test]
fn echo_server_round_trips_are_verified_and_reported() {
    let server = TestServer::start(Behaviour::Echo);
    let pid = own_pid();
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "20",
        "--threads",
        "2",
        "--duration",
        "1",
        "--server-pid",
        &pid,
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_keys(&run, &COMMON_KEYS);
    assert_keys(&run, &PINGPONG_KEYS);
    assert_keys(&run, &["server_cpu_s", "server_rss_bytes"]);
    assert_eq!(run.json["mode"], "pingpong");
    assert_eq!(run.json["addr"], server.addr());
    assert_eq!(count(&run, "errors"), 0);
    assert_eq!(count(&run, "connections"), 20);
    assert_eq!(count(&run, "size"), 64);
    assert!(run.json["rate_cap"].is_null());
    let msgs = count(&run, "msgs");
    assert!(msgs > 0);
    assert!(count(&run, "verified_bytes") >= msgs * 64);
    let p50 = run.json["p50_us"].as_f64().unwrap();
    let p99 = run.json["p99_us"].as_f64().unwrap();
    let p999 = run.json["p999_us"].as_f64().unwrap();
    assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{p50} {p99} {p999}");
    assert!(count(&run, "server_rss_bytes") > 0);
    assert!(run.json["server_cpu_s"].as_f64().unwrap() >= 0.0);
    assert!(run.stderr.contains("20/20 connections"), "{}", run.stderr);
}

#[test]
fn without_server_pid_server_figures_are_absent() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "2",
        "--duration",
        "0.3",
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let object = run.json.as_object().unwrap();
    for key in [
        "server_cpu_s",
        "server_rss_bytes",
        "server_cpu_s_per_million",
    ] {
        assert!(
            !object.contains_key(key),
            "{key} present without --server-pid"
        );
    }
}

#[test]
fn rate_cap_is_never_exceeded() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "4",
        "--rate",
        "400",
        "--duration",
        "1",
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_eq!(run.json["rate_cap"].as_f64(), Some(400.0));
    let msgs = count(&run, "msgs");
    assert!(msgs > 0 && msgs <= 400, "{msgs} msgs in 1 s at a 400/s cap");
}

#[test]
fn warmup_traffic_is_verified_but_not_counted() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "2",
        "--rate",
        "200",
        "--warmup",
        "0.5",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let msgs = count(&run, "msgs");
    // 100 sends are scheduled inside the window; at most one message per
    // connection, sent just before it opened, can complete inside it too.
    assert!(
        msgs <= 102,
        "{msgs} msgs counted in a 0.5 s window at 200/s"
    );
    assert!(
        count(&run, "verified_bytes") > msgs * 64,
        "warmup bytes were not verified"
    );
    assert_eq!(run.json["duration_s"].as_f64(), Some(0.5));
}

#[test]
fn messages_larger_than_socket_buffers_are_verified() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "2",
        "--size",
        "3000000",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(count(&run, "verified_bytes") >= 3_000_000);
}

#[test]
fn spread_over_source_addresses() {
    let server = TestServer::start(Behaviour::Echo);
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "6",
        "--sources",
        "3",
        "--duration",
        "0.3",
        "--json",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(count(&run, "msgs") > 0);
}

#[test]
fn corrupted_echo_is_a_mismatch_and_exit_1() {
    let server = TestServer::start(Behaviour::FlipByteAt(200));
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "5",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(run.json["error_kinds"]["mismatch"], 5, "{}", run.json);
    assert_eq!(count(&run, "errors"), 5);
    assert!(
        run.stderr.contains("mismatch: echo byte 8"),
        "{}",
        run.stderr
    );
}

#[test]
fn server_hanging_up_is_closed_early() {
    let server = TestServer::start(Behaviour::CloseAfterReading(64));
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "3",
        "--duration",
        "0.3",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(run.json["error_kinds"]["closed_early"], 3, "{}", run.json);
    assert_eq!(count(&run, "msgs"), 0);
}

#[test]
fn server_hanging_up_between_messages_fails_each_connection_once() {
    let server = TestServer::start(Behaviour::CloseAfterEchoing(3 * 64));
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &server.addr(),
        "--connections",
        "3",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    // FIN then our next message (closed_early), or our next message racing
    // the close and drawing a RST (reset): either way one error per connection.
    let closed_early = run.json["error_kinds"]["closed_early"].as_u64().unwrap();
    let reset = run.json["error_kinds"]["reset"].as_u64().unwrap();
    assert_eq!(closed_early + reset, 3, "{}", run.json);
    assert_eq!(count(&run, "errors"), 3);
    assert_eq!(count(&run, "verified_bytes"), 3 * 3 * 64);
}

#[test]
fn refused_connections_are_counted() {
    let run = loadgen(&[
        "pingpong",
        "--addr",
        &refused_addr(),
        "--connections",
        "4",
        "--duration",
        "5",
        "--json",
    ]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert_eq!(
        run.json["error_kinds"]["connect_refused"], 4,
        "{}",
        run.json
    );
    assert_eq!(
        run.json["duration_s"].as_f64(),
        Some(0.0),
        "no window without connections"
    );
}
