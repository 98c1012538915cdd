//! The status server of the real binary at its edges: probes under a crowd
//! of scrapers, the readings during a sensor fault, a drain, and the
//! server-wide `OPTIONS *`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{get, request, rig_with_sensor, sample, status_addr, wait_status};
use crate::util::{config_with, echo, run_warden, Warden};

/// The status code of one `GET path`, or `None` if the exchange failed.
fn status_of(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: load\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    std::str::from_utf8(raw.get(9..12)?).ok()?.parse().ok()
}

#[test]
fn probes_never_get_busy_while_scrapers_keep_every_worker_busy() {
    // One worker: a queue of 4, which 12 scrapers keep full.
    let w = Warden::start(&config_with(
        "",
        "[status]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n",
    ));
    let status = status_addr(&w);
    let stop = Arc::new(AtomicBool::new(false));
    let (scraped, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let scrapers: Vec<_> = (0..12)
        .map(|_| {
            let (stop, scraped, busy) =
                (Arc::clone(&stop), Arc::clone(&scraped), Arc::clone(&busy));
            std::thread::spawn(move || {
                // Bounded in time and count even if `stop` never comes.
                let deadline = Instant::now() + Duration::from_secs(20);
                for _ in 0..20_000 {
                    if stop.load(Relaxed) || Instant::now() > deadline {
                        return;
                    }
                    let code = status_of(status, "/metrics");
                    scraped.fetch_add(1, Relaxed);
                    if code == Some(503) {
                        busy.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = Vec::new();
    for round in 0..40 {
        for path in ["/healthz", "/ready"] {
            let answer = request(status, "GET", path);
            if answer.status != 200 {
                refused.push(format!(
                    "round {round} {path}: {} {}",
                    answer.status,
                    answer.text()
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Relaxed);
    scrapers.into_iter().for_each(|t| t.join().unwrap());
    eprintln!(
        "{} scrapes, {} of them busy; {} of 80 probes refused",
        scraped.load(Relaxed),
        busy.load(Relaxed),
        refused.len()
    );
    assert!(
        refused.is_empty(),
        "probes refused under scraper load: {refused:#?}"
    );
}

#[test]
fn a_sensor_fault_leaves_the_trend_unknown_everywhere() {
    let r = rig_with_sensor(50.0, "");
    wait_status(r.status, "a reading", |d| d["thermal"]["temp_c"] == 50.0);
    let text = get(r.status, "/metrics").text();
    assert!(
        sample(&text, "warden_temperature_trend_celsius_per_second").is_some(),
        "{text}"
    );
    r.tree.write_temp_raw("garbage\n").unwrap();
    let doc = wait_status(r.status, "a sensor fault", |d| {
        d["thermal"]["sensor"]["fault"].is_string()
    });
    let thermal = &doc["thermal"];
    for key in ["temp_c", "filtered_c", "trend_c_per_s", "predicted_c"] {
        assert!(thermal[key].is_null(), "thermal.{key}: {doc:#}");
    }
    let text = get(r.status, "/metrics").text();
    assert!(
        !text.contains("warden_temperature_trend_celsius_per_second "),
        "an unknown trend is exported:\n{text}"
    );
    let out = run_warden(&["status", "--addr", &r.status.to_string()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with("temperature"))
        .unwrap_or_default();
    assert!(
        line.starts_with("temperature  no reading (sensor fault: ") && !line.contains('?'),
        "{table}"
    );
}

#[test]
fn a_draining_warden_reports_its_closed_listeners() {
    let mut w = Warden::start(&config_with("drain_timeout_s = 20\n", ""));
    let status = status_addr(&w);
    // An open connection keeps the drain going while we look.
    let mut client = echo::connect(w.addr());
    echo::roundtrip(&mut client, b"hold the drain");
    w.signal(libc::SIGTERM);
    let doc = wait_status(status, "the drain", |d| d["state"] == "draining");
    assert_eq!(doc["listen"], serde_json::json!([]), "{doc:#}");
    let out = run_warden(&["status", "--addr", &status.to_string()]);
    let table = String::from_utf8_lossy(&out.stdout);
    let title = table.lines().next().unwrap_or_default();
    assert!(
        title.contains(" · echo (listeners closed, draining) · ") && title.ends_with("draining"),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(client);
    assert!(
        w.wait_exit(Duration::from_secs(15)).is_some(),
        "warden did not finish its drain"
    );
}

#[test]
fn options_asterisk_is_405_with_allow() {
    let w = Warden::start(&config_with("", ""));
    let answer = request(status_addr(&w), "OPTIONS", "*");
    assert_eq!(answer.status, 405, "{}{}", answer.head, answer.text());
    assert_eq!(answer.header("Allow").as_deref(), Some("GET, HEAD"));
    assert!(answer.json()["error"].as_str().unwrap().contains("OPTIONS"));
}
