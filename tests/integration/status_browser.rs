//! The live page in a real browser: headless Chromium (Debian package
//! `chromium`) loads `/` from a running warden, runs its script, and the
//! rendered DOM must show the current temperature and charts with data
//! points, and the simulation banner only when warden runs `--simulate`;
//! a screenshot is taken. A missing Chromium fails the test.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::status::{get, rig_with_sensor, simulated_warden, wait_status};
use crate::util::TempDir;

/// The Chromium binary: `$WARDEN_TEST_CHROMIUM`, else `chromium`.
fn chromium() -> String {
    std::env::var("WARDEN_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Runs headless Chromium on `url` with `extra` arguments and a fresh profile;
/// returns stdout. Virtual time lets the page's script fetch and redraw
/// (it refreshes every 2 s) before the DOM is dumped or the picture taken.
fn headless(url: &str, profile: &Path, extra: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=5000",
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
