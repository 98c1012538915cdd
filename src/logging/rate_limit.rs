//! One log line per window for lines a remote peer (or a failing peer) can
//! trigger, counting the ones held back and summarising them by name, at the
//! next allowed line or, once the window has passed without one, at a
//! periodic [`RateLimit::flush`].

use std::time::{Duration, Instant};

/// Allows one log line per window; for lines a remote peer can trigger. The lines held
/// back are counted and summarised by the next allowed line, or by [`RateLimit::flush`]
/// once the window has passed without one.
#[derive(Debug)]
pub struct RateLimit {
    window: Duration,
    last: Option<Instant>,
    suppressed: u64,
    what: &'static str,
}

impl RateLimit {
    /// At most one line per `window`; summaries name the lines as `what`
    /// (e.g. "accept failed"), since other lines may come between.
    pub fn named(window: Duration, what: &'static str) -> Self {
        RateLimit {
            window,
            last: None,
            suppressed: 0,
            what,
        }
    }

    /// True when a line may be written now; otherwise counts it as suppressed.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.window => {
                self.suppressed += 1;
                false
            }
            _ => {
                self.log_summary();
                self.last = Some(now);
                true
            }
        }
    }

    /// Logs the summary of the lines held back once the window has passed without
    /// another line being allowed (call it periodically, e.g. at each heartbeat); the
    /// summary takes the window's line.
    pub fn flush(&mut self, now: Instant) {
        let passed = self.last.map_or(true, |last| {
            now.saturating_duration_since(last) >= self.window
        });
        if self.suppressed == 0 || !passed {
            return;
        }
        self.log_summary();
        self.last = Some(now);
    }

    /// When [`RateLimit::flush`] has a summary to write: the end of the window, while
    /// lines are held back; `None` when nothing is. For a loop that sleeps in `poll`
    /// to wake for it.
    pub fn flush_due(&self) -> Option<Instant> {
        if self.suppressed == 0 {
            return None;
        }
        self.last.map(|last| last + self.window)
    }

    /// Logs and clears the count of suppressed lines, if any.
    fn log_summary(&mut self) {
        if self.suppressed > 0 {
            log::warn!("{}", suppressed_summary(self.suppressed, self.what));
            self.suppressed = 0;
        }
    }
}

/// `(N similar lines suppressed: WHAT)`.
fn suppressed_summary(count: u64, what: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("({count} similar line{plural} suppressed: {what})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_is_due_at_the_window_s_end_only_while_lines_are_held_back() {
        let start = Instant::now();
        let mut limit = RateLimit::named(Duration::from_secs(10), "status server warnings");
        assert_eq!(limit.flush_due(), None);
        assert!(limit.allow(start));
        assert_eq!(limit.flush_due(), None, "nothing held back yet");
        assert!(!limit.allow(start + Duration::from_secs(1)));
        assert_eq!(limit.flush_due(), Some(start + Duration::from_secs(10)));
        limit.flush(start + Duration::from_secs(10));
        assert_eq!(limit.suppressed, 0, "summarised by the flush");
        assert_eq!(limit.flush_due(), None);
    }

    #[test]
    fn rate_limit_allows_one_per_window() {
        let mut limit = RateLimit::named(Duration::from_secs(10), "accept failed");
        let t0 = Instant::now();
        assert!(limit.allow(t0));
        assert!(!limit.allow(t0 + Duration::from_secs(1)));
        assert!(!limit.allow(t0 + Duration::from_secs(9)));
        assert_eq!(limit.suppressed, 2);
        assert!(limit.allow(t0 + Duration::from_secs(10)));
        assert_eq!(limit.suppressed, 0);
    }

    #[test]
    fn rate_limit_flush_reports_a_burst_that_ended_without_another_line() {
        let mut limit = RateLimit::named(Duration::from_secs(10), "accept failed");
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        limit.flush(t0);
        assert_eq!(
            limit.last, None,
            "nothing to summarise: the flush takes no line"
        );
        assert!(limit.allow(t0));
        for s in 1..5 {
            assert!(!limit.allow(at(s)));
        }
        // Not before the window has passed...
        limit.flush(at(9));
        assert_eq!((limit.suppressed, limit.last), (4, Some(t0)));
        // ...then once, taking the window's line.
        limit.flush(at(10));
        assert_eq!((limit.suppressed, limit.last), (0, Some(at(10))));
        limit.flush(at(30));
        assert_eq!(limit.last, Some(at(10)), "nothing left to summarise");
        // The summary took the window's line: the next line waits out a window from it.
        let mut limit = RateLimit::named(Duration::from_secs(10), "accept failed");
        assert!(limit.allow(t0));
        assert!(!limit.allow(at(1)));
        limit.flush(at(10));
        assert_eq!(limit.suppressed, 0);
        assert!(!limit.allow(at(11)));
        assert!(limit.allow(at(20)));
    }

    #[test]
    fn a_rate_limit_summary_names_what_it_counts() {
        assert_eq!(
            suppressed_summary(1, "accept failed"),
            "(1 similar line suppressed: accept failed)"
        );
        assert_eq!(
            suppressed_summary(999, "status request dropped"),
            "(999 similar lines suppressed: status request dropped)"
        );
    }
}
