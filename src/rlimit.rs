//! The open-file limit: raised from the soft to the hard limit at start, as
//! nginx's `worker_rlimit_nofile` or Go's runtime do, because every client
//! costs one descriptor.

use std::io;

/// Descriptors warden keeps for itself (epoll, waker, signals, listeners,
/// status server, sysfs files, logs).
pub const RESERVED_FDS: u64 = 64;

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

/// Logs the limit and warns when `max_connections` cannot fit under it.
pub fn check_against(max_connections: usize) {
    match raise_nofile() {
        Ok(soft) => {
            let usable = soft.saturating_sub(RESERVED_FDS);
            if (max_connections as u64) > usable {
                log::warn!(
                    "open-file limit is {soft}: at most about {usable} connections fit, below server.max_connections = {max_connections}; \
                     raise LimitNOFILE= in the unit (or ulimit -Hn); past it, accept backs off and retries"
                );
            } else {
                log::info!("open-file limit {soft}");
            }
        }
        Err(e) => log::warn!("cannot read or raise the open-file limit: {e}"),
    }
}
