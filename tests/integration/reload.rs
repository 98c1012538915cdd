//! SIGHUP edge cases: the service and the status page swap ports in one reload (and
//! stay where they were when a port is truly taken), the log names every applied
//! `[server]`/`[log]`/`[status]` change with its old and new value, and
//! `--simulate` is compared like with like.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::status::get;
use crate::util::{config_with, echo, free_port, Launch, TempDir, Warden};

const RELOAD_WAIT: Duration = Duration::from_secs(5);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionRefused)
    )
}

/// A config serving echo on `listen` and the status page on `status`.
fn listen_and_status(listen: &[SocketAddr], status: SocketAddr) -> String {
    let listen: Vec<String> = listen.iter().map(|a| format!("\"{a}\"")).collect();
    config_with(
        &format!("listen = [{}]", listen.join(", ")),
        &format!("[status]\nlisten = \"{status}\"\n"),
    )
}

#[test]
fn a_sighup_moving_more_listeners_than_token_slots_left_binds_every_new_one() {
    // 40 old and 40 new listeners: 80 at once would be more than the 64 slots.
    let port = free_port();
    let on = |hosts: std::ops::Range<u8>| -> Vec<SocketAddr> {
        hosts
            .map(|host| SocketAddr::from(([127, 0, 0, host], port)))
            .collect()
    };
    let (old, new) = (on(1..41), on(41..81));
    let page = loopback(free_port());
    let w = Warden::start(&listen_and_status(&old, page));
    w.rewrite_config(&listen_and_status(&new, page));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "SIGHUP: applied server.listen", RELOAD_WAIT);
    w.assert_not_logged_after(lines, "too many listeners");
    for addr in &new {
        let mut s = echo::connect(*addr);
        echo::roundtrip(&mut s, b"moved");
    }
    assert!(refused(old[0]) && refused(old[39]), "the old ones closed");
}

#[test]
fn one_sighup_swaps_the_service_and_status_ports() {
    let (service, page) = (loopback(free_port()), loopback(free_port()));
    let w = Warden::start(&listen_and_status(&[service], page));
    let mut before = echo::connect(service);
    echo::roundtrip(&mut before, b"before the swap");
    w.rewrite_config(&listen_and_status(&[page], service));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        &format!("status page on http://{service}/"),
        RELOAD_WAIT,
    );
    w.assert_not_logged_after(lines, "keeping the old listeners");
    w.assert_not_logged_after(lines, "stays as it was");
    w.assert_not_logged_after(lines, "old settings");
    let mut moved = echo::connect(page);
    echo::roundtrip(&mut moved, b"echo on the status page's old port");
    let status = get(service, "/status").json();
    assert_eq!(status["service"], "echo");
    assert_eq!(status["listen"], serde_json::json!([page.to_string()]));
    echo::roundtrip(&mut before, b"the connection from before survived");
}

#[test]
fn a_swap_that_cannot_bind_everything_keeps_service_and_page_where_they_were() {
    let (service, page) = (loopback(free_port()), loopback(free_port()));
    let w = Warden::start(&listen_and_status(&[service], page));
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    w.rewrite_config(&listen_and_status(&[page, taken], service));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "keeping the old listeners", RELOAD_WAIT);
    assert!(line.contains(&taken.to_string()), "{line}");
    let line = w.wait_log_after(lines, "restarting the status page", RELOAD_WAIT);
    assert!(
        line.contains(&format!(
            "status.listen {service}: warden's own service listener on {service} holds that port"
        )) && !line.contains("another process"),
        "the page's new port is held by the listener that could not move: {line}"
    );
    w.wait_log_after(
        lines,
        &format!("status page on http://{page}/"),
        RELOAD_WAIT,
    );
    let mut s = echo::connect(service);
    echo::roundtrip(&mut s, b"still served on the old port");
    assert_eq!(
        get(page, "/healthz").status,
        200,
        "the page is back on its port"
    );
    let applied = w.log()[lines..]
        .iter()
        .find(|l| l.contains("SIGHUP: applied"))
        .cloned();
    assert!(
        applied.is_none(),
        "nothing moved, so nothing is reported applied: {applied:?}"
    );
}

#[test]
fn sighup_logs_each_applied_change_with_old_and_new_values_and_no_changes_when_none() {
    let page = loopback(free_port());
    let config = |server: &str, rest: &str| {
        config_with(server, &format!("[status]\nlisten = \"{page}\"\n{rest}"))
    };
    let w = Warden::start(&config("max_connections = 4000", ""));
    w.rewrite_config(&config(
        "max_connections = 2000\nidle_timeout_s = 0\nat_capacity = \"reject\"",
        "workers = 3\n[log]\nlevel = \"debug\"\n",
    ));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "SIGHUP: applied", RELOAD_WAIT);
    assert!(line.contains(" INFO "), "{line}");
    for change in [
        "server.max_connections 4000 -> 2000",
        "server.at_capacity pause -> reject",
        "server.idle_timeout_s 300 -> 0",
        "status.workers 4 -> 3",
        "log.level info -> debug",
    ] {
        assert!(line.contains(change), "{change:?} missing: {line}");
    }
    assert!(!line.contains("server.listen"), "{line}");
    assert!(!line.contains("status.listen"), "{line}");
    w.assert_not_logged_after(lines, "SIGHUP: no changes");

    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "SIGHUP: no changes", RELOAD_WAIT);
    w.assert_not_logged_after(lines, "SIGHUP: applied");
}

#[test]
fn a_new_listen_address_is_reported_only_once_bound() {
    let first = loopback(free_port());
    let w = Warden::start(&config_with(&format!("listen = [\"{first}\"]"), ""));
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    w.rewrite_config(&config_with(
        &format!("listen = [\"{taken}\"]\nbacklog = 64"),
        "",
    ));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "keeping the old listeners", RELOAD_WAIT);
    w.wait_log_after(lines, "configuration reloaded", RELOAD_WAIT);
    // Neither the address nor the backlog of the listeners kept reached a socket.
    w.assert_not_logged_after(lines, "SIGHUP: applied");

    drop(squatter);
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "SIGHUP: applied", RELOAD_WAIT);
    assert!(
        line.contains(&format!("server.listen [{first}] -> [{taken}]"))
            && line.contains("server.backlog 4096 -> 64"),
        "both applied with the move, neither lost: {line}"
    );
    assert!(
        refused(first),
        "the old address is closed once the new one is bound"
    );
}

/// Starts warden on the simulated Pi, with `--simulate` when `flag`.
fn simulated(config: &str, flag: bool) -> Warden {
    Warden::start_in(
        TempDir::new("reload-sim"),
        config,
        Launch {
            args: if flag {
                vec!["--simulate".into()]
            } else {
                Vec::new()
            },
            ..Launch::default()
        },
    )
}

/// The test config with `hardware.simulate = true` in the file.
fn with_simulate_in_the_file() -> String {
    config_with("", "").replacen("[hardware]\n", "[hardware]\nsimulate = true\n", 1)
}

#[test]
fn with_simulate_given_the_file_saying_so_or_not_changes_nothing() {
    let w = simulated(&config_with("", ""), true);
    // The same file again: --simulate is no change against it.
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "SIGHUP: no changes", RELOAD_WAIT);
    w.assert_not_logged_after(lines, "takes a restart");
    // Nor is the file now saying what the flag said.
    w.rewrite_config(&with_simulate_in_the_file());
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(lines, "SIGHUP: no changes", RELOAD_WAIT);
    w.assert_not_logged_after(lines, "takes a restart");
}

#[test]
fn removing_simulate_from_the_file_names_hardware_simulate() {
    let w = simulated(&with_simulate_in_the_file(), false);
    w.rewrite_config(&config_with("", ""));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "takes a restart", RELOAD_WAIT);
    assert!(
        line.contains("SIGHUP: hardware.simulate changed;"),
        "{line}"
    );
}

#[test]
fn a_swap_whose_new_status_address_is_taken_keeps_both_where_they_were() {
    let (service, page) = (loopback(free_port()), loopback(free_port()));
    let w = Warden::start(&listen_and_status(&[service], page));
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    w.rewrite_config(&listen_and_status(&[page], taken));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let kept = w.wait_log_after(lines, "keeping the old listeners", RELOAD_WAIT);
    assert!(
        kept.contains(&format!(
            "server.listen wants {page}, which the status page keeps"
        )),
        "{kept}"
    );
    w.wait_log_after(lines, "configuration reloaded", RELOAD_WAIT);
    // The page's port is warden's own: no other process is blamed for it (only for
    // the squatter's).
    let blamed: Vec<String> = w.log()[lines..]
        .iter()
        .filter(|l| l.contains("another process") && l.contains(&format!("{page}: ")))
        .cloned()
        .collect();
    assert!(blamed.is_empty(), "{blamed:?}");
    let reported: Vec<String> = w.log()[lines..]
        .iter()
        .filter(|l| l.contains(&format!("status.listen {taken}")))
        .cloned()
        .collect();
    assert_eq!(reported.len(), 1, "the taken address once: {reported:?}");
    assert_eq!(
        get(page, "/healthz").status,
        200,
        "the page never went down"
    );
    let mut s = echo::connect(service);
    echo::roundtrip(&mut s, b"still served on the old port");
    drop(squatter);
}

#[test]
fn undoing_a_restart_only_change_says_so_and_warden_log_is_named_when_it_wins() {
    let page = loopback(free_port());
    let config = |rest: &str| config_with("", &format!("[status]\nlisten = \"{page}\"\n{rest}"));
    let launch = Launch {
        env: vec![("WARDEN_LOG".into(), "info".into())],
        ..Launch::default()
    };
    let w = Warden::start_with(&config(""), launch);
    w.rewrite_config(&config("[fan]\non_exit = \"off\"\n"));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        "fan.on_exit changed; that takes a restart",
        RELOAD_WAIT,
    );
    w.rewrite_config(&config("[log]\nlevel = \"debug\"\n"));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        "SIGHUP: fan.on_exit back to the value warden runs with; no restart needed",
        RELOAD_WAIT,
    );
    let line = w.wait_log_after(lines, "SIGHUP: applied", RELOAD_WAIT);
    assert!(
        line.contains("log.level info -> debug (not in force: WARDEN_LOG=info overrides it)"),
        "{line}"
    );
}
