//! Rate limiting for repeated log lines: a broken actuator fails every tick,
//! and one line a minute with a count says as much as 120 identical lines.
//! [`TextLimiter`] limits each distinct message on its own, so a new kind of
//! fault is logged at once instead of hiding behind the last one's minute.
//! Each limiter's `flush`, called every tick, reports the lines a period held
//! back even when the condition has stopped, naming what it counted.

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

/// The most characters of a message a summary quotes; a longer one keeps its head and
/// its tail around an ellipsis (the tail of a sensor error names the bad content).
pub const QUOTE_MAX_CHARS: usize = 80;

/// A message quoted for a summary line: in double quotes with Rust's escapes, and at
/// most [`QUOTE_MAX_CHARS`] characters of it, the middle elided as `…`.
#[derive(Debug, Clone, Copy)]
pub struct ShortQuote<'a>(pub &'a str);

impl std::fmt::Display for ShortQuote<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        let chars = text.chars().count();
        if chars <= QUOTE_MAX_CHARS {
            return write!(f, "{text:?}");
        }
        let head_chars = QUOTE_MAX_CHARS * 2 / 5;
        let tail_chars = QUOTE_MAX_CHARS - head_chars - 1;
        let head_end = text.char_indices().nth(head_chars).map_or(0, |(at, _)| at);
        let tail_start = text
            .char_indices()
            .nth(chars - tail_chars)
            .map_or(text.len(), |(at, _)| at);
        let head = format!("{:?}", &text[..head_end]);
        let tail = format!("{:?}", &text[tail_start..]);
        // Both are quoted: join them inside one pair of quotes.
        write!(f, "{}…{}", &head[..head.len() - 1], &tail[1..])
    }
}

/// A summary of lines held back whose period ended without another line of their kind:
/// `(N similar lines suppressed: "MESSAGE")`, the message shortened by [`ShortQuote`].
#[derive(Debug, Clone, Copy)]
pub struct SuppressedSummary<'a> {
    /// How many lines were held back.
    pub count: u64,
    /// The line they repeat (the last of them, for ever-changing text).
    pub text: &'a str,
}

impl std::fmt::Display for SuppressedSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.count == 1 { "" } else { "s" };
        write!(
            f,
            "({} similar line{plural} suppressed: {})",
            self.count,
            ShortQuote(self.text)
        )
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

    /// Returns `Some(count)` of the lines held back when their period has ended without
    /// another line being allowed, so the caller can log a summary; the summary takes the
    /// place of the period's line (the next event waits out a period from `now`).
    pub fn flush(&mut self, now: Instant) -> Option<u64> {
        self.flush_if(now, false)
    }

    /// Like [`flush`](Self::flush) whether or not the period has ended: for the last
    /// summary when the controller stops.
    pub fn flush_all(&mut self, now: Instant) -> Option<u64> {
        self.flush_if(now, true)
    }

    fn flush_if(&mut self, now: Instant, force: bool) -> Option<u64> {
        let ended = force
            || self
                .last_logged
                .map_or(true, |at| now.duration_since(at) >= self.period);
        if self.suppressed == 0 || !ended {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.suppressed))
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
    /// The last new message held back over the burst (a reused buffer).
    held_back_text: String,
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
            held_back_text: String::new(),
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
            self.held_back_text.clear();
            self.held_back_text.push_str(text);
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
            // Its held-back repeats go on the next line, so no count is lost.
            self.held_back_new += self.slots.swap_remove(oldest).limiter.suppressed;
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

    /// Calls `summarise(text, count)` for each message whose repeats were held back and
    /// whose period has ended without another line of it, and for the new messages held
    /// back over a burst that has ended (with the last of them as `text`); each summary
    /// takes the place of its message's line for a period.
    pub fn flush(&mut self, now: Instant, summarise: impl FnMut(&str, u64)) {
        self.flush_if(now, false, summarise);
    }

    /// Like [`flush`](Self::flush) whether or not the periods have ended: for the last
    /// summaries when the controller stops.
    pub fn flush_all(&mut self, now: Instant, summarise: impl FnMut(&str, u64)) {
        self.flush_if(now, true, summarise);
    }

    fn flush_if(&mut self, now: Instant, force: bool, mut summarise: impl FnMut(&str, u64)) {
        for slot in &mut self.slots {
            if let Some(count) = slot.limiter.flush_if(now, force) {
                summarise(&slot.text, count);
            }
        }
        let burst_ended = force
            || self
                .burst_started
                .map_or(true, |at| now.duration_since(at) >= self.period);
        if self.held_back_new > 0 && burst_ended {
            summarise(
                &self.held_back_text,
                std::mem::take(&mut self.held_back_new),
            );
            // The summary is the first line of a new burst.
            self.burst_started = Some(now);
            self.new_in_burst = 1;
        }
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

    #[test]
    fn a_burst_that_ends_is_summarised_by_a_flush_without_another_line() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.allow(at(0)), Some(0));
        for s in 1..=30 {
            assert_eq!(limiter.allow(at(s)), None);
        }
        // Nothing is due before the period ends...
        assert_eq!(limiter.flush(at(59)), None);
        // ...then the 30 held back are reported once.
        assert_eq!(limiter.flush(at(60)), Some(30));
        assert_eq!(limiter.flush(at(61)), None);
        // The summary took the period's line: the next event waits for its own period.
        assert_eq!(limiter.allow(at(61)), None);
        assert_eq!(limiter.flush(at(119)), None);
        assert_eq!(limiter.flush(at(120)), Some(1));
        assert_eq!(limiter.flush(at(200)), None);
    }

    #[test]
    fn a_flush_with_nothing_held_back_reports_nothing() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.flush(start), None);
        assert_eq!(limiter.allow(start), Some(0));
        assert_eq!(limiter.flush(start + Duration::from_secs(600)), None);
        // And a flush does not delay the next first line.
        assert_eq!(limiter.allow(start + Duration::from_secs(601)), Some(0));
    }

    /// Flushes `limiter` at `now` into a list of (text, count).
    fn flushed(limiter: &mut TextLimiter, now: Instant) -> Vec<(String, u64)> {
        let mut summaries = Vec::new();
        limiter.flush(now, |text, count| summaries.push((text.to_owned(), count)));
        summaries
    }

    #[test]
    fn each_message_held_back_is_summarised_with_its_text_when_its_period_ends() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut limiter = TextLimiter::new(Duration::from_secs(60));
        // 30 s of a temperature alternating between good and "zz": one line, then quiet.
        assert_eq!(limiter.allow(at(0), "temp holds \"zz\""), Some(0));
        for s in 1..30 {
            assert_eq!(limiter.allow(at(s), "temp holds \"zz\""), None);
        }
        assert_eq!(limiter.allow(at(10), "temp is empty"), Some(0));
        assert!(flushed(&mut limiter, at(59)).is_empty());
        assert_eq!(
            flushed(&mut limiter, at(60)),
            vec![("temp holds \"zz\"".to_owned(), 29)]
        );
        assert!(flushed(&mut limiter, at(61)).is_empty());
        assert!(flushed(&mut limiter, at(600)).is_empty());
    }

    #[test]
    fn new_messages_over_the_burst_are_summarised_with_the_last_of_them() {
        let start = Instant::now();
        let mut limiter = TextLimiter::new(Duration::from_secs(60));
        for n in 0..25u64 {
            limiter.allow(
                start + Duration::from_millis(n * 100),
                &format!("garbage {n}"),
            );
        }
        assert!(flushed(&mut limiter, start + Duration::from_secs(59)).is_empty());
        assert_eq!(
            flushed(&mut limiter, start + Duration::from_secs(60)),
            vec![("garbage 24".to_owned(), 25 - u64::from(NEW_TEXT_BURST))]
        );
        assert!(flushed(&mut limiter, start + Duration::from_secs(61)).is_empty());
        // The summary opened a new burst, so new messages are still logged at once.
        let next = start + Duration::from_secs(62);
        assert_eq!(limiter.allow(next, "another garbage"), Some(0));
    }

    #[test]
    fn a_summary_names_what_it_counts_and_shortens_a_long_message() {
        let short = SuppressedSummary {
            count: 1,
            text: "fan (file): could not set duty",
        };
        assert_eq!(
            short.to_string(),
            "(1 similar line suppressed: \"fan (file): could not set duty\")"
        );
        let message = format!(
            "temperature sensor: /sys/class/thermal/{}/temp holds \"zz\", not millidegrees",
            "x".repeat(100)
        );
        let summary = SuppressedSummary {
            count: 151,
            text: &message,
        }
        .to_string();
        assert!(
            summary.starts_with("(151 similar lines suppressed: \"temperature sensor: /sys/"),
            "{summary}"
        );
        assert!(
            summary.ends_with("xx/temp holds \\\"zz\\\", not millidegrees\")"),
            "{summary}"
        );
        let quoted = summary.trim_start_matches("(151 similar lines suppressed: ");
        // The quotes, the ellipsis, the escapes of the two inner quotes and the ")".
        assert_eq!(quoted.chars().count(), QUOTE_MAX_CHARS + 2 + 2 + 1);
        // Multi-byte characters are cut on their boundaries.
        let degrees = "°".repeat(200);
        let quoted = ShortQuote(&degrees).to_string();
        assert_eq!(quoted.chars().count(), QUOTE_MAX_CHARS + 2);
        assert!(quoted.contains('…'));
    }

    #[test]
    fn the_repeats_of_a_forgotten_message_are_counted_on_the_next_line() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut limiter = TextLimiter::new(Duration::from_secs(60));
        let mut held_back = 0;
        let mut reported = 0;
        let mut allow = |limiter: &mut TextLimiter, now, text: &str| match limiter.allow(now, text)
        {
            Some(suppressed) => reported += suppressed,
            None => held_back += 1,
        };
        allow(&mut limiter, at(0), "temp is empty");
        allow(&mut limiter, at(1), "temp is empty");
        allow(&mut limiter, at(2), "temp is empty");
        // More distinct messages than slots: "temp is empty" is forgotten, its repeats too.
        for n in 0..TEXT_SLOTS as u64 {
            allow(&mut limiter, at(3 + n), &format!("temp holds \"{n}\""));
        }
        allow(&mut limiter, at(20), "temp holds \"0\"");
        limiter.flush_all(at(21), |_, count| reported += count);
        assert_eq!(held_back, 3);
        assert_eq!(
            reported, held_back,
            "every line held back is summarised once"
        );
    }

    #[test]
    fn flush_all_reports_what_is_held_back_before_the_period_ends() {
        let start = Instant::now();
        let soon = start + Duration::from_secs(1);
        let mut limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.allow(start), Some(0));
        assert_eq!(limiter.allow(soon), None);
        assert_eq!(limiter.flush(soon), None);
        assert_eq!(limiter.flush_all(soon), Some(1));
        assert_eq!(limiter.flush_all(soon), None);

        let mut limiter = TextLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.allow(start, "temp is empty"), Some(0));
        assert_eq!(limiter.allow(soon, "temp is empty"), None);
        let mut summaries = Vec::new();
        limiter.flush_all(soon, |text, count| summaries.push((text.to_owned(), count)));
        assert_eq!(summaries, vec![("temp is empty".to_owned(), 1)]);
    }
}
