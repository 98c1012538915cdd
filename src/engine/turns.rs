//! Fair turns for sessions that always have more to read. A session stops after
//! [`READS_PER_TURN`](super::session::READS_PER_TURN) reads with data still waiting
//! ([`Verdict::ReadAgain`](super::session::Verdict::ReadAgain)) and is queued; the
//! loop then polls without waiting, so every other ready socket is served, and gives
//! the queued sessions their next turn after those events. Edge-triggered epoll sends
//! no new event for data that already waits, so the queue is what brings them back.
//!
//! The two lists keep their capacity, so a busy loop allocates nothing per turn.

use super::session::{Readiness, Session};
use super::EventLoop;

/// Sessions waiting for another turn: queued during this pass, due in the next.
pub(super) struct ReadTurns {
    queued: Vec<usize>,
    due: Vec<usize>,
}

/// What a turn given from the queue reports: readable, nothing else new.
const ANOTHER_TURN: Readiness = Readiness {
    readable: true,
    writable: false,
    read_closed: false,
};

impl ReadTurns {
    /// Empty lists with room for `capacity` sessions each.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        ReadTurns {
            queued: Vec::with_capacity(capacity),
            due: Vec::with_capacity(capacity),
        }
    }

    /// Queues `key` for a turn in the next pass.
    pub(super) fn queue(&mut self, key: usize) {
        self.queued.push(key);
    }

    /// True when a session waits for a turn: the next poll must not wait. (The due list
    /// is always empty between passes.)
    pub(super) fn waiting(&self) -> bool {
        !self.queued.is_empty()
    }
}

impl EventLoop {
    /// At the start of a pass: what was queued before it is due after its events.
    pub(super) fn start_turns(&mut self) {
        // `serve_due_turns` emptied the due list at the end of the last pass.
        std::mem::swap(&mut self.turns.due, &mut self.turns.queued);
    }

    /// After a pass's events: gives each due session its next turn (one that closed,
    /// or a new session under its key, has none to take).
    pub(super) fn serve_due_turns(&mut self, tick: u32) {
        for index in 0..self.turns.due.len() {
            let key = self.turns.due[index];
            let Some(Session::Echo(echo)) = self.sessions.get_mut(key) else {
                continue;
            };
            if echo.take_read_again() {
                self.on_session(key, ANOTHER_TURN, tick);
            }
        }
        self.turns.due.clear();
    }
}
