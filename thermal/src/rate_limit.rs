//! Rate limiting for repeated log lines: a broken actuator fails every tick,
//! and one line a minute with a count says as much as 120 identical lines.

use std::time::{Duration, Instant};

/// At most one log line per actuator in this period.
pub const LOG_PERIOD: Duration = Duration::from_secs(60);

/// Decides whether a repeated event may be logged now, counting the ones it holds back.
#[derive(Debug, Clone)]
pub struct LogLimiter {
    period: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// A limiter allowing one line per `period`.
    pub fn new(period: Duration) -> Self {
        LogLimiter {
            period,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// Returns `Some(suppressed_since_last_line)` when a line may be logged at `now`, else
    /// counts the event as suppressed and returns `None`.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last_logged
            .map_or(true, |at| now.duration_since(at) >= self.period);
        if due {
            self.last_logged = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new(LOG_PERIOD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_with_the_suppressed_count() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.allow(start), Some(0));
        for s in 1..60 {
            assert_eq!(limiter.allow(start + Duration::from_secs(s)), None);
        }
        assert_eq!(limiter.allow(start + Duration::from_secs(60)), Some(59));
        assert_eq!(limiter.allow(start + Duration::from_secs(61)), None);
        assert_eq!(limiter.allow(start + Duration::from_secs(200)), Some(1));
    }
}
