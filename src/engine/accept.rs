//! Accepting newcomers, a bounded number per loop pass across all listeners.
//!
//! A listener's readiness event only marks it as having a backlog; the loop accepts
//! after it has handled the pass's session events, at most [`ACCEPTS_PER_PASS`] in all,
//! shared by the marked listeners. Accepting until `WouldBlock` instead lets a flood of
//! connects that reset at once outrun their own closes: the loop handles at most
//! `EVENTS_PER_POLL` close events per pass but would accept every connection the kernel
//! queued, so dead connections fill `server.max_connections`. The marked listeners are
//! served round-robin across passes, each pass starting after the last one served, so
//! one flooded listener cannot starve the others. Listeners are edge-triggered, so one
//! that stopped at the limit, or was not reached, gets no new event for what still
//! waits: it stays marked ([`PendingAccepts`]) and the next poll does not wait. A mark
//! is dropped when the backlog is empty (`WouldBlock`), when the gate parks the
//! listeners (registering them again reports a waiting backlog as a fresh event), or
//! when an accept fails with an error that is neither a back-off nor an aborted
//! connection (`Other`): that ends the listener's turn, since retrying would spin on a
//! persistent error; its next event marks it again.

use std::io;
use std::time::Instant;

use mio::Interest;

use super::stats::AcceptErrorKind;
use super::{accept_errors, token, EventLoop};

/// Most `accept()` calls per loop pass, shared by every marked listener (the value of
/// HAProxy 1.5–2.x's default `tune.maxaccept`). Well under `EVENTS_PER_POLL`, so the
/// close events of what a pass accepted fit in the next poll beside other traffic, and
/// a pass that accepts stays short for the established connections.
pub(super) const ACCEPTS_PER_PASS: usize = 64;

// One bit per listener in `PendingAccepts::marked`.
const _: () = assert!(token::MAX_LISTENERS <= 64);

/// Listeners known to have connections waiting that the last pass left there, and
/// where the next pass's round-robin starts.
pub(super) struct PendingAccepts {
    /// Bit `i` set: listener `i` is marked.
    marked: u64,
    /// The listener the next pass serves first, if marked (else the next marked one).
    next: usize,
}

impl PendingAccepts {
    /// No listener marked.
    pub(super) fn new() -> Self {
        PendingAccepts { marked: 0, next: 0 }
    }

    /// Listener `index` has connections waiting.
    #[inline]
    pub(super) fn mark(&mut self, index: usize) {
        if index < token::MAX_LISTENERS {
            self.marked |= 1 << index;
        }
    }

    /// True when a listener is marked: the next poll must not wait.
    pub(super) fn waiting(&self) -> bool {
        self.marked != 0
    }

    /// The marked listeners in the order this pass serves them: from the one after
    /// the last served, wrapping around. A snapshot: marks changed meanwhile do not
    /// alter it.
    fn in_turn(&self) -> impl Iterator<Item = usize> {
        let start = self.next;
        let mut rest = self.marked.rotate_right(start as u32);
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let offset = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            Some((start + offset) % 64)
        })
    }

    /// Unmarks listener `index` as its turn starts; the next pass starts after it.
    fn begin_turn(&mut self, index: usize) {
        self.marked &= !(1 << index);
        self.next = (index + 1) % token::MAX_LISTENERS;
    }

    /// Unmarks every listener.
    fn clear(&mut self) {
        self.marked = 0;
    }
}

/// How one listener's turn at accepting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptTurn {
    /// The pass's budget ran out: connections may still wait.
    MayHaveMore,
    /// Nothing left to do until the listener's next event.
    Done,
}

impl EventLoop {
    /// After a pass's session events and batch bookkeeping: accepts from the marked
    /// listeners in turn, at most [`ACCEPTS_PER_PASS`] in all; the one the budget ran
    /// out on, and those not reached, stay marked for the next pass.
    pub(super) fn accept_pending(&mut self, tick: u32, now: Instant) {
        if !self.accepts.waiting() {
            return;
        }
        if !self.gate.listening() {
            // Parked: registering the listeners again reports what waits.
            self.accepts.clear();
            return;
        }
        let mut budget = ACCEPTS_PER_PASS;
        for index in self.accepts.in_turn() {
            if budget == 0 || !self.gate.listening() {
                break;
            }
            self.accepts.begin_turn(index);
            if self.accept_from(index, &mut budget, tick, now) == AcceptTurn::MayHaveMore {
                self.accepts.mark(index);
            }
        }
        if !self.gate.listening() {
            self.accepts.clear();
        }
    }

    /// Accepts from listener `index` until `WouldBlock`, the `budget` runs out, an
    /// error ends the turn, or the gate parks; takes each attempt from `budget`.
    fn accept_from(
        &mut self,
        index: usize,
        budget: &mut usize,
        tick: u32,
        now: Instant,
    ) -> AcceptTurn {
        while *budget > 0 {
            if !self.gate.listening() {
                return AcceptTurn::Done; // parked by this turn: re-registering reports the rest
            }
            let Some(Some(listener)) = self.listeners.get(index) else {
                return AcceptTurn::Done;
            };
            match listener.socket.accept() {
                Ok((stream, _peer)) => {
                    *budget -= 1;
                    self.gate.accepted_ok();
                    self.admit(stream, tick);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return AcceptTurn::Done,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    *budget -= 1;
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
    fn marks_are_kept_until_their_turn_and_out_of_range_is_ignored() {
        let mut pending = PendingAccepts::new();
        assert!(!pending.waiting());
        pending.mark(token::MAX_LISTENERS);
        assert!(!pending.waiting(), "no such listener");
        pending.mark(3);
        assert!(pending.waiting());
        assert_eq!(pending.in_turn().collect::<Vec<_>>(), [3]);
        pending.begin_turn(3);
        assert!(!pending.waiting(), "unmarked by its turn");
        assert_eq!(pending.in_turn().count(), 0);
        pending.mark(5);
        pending.clear();
        assert!(!pending.waiting() && pending.in_turn().count() == 0);
    }

    #[test]
    fn marked_listeners_are_served_round_robin_from_after_the_last_served() {
        let last = token::MAX_LISTENERS - 1;
        let mut pending = PendingAccepts::new();
        for index in [9, 2, last, 5] {
            pending.mark(index);
        }
        assert_eq!(pending.in_turn().collect::<Vec<_>>(), [2, 5, 9, last]);
        // A pass whose budget ran out on 5, which stays marked: 9 comes first next.
        pending.begin_turn(2);
        pending.begin_turn(5);
        pending.mark(5);
        assert_eq!(pending.in_turn().collect::<Vec<_>>(), [9, last, 5]);
        // Serving the last listener wraps the next pass around to the first.
        pending.begin_turn(9);
        pending.begin_turn(last);
        pending.mark(0);
        assert_eq!(pending.in_turn().collect::<Vec<_>>(), [0, 5]);
    }
}
