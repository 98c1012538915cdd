//! A timerfd that wakes an event loop when the next paced send is due.
//!
//! `Poll::poll` timeouts have millisecond granularity (mio rounds up), which
//! would add up to a millisecond of our own lateness to every paced message
//! and, because latency is measured from the scheduled send time, show up in
//! the server's figures. A timerfd in the same `Poll` wakes the loop with
//! microsecond precision instead. It is re-armed only when the earliest
//! pending send moves, so it costs one syscall per wake-up, not per message.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A one-shot monotonic timer registered in a mio `Poll`.
pub struct SendTimer {
    fd: OwnedFd,
    armed_for: Option<Instant>,
}

impl SendTimer {
    /// Creates the timer and registers it under `token` for readable events.
    pub fn register(registry: &Registry, token: Token) -> io::Result<SendTimer> {
        // SAFETY: timerfd_create takes no pointers; the result is checked below.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a freshly created fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(SendTimer {
            fd,
            armed_for: None,
        })
    }

    /// Makes sure the timer fires no later than `deadline`: re-arms only if it
    /// is idle or set for a later time.
    pub fn ensure_armed_by(&mut self, deadline: Instant, now: Instant) -> io::Result<()> {
        if matches!(self.armed_for, Some(armed) if armed <= deadline) {
            return Ok(());
        }
        // A zero it_value would disarm the timer; fire "now" as 1 ns instead.
        let delay = deadline
            .saturating_duration_since(now)
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: delay.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(delay.subsec_nanos() as i32),
            },
        };
        // SAFETY: the fd is our timerfd; `spec` is a valid itimerspec for the
        // duration of the call and the old-value pointer may be null.
        let result =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed_for = Some(deadline);
        Ok(())
    }

    /// Acknowledges a wake-up: drains the expiration count so the next expiry
    /// produces a fresh edge, and marks the timer idle.
    pub fn acknowledge(&mut self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live 8-byte buffer from our fd;
        // EAGAIN (nothing expired) is harmless and ignored.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            );
        }
        self.armed_for = None;
    }
}
