//! Moving the listeners on a reload. Every address the new settings add is
//! bound before any old listener closes, so a reload that cannot bind leaves
//! warden listening exactly where it was, and the next reload tries again.

use std::net::SocketAddr;

use mio::Interest;

use crate::config::listeners_overlap;

use super::listener::{self, Listener};
use super::{token, EngineSettings, EventLoop};

impl EventLoop {
    /// Binds the addresses `new` adds and closes those it drops, and applies its
    /// backlog, all or nothing: if one cannot be bound, the old listeners stay and
    /// this returns false. The sockets systemd passed stay as its unit made them
    /// (false too, so neither change is reported as applied).
    pub(super) fn rebind(&mut self, new: &EngineSettings) -> bool {
        if self.listeners.iter().flatten().any(|l| l.from_systemd) {
            if new.listen != self.settings.listen {
                log::warn!("server.listen changed but the sockets come from systemd; edit the .socket unit instead");
            }
            if new.backlog != self.settings.backlog {
                log::warn!("server.backlog changed but the sockets come from systemd; set Backlog= in the .socket unit instead");
            }
            return false;
        }
        let missing: Vec<SocketAddr> = new
            .listen
            .iter()
            .copied()
            .filter(|wanted| !self.is_bound(*wanted))
            .collect();
        let mut fresh = Vec::with_capacity(missing.len());
        let mut held_by_us = Vec::new();
        for wanted in missing {
            match listener::bind(wanted, new.backlog) {
                Ok(bound) => fresh.push(bound),
                Err(e) if e.is_addr_in_use() && self.dropped_listener_blocks(wanted, new) => {
                    held_by_us.push(wanted);
                }
                Err(e) => {
                    log::error!("{e}; keeping the old listeners");
                    return false;
                }
            }
        }
        if !held_by_us.is_empty() {
            // Such as 127.0.0.1:7000 -> 0.0.0.0:7000: our own old socket must close first.
            let released = self.close_blocking(&held_by_us, new);
            for wanted in held_by_us {
                match listener::bind(wanted, new.backlog) {
                    Ok(bound) => fresh.push(bound),
                    Err(e) => {
                        log::error!("{e}; re-opening the old listeners");
                        self.reopen(&released);
                        return false;
                    }
                }
            }
        }
        // Every new address is bound: the dropped listeners close before the new ones
        // take their token slots (old and new together may be more than there are).
        self.close_dropped(new);
        for bound in fresh {
            self.install(bound);
        }
        true
    }

    /// Listening on `wanted` already: a listener was bound for that entry (perhaps
    /// port 0, the kernel choosing), or is bound to that very address.
    fn is_bound(&self, wanted: SocketAddr) -> bool {
        self.listeners
            .iter()
            .flatten()
            .any(|l| l.configured == wanted || l.addr == wanted)
    }

    /// True when a listener `new` drops holds `wanted`'s port in the same family.
    fn dropped_listener_blocks(&self, wanted: SocketAddr, new: &EngineSettings) -> bool {
        self.listeners
            .iter()
            .flatten()
            .any(|l| blocks(l.addr, wanted) && !still_wanted(l, new))
    }

    /// Closes the dropped listeners that block `wanted`; returns their addresses.
    fn close_blocking(&mut self, wanted: &[SocketAddr], new: &EngineSettings) -> Vec<SocketAddr> {
        let mut released = Vec::new();
        for index in 0..self.listeners.len() {
            let Some(held) = &self.listeners[index] else {
                continue;
            };
            let addr = held.addr;
            if let Some(blocked) = wanted.iter().find(|w| blocks(addr, **w)) {
                if !still_wanted(held, new) {
                    log::info!("closing {addr} first to listen on {blocked}");
                    self.listeners[index] = None; // dropping closes and deregisters
                    released.push(addr);
                }
            }
        }
        released
    }

    /// Binds the old addresses again after a failed move.
    fn reopen(&mut self, released: &[SocketAddr]) {
        for addr in released {
            match listener::bind(*addr, self.settings.backlog) {
                Ok(bound) => self.install(bound),
                Err(e) => log::error!("{e}; not listening there until a reload binds it"),
            }
        }
    }

    /// Puts a freshly bound listener in a free slot, registered if the loop is accepting.
    fn install(&mut self, mut bound: Listener) {
        let slot = match self.listeners.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.listeners.len() < token::MAX_LISTENERS => {
                self.listeners.push(None);
                self.listeners.len() - 1
            }
            None => {
                log::error!("cannot add listener {}: too many listeners", bound.addr);
                return;
            }
        };
        if self.gate.registered() {
            if let Err(e) = self.poll.registry().register(
                &mut bound.socket,
                token::listener(slot),
                Interest::READABLE,
            ) {
                log::error!("listener {}: {e}", bound.addr);
                return;
            }
        }
        log::info!("listening on {}", bound.addr);
        self.listeners[slot] = Some(bound);
    }

    /// Closes the listeners `new` no longer asks for; applies a changed backlog to the rest.
    fn close_dropped(&mut self, new: &EngineSettings) {
        for index in 0..self.listeners.len() {
            let Some(held) = &self.listeners[index] else {
                continue;
            };
            let addr = held.addr;
            if !still_wanted(held, new) {
                log::info!("no longer listening on {addr}");
                self.listeners[index] = None;
            } else if new.backlog != self.settings.backlog {
                if let Some(l) = &self.listeners[index] {
                    if let Err(e) = listener::set_backlog(l, new.backlog) {
                        log::warn!("listener {addr}: cannot change the backlog: {e}");
                    }
                }
            }
        }
    }
}

/// True when `new` still asks for `listener`: for the entry it was bound for, or for
/// the address it is bound to.
fn still_wanted(listener: &Listener, new: &EngineSettings) -> bool {
    new.listen.contains(&listener.configured) || new.listen.contains(&listener.addr)
}

/// True when a listener on `held` makes binding `wanted` fail: the same IP and
/// port, or an overlap the configuration check also refuses (a wildcard on the
/// same port and family; `held` is bound, so its port is never 0).
fn blocks(held: SocketAddr, wanted: SocketAddr) -> bool {
    (held.ip() == wanted.ip() && held.port() == wanted.port()) || listeners_overlap(&held, &wanted)
}
