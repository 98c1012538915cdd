//! The start of a drain (first SIGTERM/SIGINT, or a `Drain` command). The listeners
//! close, so new connects fail at once; established connections are never cut before
//! the deadline. Connections the kernel had already completed but warden had not
//! accepted yet (waiting in a listener's backlog, say at the connection cap) would be
//! reset by that close without a trace: they are taken first, served through the drain
//! when the gate admits them, else closed and counted (`drain_closed`). The sockets
//! systemd passed keep their queue (systemd holds them open for the next start).

use std::io;
use std::time::Instant;

use super::stats::RejectReason;
use super::{EventLoop, LoopHooks};

impl EventLoop {
    /// Begins the drain: takes the backlog, closes the listeners, sets the deadline.
    pub(super) fn begin_drain(&mut self, hooks: &mut dyn LoopHooks, now: Instant) {
        if self.drain_deadline.is_some() {
            return;
        }
        self.take_backlog(self.tick(now));
        log::info!(
            "draining: {} connection(s) open, waiting up to {} s",
            self.sessions.open(),
            self.settings.drain_timeout.as_secs()
        );
        self.drain_deadline = Some(now + self.settings.drain_timeout);
        self.gate.set_draining();
        self.sync_listeners();
        // Closing the listeners makes new connects fail at once.
        self.listeners.clear();
        self.publish_listen_addrs();
        hooks.draining();
    }

    /// Accepts what waits in the backlog of warden's own listeners: admitted when the
    /// gate admits newcomers, else closed and counted as refused while draining.
    fn take_backlog(&mut self, tick: u32) {
        for index in 0..self.listeners.len() {
            while let Some(Some(listener)) = self.listeners.get(index) {
                if listener.from_systemd {
                    break;
                }
                match listener.socket.accept() {
                    Ok((stream, _peer)) if self.gate.reject_reason().is_none() => {
                        self.admit(stream, tick);
                    }
                    // Dropped: closed at once.
                    Ok(_) => self.local.count_reject(RejectReason::Draining),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // WouldBlock: the backlog is empty; any other error ends the sweep.
                    Err(_) => break,
                }
            }
        }
    }
}
