//! The measured window: wall time, our CPU time and the server's.
//!
//! Each mode opens a window when measurement starts (after warmup, after the
//! connect phase) and closes it when measurement ends; the figures in the
//! report cover exactly that span. The server is sampled only when
//! `--server-pid` was given; a read that fails (the server died) is reported
//! once on stderr and leaves that figure `null`.

use std::time::Instant;

use crate::procstat;

/// CPU and memory of the server process over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerFigures {
    /// Server CPU seconds used during the window, if both samples succeeded.
    pub cpu_s: Option<f64>,
    /// Server resident memory in bytes at the sampling point, if readable.
    pub rss_bytes: Option<u64>,
}

/// Figures for one closed window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowFigures {
    /// Wall-clock length of the window in seconds.
    pub duration_s: f64,
    /// CPU seconds the load generator used during the window.
    pub loadgen_cpu_s: f64,
    /// Server figures; `None` without `--server-pid`.
    pub server: Option<ServerFigures>,
}

/// An open measurement window.
pub struct MeasurementWindow {
    server_pid: Option<u32>,
    opened_at: Instant,
    own_cpu_at_open: f64,
    server_cpu_at_open: Option<f64>,
    server_rss: Option<u64>,
}

impl MeasurementWindow {
    /// Opens the window now, taking the start samples.
    pub fn open(server_pid: Option<u32>) -> MeasurementWindow {
        MeasurementWindow {
            server_pid,
            opened_at: Instant::now(),
            own_cpu_at_open: procstat::own_cpu_seconds(),
            server_cpu_at_open: server_pid.and_then(sample_server_cpu),
            server_rss: None,
        }
    }

    /// Samples the server's resident memory now (hold mode does this while
    /// every connection is held; otherwise [`close`](Self::close) does it).
    pub fn sample_server_rss(&mut self) {
        if let Some(pid) = self.server_pid {
            self.server_rss = sample_server_rss(pid);
        }
    }

    /// Closes the window now and returns its figures.
    pub fn close(mut self) -> WindowFigures {
        let duration_s = self.opened_at.elapsed().as_secs_f64();
        let loadgen_cpu_s = procstat::own_cpu_seconds() - self.own_cpu_at_open;
        let server = self.server_pid.map(|pid| {
            let cpu_s = match (self.server_cpu_at_open, sample_server_cpu(pid)) {
                (Some(start), Some(end)) => Some((end - start).max(0.0)),
                _ => None,
            };
            if self.server_rss.is_none() {
                self.sample_server_rss();
            }
            ServerFigures {
                cpu_s,
                rss_bytes: self.server_rss,
            }
        });
        WindowFigures {
            duration_s,
            loadgen_cpu_s,
            server,
        }
    }
}

fn sample_server_cpu(pid: u32) -> Option<f64> {
    procstat::process_cpu_seconds(pid)
        .map_err(|error| eprintln!("warning: server CPU time unavailable: {error}"))
        .ok()
}

fn sample_server_rss(pid: u32) -> Option<u64> {
    procstat::process_rss_bytes(pid)
        .map_err(|error| eprintln!("warning: server memory unavailable: {error}"))
        .ok()
}
