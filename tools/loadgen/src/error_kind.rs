//! Failure kinds and their counters.
//!
//! Every failed connect or exchange is counted under exactly one
//! [`ErrorKind`]; the names are the keys of the `error_kinds` JSON object.
//! Counters are plain arrays owned by one event-loop thread and merged after
//! the run, so counting is allocation- and lock-free.

use std::io;

/// Why one connection attempt or exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// connect() was refused (nothing listening, or the server rejects SYNs).
    ConnectRefused,
    /// The connection was not established within the timeout.
    ConnectTimeout,
    /// The connection was reset (RST, EPIPE) after it was established.
    Reset,
    /// The server closed (FIN) before echoing everything that was sent, or
    /// while the connection was supposed to stay open.
    ClosedEarly,
    /// An echoed byte differed from the byte sent, or bytes came back that
    /// were never sent.
    Mismatch,
    /// The full echo did not arrive within the timeout.
    EchoTimeout,
    /// No local address/port was available (ephemeral ports exhausted).
    AddrUnavailable,
    /// The load generator ran out of file descriptors (EMFILE/ENFILE).
    FdLimit,
    /// Any other socket error.
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Reset,
        ErrorKind::ClosedEarly,
        ErrorKind::Mismatch,
        ErrorKind::EchoTimeout,
        ErrorKind::AddrUnavailable,
        ErrorKind::FdLimit,
        ErrorKind::Other,
    ];

    /// The JSON key of this kind.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::ClosedEarly => "closed_early",
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::EchoTimeout => "echo_timeout",
            ErrorKind::AddrUnavailable => "addr_unavailable",
            ErrorKind::FdLimit => "fd_limit",
            ErrorKind::Other => "other",
        }
    }

    /// Classifies a socket error; `while_connecting` tells a connect timeout
    /// from a timeout of an established connection.
    pub fn from_io(error: &io::Error, while_connecting: bool) -> ErrorKind {
        if matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            return ErrorKind::FdLimit;
        }
        match error.kind() {
            io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
            io::ErrorKind::TimedOut if while_connecting => ErrorKind::ConnectTimeout,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
            io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse => {
                ErrorKind::AddrUnavailable
            }
            _ => ErrorKind::Other,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Per-kind failure counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    counts: [u64; ErrorKind::ALL.len()],
}

impl ErrorCounts {
    /// Counts one failure of `kind`.
    pub fn add(&mut self, kind: ErrorKind) {
        self.counts[kind.slot()] += 1;
    }

    /// Count of failures of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.counts[kind.slot()]
    }

    /// Total failures of all kinds.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds the counts of `other` to these.
    pub fn merge(&mut self, other: &ErrorCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// (kind, count) pairs in report order, including zero counts.
    pub fn iter(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        ErrorKind::ALL.iter().map(|kind| (*kind, self.get(*kind)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_each_kind_in_its_slot() {
        for (position, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.slot(), position, "{kind:?}");
        }
    }

    #[test]
    fn socket_errors_map_to_kinds() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ErrorKind::from_io(&refused, true),
            ErrorKind::ConnectRefused
        );
        let timeout = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(
            ErrorKind::from_io(&timeout, true),
            ErrorKind::ConnectTimeout
        );
        assert_eq!(ErrorKind::from_io(&timeout, false), ErrorKind::Other);
        let reset = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(ErrorKind::from_io(&reset, false), ErrorKind::Reset);
        let pipe = io::Error::from_raw_os_error(libc::EPIPE);
        assert_eq!(ErrorKind::from_io(&pipe, false), ErrorKind::Reset);
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(ErrorKind::from_io(&emfile, true), ErrorKind::FdLimit);
        let no_port = io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(
            ErrorKind::from_io(&no_port, true),
            ErrorKind::AddrUnavailable
        );
    }

    #[test]
    fn counts_add_and_merge() {
        let mut first = ErrorCounts::default();
        first.add(ErrorKind::Mismatch);
        first.add(ErrorKind::Mismatch);
        let mut second = ErrorCounts::default();
        second.add(ErrorKind::Reset);
        first.merge(&second);
        assert_eq!(first.get(ErrorKind::Mismatch), 2);
        assert_eq!(first.get(ErrorKind::Reset), 1);
        assert_eq!(first.total(), 3);
        assert_eq!(first.iter().count(), ErrorKind::ALL.len());
    }
}
