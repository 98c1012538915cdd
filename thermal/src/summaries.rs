//! The controller's summary lines for what its limiters held back: level and
//! admission changes (see [`ChangeLimiter`]) and repeated sensor and throttle
//! flag errors (see [`TextLimiter`]). Called every tick for the periods that
//! have ended, and once more as the controller stops for everything still held.

use std::time::Instant;

use crate::change_log::ChangeLimiter;
use crate::policy::{AdmissionDecision, Level};
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
/// state holds now (`level` and `admission`); a summary of levels that went through a
/// sensor fault is a warning.
pub(crate) fn log_change_summaries(
    level_log: &mut ChangeLimiter,
    level: Level,
    admission_log: &mut ChangeLimiter,
    admission: AdmissionDecision,
    now: Instant,
    scope: FlushScope,
) {
    for (limiter, current) in [
        (level_log, level.as_str()),
        (admission_log, admission.as_str()),
    ] {
        let summary = match scope {
            FlushScope::Due => limiter.flush(now, current),
            FlushScope::All => limiter.flush_all(now, current),
        };
        if let Some(summary) = summary {
            let severity = if summary.went_through(Level::SensorFault.as_str()) {
                log::Level::Warn
            } else {
                log::Level::Info
            };
            log::log!(severity, "{summary}");
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
