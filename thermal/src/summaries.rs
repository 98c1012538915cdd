//! The controller's summary lines for what its limiters held back: level and
//! admission changes (see [`ChangeLimiter`]) and repeated sensor and throttle
//! flag errors (see [`TextLimiter`]). Called every tick for the periods that
//! have ended, and once more as the controller stops for everything still held.

use std::time::Instant;

use crate::change_log::{ChangeLimiter, ChangeSummary};
use crate::policy::Level;
use crate::rate_limit::{SuppressedSummary, TextLimiter};

/// Which held-back lines a flush summarises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlushScope {
    /// Those whose period has ended (every tick).
    Due,
    /// All of them (as the controller stops, so no count is lost).
    All,
}

/// Logs the summaries of the level and admission changes held back, each saying which
/// state holds now; a summary of levels that went through a sensor fault is a warning.
pub(crate) fn log_change_summaries(
    level_log: &mut ChangeLimiter,
    admission_log: &mut ChangeLimiter,
    now: Instant,
    scope: FlushScope,
) {
    let flush = |limiter: &mut ChangeLimiter| -> Option<(String, bool)> {
        let summary: ChangeSummary<'_> = match scope {
            FlushScope::Due => limiter.flush(now),
            FlushScope::All => limiter.flush_all(now),
        }?;
        let alarming = summary.went_through(Level::SensorFault.as_str());
        Some((summary.to_string(), alarming))
    };
    for (line, alarming) in [flush(level_log), flush(admission_log)]
        .into_iter()
        .flatten()
    {
        if alarming {
            log::warn!("{line}");
        } else {
            log::info!("{line}");
        }
    }
}

/// Logs a summary of each repeated sensor and throttle-flag error held back, quoting
/// the line it repeats.
pub(crate) fn log_repeat_summaries(
    sensor_log: &mut TextLimiter,
    throttle_log: &mut TextLimiter,
    now: Instant,
    scope: FlushScope,
) {
    for (limiter, prefix) in [
        (sensor_log, "temperature sensor: "),
        (throttle_log, "throttle flags: "),
    ] {
        let summarise = |message: &str, count| {
            let text = format!("{prefix}{message}");
            log::warn!("{}", SuppressedSummary { count, text: &text });
        };
        match scope {
            FlushScope::Due => limiter.flush(now, summarise),
            FlushScope::All => limiter.flush_all(now, summarise),
        }
    }
}
