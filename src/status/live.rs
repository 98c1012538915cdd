//! The status server as the daemon runs it: started from `[status]`, and
//! rebuilt when a SIGHUP brings a different `[status]`. A reload never leaves
//! the page down when it can help it: a new address is bound before the old
//! server stops, and a failed rebuild on the same address brings the old
//! settings back. When the service listeners take the page's port in the same
//! reload (the two swap ports), the page moves to its new address before they
//! bind ([`LiveStatus::release_port_for`]); if that address is taken, the page
//! stays, and so do the listeners (all or nothing).

use std::net::SocketAddr;

use crate::config::{addresses_overlap, StatusConfig};

use super::server::{spawn, StatusError, StatusServerHandle};
use super::snapshot::StatusSources;

/// The running status server (if enabled) and the settings it runs with.
pub struct LiveStatus {
    sources: StatusSources,
    running: StatusConfig,
    server: Option<StatusServerHandle>,
    /// Most status connections at once, from the open-file budget.
    max_connections: usize,
    /// Settings [`release_port_for`](Self::release_port_for) failed to move to in this
    /// reload (logged there): [`apply`](Self::apply) does not try and log them again.
    refused: Option<StatusConfig>,
}

impl LiveStatus {
    /// Starts the server when `config.enabled`, holding at most `max_connections`
    /// at once; a failure to bind is returned.
    pub fn start(
        sources: StatusSources,
        config: &StatusConfig,
        max_connections: usize,
    ) -> Result<Self, StatusError> {
        let mut live = LiveStatus {
            sources,
            running: config.clone(),
            server: None,
            max_connections,
            refused: None,
        };
        if config.enabled {
            live.server = Some(live.bind_server(config)?);
        }
        Ok(live)
    }

    /// Binds and starts a server for `config`; a port one of the event loop's own
    /// listeners holds is said to be warden's, not blamed on another process.
    fn bind_server(&self, config: &StatusConfig) -> Result<StatusServerHandle, StatusError> {
        spawn(self.sources.clone(), config, self.max_connections).map_err(|error| {
            let own = self.sources.loop_shared.listen_addrs();
            held_by_own_listener(error, &own)
        })
    }

    /// The `[status]` in force: what the last successful start or reload applied.
    pub fn running(&self) -> &StatusConfig {
        &self.running
    }

    /// Makes way for the service listeners (about to bind `listen`; `serving` are the
    /// addresses they hold now) when they take the port the page holds and `newer` moves
    /// the page away. When the page's new address is one the listeners hold (the two
    /// swap ports) or `newer` disables it, the page closes at once:
    /// [`apply`](Self::apply) binds the new address after the listeners moved, or the
    /// old one again if they could not. Otherwise it moves to its new address at once;
    /// if that is taken it stays where it is, logged, and this returns the address it
    /// holds: the listeners must then stay where they are too.
    #[must_use = "the listeners cannot take a port the page kept"]
    pub fn release_port_for(
        &mut self,
        listen: &[SocketAddr],
        serving: &[SocketAddr],
        newer: &StatusConfig,
    ) -> Option<SocketAddr> {
        let held = self.server.as_ref().map(StatusServerHandle::local_addr)?;
        let leaving = !newer.enabled || newer.listen != self.running.listen;
        if !leaving || !listen.iter().any(|wanted| addresses_overlap(&held, wanted)) {
            return None;
        }
        // A true swap: the new address is the listeners' own, free only once they moved.
        let swapping = serving
            .iter()
            .any(|own| addresses_overlap(&newer.listen, own));
        if !newer.enabled || swapping {
            log::info!(
                "SIGHUP: closing the status page on {held} first: server.listen takes that port"
            );
            if let Some(server) = self.server.take() {
                server.stop();
            }
            return None;
        }
        // Its new address is not the listeners' to take: bind it first, so that if it is
        // taken the page stays where it is (and the listeners too, all or nothing).
        match self.move_to(newer) {
            Ok(()) => {
                log::info!(
                    "SIGHUP: status page moved from {held} first: server.listen takes that port"
                );
                None
            }
            Err(e) => {
                log::error!("SIGHUP: {e}; the status page stays on {held}");
                self.refused = Some(newer.clone());
                Some(held)
            }
        }
    }

    /// Binds `newer`'s address, then stops the old server: a failure leaves it up.
    fn move_to(&mut self, newer: &StatusConfig) -> Result<(), StatusError> {
        let fresh = self.bind_server(newer)?;
        if let Some(old) = self.server.replace(fresh) {
            old.stop();
        }
        self.running = newer.clone();
        Ok(())
    }

    /// Applies a reloaded `[status]`; logs what it did, or why the old server stays.
    pub fn apply(&mut self, newer: &StatusConfig) {
        if self.refused.take().as_ref() == Some(newer) {
            return;
        }
        // After a failed rebuild left no server, the same settings try again.
        if *newer == self.running && (self.server.is_some() || !newer.enabled) {
            return;
        }
        if !newer.enabled {
            if let Some(server) = self.server.take() {
                server.stop();
                log::info!("SIGHUP: status page stopped (status.enabled = false)");
            }
            self.running = newer.clone();
            return;
        }
        if self.server.is_some() && newer.listen != self.running.listen {
            // A new address: bind it first, so a failure leaves the old page up.
            if let Err(e) = self.move_to(newer) {
                log::error!("SIGHUP: {e}; the status page stays as it was");
            }
            return;
        }
        // The same address with other settings: the old server must let go of it. Or
        // no server runs (released for the listeners, or a rebuild failed).
        if let Some(old) = self.server.take() {
            old.stop();
        }
        match self.bind_server(newer) {
            Ok(fresh) => {
                self.server = Some(fresh);
                self.running = newer.clone();
            }
            Err(e) if self.running.enabled && self.running != *newer => {
                log::error!("SIGHUP: {e}; restarting the status page with its old settings");
                match self.bind_server(&self.running) {
                    Ok(old) => self.server = Some(old),
                    Err(e) => log::error!(
                        "status page is down: {e}; a SIGHUP or a restart binds it again"
                    ),
                }
            }
            Err(e) if self.running.enabled => {
                log::error!("status page is down: {e}; a SIGHUP or a restart binds it again")
            }
            Err(e) => log::error!("SIGHUP: {e}; the status page stays off"),
        }
    }

    /// Stops the server, closing its port.
    pub fn stop(self) {
        if let Some(server) = self.server {
            server.stop();
        }
    }
}

/// `error`, or [`StatusError::OwnListener`] when the port was refused because one of
/// warden's `own` service listeners holds it.
fn held_by_own_listener(error: StatusError, own: &[SocketAddr]) -> StatusError {
    if let StatusError::Bind { addr, os_error, .. } = &error {
        let in_use = os_error.raw_os_error() == Some(libc::EADDRINUSE);
        if let Some(listener) = own.iter().find(|l| in_use && addresses_overlap(addr, l)) {
            return StatusError::OwnListener {
                addr: *addr,
                listener: *listener,
            };
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::engine::LoopShared;
    use crate::status::ThermalSource;

    fn free_addr() -> SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    fn config(listen: SocketAddr, workers: usize) -> StatusConfig {
        StatusConfig {
            enabled: true,
            listen,
            workers,
            request_timeout: Duration::from_secs(5),
        }
    }

    fn live(config: &StatusConfig) -> LiveStatus {
        let sources = StatusSources::new(
            Arc::new(LoopShared::new(10)),
            ThermalSource::Absent {
                reason: "test".into(),
            },
            "echo",
        );
        LiveStatus::start(sources, config, super::super::io_loop::MAX_CONNECTIONS).unwrap()
    }

    /// The address the page is served on, when it is.
    fn served_on(status: &LiveStatus) -> Option<SocketAddr> {
        status.server.as_ref().map(StatusServerHandle::local_addr)
    }

    /// The status line of `GET /healthz` at `addr`, or None when nothing listens.
    fn healthz(addr: SocketAddr) -> Option<String> {
        let mut stream = TcpStream::connect(addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.lines().next().map(str::to_owned)
    }

    #[test]
    fn a_new_address_is_bound_and_the_old_one_closed() {
        let (first, second) = (free_addr(), free_addr());
        let mut status = live(&config(first, 1));
        assert!(healthz(first).is_some());
        status.apply(&config(second, 1));
        assert_eq!(served_on(&status), Some(second));
        assert_eq!(status.running.listen, second);
        assert!(healthz(second).is_some(), "served on the new address");
        assert!(healthz(first).is_none(), "the old address is closed");
        status.stop();
        assert!(healthz(second).is_none());
    }

    #[test]
    fn a_taken_new_address_leaves_the_old_page_up() {
        let first = free_addr();
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut status = live(&config(first, 1));
        status.apply(&config(taken.local_addr().unwrap(), 1));
        assert_eq!(served_on(&status), Some(first));
        assert_eq!(status.running.listen, first, "the old settings stay");
        assert!(healthz(first).is_some());
    }

    #[test]
    fn other_settings_on_the_same_address_rebuild_the_server_there() {
        let addr = free_addr();
        let mut status = live(&config(addr, 1));
        status.apply(&config(addr, 3));
        assert_eq!(status.running.workers, 3);
        assert_eq!(served_on(&status), Some(addr));
        assert!(healthz(addr).is_some());
    }

    #[test]
    fn disabling_closes_the_port_and_enabling_opens_it_again() {
        let addr = free_addr();
        let mut status = live(&config(addr, 1));
        status.apply(&StatusConfig {
            enabled: false,
            ..config(addr, 1)
        });
        assert_eq!(served_on(&status), None);
        assert!(healthz(addr).is_none());
        status.apply(&config(addr, 1));
        assert!(healthz(addr).is_some());
    }

    #[test]
    fn after_a_rebuild_that_found_no_address_the_same_settings_try_again() {
        let addr = free_addr();
        let mut status = live(&StatusConfig {
            enabled: false,
            ..config(addr, 1)
        });
        let squatter = TcpListener::bind(addr).unwrap();
        status.apply(&config(addr, 1));
        assert_eq!(served_on(&status), None, "the address is taken");
        drop(squatter);
        status.apply(&config(addr, 1));
        assert_eq!(served_on(&status), Some(addr), "bound on the retry");
    }

    #[test]
    fn a_port_the_listeners_take_is_released_and_the_page_moves_on() {
        let (page, next) = (free_addr(), free_addr());
        let mut status = live(&config(page, 1));
        assert_eq!(
            status.release_port_for(&[free_addr()], &[], &config(next, 1)),
            None
        );
        assert_eq!(served_on(&status), Some(page), "a port nobody wants stays");
        assert_eq!(
            status.release_port_for(&[page], &[], &config(page, 1)),
            None
        );
        assert_eq!(
            served_on(&status),
            Some(page),
            "a page that stays keeps its port"
        );
        assert_eq!(
            status.release_port_for(&[page], &[], &config(next, 1)),
            None
        );
        assert_eq!(
            served_on(&status),
            Some(next),
            "moved before the listeners bind"
        );
        let listener = TcpListener::bind(page).expect("the listeners can bind the port");
        status.apply(&config(next, 1));
        assert_eq!(served_on(&status), Some(next));
        assert_eq!(status.running().listen, next);
        drop(listener);
    }

    #[test]
    fn a_page_whose_new_address_is_taken_stays_where_it_is() {
        let page = free_addr();
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut status = live(&config(page, 1));
        let newer = config(taken.local_addr().unwrap(), 1);
        assert_eq!(
            status.release_port_for(&[page], &[], &newer),
            Some(page),
            "the listeners are told the page kept their port"
        );
        assert_eq!(served_on(&status), Some(page), "never closed");
        assert!(
            TcpListener::bind(page).is_err(),
            "so the listeners cannot take its port and stay where they were too"
        );
        status.apply(&newer);
        assert_eq!(served_on(&status), Some(page), "still on the old address");
        assert_eq!(status.running().listen, page, "the old settings stay");
        assert!(healthz(page).is_some());
    }

    #[test]
    fn in_a_true_swap_the_page_closes_first_and_comes_back_on_the_listeners_old_port() {
        let page = free_addr();
        let service = TcpListener::bind("127.0.0.1:0").unwrap();
        let service_addr = service.local_addr().unwrap();
        let mut status = live(&config(page, 1));
        let released = status.release_port_for(&[page], &[service_addr], &config(service_addr, 1));
        assert_eq!(released, None);
        assert_eq!(served_on(&status), None, "closed for the listeners");
        let moved = TcpListener::bind(page).expect("the listeners take the page's port");
        drop(service);
        status.apply(&config(service_addr, 1));
        assert_eq!(served_on(&status), Some(service_addr));
        drop(moved);
    }

    #[test]
    fn a_page_disabled_in_a_swap_closes_its_port_for_the_listeners() {
        let page = free_addr();
        let mut status = live(&config(page, 1));
        let off = StatusConfig {
            enabled: false,
            ..config(page, 1)
        };
        assert_eq!(status.release_port_for(&[page], &[], &off), None);
        assert_eq!(served_on(&status), None);
        TcpListener::bind(page).expect("the listeners can bind the port");
    }

    #[test]
    fn a_port_held_by_warden_s_own_listener_is_not_blamed_on_another_process() {
        let addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let in_use =
            || StatusError::bind(addr, std::io::Error::from_raw_os_error(libc::EADDRINUSE));
        let own = held_by_own_listener(in_use(), &["0.0.0.0:7000".parse().unwrap()]).to_string();
        assert!(
            own.contains("warden's own service listener on 0.0.0.0:7000")
                && !own.contains("another process"),
            "{own}"
        );
        let other =
            held_by_own_listener(in_use(), &["127.0.0.1:7001".parse().unwrap()]).to_string();
        assert!(other.contains("another process holds this port"), "{other}");
    }

    #[test]
    fn a_page_on_the_port_of_a_service_listener_is_told_the_port_is_warden_s_own() {
        // As with a socket systemd passed, which the configuration check never sees.
        let service = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = service.local_addr().unwrap();
        let shared = Arc::new(LoopShared::new(10));
        shared.set_listen_addrs(vec![addr]);
        let reason = ThermalSource::Absent {
            reason: "test".into(),
        };
        let sources = StatusSources::new(shared, reason, "echo");
        let refused = LiveStatus::start(sources, &config(addr, 1), 4)
            .err()
            .unwrap();
        let message = refused.to_string();
        assert!(
            message.contains(&format!(
                "warden's own service listener on {addr} holds that port"
            )) && !message.contains("another process"),
            "{message}"
        );
    }

    #[test]
    fn a_service_listener_on_the_ipv6_wildcard_does_not_hold_an_ipv4_page_port() {
        // Service sockets are IPv6-only, so a swap to 127.0.0.1:P beside a service on
        // [::]:P is no true swap: the page moves at once instead of closing first.
        let page = free_addr();
        let mut status = live(&config(page, 1));
        let next = free_addr();
        let v6_any: SocketAddr = format!("[::]:{}", next.port()).parse().unwrap();
        assert_eq!(
            status.release_port_for(&[page], &[v6_any], &config(next, 1)),
            None
        );
        assert_eq!(served_on(&status), Some(next), "moved, never closed");
    }
}
