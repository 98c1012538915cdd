//! Live counters and the once-a-second progress line on stderr.
//!
//! Each event-loop thread owns one [`LiveCounters`] and bumps it with relaxed
//! atomic adds (its own cache line, never contended, no lock); the main
//! thread sums them once a second for a progress line. Runs planned to last
//! 3 s or less print no progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs longer than this print a progress line each second.
pub const PROGRESS_MIN_RUN: Duration = Duration::from_secs(3);

/// Counters one event-loop thread publishes for progress reporting
/// (cache-line aligned so threads never share a line).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct LiveCounters {
    completed: AtomicU64,
    errors: AtomicU64,
    open: AtomicU64,
}

impl LiveCounters {
    /// Counts one completed message / exchange / verification.
    pub fn add_completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one error.
    pub fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the number of currently open connections of this thread.
    pub fn set_open(&self, open: usize) {
        self.open.store(open as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LiveSnapshot {
        LiveSnapshot {
            completed: self.completed.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
        }
    }
}

/// Totals across threads at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Completed messages / exchanges / verifications so far.
    pub completed: u64,
    /// Errors so far.
    pub errors: u64,
    /// Connections open now.
    pub open: u64,
}

impl LiveSnapshot {
    /// Sums the counters of all threads.
    pub fn sum<'a>(counters: impl IntoIterator<Item = &'a LiveCounters>) -> LiveSnapshot {
        counters.into_iter().map(LiveCounters::snapshot).fold(
            LiveSnapshot::default(),
            |total, one| LiveSnapshot {
                completed: total.completed + one.completed,
                errors: total.errors + one.errors,
                open: total.open + one.open,
            },
        )
    }
}

/// Prints a progress line each second when enabled.
pub struct ProgressPrinter {
    mode: &'static str,
    unit: &'static str,
    enabled: bool,
    started: Instant,
    next_tick: Instant,
    last_completed: u64,
}

impl ProgressPrinter {
    /// A printer for `mode` counting `unit`s; enabled when the run is
    /// planned to last longer than [`PROGRESS_MIN_RUN`].
    pub fn new(mode: &'static str, unit: &'static str, planned_run: Duration) -> ProgressPrinter {
        let started = Instant::now();
        ProgressPrinter {
            mode,
            unit,
            enabled: planned_run > PROGRESS_MIN_RUN,
            started,
            next_tick: started + Duration::from_secs(1),
            last_completed: 0,
        }
    }

    /// When the next line is due (far future when disabled).
    pub fn next_tick(&self) -> Instant {
        if self.enabled {
            self.next_tick
        } else {
            self.started + Duration::from_secs(86_400 * 365)
        }
    }

    /// Prints a line if one is due at `now`.
    pub fn print_if_due(&mut self, now: Instant, snapshot: LiveSnapshot) {
        if !self.enabled || now < self.next_tick {
            return;
        }
        let elapsed = now.duration_since(self.started).as_secs();
        let per_second = snapshot.completed.saturating_sub(self.last_completed);
        eprintln!(
            "[{elapsed:>4}s] {}: {per_second} {}/s, total {}, errors {}, open {}",
            self.mode, self.unit, snapshot.completed, snapshot.errors, snapshot.open
        );
        self.last_completed = snapshot.completed;
        while self.next_tick <= now {
            self.next_tick += Duration::from_secs(1);
        }
    }
}
