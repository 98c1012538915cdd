//! One failed connection or exchange: its kind and what exactly happened.
//!
//! Built on the error path only; carrying an `io::Error` or a [`Mismatch`]
//! rather than a formatted string keeps even that path allocation-free. The
//! first few failures of each thread are printed so users can see causes,
//! then printing stops (a broken server can fail thousands of times a second).

use std::fmt;
use std::io;

use crate::error_kind::ErrorKind;
use crate::pattern::Mismatch;

/// Failure details each thread prints before going quiet.
pub const DETAILS_PRINTED_PER_THREAD: u32 = 5;

/// What went wrong, in detail.
#[derive(Debug)]
pub enum Cause {
    /// A socket call failed.
    Io(io::Error),
    /// An echoed byte was wrong.
    WrongByte(Mismatch),
    /// Bytes arrived while nothing was outstanding.
    UnexpectedBytes(usize),
    /// The server closed its side.
    EndOfStream,
    /// The deadline passed.
    Deadline,
}

/// A classified failure.
#[derive(Debug)]
pub struct Failure {
    /// Counted under this kind.
    pub kind: ErrorKind,
    /// The detail shown to the user.
    pub cause: Cause,
}

impl Failure {
    /// A socket error, classified by [`ErrorKind::from_io`].
    pub fn io(error: io::Error, while_connecting: bool) -> Failure {
        Failure {
            kind: ErrorKind::from_io(&error, while_connecting),
            cause: Cause::Io(error),
        }
    }

    /// An echo that differs from what was sent.
    pub fn mismatch(mismatch: Mismatch) -> Failure {
        Failure {
            kind: ErrorKind::Mismatch,
            cause: Cause::WrongByte(mismatch),
        }
    }

    /// Bytes that were never sent came back.
    pub fn unexpected_bytes(count: usize) -> Failure {
        Failure {
            kind: ErrorKind::Mismatch,
            cause: Cause::UnexpectedBytes(count),
        }
    }

    /// The server closed the connection before it should have.
    pub fn closed_early() -> Failure {
        Failure {
            kind: ErrorKind::ClosedEarly,
            cause: Cause::EndOfStream,
        }
    }

    /// A connect or echo deadline passed.
    pub fn timed_out(kind: ErrorKind) -> Failure {
        Failure {
            kind,
            cause: Cause::Deadline,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind.name())?;
        match &self.cause {
            Cause::Io(error) => write!(f, "{error}"),
            Cause::WrongByte(mismatch) => write!(f, "{mismatch}"),
            Cause::UnexpectedBytes(count) => {
                write!(f, "{count} bytes arrived that were never sent")
            }
            Cause::EndOfStream => {
                f.write_str("server closed the connection before echoing everything")
            }
            Cause::Deadline => f.write_str("deadline passed (see --timeout)"),
        }
    }
}

/// Prints the first [`DETAILS_PRINTED_PER_THREAD`] failures of a thread.
#[derive(Debug, Default)]
pub struct FailureLog {
    printed: u32,
}

impl FailureLog {
    /// Prints `failure` of connection `connection_id` unless the quota is used up.
    pub fn note(&mut self, mode: &str, connection_id: u64, failure: &Failure) {
        if self.printed < DETAILS_PRINTED_PER_THREAD {
            eprintln!("{mode}: connection {connection_id}: {failure}");
        } else if self.printed == DETAILS_PRINTED_PER_THREAD {
            eprintln!("{mode}: further failures of this thread are counted, not shown");
        } else {
            return;
        }
        self.printed += 1;
    }
}
