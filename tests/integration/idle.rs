//! `server.idle_timeout_s`: silent connections are closed, busy ones are not.

use std::time::{Duration, Instant};

use crate::util::{config_with, counters, echo, Warden};

#[test]
fn idle_connections_time_out_and_busy_ones_stay() {
    let mut w = Warden::start(&config_with("idle_timeout_s = 1", ""));
    let mut idle = echo::connect(w.addr());
    echo::roundtrip(&mut idle, b"then silence");
    let mut busy = echo::connect(w.addr());
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(3500) {
        echo::roundtrip(&mut busy, b"tick");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        echo::closed_by_peer(&mut idle, Duration::from_millis(100)),
        "idle connection closed"
    );
    echo::roundtrip(&mut busy, b"still open");
    drop(busy);
    let c = counters(&mut w);
    assert_eq!(c["timed_out"], 1, "{c:?}");
}
