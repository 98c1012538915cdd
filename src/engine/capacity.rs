//! The connection cap as the loop judges it after every accept and close
//! ([`EventLoop::update_capacity`]), and its log lines: one when `server.max_connections` is reached, at
//! most one per [`REACHED_LINE_WINDOW`] (a flood can reach the cap over and over), and one
//! when warden accepts again after a logged one, so the log never ends on a cap that no
//! longer holds. The counters (`capacity_pauses`) count every time.

use std::time::{Duration, Instant};

use crate::logging::RateLimit;

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
            self.capacity_log.resumed(open);
        }
        reached
    }
}

/// At most one "at capacity" line per this long.
pub(super) const REACHED_LINE_WINDOW: Duration = Duration::from_secs(10);

/// Whether the last "at capacity" line still waits for its "accepting again".
pub(super) struct CapacityLog {
    limit: RateLimit,
    reached_logged: bool,
}

impl CapacityLog {
    /// Nothing logged yet.
    pub(super) fn new() -> Self {
        CapacityLog {
            limit: RateLimit::new(REACHED_LINE_WINDOW),
            reached_logged: false,
        }
    }

    /// The cap was just reached with `open` connections.
    pub(super) fn reached(&mut self, open: usize, settings: &EngineSettings, now: Instant) {
        if !self.limit.allow(now) {
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
        self.reached_logged = true;
    }

    /// The loop accepts again with `open` connections.
    pub(super) fn resumed(&mut self, open: usize) {
        if std::mem::take(&mut self.reached_logged) {
            log::info!("below capacity again: {open} connections open; accepting new ones");
        }
    }
}
