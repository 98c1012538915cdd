//! The live page in a real browser: headless Chromium (Debian package
//! `chromium`) loads `/` from a running warden, runs its script, and the
//! rendered DOM must show the current temperature and charts with data
//! points, and the simulation banner only when warden runs `--simulate`;
//! a screenshot is taken. One implausible reading must not scale the
//! temperature chart: it is marked, not drawn into the line. Behind a proxy that holds its requests, the page
//! must say it cannot reach warden and keep polling. A missing Chromium
//! fails the test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::status::{get, rig_with_sensor, simulated_warden, status_addr, wait_status};
use crate::util::{config_with, wait_for, TempDir, Warden};

/// The Chromium binary: `$WARDEN_TEST_CHROMIUM`, else `chromium`.
fn chromium() -> String {
    std::env::var("WARDEN_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Runs headless Chromium on `url` with `extra` arguments and a fresh profile;
/// returns stdout. Virtual time lets the page's script fetch and redraw
/// (it refreshes every 2 s) before the DOM is dumped or the picture taken.
fn headless(url: &str, profile: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--virtual-time-budget=5000"];
    args.extend_from_slice(extra);
    run_chromium(url, profile, &args)
}

/// Runs headless Chromium on `url` in real time: it dumps or shoots once
/// the page has loaded. (Virtual time stands still while a request is
/// pending, so it cannot show what a page does about one that never ends.)
fn run_chromium(url: &str, profile: &Path, extra: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; install the Debian package `chromium` (tools/test.sh does)",
                chromium()
            )
        });
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text content of the element with `id` in a dumped DOM.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let rest = &dom[at..];
    let open_end = rest.find('>').unwrap() + 1;
    let close = rest[open_end..].find('<').unwrap();
    &rest[open_end..open_end + close]
}

/// The opening tag of the element with `id` in a dumped DOM.
fn tag_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let start = dom[..at].rfind('<').unwrap();
    &dom[start..at + dom[at..].find('>').unwrap() + 1]
}

/// True when the element with `id` carries the `hidden` attribute.
fn hidden(dom: &str, id: &str) -> bool {
    tag_of(dom, id)
        .split_ascii_whitespace()
        .any(|attr| attr == "hidden" || attr.starts_with("hidden=") || attr == "hidden>")
}

/// The `data-points` attribute of the element with `id`.
fn points_of(dom: &str, id: &str) -> usize {
    attr_of(dom, id, "data-points")
        .expect("no data-points attribute")
        .parse()
        .unwrap()
}

/// The value of attribute `name` on the element with `id`, if it has one.
fn attr_of<'a>(dom: &'a str, id: &str, name: &str) -> Option<&'a str> {
    let tag = tag_of(dom, id);
    let value = tag.split(&format!(" {name}=\"")).nth(1)?;
    value.split('"').next()
}

/// The whole `<svg>` element with `id` in a dumped DOM.
fn svg_of<'a>(dom: &'a str, id: &str) -> &'a str {
    // The opening tag is a slice of `dom`: its offset is where the element starts.
    let start = tag_of(dom, id).as_ptr() as usize - dom.as_ptr() as usize;
    let end = start + dom[start..].find("</svg>").expect("unclosed <svg>");
    &dom[start..end]
}

/// The y-axis labels ("57 °C") among the `<text>` elements of a chart.
fn celsius_ticks(svg: &str) -> Vec<f64> {
    svg.split("<text")
        .skip(1)
        .filter_map(|text| {
            let content = &text[text.find('>')? + 1..text.find("</text>")?];
            content.strip_suffix(" °C")?.parse().ok()
        })
        .collect()
}

#[test]
fn chromium_renders_the_live_page_with_temperature_and_charts() {
    let r = rig_with_sensor(57.5, "");
    wait_status(r.status, "a reading", |d| d["thermal"]["temp_c"] == 57.5);
    // Firmware flags that cannot be read are shown as unknown, with the reason.
    std::fs::write(r.tree.throttle_path(), "garbage\n").unwrap();
    let status = wait_status(r.status, "the flags unreadable", |d| {
        d["thermal"]["throttle_flags_error"].is_string()
    });
    assert!(status["thermal"]["throttle_flags"].is_null(), "{status}");
    // Let the history collect a few one-second samples.
    std::thread::sleep(Duration::from_millis(3500));
    let samples = get(r.status, "/status/history").json()["samples"]
        .as_array()
        .unwrap()
        .len();
    assert!(samples >= 2, "history has {samples} samples");
    let url = format!("http://{}/", r.status);
    let profile = TempDir::new("chromium");

    let dom = headless(&url, &profile.path().join("dom"), &["--dump-dom"]);
    assert_eq!(
        text_of(&dom, "temp-now"),
        "57.5 °C",
        "current temperature not shown"
    );
    assert_eq!(text_of(&dom, "admission"), "open");
    let flags = text_of(&dom, "cpu-flags");
    assert!(
        flags.starts_with("unknown: ") && flags.contains("garbage"),
        "firmware flags shown as {flags:?}"
    );
    let updates: usize = dom
        .split("data-updates=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(updates >= 1, "the page never refreshed from /status");
    assert!(
        hidden(&dom, "simulated"),
        "simulation banner shown on real hardware: {}",
        tag_of(&dom, "simulated")
    );
    for chart in ["chart-temp", "chart-fan", "chart-conn"] {
        let points = points_of(&dom, chart);
        assert!(points >= 2, "#{chart} drew {points} points");
        assert!(text_of(&dom, &format!("{chart}-points")).ends_with(" points"));
    }
    assert!(dom.contains("<polyline"), "no chart line in the DOM");
    for stage in ["fan", "shed", "throttle", "critical"] {
        assert!(
            dom.contains(&format!("data-threshold=\"{stage}\"")),
            "no {stage} threshold line"
        );
    }

    let shot = profile.path().join("page.png");
    headless(
        &url,
        &profile.path().join("shot"),
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    // A blank 1280x1400 page compresses to a few kB; text and charts do not.
    assert!(
        png.len() > 30_000,
        "screenshot of {} bytes looks empty",
        png.len()
    );
    if let Some(dir) = std::env::var_os("WARDEN_TEST_SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&dir).join("warden-status-page.png")).unwrap();
    }
}

#[test]
fn chromium_shows_the_simulation_banner_for_a_simulated_warden() {
    let (_w, status) = simulated_warden();
    wait_status(status, "a simulated reading", |d| {
        d["thermal"]["temp_c"].is_number()
    });
    let profile = TempDir::new("chromium-sim");
    let dom = headless(
        &format!("http://{status}/"),
        &profile.path().join("dom"),
        &["--dump-dom"],
    );
    assert!(
        !hidden(&dom, "simulated"),
        "no simulation banner: {}",
        tag_of(&dom, "simulated")
    );
    assert!(
        text_of(&dom, "simulated").starts_with("SIMULATED: "),
        "{}",
        text_of(&dom, "simulated")
    );
    assert_eq!(text_of(&dom, "admission"), "open");
    assert!(
        dom.contains("<title>warden (SIMULATED)</title>"),
        "the tab title does not say SIMULATED"
    );
}

/// A proxy in front of a warden status port, like a balancer whose backend
/// stopped answering: `GET /` gets warden's page, whose last bytes it holds
/// back for `page_open` (Chromium dumps the DOM once the page has loaded:
/// this is how long the script runs first); every `/status...` request is
/// counted and held, never answered nor closed, until the browser gives up
/// on it. Bounded: it stops when dropped, or after a minute.
struct HoldingProxy {
    addr: SocketAddr,
    held: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Trailing spaces sent after the page when `page_open` is over.
const PAGE_PADDING: usize = 64;

impl HoldingProxy {
    fn start(warden_status: SocketAddr, page_open: Duration) -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (held, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (held_in, stop_in) = (Arc::clone(&held), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut conns = Vec::new();
            while !stop_in.load(Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (held, stop) = (Arc::clone(&held_in), Arc::clone(&stop_in));
                        conns.push(std::thread::spawn(move || {
                            serve(conn, warden_status, page_open, &held, &stop, deadline)
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            stop_in.store(true, Relaxed);
            conns.into_iter().for_each(|c| drop(c.join()));
        });
        HoldingProxy {
            addr,
            held,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(thread) = self.thread.take() {
            drop(thread.join());
        }
    }
}

/// One proxied connection (see [`HoldingProxy`]).
fn serve(
    mut conn: TcpStream,
    warden_status: SocketAddr,
    page_open: Duration,
    held: &AtomicU64,
    stop: &AtomicBool,
    deadline: Instant,
) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(_) if !stop.load(Relaxed) && Instant::now() < deadline => {}
            Err(_) => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    if head.starts_with("GET / ") {
        let page = get(warden_status, "/").body;
        let top = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            page.len() + PAGE_PADDING
        );
        let _ = conn.write_all(top.as_bytes());
        let _ = conn.write_all(&page);
        let until = Instant::now() + page_open;
        while Instant::now() < until && !stop.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = conn.write_all(&[b' '; PAGE_PADDING]);
    } else if head.starts_with("GET /status") {
        held.fetch_add(1, Relaxed);
        // Never answer; notice when the browser gives up and closes.
        loop {
            match conn.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(_) if !stop.load(Relaxed) && Instant::now() < deadline => {}
                Err(_) => return,
            }
        }
    } else {
        let _ = conn
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

#[test]
fn chromium_says_it_cannot_reach_a_warden_that_holds_its_requests_and_keeps_polling() {
    let w = Warden::start(&config_with("", ""));
    // 8 s: a request abandoned after 3 s, the next poll 2 s later, and slack.
    let proxy = HoldingProxy::start(status_addr(&w), Duration::from_secs(8));
    let profile = TempDir::new("chromium-held");
    let dom = run_chromium(
        &format!("http://{}/", proxy.addr),
        &profile.path().join("dom"),
        &["--dump-dom"],
    );
    let banner = tag_of(&dom, "banner");
    assert!(
        banner.contains("display: block"),
        "the banner is not shown: {banner}"
    );
    let text = text_of(&dom, "banner");
    assert!(
        text.starts_with("cannot reach warden (/status") && text.contains("no answer within 3 s"),
        "{text}"
    );
    assert_eq!(text_of(&dom, "admission"), "unknown");
    let held = proxy.held.load(Relaxed);
    assert!(
        held >= 4,
        "{held} requests held: the page stopped polling after the first /status and /status/history"
    );
}

/// The history's samples, as `/status/history` lists them now.
fn history_samples(status: SocketAddr) -> Vec<Value> {
    get(status, "/status/history").json()["samples"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn chromium_scales_the_temperature_chart_on_trusted_readings_only() {
    let r = rig_with_sensor(56.0, "");
    wait_status(r.status, "a reading", |d| d["thermal"]["temp_c"] == 56.0);
    // -300 °C for as long as it takes a history sample to record it: the controller
    // reads it, calls it implausible and fails safe.
    r.tree.set_temp_celsius(-300.0).unwrap();
    let implausible = wait_for(Duration::from_secs(10), || {
        history_samples(r.status)
            .into_iter()
            .find(|s| s["temp_c"] == -300.0)
            .ok_or_else(|| "no history sample of the -300 °C reading yet".to_string())
    });
    // Then a real, moving curve: 56.0 .. 58.0 °C, trusted again after recovery.
    let mut celsius = 56.0;
    let trusted_after = |samples: &[Value]| {
        let fault_at = samples.iter().position(|s| s["temp_c"] == -300.0);
        fault_at.map_or(0, |at| {
            samples[at..]
                .iter()
                .filter(|s| s["temp_c"].is_number() && s["sensor_fault"].is_null())
                .count()
        })
    };
    let samples = wait_for(Duration::from_secs(15), || {
        celsius = if celsius >= 58.0 {
            56.0
        } else {
            celsius + 0.25
        };
        r.tree.set_temp_celsius(celsius).unwrap();
        std::thread::sleep(Duration::from_millis(250));
        let samples = history_samples(r.status);
        match trusted_after(&samples) {
            n if n >= 4 => Ok(samples),
            n => Err(format!("{n} trusted samples after the fault")),
        }
    });
    assert_eq!(
        implausible["sensor_fault"], "implausible",
        "the -300 °C sample does not say it was distrusted: {implausible}"
    );
    let trusted: Vec<f64> = samples
        .iter()
        .filter(|s| s["sensor_fault"].is_null())
        .filter_map(|s| s["temp_c"].as_f64())
        .collect();
    assert!(
        trusted.iter().all(|c| (55.9..=58.1).contains(c)),
        "a trusted reading outside what was written: {trusted:?}"
    );

    let profile = TempDir::new("chromium-untrusted");
    let dom = headless(
        &format!("http://{}/", r.status),
        &profile.path().join("dom"),
        &["--dump-dom"],
    );
    let svg = svg_of(&dom, "chart-temp");
    // The axis spans the trusted readings (56-58 °C) and the thresholds (60-85 °C)
    // with a margin, not the -300 °C reading.
    let ticks = celsius_ticks(svg);
    assert!(ticks.len() >= 5, "no y-axis labels in {svg}");
    assert!(
        ticks.iter().all(|t| (45.0..=95.0).contains(t)),
        "the y axis is scaled by the distrusted reading: labels {ticks:?}"
    );
    let bound = |name| -> f64 {
        attr_of(&dom, "chart-temp", name)
            .unwrap_or_else(|| panic!("#chart-temp has no {name}: {}", tag_of(&dom, "chart-temp")))
            .parse()
            .unwrap()
    };
    let (y_min, y_max) = (bound("data-y-min"), bound("data-y-max"));
    assert!(
        (45.0..56.0).contains(&y_min) && (85.0..95.0).contains(&y_max),
        "axis {y_min}..{y_max} °C"
    );
    // Drawn: the trusted readings as the line; the distrusted one as a marker on the
    // bottom edge, counted and named in the caption.
    let line_points = points_of(&dom, "chart-temp");
    assert!(
        line_points >= trusted.len(),
        "{line_points} points in the line, {} trusted readings",
        trusted.len()
    );
    let marked: usize = attr_of(&dom, "chart-temp", "data-untrusted")
        .expect("#chart-temp has no data-untrusted")
        .parse()
        .unwrap();
    assert!(marked >= 1, "the distrusted reading is not marked");
    assert!(
        svg.contains("data-clamped=\"below\"") && svg.contains("not trusted (implausible)"),
        "no marker for -300 °C on the chart's bottom edge: {svg}"
    );
    let caption = text_of(&dom, "chart-temp-points");
    assert!(
        caption.contains(&format!("× {marked} not trusted")),
        "{caption}"
    );
}
