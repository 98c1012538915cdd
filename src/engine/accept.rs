//! Accepting newcomers, a bounded number per listener per loop pass.
//!
//! A listener's readiness event only marks it as having a backlog; the loop accepts
//! after it has handled the pass's session events, at most [`ACCEPTS_PER_PASS`] per
//! listener. Accepting until `WouldBlock` instead lets a flood of connects that reset
//! at once outrun their own closes: the loop handles at most `EVENTS_PER_POLL` close
//! events per pass but would accept every connection the kernel queued, so dead
//! connections fill `server.max_connections`. Listeners are edge-triggered, so one
//! that stopped at the limit gets no new event for what still waits: it stays marked
//! ([`PendingAccepts`]) and the next poll does not wait. A mark is dropped when the
//! backlog is empty (`WouldBlock`) or the gate parks the listeners: registering them
//! again reports a waiting backlog as a fresh event.

use std::io;
use std::time::Instant;

use mio::Interest;

use super::stats::AcceptErrorKind;
use super::{accept_errors, token, EventLoop};

/// Most `accept()` calls per listener per loop pass (HAProxy's `tune.maxaccept`
/// default is the same). Well under `EVENTS_PER_POLL`, so the close events of what a
/// pass accepted fit in the next poll beside other traffic, and a pass that accepts
/// stays short for the established connections.
pub(super) const ACCEPTS_PER_PASS: usize = 64;

/// Listeners known to have connections waiting that the last pass left there.
pub(super) struct PendingAccepts {
    marked: [bool; token::MAX_LISTENERS],
    any: bool,
}

impl PendingAccepts {
    /// No listener marked.
    pub(super) fn new() -> Self {
        PendingAccepts {
            marked: [false; token::MAX_LISTENERS],
            any: false,
        }
    }

    /// Listener `index` has connections waiting.
    #[inline]
    pub(super) fn mark(&mut self, index: usize) {
        if let Some(slot) = self.marked.get_mut(index) {
            *slot = true;
            self.any = true;
        }
    }

    /// True when a listener is marked: the next poll must not wait.
    pub(super) fn waiting(&self) -> bool {
        self.any
    }

    /// Unmarks and returns listener `index`'s mark.
    fn take(&mut self, index: usize) -> bool {
        std::mem::take(&mut self.marked[index])
    }

    /// Unmarks every listener.
    fn clear(&mut self) {
        self.marked = [false; token::MAX_LISTENERS];
        self.any = false;
    }
}

/// How one listener's turn at accepting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptTurn {
    /// The limit was reached: connections may still wait.
    MayHaveMore,
    /// Nothing left to do until the listener's next event.
    Done,
}

impl EventLoop {
    /// After a pass's session events and batch bookkeeping: accepts from the marked
    /// listeners, at most [`ACCEPTS_PER_PASS`] each; those that stop at the limit stay
    /// marked for the next pass.
    pub(super) fn accept_pending(&mut self, tick: u32, now: Instant) {
        if !self.accepts.waiting() {
            return;
        }
        if !self.gate.listening() {
            // Parked: registering the listeners again reports what waits.
            self.accepts.clear();
            return;
        }
        self.accepts.any = false;
        for index in 0..token::MAX_LISTENERS {
            if self.accepts.take(index)
                && self.accept_from(index, tick, now) == AcceptTurn::MayHaveMore
            {
                self.accepts.mark(index);
            }
        }
        if !self.gate.listening() {
            self.accepts.clear();
        }
    }

    /// Accepts from listener `index` until `WouldBlock`, the limit, or the gate parks.
    fn accept_from(&mut self, index: usize, tick: u32, now: Instant) -> AcceptTurn {
        let mut attempts = 0;
        while attempts < ACCEPTS_PER_PASS {
            if !self.gate.listening() {
                return AcceptTurn::Done; // parked by this turn: re-registering reports the rest
            }
            let Some(Some(listener)) = self.listeners.get(index) else {
                return AcceptTurn::Done;
            };
            match listener.socket.accept() {
                Ok((stream, _peer)) => {
                    attempts += 1;
                    self.gate.accepted_ok();
                    self.admit(stream, tick);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return AcceptTurn::Done,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    attempts += 1;
                    let kind = accept_errors::classify(&e);
                    self.local.count_accept_error(kind);
                    if accept_errors::needs_backoff(kind) {
                        let delay = self.gate.start_backoff(now);
                        self.local.emfile_backoffs += 1;
                        if self.log_limit.allow(now) {
                            log::warn!(
                                "accept failed: {e}; not accepting for {} ms",
                                delay.as_millis()
                            );
                        }
                        self.sync_listeners();
                        return AcceptTurn::Done;
                    }
                    if !matches!(kind, AcceptErrorKind::Aborted) {
                        if self.log_limit.allow(now) {
                            log::warn!("accept failed: {e}");
                        }
                        return AcceptTurn::Done;
                    }
                }
            }
        }
        AcceptTurn::MayHaveMore
    }

    /// Serves a just-accepted connection, or closes it at once when the gate says so.
    pub(super) fn admit(&mut self, mut stream: mio::net::TcpStream, tick: u32) {
        if let Some(reason) = self.gate.reject_reason() {
            self.local.count_reject(reason);
            return; // dropping the stream closes it at once
        }
        // Latency matters more than packet count for an echo or a proxy.
        let _ = stream.set_nodelay(true);
        let key = self.sessions.vacant_key();
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token::session(key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.local.accept_other += 1;
            if self.log_limit.allow(Instant::now()) {
                log::warn!("cannot register a new connection: {e}");
            }
            return;
        }
        let inserted = self.sessions.insert_echo(stream, tick);
        debug_assert_eq!(inserted, key);
        self.local.accepted += 1;
        if self.update_capacity() {
            self.sync_listeners();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_kept_until_taken_and_out_of_range_is_ignored() {
        let mut pending = PendingAccepts::new();
        assert!(!pending.waiting());
        pending.mark(token::MAX_LISTENERS);
        assert!(!pending.waiting(), "no such listener");
        pending.mark(3);
        assert!(pending.waiting());
        assert!(!pending.take(2));
        assert!(pending.take(3));
        assert!(!pending.take(3), "taken once");
        pending.mark(5);
        pending.clear();
        assert!(!pending.waiting() && !pending.take(5));
    }
}
