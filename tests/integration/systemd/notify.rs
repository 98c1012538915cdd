//! The notify protocol as systemd sees it: warden started with
//! `NOTIFY_SOCKET` and `WATCHDOG_USEC` sends READY=1, pings the watchdog from
//! its event loop, reports STATUS=, brackets a reload with RELOADING=1 and
//! READY=1, says STOPPING=1 with EXTEND_TIMEOUT_USEC= when draining, and stops
//! pinging when its loop is wedged (the `WARDEN_TEST_WEDGE` hook).

use std::time::Duration;

use super::support::NotifySocket;
use crate::util::{config_with, echo, Launch, TempDir, Warden};

/// The watchdog timeout the tests give warden: pings every 0.25-0.5 s.
const WATCHDOG_USEC: &str = "1000000";

fn start_notified(socket: &NotifySocket, extra_env: &[(&str, &str)]) -> Warden {
    let mut env = vec![
        ("NOTIFY_SOCKET".to_string(), socket.env_value()),
        ("WATCHDOG_USEC".to_string(), WATCHDOG_USEC.to_string()),
    ];
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Warden::start_with(
        &config_with("drain_timeout_s = 10", ""),
        Launch {
            env,
            ..Launch::default()
        },
    )
}

fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) },
        0
    );
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

#[test]
fn notify_ready_watchdog_status_reload_and_stopping() {
    let dir = TempDir::new("notify");
    let socket = NotifySocket::bind(dir.path());
    let mut w = start_notified(&socket, &[]);
    let (ready, _) = socket.wait_for(0, "READY=1", Duration::from_secs(10));
    let mut client = echo::connect(w.addr());
    echo::roundtrip(&mut client, b"counted in the status");

    // Watchdog: pinged from the loop, several times in 3 s.
    std::thread::sleep(Duration::from_secs(3));
    let pings = socket.count(ready, "WATCHDOG=1");
    assert!(
        pings >= 3,
        "only {pings} WATCHDOG=1 in 3 s after READY=1: {:#?}",
        socket.notices()
    );
    let times: Vec<_> = socket
        .notices()
        .into_iter()
        .filter(|n| n.text == "WATCHDOG=1")
        .map(|n| n.at)
        .collect();
    let widest = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    eprintln!("{pings} watchdog pings in 3 s, widest gap {widest:?} (timeout 1 s)");

    // Status: live content, no more often than every 5 s.
    let (_, status) = socket.wait_for(0, "STATUS=", Duration::from_secs(7));
    assert!(status.contains("admission"), "{status}");
    let (_, live) = socket.wait_for(0, "STATUS=1 connection", Duration::from_secs(7));
    assert!(live.contains("admission open"), "{live}");
    let statuses: Vec<_> = socket
        .notices()
        .into_iter()
        .filter(|n| n.text.starts_with("STATUS="))
        .collect();
    // Warden spaces its sends by its own clock; the receive times here carry
    // a few milliseconds of scheduling jitter, so allow 250 ms of it.
    let gaps: Vec<_> = statuses.windows(2).map(|p| p[1].at - p[0].at).collect();
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(4_750)),
        "STATUS= lines closer than 5 s apart: gaps {gaps:?}"
    );

    // Reload: RELOADING=1 with the monotonic clock, then READY=1 again.
    let before_reload = socket.len();
    let sent_at = monotonic_usec();
    w.signal(libc::SIGHUP);
    let (reloading, text) = socket.wait_for(before_reload, "RELOADING=1", Duration::from_secs(5));
    let usec: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC=: {text:?}"))
        .parse()
        .unwrap();
    assert!(
        usec >= sent_at && usec < sent_at + 5_000_000,
        "MONOTONIC_USEC={usec}, signal sent at {sent_at}"
    );
    socket.wait_for(reloading + 1, "READY=1", Duration::from_secs(5));
    w.wait_log("configuration reloaded", Duration::from_secs(5));

    // Stop: STOPPING=1 as the drain begins, while a client is still open, asking
    // systemd for the drain timeout (10 s here) plus 10 s for the fan and cpufreq
    // restore, past TimeoutStopSec= if need be.
    let before_stop = socket.len();
    w.signal(libc::SIGTERM);
    let (_, stopping) = socket.wait_for(before_stop, "STOPPING=1", Duration::from_secs(5));
    assert!(
        stopping
            .lines()
            .any(|l| l == "EXTEND_TIMEOUT_USEC=20000000"),
        "STOPPING=1 without EXTEND_TIMEOUT_USEC=20000000: {stopping:?}"
    );
    echo::roundtrip(&mut client, b"served while draining");
    drop(client);
    let status = w
        .wait_exit(Duration::from_secs(10))
        .expect("exits after the drain");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_wedged_event_loop_stops_the_watchdog_pings() {
    let dir = TempDir::new("wedge");
    let socket = NotifySocket::bind(dir.path());
    let mut w = start_notified(&socket, &[("WARDEN_TEST_WEDGE", "1")]);
    let (ready, _) = socket.wait_for(0, "READY=1", Duration::from_secs(10));
    let (first, _) = socket.wait_for(ready, "WATCHDOG=1", Duration::from_secs(3));
    socket.wait_for(first + 1, "WATCHDOG=1", Duration::from_secs(3));

    w.signal(libc::SIGUSR2);
    w.wait_log("wedging the event loop", Duration::from_secs(5));
    // A ping already on its way may still land; after that, silence.
    std::thread::sleep(Duration::from_millis(300));
    let wedged = socket.len();
    std::thread::sleep(Duration::from_secs(2));
    let late = socket.count(wedged, "WATCHDOG=1");
    assert_eq!(
        late,
        0,
        "{late} WATCHDOG=1 from a wedged loop in 2 s (twice the 1 s timeout): {:#?}",
        socket.notices()
    );
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "warden is wedged, not dead: only the watchdog notices"
    );
}
