//! Unit tests of the notify protocol against a real bound datagram socket,
//! filesystem and abstract.

use super::*;
use std::ffi::OsString;
use std::path::PathBuf;

/// A bound receiving socket standing in for systemd's.
struct Receiver {
    socket: UnixDatagram,
    name: OsString,
    path: Option<PathBuf>,
}

impl Receiver {
    fn at_path(tag: &str) -> Receiver {
        let path =
            std::env::temp_dir().join(format!("warden-notify-{tag}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        Receiver::ready(socket, path.clone().into_os_string(), Some(path))
    }

    fn abstract_named(tag: &str) -> Receiver {
        let name = format!("warden-notify-{tag}-{}", std::process::id());
        let socket =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        Receiver::ready(socket, OsString::from(format!("@{name}")), None)
    }

    fn ready(socket: UnixDatagram, name: OsString, path: Option<PathBuf>) -> Receiver {
        socket.set_nonblocking(true).unwrap();
        Receiver { socket, name, path }
    }

    fn notifier(&self, watchdog_usec: Option<&str>) -> Notifier {
        Notifier::from_values(
            Some(&self.name),
            watchdog_usec.map(OsStr::new),
            None,
            std::process::id(),
        )
    }

    /// Every datagram waiting now.
    fn drain(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            out.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[test]
fn sends_each_state_to_a_path_socket() {
    let rx = Receiver::at_path("states");
    let mut n = rx.notifier(None);
    assert!(n.enabled());
    n.ready();
    n.stopping(Duration::from_secs(3610));
    assert_eq!(
        rx.drain(),
        ["READY=1", "STOPPING=1\nEXTEND_TIMEOUT_USEC=3610000000"]
    );
}

#[test]
fn sends_to_an_abstract_socket() {
    let rx = Receiver::abstract_named("abstract");
    let mut n = rx.notifier(None);
    assert!(n.enabled());
    n.ready();
    assert_eq!(rx.drain(), ["READY=1"]);
}

#[test]
fn reloading_carries_the_monotonic_clock() {
    let rx = Receiver::at_path("reload");
    let mut n = rx.notifier(None);
    let before = monotonic_usec();
    n.reloading();
    let after = monotonic_usec();
    let got = rx.drain();
    assert_eq!(got.len(), 1, "{got:?}");
    let mut lines = got[0].lines();
    assert_eq!(lines.next(), Some("RELOADING=1"));
    let usec: u64 = lines
        .next()
        .unwrap()
        .strip_prefix("MONOTONIC_USEC=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        before <= usec && usec <= after,
        "{before} <= {usec} <= {after}"
    );
}

#[test]
fn status_is_sent_at_most_every_five_seconds_and_kept_on_one_line() {
    let rx = Receiver::at_path("status");
    let mut n = rx.notifier(None);
    let t0 = Instant::now();
    assert!(n.status_due(t0));
    n.status(t0, "3 connections\nadmission open");
    assert!(!n.status_due(t0 + Duration::from_secs(1)));
    n.status(t0 + Duration::from_secs(1), "dropped");
    n.status(t0 + Duration::from_millis(4999), "dropped too");
    n.status(t0 + STATUS_INTERVAL, "4 connections");
    assert_eq!(
        rx.drain(),
        [
            "STATUS=3 connections admission open",
            "STATUS=4 connections"
        ]
    );
}

#[test]
fn watchdog_pings_at_most_every_half_interval() {
    let rx = Receiver::at_path("watchdog");
    let mut n = rx.notifier(Some("1000000"));
    assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(500)));
    let t0 = Instant::now();
    n.watchdog(t0);
    n.watchdog(t0 + Duration::from_millis(100));
    n.watchdog(t0 + Duration::from_millis(249));
    n.watchdog(t0 + Duration::from_millis(250));
    n.watchdog(t0 + Duration::from_millis(400));
    n.watchdog(t0 + Duration::from_millis(500));
    assert_eq!(rx.drain(), ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"]);
}

#[test]
fn no_watchdog_without_usec_or_for_another_pid() {
    let rx = Receiver::at_path("other-pid");
    assert_eq!(rx.notifier(None).watchdog_interval(), None);
    assert_eq!(rx.notifier(Some("0")).watchdog_interval(), None);
    let own = std::process::id();
    let other = OsString::from((own + 1).to_string());
    let mut n = Notifier::from_values(
        Some(&rx.name),
        Some(OsStr::new("2000000")),
        Some(&other),
        own,
    );
    assert_eq!(n.watchdog_interval(), None);
    n.watchdog(Instant::now());
    assert!(rx.drain().is_empty());
    let mine = OsString::from(own.to_string());
    let n = Notifier::from_values(
        Some(&rx.name),
        Some(OsStr::new("2000000")),
        Some(&mine),
        own,
    );
    assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(1)));
}

#[test]
fn malformed_values_disable_rather_than_fail() {
    assert!(watchdog_period(Some(OsStr::new("soon")), None, 1)
        .unwrap_err()
        .contains("WATCHDOG_USEC"));
    assert!(
        watchdog_period(Some(OsStr::new("5")), Some(OsStr::new("x")), 1)
            .unwrap_err()
            .contains("WATCHDOG_PID")
    );
    assert!(notify_address(OsStr::new("relative.sock"))
        .unwrap_err()
        .contains("absolute path"));
    let n = Notifier::from_values(
        Some(OsStr::new("vsock:2:1")),
        Some(OsStr::new("1000000")),
        None,
        1,
    );
    assert!(!n.enabled());
    assert_eq!(n.watchdog_interval(), None, "no socket, no watchdog");
}

#[test]
fn without_a_socket_every_call_is_a_no_op() {
    let mut n = Notifier::from_values(None, Some(OsStr::new("1000000")), None, 1);
    assert!(!n.enabled());
    assert_eq!(n.watchdog_interval(), None);
    assert!(!n.status_due(Instant::now()));
    n.ready();
    n.reloading();
    n.status(Instant::now(), "x");
    n.watchdog(Instant::now());
    n.stopping(Duration::from_secs(20));
}

#[test]
fn a_vanished_socket_is_survived() {
    let path = std::env::temp_dir().join(format!("warden-notify-gone-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut n = Notifier::from_values(Some(path.as_os_str()), None, None, 1);
    assert!(n.enabled());
    n.ready();
    n.ready();
    assert!(n.enabled(), "a failed send does not disable later ones");
}
