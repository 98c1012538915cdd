//! Signals: SIGTERM drains, a second SIGTERM exits at once, SIGHUP re-reads
//! the configuration (valid: applied without dropping a connection; invalid:
//! refused with the key named, old config kept).

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{config_with, echo, free_port, Warden};

fn refused(addr: std::net::SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionRefused)
    )
}

#[test]
fn sigterm_drains_finishes_the_echo_in_progress_and_exits_zero() {
    let mut w = Warden::start(&config_with("drain_timeout_s = 10", ""));
    let addr = w.addr();
    let mut s = echo::connect(addr);
    echo::roundtrip(&mut s, b"before");
    // Half a message is in flight when the signal lands.
    s.write_all(b"in progress: ").unwrap();
    w.signal(libc::SIGTERM);
    w.wait_log("draining", Duration::from_secs(5));
    assert!(refused(addr), "new connections are refused while draining");
    s.write_all(b"done").unwrap();
    let mut got = [0u8; 17];
    std::io::Read::read_exact(&mut s, &mut got).unwrap();
    assert_eq!(&got, b"in progress: done");
    echo::roundtrip(&mut s, b"still served while draining");
    let closed_at = Instant::now();
    drop(s);
    let status = w
        .wait_exit(Duration::from_secs(5))
        .expect("exits once the last connection closes");
    assert!(status.success(), "{status:?}");
    assert!(closed_at.elapsed() < Duration::from_secs(3));
}

#[test]
fn the_drain_deadline_closes_stragglers_and_exits_zero() {
    let mut w = Warden::start(&config_with("drain_timeout_s = 1", ""));
    let mut s = echo::connect(w.addr());
    echo::roundtrip(&mut s, b"x");
    let t0 = Instant::now();
    w.signal(libc::SIGTERM);
    if let Err(outcome) = echo::peer_close(&mut s, Duration::from_secs(5)) {
        panic!(
            "the straggler was not closed at the deadline: {outcome}; warden's log:\n{}",
            w.log().join("\n")
        );
    }
    let status = w.wait_exit(Duration::from_secs(5)).unwrap();
    assert!(status.success());
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn a_sighup_while_draining_is_ignored_and_claims_nothing() {
    let mut w = Warden::start(&config_with("drain_timeout_s = 2", ""));
    let mut s = echo::connect(w.addr());
    echo::roundtrip(&mut s, b"x");
    w.signal(libc::SIGTERM);
    w.wait_log("draining", Duration::from_secs(5));
    w.rewrite_config(&config_with("drain_timeout_s = 1\nmax_connections = 7", ""));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        "SIGHUP while draining: ignored, warden is stopping",
        Duration::from_secs(5),
    );
    w.assert_not_logged_after(lines, "SIGHUP: applied");
    w.assert_not_logged_after(lines, "configuration reloaded");
    let status = w.wait_exit(Duration::from_secs(5)).unwrap();
    assert!(status.success());
}

#[test]
fn a_second_sigterm_exits_at_once() {
    let mut w = Warden::start(&config_with("drain_timeout_s = 60", ""));
    let mut held: Vec<_> = (0..3).map(|_| echo::connect(w.addr())).collect();
    for s in held.iter_mut() {
        echo::roundtrip(s, b"x");
    }
    w.signal(libc::SIGTERM);
    w.wait_log("draining", Duration::from_secs(5));
    w.signal(libc::SIGTERM);
    let status = w
        .wait_exit(Duration::from_secs(3))
        .expect("second SIGTERM exits at once");
    assert!(status.success(), "{status:?}");
    // The cut connections are in the final counters.
    let line = w.wait_log("final counters:", Duration::from_secs(2));
    assert!(
        line.contains(" closed=3 ") && line.contains(" drain_closed=3 "),
        "{line}"
    );
}

#[test]
fn sighup_applies_a_valid_file_without_dropping_connections() {
    let first = free_port();
    let w = Warden::start(&config_with(
        &format!("listen = [\"127.0.0.1:{first}\"]"),
        "",
    ));
    let old: std::net::SocketAddr = format!("127.0.0.1:{first}").parse().unwrap();
    let mut s = echo::connect(old);
    echo::roundtrip(&mut s, b"before reload");
    let second = free_port();
    let lines = w.log_len();
    w.rewrite_config(&config_with(
        &format!("listen = [\"127.0.0.1:{second}\"]\nmax_connections = 500\nidle_timeout_s = 100"),
        "",
    ));
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "configuration reloaded", Duration::from_secs(5));
    let new: std::net::SocketAddr = format!("127.0.0.1:{second}").parse().unwrap();
    let mut fresh = echo::connect(new);
    echo::roundtrip(&mut fresh, b"on the new address");
    assert!(refused(old), "the old address is closed after the reload");
    echo::roundtrip(&mut s, b"the old connection survived");
    let status = crate::status::get(crate::status::status_addr(&w), "/status");
    assert_eq!(
        status.json()["listen"],
        serde_json::json!([new.to_string()]),
        "/status names the address warden listens on now"
    );
}

#[test]
fn sighup_names_the_keys_that_wait_for_a_restart() {
    let w = Warden::start(&config_with("", ""));
    let lines = w.log_len();
    w.rewrite_config(&config_with(
        "max_connections = 500",
        "[thermal]\nsensor = \"@DIR@/temp\"\n[fan]\non_exit = \"off\"\n",
    ));
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "configuration reloaded", Duration::from_secs(5));
    let line = w.wait_log_after(lines, "takes a restart", Duration::from_secs(5));
    assert!(
        line.contains("thermal.sensor, fan.on_exit changed"),
        "{line}"
    );
    // Another SIGHUP with the same file still says so: the running values are
    // the ones warden started with, not the last file read.
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let again = w.wait_log_after(lines, "takes a restart", Duration::from_secs(5));
    assert!(
        again.contains("thermal.sensor, fan.on_exit changed"),
        "{again}"
    );
    // A file that only changes what SIGHUP applies says nothing of a restart.
    w.rewrite_config(&config_with("max_connections = 400", ""));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "configuration reloaded", Duration::from_secs(5));
    w.assert_not_logged_after(lines, "takes a restart");
}

#[test]
fn sighup_moves_the_status_page_to_a_new_address() {
    let (first, second) = (free_port(), free_port());
    let status_on = |port: u16| format!("[status]\nlisten = \"127.0.0.1:{port}\"\n");
    let w = Warden::start(&config_with("", &status_on(first)));
    let old: std::net::SocketAddr = format!("127.0.0.1:{first}").parse().unwrap();
    assert_eq!(crate::status::get(old, "/healthz").status, 200);
    let lines = w.log_len();
    w.rewrite_config(&config_with("", &status_on(second)));
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        &format!("status page on http://127.0.0.1:{second}/"),
        Duration::from_secs(5),
    );
    let new: std::net::SocketAddr = format!("127.0.0.1:{second}").parse().unwrap();
    assert_eq!(crate::status::get(new, "/status").json()["service"], "echo");
    assert!(refused(old), "the old status address is closed");
    w.assert_not_logged_after(lines, "takes a restart");
}

#[test]
fn one_sighup_moves_the_status_page_onto_the_port_the_listener_gives_up() {
    let (server, status, next) = (free_port(), free_port(), free_port());
    let config = |server: u16, status: u16| {
        config_with(
            &format!("listen = [\"127.0.0.1:{server}\"]"),
            &format!("[status]\nlisten = \"127.0.0.1:{status}\"\n"),
        )
    };
    let w = Warden::start(&config(server, status));
    w.rewrite_config(&config(next, server));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        &format!("status page on http://127.0.0.1:{server}/"),
        Duration::from_secs(5),
    );
    w.assert_not_logged_after(lines, "stays as it was");
    let page: std::net::SocketAddr = format!("127.0.0.1:{server}").parse().unwrap();
    assert_eq!(
        crate::status::get(page, "/status").json()["service"],
        "echo"
    );
    let mut s = echo::connect(format!("127.0.0.1:{next}").parse().unwrap());
    echo::roundtrip(&mut s, b"moved");
}

#[test]
fn sighup_refuses_an_invalid_file_naming_the_key_and_keeps_running() {
    let w = Warden::start(&config_with("", ""));
    let mut s = echo::connect(w.addr());
    echo::roundtrip(&mut s, b"before");
    let lines = w.log_len();
    w.rewrite_config("[server]\nmax_connections = 0\n");
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "SIGHUP", Duration::from_secs(5));
    assert!(line.contains("server.max_connections"), "{line}");
    echo::roundtrip(&mut s, b"after");
    let mut again = echo::connect(w.addr());
    echo::roundtrip(&mut again, b"still accepting on the old address");
}

fn listen_reported(w: &Warden) -> serde_json::Value {
    crate::status::get(crate::status::status_addr(w), "/status").json()["listen"].clone()
}

#[test]
fn a_sighup_that_cannot_bind_keeps_the_old_listener_and_the_next_one_retries() {
    let first = free_port();
    let w = Warden::start(&config_with(
        &format!("listen = [\"127.0.0.1:{first}\"]"),
        "",
    ));
    let old: std::net::SocketAddr = format!("127.0.0.1:{first}").parse().unwrap();
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap();
    w.rewrite_config(&config_with(&format!("listen = [\"{taken}\"]"), ""));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "keeping the old listeners", Duration::from_secs(5));
    assert!(line.contains(&taken.to_string()), "{line}");
    w.assert_not_logged_after(lines, "no longer listening");
    let mut s = echo::connect(old);
    echo::roundtrip(&mut s, b"still served on the old address");
    assert_eq!(listen_reported(&w), serde_json::json!([old.to_string()]));

    // Once the port is free, the same file binds it.
    drop(blocker);
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        &format!("listening on {taken}"),
        Duration::from_secs(5),
    );
    let mut moved = echo::connect(taken);
    echo::roundtrip(&mut moved, b"on the new address");
    assert!(
        refused(old),
        "the old address closes once the new one is bound"
    );
    assert_eq!(listen_reported(&w), serde_json::json!([taken.to_string()]));
}

#[test]
fn a_taken_port_at_start_exits_1_naming_the_address_and_what_to_do() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap();
    let dir = crate::util::TempDir::new("taken-port");
    let config = config_with(&format!("listen = [\"{taken}\"]"), "")
        .replace("@DIR@", dir.path().to_str().unwrap());
    let path = dir.write("warden.toml", &config);
    // Bounded: a warden that wrongly started would be stopped by `timeout` (exit 124).
    let out = std::process::Command::new("timeout")
        .arg("10")
        .arg(crate::util::warden_bin())
        .args(["run", "--config", path.to_str().unwrap()])
        .env_remove("WARDEN_LOG")
        .output()
        .expect("run warden under timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {taken}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("(another process holds this port)")
            && stderr.contains("choose a free address in [server] listen")
            && stderr.contains("`ss -tanp 'sport = :PORT'` names it"),
        "the cause and the key to change:\n{stderr}"
    );
    drop(blocker);
}

#[test]
fn a_port_0_listener_added_by_sighup_stays_open_across_reloads() {
    let first = free_port();
    let w = Warden::start(&config_with(
        &format!("listen = [\"127.0.0.1:{first}\"]"),
        "",
    ));
    w.rewrite_config(&config_with(
        &format!("listen = [\"127.0.0.1:{first}\", \"127.0.0.1:0\"]"),
        "",
    ));
    let reloaded = |w: &Warden| {
        let lines = w.log_len();
        w.signal(libc::SIGHUP);
        w.wait_log_after(lines, "configuration reloaded", Duration::from_secs(5));
        lines
    };
    let from = reloaded(&w);
    w.assert_not_logged_after(from, "no longer listening");
    let kernel_chosen = || -> std::net::SocketAddr {
        let listen = listen_reported(&w);
        let addrs: Vec<&str> = listen
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(addrs.len(), 2, "both listeners: {listen}");
        let other = addrs
            .iter()
            .find(|a| !a.ends_with(&format!(":{first}")))
            .unwrap();
        other.parse().unwrap()
    };
    let added = kernel_chosen();
    assert_ne!(added.port(), 0);
    let mut s = echo::connect(added);
    echo::roundtrip(&mut s, b"on the port the kernel chose");

    // The same file again changes nothing: the port-0 entry is the listener already open.
    let from = reloaded(&w);
    w.assert_not_logged_after(from, "no longer listening");
    w.assert_not_logged_after(from, "listening on");
    assert_eq!(kernel_chosen(), added);
    echo::roundtrip(&mut s, b"still served");
}

#[test]
fn a_sighup_widens_the_listen_address_to_the_wildcard_on_the_same_port() {
    let port = free_port();
    let w = Warden::start(&config_with(
        &format!("listen = [\"127.0.0.1:{port}\"]"),
        "",
    ));
    let loopback: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut s = echo::connect(loopback);
    echo::roundtrip(&mut s, b"before");
    w.rewrite_config(&config_with(&format!("listen = [\"0.0.0.0:{port}\"]"), ""));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        &format!("listening on 0.0.0.0:{port}"),
        Duration::from_secs(5),
    );
    w.assert_not_logged_after(lines, "keeping the old listeners");
    let mut fresh = echo::connect(loopback);
    echo::roundtrip(&mut fresh, b"through the wildcard");
    echo::roundtrip(&mut s, b"the old connection survived");
    assert_eq!(
        listen_reported(&w),
        serde_json::json!([format!("0.0.0.0:{port}")])
    );
}

#[test]
fn stray_signals_are_logged_and_ignored_instead_of_killing_warden() {
    let w = Warden::start(&config_with("", ""));
    let mut s = echo::connect(w.addr());
    for (signal, name) in [
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGPWR, "SIGPWR"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGRTMIN() + 2, "SIGRTMIN+2"),
    ] {
        let lines = w.log_len();
        w.signal(signal);
        w.wait_log_after(
            lines,
            &format!("signal {name} ignored"),
            Duration::from_secs(5),
        );
        echo::roundtrip(&mut s, name.as_bytes());
    }
}
