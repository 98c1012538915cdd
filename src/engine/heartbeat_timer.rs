//! A periodic `timerfd` that wakes the loop for its heartbeat.
//!
//! With the heartbeat arriving as a readiness event, `epoll_wait` can sleep
//! with no timeout in the common case. A finite timeout arms and cancels a
//! kernel hrtimer on every sleep, which at tens of thousands of wake-ups a
//! second is a measurable share of the per-message cost (and a VM exit to
//! reprogram the timer on a virtual machine).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A non-blocking periodic timer descriptor.
#[derive(Debug)]
pub struct HeartbeatTimer {
    fd: OwnedFd,
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

impl HeartbeatTimer {
    /// A timer firing every `period` (at least 1 ms).
    pub fn new(period: Duration) -> io::Result<Self> {
        let period = period.max(Duration::from_millis(1));
        // SAFETY: timerfd_create has no memory preconditions; the result is checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let spec = libc::itimerspec {
            it_interval: timespec(period),
            it_value: timespec(period),
        };
        // SAFETY: `spec` is a valid itimerspec; the old-value pointer may be null.
        if unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(HeartbeatTimer { fd })
    }

    /// Consumes the expirations so the descriptor stops being readable.
    pub fn acknowledge(&self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a buffer of 8 bytes.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            )
        };
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Source for HeartbeatTimer {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.raw()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.raw()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.raw()).deregister(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};

    #[test]
    fn fires_periodically_as_a_readiness_event() {
        let mut poll = Poll::new().unwrap();
        let mut timer = HeartbeatTimer::new(Duration::from_millis(20)).unwrap();
        poll.registry()
            .register(&mut timer, Token(7), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(4);
        for _ in 0..3 {
            poll.poll(&mut events, Some(Duration::from_secs(2)))
                .unwrap();
            assert!(
                events.iter().any(|e| e.token() == Token(7)),
                "the timer fired"
            );
            timer.acknowledge();
        }
    }
}
