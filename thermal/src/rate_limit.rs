//! Rate limiting for repeated log lines: a broken actuator fails every tick,
//! and one line a minute with a count says as much as 120 identical lines.
//! [`TextLimiter`] limits each distinct message on its own, so a new kind of
//! fault is logged at once instead of hiding behind the last one's minute.

use std::time::{Duration, Instant};

/// At most one log line per actuator in this period.
pub const LOG_PERIOD: Duration = Duration::from_secs(60);

/// The tail of a rate-limited line: ` (N similar lines suppressed)`, or nothing when no
/// line was held back (a first warning says only what happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuppressedNote(pub u64);

impl std::fmt::Display for SuppressedNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => f.write_str(" (1 similar line suppressed)"),
            n => write!(f, " ({n} similar lines suppressed)"),
        }
    }
}

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

/// How many distinct messages a [`TextLimiter`] remembers; the least recently seen is forgotten.
pub const TEXT_SLOTS: usize = 8;
/// How many messages a [`TextLimiter`] logs per period on first sight, so a source of
/// ever-changing text (garbage that differs on every read) cannot flood the log.
pub const NEW_TEXT_BURST: u32 = 10;

/// One remembered message and its own limiter.
#[derive(Debug, Clone)]
struct TextSlot {
    text: String,
    limiter: LogLimiter,
    last_seen: Instant,
}

/// Decides whether a message may be logged now: a message differing from the ones logged
/// recently goes out at once (at most [`NEW_TEXT_BURST`] a period), and repeats of one
/// message are limited to one line per period, counting the ones held back.
#[derive(Debug, Clone)]
pub struct TextLimiter {
    period: Duration,
    slots: Vec<TextSlot>,
    burst_started: Option<Instant>,
    new_in_burst: u32,
    held_back_new: u64,
}

impl TextLimiter {
    /// A limiter allowing one line per distinct message per `period`.
    pub fn new(period: Duration) -> Self {
        TextLimiter {
            period,
            slots: Vec::with_capacity(TEXT_SLOTS),
            burst_started: None,
            new_in_burst: 0,
            held_back_new: 0,
        }
    }

    /// Returns `Some(suppressed)` when `text` may be logged at `now`, where `suppressed`
    /// counts the lines held back since (repeats of `text`, and new messages over the
    /// burst); else counts this one as held back and returns `None`.
    pub fn allow(&mut self, now: Instant, text: &str) -> Option<u64> {
        if let Some(slot) = self.slots.iter_mut().find(|slot| slot.text == text) {
            slot.last_seen = now;
            let repeats = slot.limiter.allow(now)?;
            return Some(repeats + std::mem::take(&mut self.held_back_new));
        }
        if self
            .burst_started
            .map_or(true, |at| now.duration_since(at) >= self.period)
        {
            self.burst_started = Some(now);
            self.new_in_burst = 0;
        }
        if self.new_in_burst >= NEW_TEXT_BURST {
            self.held_back_new += 1;
            return None;
        }
        self.new_in_burst += 1;
        if self.slots.len() >= TEXT_SLOTS {
            let oldest = self
                .slots
                .iter()
                .enumerate()
                .min_by_key(|(_, slot)| slot.last_seen)
                .map_or(0, |(index, _)| index);
            self.slots.swap_remove(oldest);
        }
        let mut limiter = LogLimiter::new(self.period);
        limiter.allow(now);
        self.slots.push(TextSlot {
            text: text.to_owned(),
            limiter,
            last_seen: now,
        });
        Some(std::mem::take(&mut self.held_back_new))
    }
}

impl Default for TextLimiter {
    fn default() -> Self {
        TextLimiter::new(LOG_PERIOD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_is_left_out_when_nothing_was_held_back() {
        assert_eq!(SuppressedNote(0).to_string(), "");
        assert_eq!(
            SuppressedNote(1).to_string(),
            " (1 similar line suppressed)"
        );
        assert_eq!(
            SuppressedNote(59).to_string(),
            " (59 similar lines suppressed)"
        );
    }

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

    #[test]
    fn a_different_message_is_logged_at_once_and_repeats_stay_limited() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut limiter = TextLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.allow(at(0), "temp is empty"), Some(0));
        assert_eq!(limiter.allow(at(1), "temp is empty"), None);
        assert_eq!(limiter.allow(at(2), "temp holds \"abc\""), Some(0));
        assert_eq!(limiter.allow(at(3), "temp does not exist"), Some(0));
        assert_eq!(limiter.allow(at(4), "temp holds \"abc\""), None);
        assert_eq!(limiter.allow(at(5), "temp is empty"), None);
        assert_eq!(limiter.allow(at(60), "temp is empty"), Some(2));
        assert_eq!(limiter.allow(at(62), "temp holds \"abc\""), Some(1));
    }

    #[test]
    fn ever_changing_text_is_held_to_a_burst_per_period() {
        let start = Instant::now();
        let mut limiter = TextLimiter::new(Duration::from_secs(60));
        let logged = (0..100)
            .filter(|n| {
                let now = start + Duration::from_millis(n * 100);
                limiter.allow(now, &format!("garbage {n}")).is_some()
            })
            .count();
        assert_eq!(logged, NEW_TEXT_BURST as usize);
        let next = limiter.allow(start + Duration::from_secs(60), "garbage again");
        assert_eq!(next, Some(100 - u64::from(NEW_TEXT_BURST)));
        assert!(limiter.slots.len() <= TEXT_SLOTS);
    }
}
