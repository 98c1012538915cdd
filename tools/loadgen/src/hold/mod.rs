//! `hold`: many idle connections, each proven alive before and after a hold.
//!
//! Answers "how many connections does the server keep, and what does each
//! cost it": N connections are opened at a fixed rate (source addresses
//! spread over 127.0.0.1..K so the count is not capped by one address's
//! ephemeral ports), each echoes one message, all are held, the server's
//! memory is sampled while they are, then each must echo a second message.
//! The measured window spans from the first connect to the last final echo.

mod event_loop;

use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use crate::cli::HoldOptions;
use crate::procstat;
use crate::progress::ProgressPrinter;
use crate::report::{self, CommonFigures};
use crate::window::MeasurementWindow;
use event_loop::HoldLoop;

/// Descriptors the hold event loop opens besides its sockets: its epoll instance.
pub const DESCRIPTORS_PER_THREAD: u64 = 1;

/// Runs hold and prints its report; `Ok(true)` when every connection was
/// established and verified twice without errors.
pub fn run(options: &HoldOptions) -> anyhow::Result<bool> {
    let ramp = Duration::from_secs_f64(options.connections as f64 / options.rate);
    let progress = ProgressPrinter::new("hold", "verified", ramp + options.hold);
    let mut hold = HoldLoop::new(options, progress).context("cannot create the hold event loop")?;

    let rss_before = options
        .target
        .server_pid
        .and_then(|pid| procstat::process_rss_bytes(pid).ok());
    let mut window = MeasurementWindow::open(options.target.server_pid);
    hold.open_and_verify()
        .context("hold event loop failed while opening")?;
    eprintln!(
        "hold: connections opened, holding for {:.1} s",
        options.hold.as_secs_f64()
    );
    hold.hold(options.hold)
        .context("hold event loop failed while holding")?;
    window.sample_server_rss();
    hold.verify_again()
        .context("hold event loop failed while verifying")?;
    let figures = window.close();
    let counts = hold.finish();

    let requested = options.connections as u64;
    let common = CommonFigures {
        mode: "hold",
        addr: options.target.addr,
        window: figures,
        errors: counts.errors,
    };
    let clean = common.errors.total() == 0
        && counts.established == requested
        && counts.verified_initial == requested
        && counts.verified_final == requested;
    let rss_held = figures.server.and_then(|server| server.rss_bytes);
    let per_connection = |bytes: Option<u64>| {
        bytes
            .filter(|_| counts.established > 0)
            .map(|bytes| (bytes as f64 / counts.established as f64).round() as u64)
    };
    let mut object = report::common_fields(&common);
    object.insert("connections".into(), json!(options.connections));
    object.insert("established".into(), json!(counts.established));
    object.insert("verified_initial".into(), json!(counts.verified_initial));
    object.insert("verified_final".into(), json!(counts.verified_final));
    object.insert(
        "server_rss_per_conn_bytes".into(),
        json!(per_connection(rss_held)),
    );
    if figures.server.is_some() {
        let growth = rss_held
            .zip(rss_before)
            .map(|(held, before)| held.saturating_sub(before));
        object.insert("server_rss_before_bytes".into(), json!(rss_before));
        object.insert(
            "server_rss_growth_per_conn_bytes".into(),
            json!(per_connection(growth)),
        );
    }

    let memory = match (rss_held, rss_before) {
        (Some(held), Some(before)) => format!(
            "\n  server rss while held: {held} bytes ({} per connection; {} per connection above the {before} before)",
            per_connection(Some(held)).map_or("-".to_string(), |bytes| bytes.to_string()),
            per_connection(Some(held.saturating_sub(before))).map_or("-".to_string(), |bytes| bytes.to_string()),
        ),
        _ => String::new(),
    };
    let human = format!(
        "hold {addr}: {requested} requested at {rate}/s from {sources} source address(es), {size}-byte messages\n  \
         established {established}, verified {initial} before and {final_} after {hold:.1} s hold, over {duration:.2} s{memory}\n{common}",
        addr = options.target.addr,
        rate = options.rate,
        sources = options.sources,
        size = options.size,
        established = counts.established,
        initial = counts.verified_initial,
        final_ = counts.verified_final,
        hold = options.hold.as_secs_f64(),
        duration = figures.duration_s,
        common = report::human_common(&common),
    );
    report::emit(options.target.json, object, &human);
    Ok(clean)
}
