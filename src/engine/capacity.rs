//! The connection cap as the loop judges it after every accept and close
//! ([`EventLoop::update_capacity`]), and its log lines: one when `server.max_connections`
//! is reached, at most one per [`REACHED_LINE_WINDOW`] (a flood can reach the cap over and
//! over; one held back is written at a later heartbeat if the cap still holds), and one
//! when warden accepts again after a logged one, so the log never ends on a cap that no
//! longer holds, nor on "accepting" while it does. A drain logs no "accepting": its
//! listeners are closed. The counters (`capacity_pauses`) count every time.

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

/// When the last "at capacity" line was written, and whether one waits for its
/// "accepting again" or was held back.
pub(super) struct CapacityLog {
    last_reached_line: Option<Instant>,
    reached_logged: bool,
    held_back: bool,
}

impl CapacityLog {
    /// Nothing logged yet.
    pub(super) fn new() -> Self {
        CapacityLog {
            last_reached_line: None,
            reached_logged: false,
            held_back: false,
        }
    }

    /// The cap was just reached with `open` connections.
    pub(super) fn reached(&mut self, open: usize, settings: &EngineSettings, now: Instant) {
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
            self.reached(open, settings, now);
        }
    }

    /// The cap no longer holds, with `open` connections; `draining` when the listeners
    /// are closed anyway.
    pub(super) fn resumed(&mut self, open: usize, draining: bool) {
        self.held_back = false;
        if std::mem::take(&mut self.reached_logged) && !draining {
            log::info!(
                "below the connection cap again: {open} connections open; accepting new ones"
            );
        }
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
