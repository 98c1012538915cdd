//! `pingpong`: many connections, one outstanding message each.
//!
//! The coordinator (this module, on the main thread) splits the connections
//! round-robin over `--threads` event-loop threads, waits until every thread
//! has opened its share, then hands all of them the same start time so the
//! warmup and measured window line up across threads. While they run it
//! samples CPU at the window edges and prints progress; afterwards it merges
//! the per-thread histograms and counters into one report.

mod event_loop;

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use serde_json::json;

use crate::cli::PingpongOptions;
use crate::error_kind::ErrorCounts;
use crate::histogram::LatencyHistogram;
use crate::progress::{LiveCounters, LiveSnapshot, ProgressPrinter};
use crate::report::{self, CommonFigures};
use crate::window::MeasurementWindow;
use event_loop::{run_thread, StartSignal, ThreadPlan, ThreadResult};

/// Slack on top of the per-connection timeout for the whole connect phase,
/// per connection: a server accepting 1000 connections/s still gets them all.
const CONNECT_PHASE_PER_CONNECTION: Duration = Duration::from_millis(1);

/// Descriptors each pingpong thread opens besides its sockets: its epoll
/// instance and the timerfd that paces `--rate` sends.
pub const DESCRIPTORS_PER_THREAD: u64 = 2;

/// Runs pingpong and prints its report; `Ok(true)` when there were no errors.
pub fn run(options: &PingpongOptions) -> anyhow::Result<bool> {
    let connect_deadline = Instant::now()
        + options.target.timeout * 2
        + CONNECT_PHASE_PER_CONNECTION * options.connections as u32;
    let (ready_sender, ready_receiver) = mpsc::channel();
    let mut workers = Vec::with_capacity(options.threads);
    for thread_index in 0..options.threads {
        let plan = ThreadPlan {
            connection_ids: (thread_index..options.connections)
                .step_by(options.threads)
                .map(|id| id as u64)
                .collect(),
            target: options.target.addr,
            sources: options.sources,
            size: options.size,
            timeout: options.target.timeout,
            connect_deadline,
            rate: options.rate,
            total_connections: options.connections,
        };
        let live = Arc::new(LiveCounters::default());
        let (start_sender, start_receiver) = mpsc::channel();
        let ready = ready_sender.clone();
        let thread_live = Arc::clone(&live);
        let handle = thread::Builder::new()
            .name(format!("pingpong-{thread_index}"))
            .spawn(move || run_thread(plan, thread_live, ready, start_receiver))
            .context("cannot spawn a pingpong thread")?;
        workers.push((handle, start_sender, live));
    }
    drop(ready_sender);

    let mut established = 0;
    for _ in 0..options.threads {
        match ready_receiver.recv_timeout(
            connect_deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1),
        ) {
            Ok(count) => established += count,
            Err(_) => break,
        }
    }
    eprintln!(
        "pingpong: {established}/{} connections established to {}",
        options.connections, options.target.addr
    );

    let origin = Instant::now();
    let (measure_start, measure_end) = if established == 0 {
        (origin, origin)
    } else {
        (
            origin + options.warmup,
            origin + options.warmup + options.duration,
        )
    };
    let signal = StartSignal {
        origin,
        measure_start,
        measure_end,
        established_total: established,
    };
    for (_, start_sender, _) in &workers {
        let _ = start_sender.send(signal);
    }

    let mut progress = ProgressPrinter::new("pingpong", "msgs", options.warmup + options.duration);
    let mut window = None;
    let mut figures = None;
    while figures.is_none() {
        let now = Instant::now();
        if window.is_none() && now >= measure_start {
            window = Some(MeasurementWindow::open(options.target.server_pid));
        }
        if now >= measure_end {
            figures = window.take().map(MeasurementWindow::close);
            break;
        }
        progress.print_if_due(
            now,
            LiveSnapshot::sum(workers.iter().map(|(_, _, live)| live.as_ref())),
        );
        let next = progress.next_tick().min(if window.is_none() {
            measure_start
        } else {
            measure_end
        });
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let mut figures = figures.ok_or_else(|| anyhow!("measurement window never opened"))?;
    figures.duration_s = (measure_end - measure_start).as_secs_f64();

    let mut histogram = LatencyHistogram::new();
    let mut errors = ErrorCounts::default();
    let mut msgs = 0;
    let mut verified_bytes = 0;
    for (handle, _, _) in workers {
        let result: ThreadResult = handle
            .join()
            .map_err(|_| anyhow!("a pingpong thread panicked"))?
            .context("pingpong event loop failed")?;
        histogram.merge(&result.histogram);
        errors.merge(&result.errors);
        msgs += result.msgs;
        verified_bytes += result.verified_bytes;
    }

    let common = CommonFigures {
        mode: "pingpong",
        addr: options.target.addr,
        window: figures,
        errors,
    };
    let clean = common.errors.total() == 0;
    let msgs_per_s = report::per_second(msgs, figures.duration_s);
    let mut object = report::common_fields(&common);
    object.insert("connections".into(), json!(options.connections));
    object.insert("size".into(), json!(options.size));
    object.insert("rate_cap".into(), json!(options.rate));
    object.insert("msgs".into(), json!(msgs));
    object.insert("msgs_per_s".into(), json!(msgs_per_s));
    object.insert("p50_us".into(), json!(histogram.percentile_us(50.0)));
    object.insert("p99_us".into(), json!(histogram.percentile_us(99.0)));
    object.insert("p999_us".into(), json!(histogram.percentile_us(99.9)));
    object.insert("verified_bytes".into(), json!(verified_bytes));
    if let Some(server) = figures.server {
        object.insert(
            "server_cpu_s_per_million".into(),
            json!(report::cpu_per_million(server.cpu_s, msgs)),
        );
    }

    let pacing = options.rate.map_or("saturation".to_string(), |rate| {
        format!("capped at {rate} msgs/s")
    });
    let human = format!(
        "pingpong {addr}: {established}/{connections} connections, {size}-byte messages, {pacing}, {threads} thread(s)\n  \
         measured {duration:.2} s after {warmup:.2} s warmup: {msgs} msgs ({msgs_per_s:.1} msgs/s), {verified_bytes} bytes verified\n  \
         round trip (from scheduled send) us: p50 {p50}, p99 {p99}, p99.9 {p999}, max {max}\n{common}",
        addr = options.target.addr,
        connections = options.connections,
        size = options.size,
        threads = options.threads,
        duration = figures.duration_s,
        warmup = options.warmup.as_secs_f64(),
        p50 = report::micros(histogram.percentile_us(50.0)),
        p99 = report::micros(histogram.percentile_us(99.0)),
        p999 = report::micros(histogram.percentile_us(99.9)),
        max = report::micros(histogram.percentile_us(100.0)),
        common = report::human_common(&common),
    );
    report::emit(options.target.json, object, &human);
    Ok(clean)
}
