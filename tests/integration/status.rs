//! The status server of the real binary: every endpoint over the wire,
//! `promtool check metrics` on `/metrics`, `warden status`, a `--simulate`
//! warden saying so in all three, and 50 clients
//! sending one byte a second that must starve neither `/status` nor the
//! echo service. A missing `promtool` fails the test (Debian: `prometheus`).
//! [`edge_cases`] holds the probes under load, a sensor fault, a drain and
//! `OPTIONS *`.

mod edge_cases;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_hw::fake_sysfs::FakeSysfsTree;

use crate::util::{config_with, echo, run_warden, Launch, TempDir, Warden};

/// A fast thermal tick and a file fan, so readings show up within a second.
pub const THERMAL: &str = "[thermal]\ninterval_ms = 100\nfilter_tau_s = 0.0\nhorizon_s = 0.0\n\n\
[fan]\ndriver = \"file\"\npath = \"@DIR@/sysfs/fan_duty\"\nmin_on_s = 0\nmin_off_s = 0\n";

/// A warden with a fake sysfs tree, and its status address.
pub struct Rig {
    pub warden: Warden,
    pub tree: FakeSysfsTree,
    pub status: SocketAddr,
}

/// Starts warden with thermal control on a fake tree at `celsius`.
pub fn rig_with_sensor(celsius: f64, rest: &str) -> Rig {
    let dir = TempDir::new("status");
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    tree.set_temp_celsius(celsius).unwrap();
    let warden = Warden::start_in(
        dir,
        &config_with("", &format!("{THERMAL}{rest}")),
        Launch::default(),
    );
    let status = status_addr(&warden);
    Rig {
        warden,
        tree,
        status,
    }
}

/// The status address warden logged ("status page on http://ADDR/").
pub fn status_addr(warden: &Warden) -> SocketAddr {
    let line = warden.wait_log("status page on http://", Duration::from_secs(10));
    let rest = line.split("status page on http://").nth(1).unwrap();
    rest.split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("bad status address in {line:?}: {e}"))
}

/// Starts `warden run --simulate` (the simulated Pi) and returns it with its status address.
pub fn simulated_warden() -> (Warden, SocketAddr) {
    let warden = Warden::start_in(
        TempDir::new("status-sim"),
        &config_with("", ""),
        Launch {
            args: vec!["--simulate".into()],
            ..Launch::default()
        },
    );
    let status = status_addr(&warden);
    (warden, status)
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends `method path` and reads the answer (the server closes after it).
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    Answer {
        status,
        head,
        body: raw[split..].to_vec(),
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path)
}

/// Polls `/status` until `ok` holds.
pub fn wait_status(addr: SocketAddr, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let doc = get(addr, "/status").json();
        if ok(&doc) {
            return doc;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last /status: {doc:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `promtool check metrics` on `text`; panics with its output on failure.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install the Debian package `prometheus` (tools/test.sh does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample line `key` in an exposition.
pub fn sample(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_from_a_running_warden_pass_promtool() {
    let r = rig_with_sensor(55.0, "");
    wait_status(r.status, "a temperature reading", |d| {
        d["thermal"]["temp_c"] == 55.0
    });
    let answer = get(r.status, "/metrics");
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = answer.text();
    promtool_check(&text);
    assert_eq!(
        sample(&text, "warden_temperature_celsius"),
        Some(55.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "warden_thermal_level{level=\"normal\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "warden_cpu_max_frequency_hertz"), Some(1.5e9));
    assert_eq!(sample(&text, "warden_simulated"), Some(0.0), "{text}");
    assert!(sample(&text, "warden_fan_duty_ratio").is_some());
    assert_eq!(
        sample(
            &text,
            "warden_connections_rejected_total{reason=\"thermal\"}"
        ),
        Some(0.0)
    );
    // Without a sensor the exposition is still valid, and says so.
    let plain = Warden::start(&config_with("", ""));
    let text = get(status_addr(&plain), "/metrics").text();
    promtool_check(&text);
    assert_eq!(sample(&text, "warden_thermal_available"), Some(0.0));
}

#[test]
fn endpoints_follow_the_temperature_and_the_connections() {
    let r = rig_with_sensor(50.0, "");
    let doc = wait_status(r.status, "a reading", |d| d["thermal"]["temp_c"] == 50.0);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["state"], "running");
    assert_eq!(
        doc["simulated"], false,
        "a fake sysfs tree is hardware to warden"
    );
    assert_eq!(doc["listen"][0], r.warden.addr().to_string());
    assert_eq!(get(r.status, "/ready").status, 200);
    assert_eq!(get(r.status, "/healthz").json()["alive"], true);
    let mut client = echo::connect(r.warden.addr());
    echo::roundtrip(&mut client, b"hello");
    // The loop publishes its counters at most every 10 ms, at its next batch or beat.
    wait_status(r.status, "one active connection and its bytes", |d| {
        d["connections"]["active"] == 1 && d["traffic"]["bytes_in"].as_u64() >= Some(5)
    });
    // Hot: shedding shows in /ready, /status and /metrics.
    r.tree.ramp_temp_celsius(76.0).unwrap();
    let doc = wait_status(r.status, "shedding", |d| {
        d["admission"]["state"] == "shedding"
    });
    assert_eq!(doc["admission"]["reason"], "hot");
    assert_eq!(doc["thermal"]["level"], "shed");
    let ready = get(r.status, "/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["reason"], "hot");
    assert!(get(r.status, "/metrics")
        .text()
        .contains("warden_admission_state{state=\"shedding\"} 1"));
    // History samples come once a second: wait for one taken after the connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let history = get(r.status, "/status/history").json();
        let last = history["samples"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default();
        if last["active_connections"] == 1 && last["admission"] == "shed" {
            assert_eq!(last["temp_c"], 76.0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no history sample with the connection while shedding: {last}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    r.tree.ramp_temp_celsius(60.0).unwrap();
    wait_status(r.status, "admitting again", |d| {
        d["admission"]["state"] == "open"
    });
    assert_eq!(get(r.status, "/ready").status, 200);
}

#[test]
fn errors_and_head_over_the_wire() {
    let w = Warden::start(&config_with("", ""));
    let addr = status_addr(&w);
    let missing = get(addr, "/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["path"], "/nope");
    let post = request(addr, "POST", "/status");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow").as_deref(), Some("GET, HEAD"));
    let head = request(addr, "HEAD", "/status");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert!(
        head.header("Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 100
    );
    let doc = get(addr, "/status").json();
    assert_eq!(doc["thermal"]["available"], false);
    assert!(doc["thermal"]["unavailable_reason"]
        .as_str()
        .unwrap()
        .contains("no thermal zone"));
}

#[test]
fn warden_status_prints_a_table_or_json_and_names_a_missing_server() {
    let r = rig_with_sensor(52.0, "");
    wait_status(r.status, "a reading", |d| d["thermal"]["temp_c"] == 52.0);
    let addr = r.status.to_string();
    let out = run_warden(&["status", "--addr", &addr]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("temperature  52.0 °C"), "{table}");
    assert!(table.contains("admission    open"), "{table}");
    assert!(!table.contains("SIMULATED"), "{table}");
    let out = run_warden(&["status", "--addr", &addr, "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    let port = crate::util::free_port();
    let out = run_warden(&["status", "--addr", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "no warden status server at 127.0.0.1:{port}: connection refused"
        )),
        "{err}"
    );
}

#[test]
fn a_simulated_warden_says_so_in_status_metrics_and_the_table() {
    let (_w, status) = simulated_warden();
    let doc = wait_status(status, "a simulated reading", |d| {
        d["thermal"]["temp_c"].is_number()
    });
    assert_eq!(doc["simulated"], true, "{doc:#}");
    assert_eq!(doc["schema"], 1);
    let text = get(status, "/metrics").text();
    promtool_check(&text);
    assert_eq!(sample(&text, "warden_simulated"), Some(1.0), "{text}");
    let out = run_warden(&["status", "--addr", &status.to_string()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let marker = table.lines().nth(1).unwrap_or_default();
    assert!(
        marker.starts_with("SIMULATED ") && marker.contains("not hardware"),
        "the line under the title should say the figures are a model:\n{table}"
    );
}

/// Connects, sends one byte a second until the server closes the
/// connection, reconnects; until `stop`. Records the longest connection.
fn trickle(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    longest_ms: Arc<AtomicU64>,
    cut: Arc<AtomicU64>,
) {
    let request = b"GET /status HTTP/1.1\r\nHost: slow\r\nX-Slow: yes\r\n\r\n";
    while !stop.load(Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr) else {
            continue;
        };
        let opened = Instant::now();
        // Reading for a second is the pause between bytes, and notices the close at once.
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut answer = [0u8; 256];
        for byte in request.iter().cycle() {
            if stop.load(Relaxed) || s.write_all(&[*byte]).is_err() {
                break;
            }
            match s.read(&mut answer) {
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                _ => break, // a 408, EOF or a reset: the server gave up on us
            }
        }
        longest_ms.fetch_max(opened.elapsed().as_millis() as u64, Relaxed);
        if !stop.load(Relaxed) {
            cut.fetch_add(1, Relaxed);
        }
    }
}

#[test]
fn fifty_one_byte_a_second_clients_starve_neither_status_nor_echo() {
    let w = Warden::start(&config_with(
        "",
        "[status]\nlisten = \"127.0.0.1:0\"\nrequest_timeout_ms = 2000\n",
    ));
    let status = status_addr(&w);
    let stop = Arc::new(AtomicBool::new(false));
    let longest = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicU64::new(0));
    let slow: Vec<_> = (0..50)
        .map(|_| {
            let (stop, longest, cut) = (Arc::clone(&stop), Arc::clone(&longest), Arc::clone(&cut));
            std::thread::spawn(move || trickle(status, stop, longest, cut))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let mut client = echo::connect(w.addr());
    let (mut worst_status, mut worst_echo) = (Duration::ZERO, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut rounds = 0;
    while Instant::now() < deadline {
        let t = Instant::now();
        let answer = get(status, "/status");
        worst_status = worst_status.max(t.elapsed());
        assert_eq!(answer.status, 200);
        let t = Instant::now();
        echo::roundtrip(&mut client, b"still here");
        worst_echo = worst_echo.max(t.elapsed());
        rounds += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Relaxed);
    slow.into_iter().for_each(|t| t.join().unwrap());
    eprintln!(
        "{rounds} rounds: slowest /status {worst_status:?}, slowest echo {worst_echo:?}; slow connections cut {}, longest {} ms",
        cut.load(Relaxed),
        longest.load(Relaxed)
    );
    assert!(
        worst_status < Duration::from_secs(1),
        "/status took {worst_status:?} under slow clients"
    );
    assert!(
        worst_echo < Duration::from_secs(1),
        "echo took {worst_echo:?} under slow status clients"
    );
    assert!(rounds >= 10, "only {rounds} rounds in 6 s");
    // The request deadline (2 s) cut the slow clients off; none was held much longer.
    assert!(
        cut.load(Relaxed) >= 50,
        "slow clients were not cut off: {}",
        cut.load(Relaxed)
    );
    assert!(
        longest.load(Relaxed) < 3500,
        "a slow client was held {} ms",
        longest.load(Relaxed)
    );
}

#[test]
fn sigterm_closes_the_status_port() {
    let mut w = Warden::start(&config_with("", ""));
    let addr = status_addr(&w);
    assert_eq!(get(addr, "/healthz").status, 200);
    w.signal(libc::SIGTERM);
    let exit = w
        .wait_exit(Duration::from_secs(10))
        .expect("warden did not exit after SIGTERM");
    assert!(exit.success(), "{exit:?}");
    assert!(
        TcpStream::connect(addr).is_err(),
        "status port {addr} still open after exit"
    );
}

#[test]
fn grafana_dashboard_queries_pass_promtool() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/grafana/warden.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| {
            t["expr"].as_str().map(|e| {
                e.replace("$__rate_interval", "5m")
                    .replace("$instance", ".*")
            })
        })
        .collect();
    assert!(queries.len() >= 10, "{queries:?}");
    // Each query as a recording rule: `promtool check rules` parses the PromQL.
    let mut rules = String::from("groups:\n  - name: warden_dashboard\n    rules:\n");
    for (i, query) in queries.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(query).unwrap()
        ));
    }
    let dir = TempDir::new("grafana");
    let file = dir.write("rules.yml", &rules);
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool not found: install the Debian package `prometheus` (tools/test.sh does)");
    assert!(
        out.status.success(),
        "promtool check rules failed on the dashboard's queries:\n{}{}\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wedged_event_loop_fails_healthz_while_the_status_server_keeps_answering() {
    let launch = Launch {
        env: vec![("WARDEN_TEST_WEDGE".into(), "1".into())],
        ..Launch::default()
    };
    let w = Warden::start_with(&config_with("", ""), launch);
    let addr = status_addr(&w);
    assert_eq!(get(addr, "/healthz").status, 200);
    w.signal(libc::SIGUSR2); // the test hook blocks the loop thread for good
    let deadline = Instant::now() + Duration::from_secs(5);
    let health = loop {
        let answer = get(addr, "/healthz");
        if answer.status == 503 {
            break answer.json();
        }
        assert!(
            Instant::now() < deadline,
            "/healthz still 200 with the loop wedged"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health["alive"], false);
    assert!(
        health["heartbeat_age_s"].as_f64().unwrap() >= 1.5,
        "{health}"
    );
    let ready = get(addr, "/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["reason"], "event_loop_stalled");
    assert_eq!(get(addr, "/status").json()["event_loop"]["alive"], false);
}
