//! Rate limiting for state-change lines (thermal level, admission): a slow,
//! real change is logged at once, but a flapping sensor must not flood the
//! journal. [`ChangeLimiter`] lets the first [`CHANGE_LINES_PER_PERIOD`]
//! changes of a period through, counts the rest, and its `flush` (called every
//! tick) summarises them once the period has ended, saying which states were
//! flapped between and which one holds now, so the log never leaves a stale
//! state as the last word.

use std::fmt;
use std::time::{Duration, Instant};

use crate::rate_limit::LOG_PERIOD;

/// How many changes of one kind are logged per period before the rest are held back.
pub const CHANGE_LINES_PER_PERIOD: u32 = 6;
/// How many distinct states a summary names (levels and admissions have fewer).
const STATE_SLOTS: usize = 8;

/// Decides whether a change of one kind of state may be logged, and summarises the
/// changes it held back.
#[derive(Debug, Clone)]
pub struct ChangeLimiter {
    kind: &'static str,
    period: Duration,
    lines_per_period: u32,
    period_started: Option<Instant>,
    lines_in_period: u32,
    held_back: u64,
    /// The states the held-back changes went between, in order of first sight.
    states: Vec<&'static str>,
}

/// The tail of an allowed change line: whether the lines after it will be held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeNote {
    /// This line is the period's last: changes until `period` after its start are summarised.
    pub closes_period: Option<Duration>,
}

impl fmt::Display for ChangeNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(period) = self.closes_period {
            write!(
                f,
                "; further changes within {} s are held back and summarised",
                period.as_secs()
            )?;
        }
        Ok(())
    }
}

/// The summary of a period's held-back changes, such as `thermal level: 48 changes in
/// the last 60 s held back (flapping between fan and shed); now shed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSummary<'a> {
    /// What changed ("thermal level", "admission").
    pub kind: &'static str,
    /// How many changes were held back.
    pub held_back: u64,
    /// The time since the period started.
    pub over: Duration,
    /// The states the held-back changes went between.
    pub states: &'a [&'static str],
    /// The state that holds now.
    pub now: &'static str,
}

impl ChangeSummary<'_> {
    /// Whether the held-back changes went through `state`.
    pub fn went_through(&self, state: &str) -> bool {
        self.states.contains(&state)
    }
}

impl fmt::Display for ChangeSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.held_back == 1 { "" } else { "s" };
        write!(
            f,
            "{}: {} change{plural} in the last {} s held back (flapping between ",
            self.kind,
            self.held_back,
            self.over.as_secs()
        )?;
        for (index, state) in self.states.iter().enumerate() {
            let separator = match index {
                0 => "",
                _ if index + 1 == self.states.len() => " and ",
                _ => ", ",
            };
            write!(f, "{separator}{state}")?;
        }
        write!(f, "); now {}", self.now)
    }
}

impl ChangeLimiter {
    /// A limiter for changes of `kind` (named in summaries), allowing `lines_per_period`
    /// changes per `period`.
    pub fn new(kind: &'static str, period: Duration, lines_per_period: u32) -> Self {
        ChangeLimiter {
            kind,
            period,
            lines_per_period: lines_per_period.max(1),
            period_started: None,
            lines_in_period: 0,
            held_back: 0,
            states: Vec::with_capacity(STATE_SLOTS),
        }
    }

    /// A limiter allowing [`CHANGE_LINES_PER_PERIOD`] changes per [`LOG_PERIOD`].
    pub fn per_minute(kind: &'static str) -> Self {
        ChangeLimiter::new(kind, LOG_PERIOD, CHANGE_LINES_PER_PERIOD)
    }

    /// Records a change `from` -> `to` at `now`: `Some(note)` when it is to be logged
    /// (with `note` at the end of its line), `None` when it is held back for the summary.
    /// Call [`flush`](Self::flush) first in the same tick: a change after a period's end
    /// opens a new period, and the held-back count waits for the next summary.
    pub fn change(
        &mut self,
        now: Instant,
        from: &'static str,
        to: &'static str,
    ) -> Option<ChangeNote> {
        let period_over = self
            .period_started
            .map_or(true, |at| now.duration_since(at) >= self.period);
        if period_over {
            self.period_started = Some(now);
            self.lines_in_period = 0;
        }
        if self.lines_in_period >= self.lines_per_period {
            self.held_back += 1;
            self.remember(from);
            self.remember(to);
            return None;
        }
        self.lines_in_period += 1;
        // The states of a summary already given; kept while its count waits for one.
        if self.held_back == 0 {
            self.states.clear();
        }
        Some(ChangeNote {
            closes_period: (self.lines_in_period == self.lines_per_period).then_some(self.period),
        })
    }

    /// The summary of the changes held back, once their period has ended, naming
    /// `current` as the state that holds now (call it every tick, before this tick's
    /// change); the summary ends the period, so the next change is logged at once.
    pub fn flush(&mut self, now: Instant, current: &'static str) -> Option<ChangeSummary<'_>> {
        self.flush_if(now, current, false)
    }

    /// Like [`flush`](Self::flush) whether or not the period has ended: for the last
    /// summary when the controller stops.
    pub fn flush_all(&mut self, now: Instant, current: &'static str) -> Option<ChangeSummary<'_>> {
        self.flush_if(now, current, true)
    }

    fn flush_if(
        &mut self,
        now: Instant,
        current: &'static str,
        force: bool,
    ) -> Option<ChangeSummary<'_>> {
        let started = self.period_started?;
        let over = now.duration_since(started);
        if self.held_back == 0 || (over < self.period && !force) {
            return None;
        }
        self.period_started = None;
        self.lines_in_period = 0;
        Some(ChangeSummary {
            kind: self.kind,
            held_back: std::mem::take(&mut self.held_back),
            over,
            states: &self.states,
            now: current,
        })
    }

    /// Adds `state` to the states the held-back changes went between.
    fn remember(&mut self, state: &'static str) {
        if !self.states.contains(&state) && self.states.len() < STATE_SLOTS {
            self.states.push(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(60);

    /// Flaps between "fan" and "shed" every half second from `start_ms` for `count`
    /// changes, returning the notes of the changes logged.
    fn flap(
        limiter: &mut ChangeLimiter,
        start: Instant,
        start_ms: u64,
        count: u64,
    ) -> Vec<ChangeNote> {
        (0..count)
            .filter_map(|n| {
                let now = start + Duration::from_millis(start_ms + n * 500);
                let (from, to) = if n % 2 == 0 {
                    ("fan", "shed")
                } else {
                    ("shed", "fan")
                };
                if let Some(summary) = limiter.flush(now, from) {
                    panic!("no summary within the period, got {summary}");
                }
                limiter.change(now, from, to)
            })
            .collect()
    }

    #[test]
    fn slow_real_changes_are_all_logged_at_once() {
        let start = Instant::now();
        let mut limiter = ChangeLimiter::new("thermal level", PERIOD, 6);
        let steps = [
            ("normal", "fan"),
            ("fan", "shed"),
            ("shed", "throttle"),
            ("throttle", "shed"),
            ("shed", "fan"),
        ];
        for (minute, (from, to)) in steps.into_iter().enumerate() {
            let now = start + Duration::from_secs(minute as u64 * 20);
            assert!(limiter.flush(now, from).is_none());
            let note = limiter.change(now, from, to).expect("logged at once");
            assert_eq!(note.to_string(), "");
        }
    }

    #[test]
    fn a_flap_is_bounded_and_summarised_with_where_it_ended() {
        let start = Instant::now();
        let mut limiter = ChangeLimiter::new("thermal level", PERIOD, 6);
        // 100 changes in 50 s: only the first 6 are logged, the 6th says so.
        let notes = flap(&mut limiter, start, 0, 100);
        assert_eq!(notes.len(), 6);
        assert_eq!(
            notes[5].to_string(),
            "; further changes within 60 s are held back and summarised"
        );
        assert!(notes[..5].iter().all(|note| note.to_string().is_empty()));
        // The last change went to "fan": the summary at the end of the minute says so.
        let summary = limiter
            .flush(start + Duration::from_secs(60), "fan")
            .expect("a summary once the period ended")
            .to_string();
        assert_eq!(
            summary,
            "thermal level: 94 changes in the last 60 s held back \
             (flapping between fan and shed); now fan"
        );
        assert!(limiter
            .flush(start + Duration::from_secs(61), "fan")
            .is_none());
        // After the summary, the next change is logged at once.
        let now = start + Duration::from_secs(90);
        assert_eq!(
            limiter.change(now, "fan", "normal"),
            Some(ChangeNote {
                closes_period: None
            })
        );
    }

    #[test]
    fn a_continuing_flap_gives_a_bounded_number_of_lines_per_period() {
        let start = Instant::now();
        let mut limiter = ChangeLimiter::new("admission", PERIOD, 6);
        let mut lines = 0;
        // Ten minutes of a change every 100 ms, flushed every tick.
        for n in 0..6000u64 {
            let now = start + Duration::from_millis(n * 100);
            let (from, to) = if n % 2 == 0 {
                ("open", "shed (reject)")
            } else {
                ("shed (reject)", "open")
            };
            if limiter.flush(now, from).is_some() {
                lines += 1;
            }
            if limiter.change(now, from, to).is_some() {
                lines += 1;
            }
        }
        // At most 6 changes and 1 summary a minute.
        assert!(lines <= 10 * 7, "{lines} lines in 10 minutes");
        assert!(lines >= 9 * 7, "{lines} lines in 10 minutes");
    }

    #[test]
    fn a_summary_flushed_in_the_tick_of_a_change_comes_before_its_line() {
        let start = Instant::now();
        let mut limiter = ChangeLimiter::new("admission", PERIOD, 2);
        assert!(limiter.change(start, "open", "shed").is_some());
        assert!(limiter.change(start, "shed", "open").is_some());
        assert!(limiter.change(start, "open", "shed").is_none());
        // The controller's order in one tick: the due summary, then the tick's change.
        let tick = start + PERIOD;
        assert_eq!(
            limiter.flush(tick, "shed").expect("the period ended").to_string(),
            "admission: 1 change in the last 60 s held back (flapping between open and shed); now shed"
        );
        let note = limiter.change(tick, "shed", "open").expect("a new period");
        assert_eq!(note.to_string(), "", "nothing left to count on the line");
        assert!(limiter.flush_all(tick, "open").is_none());
    }

    #[test]
    fn a_summary_names_every_state_flapped_through() {
        let summary = ChangeSummary {
            kind: "thermal level",
            held_back: 1,
            over: Duration::from_millis(61_500),
            states: &["fan", "shed", "throttle"],
            now: "throttle",
        };
        assert_eq!(
            summary.to_string(),
            "thermal level: 1 change in the last 61 s held back \
             (flapping between fan, shed and throttle); now throttle"
        );
        assert!(summary.went_through("shed"));
        assert!(!summary.went_through("critical"));
    }

    #[test]
    fn stopping_summarises_what_is_held_back_before_the_period_ends() {
        let start = Instant::now();
        let mut limiter = ChangeLimiter::new("admission", PERIOD, 1);
        assert!(limiter.change(start, "open", "shed").is_some());
        assert!(limiter.change(start, "shed", "open").is_none());
        let at_stop = start + Duration::from_secs(5);
        assert!(limiter.flush(at_stop, "open").is_none());
        assert_eq!(
            limiter.flush_all(at_stop, "open").expect("a summary").to_string(),
            "admission: 1 change in the last 5 s held back (flapping between shed and open); now open"
        );
        assert!(limiter.flush_all(at_stop, "open").is_none());
    }
}
