//! Raising the open-file limit, and reading the address-space limit.
//!
//! Holding thousands of sockets needs thousands of descriptors, and the
//! default soft RLIMIT_NOFILE (often 1024) is far below the hard limit the
//! administrator granted. An unprivileged process may raise its soft limit up
//! to the hard limit, so the load generator always does at start.

use std::io;

/// The open-file limits after [`raise_nofile_to_hard_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// Soft limit before raising.
    pub previous_soft: u64,
    /// Soft limit now in force (equal to the hard limit on success).
    pub soft: u64,
}

/// Raises the soft RLIMIT_NOFILE of this process to its hard limit.
// rlim_t is u64 here but u32 on 32-bit Raspberry Pi OS: keep the casts.
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_to_hard_limit() -> io::Result<NofileLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let previous_soft = limit.rlim_cur as u64;
    if limit.rlim_cur != limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the live struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(NofileLimit {
        previous_soft,
        soft: limit.rlim_cur as u64,
    })
}

/// The soft RLIMIT_AS (`ulimit -v`) in bytes; `None` when unlimited or unreadable.
#[allow(clippy::unnecessary_cast)]
pub fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0 {
        return None;
    }
    (limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as u64)
}
