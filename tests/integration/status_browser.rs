//! The live page in a real browser: headless Chromium (Debian package
//! `chromium`) loads `/` from a running warden, runs its script, and the
//! rendered DOM must show the current temperature and charts with data
//! points, and the simulation banner only when warden runs `--simulate`;
//! a screenshot is taken. Behind a proxy that holds its requests, the page
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

use crate::status::{get, rig_with_sensor, simulated_warden, status_addr, wait_status};
use crate::util::{config_with, TempDir, Warden};

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
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let tag = &dom[at..at + dom[at..].find('>').unwrap()];
    let value = tag
        .split("data-points=\"")
        .nth(1)
        .expect("no data-points attribute");
    value.split('"').next().unwrap().parse().unwrap()
}

#[test]
fn chromium_renders_the_live_page_with_temperature_and_charts() {
    let r = rig_with_sensor(57.5, "");
    wait_status(r.status, "a reading", |d| d["thermal"]["temp_c"] == 57.5);
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
