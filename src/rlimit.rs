//! The open-file limit: raised from the soft to the hard limit at start, as
//! nginx's `worker_rlimit_nofile` or Go's runtime do, because every client
//! costs one descriptor.

use std::io;

/// Descriptors warden keeps for itself whatever the limit: epoll, waker,
/// signals, listeners, the thermal controller's sysfs files, logs.
pub const INTERNAL_FDS: u64 = 64;
/// Listeners the [`INTERNAL_FDS`] reserve covers (warden's own descriptors with one
/// listener are about 15): each listener beyond these takes one descriptor from the
/// clients' share.
pub const LISTENERS_IN_RESERVE: usize = 32;
/// The smallest open-file limit warden starts under: its own descriptors plus a
/// quarter of the rest for the status page and three quarters for clients.
pub const MIN_NOFILE: u64 = 128;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
    }
    // rlim_t is 32 bits on 32-bit Arm (armv7 Pi OS), 64 elsewhere.
    #[allow(clippy::unnecessary_cast)]
    Ok(limit.rlim_cur as u64)
}

/// How the open-file limit is shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// The soft limit, when it could be read.
    pub soft: Option<u64>,
    /// The most client connections the event loop may hold.
    pub connections: usize,
    /// The most connections the status page may hold.
    pub status_connections: usize,
}

impl FdBudget {
    /// The shares of a soft limit of `soft` descriptors: [`INTERNAL_FDS`] for
    /// warden, a quarter of the rest (at most the status page's own cap) for
    /// the status page, and what remains for clients.
    pub fn for_limit(soft: u64) -> FdBudget {
        let rest = soft.saturating_sub(INTERNAL_FDS);
        let status = (rest / 4).min(crate::status::io_loop::MAX_CONNECTIONS as u64);
        FdBudget {
            soft: Some(soft),
            connections: usize::try_from(rest - status).unwrap_or(usize::MAX),
            status_connections: usize::try_from(status).unwrap_or(usize::MAX),
        }
    }

    /// No limit known: no cap on clients, the status page's own cap.
    pub fn unknown() -> FdBudget {
        FdBudget {
            soft: None,
            connections: usize::MAX,
            status_connections: crate::status::io_loop::MAX_CONNECTIONS,
        }
    }

    /// The most clients beside `listeners` listening sockets: the clients' share, less
    /// one for each listener beyond the [`LISTENERS_IN_RESERVE`] the reserve covers.
    pub fn connections_beside(&self, listeners: usize) -> usize {
        let extra = listeners.saturating_sub(LISTENERS_IN_RESERVE);
        self.connections.saturating_sub(extra)
    }

    /// `server.max_connections` = `configured` as the loop enforces it beside
    /// `listeners` listening sockets: lowered to the budget, with a warning that says
    /// so (`when` names the occasion: "at start", "SIGHUP").
    pub fn cap(&self, configured: usize, listeners: usize, when: &str) -> usize {
        let budget = self.connections_beside(listeners);
        if configured <= budget {
            return configured;
        }
        if let Some(soft) = self.soft {
            log::warn!(
                "{when}: open-file limit is {soft}: server.max_connections = {configured} is lowered to {budget}, \
                 keeping the rest for the thermal controller, the status page, {listeners} listener(s) and logs; \
                 raise LimitNOFILE= in the unit (or ulimit -Hn) to allow more"
            );
        }
        budget
    }
}

/// The open-file limit is too small to run under.
#[derive(Debug, thiserror::Error)]
#[error(
    "open-file limit is {soft}, below the {MIN_NOFILE} warden needs ({INTERNAL_FDS} for itself, \
     the rest shared by the status page and clients); raise LimitNOFILE= in the unit, or ulimit -n"
)]
pub struct LimitTooSmall {
    /// The soft limit after raising it to the hard one.
    pub soft: u64,
}

/// Raises the limit, logs it and shares it out; refuses a limit below [`MIN_NOFILE`].
pub fn budget_at_start() -> Result<FdBudget, LimitTooSmall> {
    match raise_nofile() {
        Ok(soft) if soft < MIN_NOFILE => Err(LimitTooSmall { soft }),
        Ok(soft) => {
            let budget = FdBudget::for_limit(soft);
            log::info!(
                "open-file limit {soft}: up to {} client connections and {} status connections",
                budget.connections,
                budget.status_connections
            );
            Ok(budget)
        }
        Err(e) => {
            log::warn!("cannot read or raise the open-file limit: {e}");
            Ok(FdBudget::unknown())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generous_limit_keeps_the_whole_reserve() {
        let budget = FdBudget::for_limit(20_000);
        assert_eq!(
            (budget.connections, budget.status_connections),
            (19_808, 128)
        );
        let budget = FdBudget::for_limit(576);
        assert_eq!((budget.connections, budget.status_connections), (384, 128));
    }

    #[test]
    fn a_small_limit_shrinks_the_status_share_too() {
        // Every share fits under the limit with warden's own descriptors kept.
        for soft in [MIN_NOFILE, 200, 256, 400, 575] {
            let budget = FdBudget::for_limit(soft);
            let used = budget.connections as u64 + budget.status_connections as u64;
            assert_eq!(used + INTERNAL_FDS, soft, "{soft}: {budget:?}");
            assert_eq!(budget.status_connections as u64, (soft - INTERNAL_FDS) / 4);
        }
        let budget = FdBudget::for_limit(MIN_NOFILE);
        assert_eq!((budget.connections, budget.status_connections), (48, 16));
        let budget = FdBudget::for_limit(400);
        assert_eq!((budget.connections, budget.status_connections), (252, 84));
    }

    #[test]
    fn the_cap_lowers_only_what_does_not_fit() {
        let budget = FdBudget::for_limit(400);
        assert_eq!(budget.cap(100, 1, "test"), 100);
        assert_eq!(budget.cap(252, 1, "test"), 252);
        assert_eq!(budget.cap(16_384, 1, "test"), 252);
        assert_eq!(FdBudget::unknown().cap(16_384, 1, "test"), 16_384);
    }

    #[test]
    fn listeners_beyond_the_reserve_take_from_the_clients_share() {
        let budget = FdBudget::for_limit(400);
        assert_eq!(budget.cap(16_384, LISTENERS_IN_RESERVE, "test"), 252);
        assert_eq!(
            budget.cap(16_384, 64, "test"),
            252 - (64 - LISTENERS_IN_RESERVE)
        );
        // The most listeners a config may name still leaves clients under the smallest limit.
        let smallest = FdBudget::for_limit(MIN_NOFILE);
        assert!(smallest.connections_beside(crate::engine::token::MAX_LISTENERS) > 0);
    }
}
