//! The open-file limit: raised from the soft to the hard limit at start, as
//! nginx's `worker_rlimit_nofile` or Go's runtime do, because every client
//! costs one descriptor.

use std::io;

/// Descriptors kept out of the connection budget: the status page's own cap
/// plus epoll, waker, signals, listeners, sysfs files and logs, so that
/// clients can never use up what the thermal controller needs to read the
/// temperature and drive the fan.
pub const RESERVED_FDS: u64 = crate::status::io_loop::MAX_CONNECTIONS as u64 + 64;

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

/// Connections that fit under a soft limit of `soft` descriptors: all but the
/// reserve, and under a limit too small for that, a quarter of it.
pub fn connection_budget(soft: u64) -> usize {
    let budget = soft.saturating_sub(RESERVED_FDS).max(soft / 4);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// Raises the limit, logs it, and returns the connection budget when it is
/// below `max_connections` (the loop then caps connections there).
pub fn check_against(max_connections: usize) -> Option<usize> {
    match raise_nofile() {
        Ok(soft) => {
            let budget = connection_budget(soft);
            if max_connections > budget {
                log::warn!(
                    "open-file limit is {soft}: server.max_connections = {max_connections} is lowered to {budget}, \
                     keeping the rest for the thermal controller, the status page and logs; \
                     raise LimitNOFILE= in the unit (or ulimit -Hn) to allow more"
                );
                Some(budget)
            } else {
                log::info!("open-file limit {soft}");
                None
            }
        }
        Err(e) => {
            log::warn!("cannot read or raise the open-file limit: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_the_reserve_or_three_quarters_of_a_tiny_limit() {
        assert_eq!(RESERVED_FDS, 192);
        assert_eq!(connection_budget(20_000), 19_808);
        assert_eq!(connection_budget(400), 208);
        assert_eq!(connection_budget(64), 16);
        assert_eq!(connection_budget(0), 0);
    }
}
