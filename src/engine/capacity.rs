//! The connection cap as the loop judges it after every accept and close
//! ([`EventLoop::update_capacity`]), and its log lines: one when `server.max_connections`
//! is reached, at most one per [`REACHED_LINE_WINDOW`] (a flood can reach the cap over and
//! over; one held back is written at a later heartbeat if the cap still holds), and one
//! when warden accepts again after a logged one, so the log never ends on a cap that no
//! longer holds, nor on "accepting" while it does. A drain logs no "accepting": its
//! listeners are closed. The counters (`capacity_pauses`) count every time, and each
//! "below the cap again" line says how many times the cap was reached since the last.

use std::time::{Duration, Instant};

use super::control::ShedMode;
use super::{EngineSettings, EventLoop};

impl EventLoop {
    /// Re-judges capacity after closes, a back-off or a reload, counting a newly
    /// reached cap (a reload may lower it below the open count), and syncs the listeners.
    pub(super) fn recheck_capacity(&mut self) {
        self.update_capacity();
        self.sync_listeners();
    }

    /// Judges the cap from the open count, counting and logging a newly reached cap and
    /// logging its end; true when it was just reached.
    pub(super) fn update_capacity(&mut self) -> bool {
        let open = self.sessions.open();
        let was_at_capacity = self.gate.at_capacity();
        let reached = self.gate.update_capacity(open, &self.settings);
        if reached {
            self.local.capacity_pauses += 1;
            self.capacity_log
                .reached(open, &self.settings, Instant::now());
        } else if was_at_capacity && !self.gate.at_capacity() {
            let draining = self.drain_deadline.is_some();
            self.capacity_log.resumed(open, draining);
        }
        reached
    }

    /// At a heartbeat: writes an "at capacity" line the window held back, if the cap
    /// still holds (and warden is not draining).
    pub(super) fn catch_up_capacity_log(&mut self, now: Instant) {
        if self.drain_deadline.is_none() && self.gate.at_capacity() {
            self.capacity_log
                .catch_up(self.sessions.open(), &self.settings, now);
        }
    }
}

/// At most one "at capacity" line per this long.
pub(super) const REACHED_LINE_WINDOW: Duration = Duration::from_secs(10);

/// When the last "at capacity" line was written, whether one waits for its
/// "accepting again" or was held back, and how often the cap was reached meanwhile.
pub(super) struct CapacityLog {
    last_reached_line: Option<Instant>,
    reached_logged: bool,
    held_back: bool,
    /// Times the cap was reached since the last "below the cap again" line (or the
    /// start), held-back ones included: that line reports it.
    reached_since_resume_line: u64,
    /// Whether a "below the cap again" line was written yet.
    resume_line_written: bool,
}

impl CapacityLog {
    /// Nothing logged yet.
    pub(super) fn new() -> Self {
        CapacityLog {
            last_reached_line: None,
            reached_logged: false,
            held_back: false,
            reached_since_resume_line: 0,
            resume_line_written: false,
        }
    }

    /// The cap was just reached with `open` connections.
    pub(super) fn reached(&mut self, open: usize, settings: &EngineSettings, now: Instant) {
        self.reached_since_resume_line += 1;
        self.write_reached_line_if_due(open, settings, now);
    }

    /// Writes the "at capacity" line unless one was written within the window.
    fn write_reached_line_if_due(&mut self, open: usize, settings: &EngineSettings, now: Instant) {
        let due = !matches!(
            self.last_reached_line,
            Some(last) if now.saturating_duration_since(last) < REACHED_LINE_WINDOW
        );
        if !due {
            self.held_back = true;
            return;
        }
        let newcomers = match settings.at_capacity {
            ShedMode::Pause => "wait in the listen backlog",
            ShedMode::Reject => "are refused",
        };
        log::info!(
            "at capacity: {open} connections open (server.max_connections = {}); new \
             connections {newcomers} until fewer than {} are open",
            settings.max_connections,
            settings.resume_below()
        );
        self.last_reached_line = Some(now);
        self.reached_logged = true;
        self.held_back = false;
    }

    /// A held-back "at capacity" line, once the window allows, while the cap holds.
    pub(super) fn catch_up(&mut self, open: usize, settings: &EngineSettings, now: Instant) {
        if self.held_back {
            self.write_reached_line_if_due(open, settings, now);
        }
    }

    /// The cap no longer holds, with `open` connections; `draining` when the listeners
    /// are closed anyway.
    pub(super) fn resumed(&mut self, open: usize, draining: bool) {
        self.held_back = false;
        if std::mem::take(&mut self.reached_logged) && !draining {
            log::info!("{}", self.resume_line(open));
            self.reached_since_resume_line = 0;
            self.resume_line_written = true;
        }
    }

    /// The "below the cap again" line, with how often the cap was reached since the
    /// last one: a flood that reaches it over and over shows here, while the window
    /// holds back most of its "at capacity" lines.
    fn resume_line(&self, open: usize) -> String {
        let times = self.reached_since_resume_line;
        format!(
            "below the connection cap again: {open} connections open; accepting new ones \
             (the cap was reached {times} time{} since {})",
            if times == 1 { "" } else { "s" },
            if self.resume_line_written {
                "the last such line"
            } else {
                "warden started"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EngineSettings {
        EngineSettings::capped_for_tests(10, ShedMode::Pause)
    }

    #[test]
    fn a_held_back_line_is_written_once_the_window_allows() {
        let settings = settings();
        let mut log = CapacityLog::new();
        let t0 = Instant::now();
        log.reached(10, &settings, t0);
        assert!(log.reached_logged);
        log.resumed(8, false);
        log.reached(10, &settings, t0 + Duration::from_secs(1));
        assert!(log.held_back && !log.reached_logged, "held back");
        log.catch_up(10, &settings, t0 + Duration::from_secs(5));
        assert!(log.held_back, "still inside the window");
        log.catch_up(10, &settings, t0 + REACHED_LINE_WINDOW);
        assert!(!log.held_back && log.reached_logged, "written now");
    }

    #[test]
    fn the_resume_line_counts_the_held_back_reaches_since_the_last_one() {
        let settings = settings();
        let mut log = CapacityLog::new();
        let t0 = Instant::now();
        log.reached(10, &settings, t0);
        assert!(log
            .resume_line(8)
            .ends_with("accepting new ones (the cap was reached 1 time since warden started)"));
        log.resumed(8, false);
        for second in 1..4 {
            log.reached(10, &settings, t0 + Duration::from_secs(second));
            log.resumed(8, false);
        }
        assert_eq!(log.reached_since_resume_line, 3, "held back, not reset");
        log.reached(10, &settings, t0 + REACHED_LINE_WINDOW);
        assert_eq!(
            log.resume_line(8),
            "below the connection cap again: 8 connections open; accepting new ones \
             (the cap was reached 4 times since the last such line)"
        );
        log.resumed(8, false);
        assert_eq!(log.reached_since_resume_line, 0);
    }

    #[test]
    fn a_cap_that_ends_while_held_back_writes_nothing_later() {
        let settings = settings();
        let mut log = CapacityLog::new();
        let t0 = Instant::now();
        log.reached(10, &settings, t0);
        log.resumed(8, false);
        log.reached(10, &settings, t0 + Duration::from_secs(1));
        log.resumed(8, false);
        assert!(!log.held_back && !log.reached_logged);
    }
}
