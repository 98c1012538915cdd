//! Connection and traffic counters, readable from any thread without a lock.
//!
//! The event loop is the only writer. It counts into plain integers
//! ([`LocalStats`]) on the per-message path and publishes them to the shared
//! atomics ([`Stats`]) after a poll batch at most every 10 ms, at each
//! heartbeat, and together with every change of the admission gate, so no
//! message pays for an atomic read-modify-write.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a connection was refused at accept time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `server.max_connections` reached in `reject` mode.
    Capacity,
    /// The thermal controller is shedding in `reject` mode.
    Thermal,
    /// The service is draining: a connection taken from a listener's backlog as the
    /// drain began that the gate did not admit.
    Draining,
}

/// Kinds of `accept()` failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptErrorKind {
    /// EMFILE: this process is out of descriptors.
    Emfile,
    /// ENFILE: the system is out of descriptors.
    Enfile,
    /// ENOBUFS/ENOMEM: the kernel is out of memory for sockets.
    NoMemory,
    /// ECONNABORTED/EPROTO: the peer went away before we accepted.
    Aborted,
    /// Anything else.
    Other,
}

macro_rules! counters {
    ($(#[$meta:meta])* $vis:vis struct $name:ident / $local:ident { $($(#[$fmeta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        $vis struct $name { $($(#[$fmeta])* pub $field: AtomicU64,)* }

        /// The loop's private, non-atomic copy of the counters.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        $vis struct $local { $($(#[$fmeta])* pub $field: u64,)* }

        impl $name {
            /// Publishes the loop's counters (single writer: plain stores).
            pub fn publish(&self, local: &$local) {
                $(self.$field.store(local.$field, Relaxed);)*
            }
            /// Reads every counter (each individually consistent).
            pub fn load(&self) -> $local {
                $local { $($field: self.$field.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Shared counters of one event loop.
    pub struct Stats / LocalStats {
        /// Connections open now.
        active,
        /// Connections accepted and served.
        accepted,
        /// Refused at capacity (`at_capacity = "reject"`).
        rejected_capacity,
        /// Refused while shedding for heat (`shed_mode = "reject"`).
        rejected_thermal,
        /// Connections closed (any reason, including timeouts).
        closed,
        /// Closed by the idle timeout.
        timed_out,
        /// Closed by the drain deadline.
        drain_closed,
        /// Bytes read from clients.
        bytes_in,
        /// Bytes written to clients.
        bytes_out,
        /// accept() failures: EMFILE.
        accept_emfile,
        /// accept() failures: ENFILE.
        accept_enfile,
        /// accept() failures: ENOBUFS/ENOMEM.
        accept_nomem,
        /// accept() failures: ECONNABORTED/EPROTO.
        accept_aborted,
        /// accept() failures: anything else.
        accept_other,
        /// Times the listeners were parked for a descriptor back-off.
        emfile_backoffs,
        /// Connections closed on a read or write error (reset, broken pipe).
        io_errors,
        /// Times a session stopped reading because its write backlog hit the cap.
        backpressure_pauses,
        /// Times the listeners were paused because the connection cap was hit.
        capacity_pauses,
    }
}

impl LocalStats {
    /// Counts one refused connection.
    pub fn count_reject(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::Capacity => self.rejected_capacity += 1,
            RejectReason::Thermal => self.rejected_thermal += 1,
            RejectReason::Draining => self.drain_closed += 1,
        }
    }

    /// Counts one accept() failure.
    pub fn count_accept_error(&mut self, kind: AcceptErrorKind) {
        match kind {
            AcceptErrorKind::Emfile => self.accept_emfile += 1,
            AcceptErrorKind::Enfile => self.accept_enfile += 1,
            AcceptErrorKind::NoMemory => self.accept_nomem += 1,
            AcceptErrorKind::Aborted => self.accept_aborted += 1,
            AcceptErrorKind::Other => self.accept_other += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_then_load_round_trips() {
        let shared = Stats::default();
        let mut local = LocalStats {
            accepted: 7,
            bytes_in: 1 << 40,
            ..LocalStats::default()
        };
        local.count_reject(RejectReason::Thermal);
        local.count_accept_error(AcceptErrorKind::Emfile);
        shared.publish(&local);
        assert_eq!(shared.load(), local);
        assert_eq!(shared.load().rejected_thermal, 1);
        assert_eq!(shared.load().accept_emfile, 1);
    }
}
