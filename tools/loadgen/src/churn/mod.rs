//! `churn`: connection setup and teardown under load.
//!
//! Workers (connect, one small echo, close, repeat) are nonblocking state
//! machines spread round-robin over `--threads` mio event loops rather than
//! one blocking thread each: on a small machine W blocked threads spend more
//! in context switches than the few extra syscalls of a readiness loop cost.
//! The coordinator fixes one window for all threads before spawning them,
//! samples CPU at its edges, prints progress and merges the results.
//!
//! The load generator closes first, so its side keeps the TIME_WAIT state;
//! on loopback Linux reuses such ports after 1 s (net.ipv4.tcp_tw_reuse = 2,
//! the default), elsewhere the ephemeral port range bounds the rate.

mod event_loop;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use serde_json::json;

use crate::cli::ChurnOptions;
use crate::error_kind::ErrorCounts;
use crate::histogram::LatencyHistogram;
use crate::progress::{LiveCounters, LiveSnapshot, ProgressPrinter};
use crate::report::{self, CommonFigures};
use crate::window::MeasurementWindow;
use event_loop::{run_thread, ThreadPlan};

/// Time given to the threads to start before the window opens.
const START_DELAY: Duration = Duration::from_millis(20);

/// Descriptors each churn thread opens besides its sockets: its epoll instance.
pub const DESCRIPTORS_PER_THREAD: u64 = 1;

/// Runs churn and prints its report; `Ok(true)` when there were no errors.
pub fn run(options: &ChurnOptions) -> anyhow::Result<bool> {
    let measure_start = Instant::now() + START_DELAY;
    let measure_end = measure_start + options.duration;
    let mut workers = Vec::with_capacity(options.threads);
    for thread_index in 0..options.threads {
        let plan = ThreadPlan {
            worker_ids: (thread_index..options.workers)
                .step_by(options.threads)
                .map(|id| id as u64)
                .collect(),
            target: options.target.addr,
            size: options.size,
            timeout: options.target.timeout,
            measure_start,
            measure_end,
        };
        let live = Arc::new(LiveCounters::default());
        let thread_live = Arc::clone(&live);
        let handle = thread::Builder::new()
            .name(format!("churn-{thread_index}"))
            .spawn(move || run_thread(plan, thread_live))
            .context("cannot spawn a churn thread")?;
        workers.push((handle, live));
    }

    thread::sleep(measure_start.saturating_duration_since(Instant::now()));
    let window = MeasurementWindow::open(options.target.server_pid);
    let mut progress = ProgressPrinter::new("churn", "exchanges", options.duration);
    loop {
        let now = Instant::now();
        if now >= measure_end {
            break;
        }
        progress.print_if_due(
            now,
            LiveSnapshot::sum(workers.iter().map(|(_, live)| live.as_ref())),
        );
        thread::sleep(
            progress
                .next_tick()
                .min(measure_end)
                .saturating_duration_since(Instant::now()),
        );
    }
    let mut figures = window.close();
    figures.duration_s = (measure_end - measure_start).as_secs_f64();

    let mut histogram = LatencyHistogram::new();
    let mut errors = ErrorCounts::default();
    let mut exchanges = 0;
    for (handle, _) in workers {
        let result = handle
            .join()
            .map_err(|_| anyhow!("a churn thread panicked"))?
            .context("churn event loop failed")?;
        histogram.merge(&result.histogram);
        errors.merge(&result.errors);
        exchanges += result.exchanges;
    }

    let common = CommonFigures {
        mode: "churn",
        addr: options.target.addr,
        window: figures,
        errors,
    };
    let clean = common.errors.total() == 0;
    let exchanges_per_s = report::per_second(exchanges, figures.duration_s);
    let mut object = report::common_fields(&common);
    object.insert("workers".into(), json!(options.workers));
    object.insert("exchanges".into(), json!(exchanges));
    object.insert("exchanges_per_s".into(), json!(exchanges_per_s));
    object.insert("p50_us".into(), json!(histogram.percentile_us(50.0)));
    object.insert("p99_us".into(), json!(histogram.percentile_us(99.0)));
    if let Some(server) = figures.server {
        object.insert(
            "server_cpu_s_per_million".into(),
            json!(report::cpu_per_million(server.cpu_s, exchanges)),
        );
    }

    let human = format!(
        "churn {addr}: {workers} workers, {size}-byte messages, {threads} thread(s)\n  \
         measured {duration:.2} s: {exchanges} exchanges ({exchanges_per_s:.1}/s)\n  \
         connect+echo+verify us: p50 {p50}, p99 {p99}, max {max}\n{common}",
        addr = options.target.addr,
        workers = options.workers,
        size = options.size,
        threads = options.threads,
        duration = figures.duration_s,
        p50 = report::micros(histogram.percentile_us(50.0)),
        p99 = report::micros(histogram.percentile_us(99.0)),
        max = report::micros(histogram.percentile_us(100.0)),
        common = report::human_common(&common),
    );
    report::emit(options.target.json, object, &human);
    Ok(clean)
}
