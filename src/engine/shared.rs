//! What the event loop shares with other threads: counters, gate state and a
//! heartbeat, all atomics.

use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicU8, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::stats::Stats;

/// Why new connections are (not) being admitted, as seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GateState {
    /// Admitting.
    Open = 0,
    /// Thermal shedding, newcomers left in the kernel backlog.
    ShedPause = 1,
    /// Thermal shedding, newcomers accepted and closed.
    ShedReject = 2,
    /// At `server.max_connections`, newcomers left in the kernel backlog.
    AtCapacityPause = 3,
    /// Out of descriptors; accepting again after a back-off.
    FdBackoff = 4,
    /// Draining for shutdown.
    Draining = 5,
    /// At `server.max_connections`, newcomers accepted and closed.
    AtCapacityReject = 6,
}

impl GateState {
    fn from_u8(v: u8) -> GateState {
        match v {
            1 => GateState::ShedPause,
            2 => GateState::ShedReject,
            3 => GateState::AtCapacityPause,
            4 => GateState::FdBackoff,
            5 => GateState::Draining,
            6 => GateState::AtCapacityReject,
            _ => GateState::Open,
        }
    }

    /// Short name used in status output.
    pub fn as_str(self) -> &'static str {
        match self {
            GateState::Open => "open",
            GateState::ShedPause | GateState::ShedReject => "shedding",
            GateState::AtCapacityPause | GateState::AtCapacityReject => "at_capacity",
            GateState::FdBackoff => "fd_backoff",
            GateState::Draining => "draining",
        }
    }
}

/// State the loop publishes for the status page and the service manager.
#[derive(Debug)]
pub struct LoopShared {
    /// Connection and traffic counters.
    pub stats: Stats,
    gate: AtomicU8,
    heartbeat_ms: AtomicU64,
    /// Set by the first [`beat`](Self::beat): until then the loop has not run
    /// (warden is starting) and `heartbeat_ms` means nothing.
    has_beaten: AtomicBool,
    max_connections: AtomicU64,
    /// Written only when the listeners change (start, reload, drain), never per message.
    listen: Mutex<Vec<SocketAddr>>,
    started: Instant,
}

impl LoopShared {
    /// Fresh state, with the clock starting now.
    pub fn new(max_connections: usize) -> Self {
        LoopShared {
            stats: Stats::default(),
            gate: AtomicU8::new(GateState::Open as u8),
            heartbeat_ms: AtomicU64::new(0),
            has_beaten: AtomicBool::new(false),
            max_connections: AtomicU64::new(max_connections as u64),
            listen: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    /// When the loop was created.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The admission gate as last published (acquire: the counters published
    /// before it are visible after it).
    pub fn gate(&self) -> GateState {
        GateState::from_u8(self.gate.load(Acquire))
    }

    /// Publishes the gate state (release: after the counters that go with it).
    pub fn set_gate(&self, gate: GateState) {
        self.gate.store(gate as u8, Release);
    }

    /// The configured connection cap.
    pub fn max_connections(&self) -> u64 {
        self.max_connections.load(Relaxed)
    }

    /// Publishes the connection cap (it can change on reload).
    pub fn set_max_connections(&self, max: usize) {
        self.max_connections.store(max as u64, Relaxed);
    }

    /// The addresses the loop listens on now (port 0 resolved).
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.listen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Publishes the addresses the loop listens on (they change on reload and drain).
    pub fn set_listen_addrs(&self, addrs: Vec<SocketAddr>) {
        *self.listen.lock().unwrap_or_else(PoisonError::into_inner) = addrs;
    }

    /// Records that the loop is alive at `now`.
    pub fn beat(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.started).as_millis() as u64;
        self.heartbeat_ms.store(ms, Relaxed);
        // Release after the heartbeat: whoever sees the flag sees a real beat's time.
        self.has_beaten.store(true, Release);
    }

    /// True once the loop has beaten at least once (it beats as it starts to
    /// run); false while warden is still starting.
    pub fn has_beaten(&self) -> bool {
        self.has_beaten.load(Acquire)
    }

    /// Time since the loop last beat.
    pub fn heartbeat_age(&self, now: Instant) -> std::time::Duration {
        let last = self.started + std::time::Duration::from_millis(self.heartbeat_ms.load(Relaxed));
        now.saturating_duration_since(last)
    }
}
