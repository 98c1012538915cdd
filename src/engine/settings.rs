//! The event loop's own settings, derived from `[server]` and replaceable on
//! SIGHUP.

use std::net::SocketAddr;
use std::time::Duration;

use super::control::ShedMode;

/// Everything the loop needs to know from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Addresses to listen on (ignored under socket activation).
    pub listen: Vec<SocketAddr>,
    /// listen() backlog.
    pub backlog: u32,
    /// Most open connections.
    pub max_connections: usize,
    /// What to do with newcomers at the cap.
    pub at_capacity: ShedMode,
    /// Cap on bytes owed to one slow peer.
    pub max_pending_bytes: usize,
    /// Size of the loop's shared read buffer.
    pub read_buffer_bytes: usize,
    /// Close connections idle this long (`None` = never).
    pub idle_timeout: Option<Duration>,
    /// How long a drain waits for connections to finish.
    pub drain_timeout: Duration,
}

impl EngineSettings {
    /// Open connections below which accepting resumes after the cap (90 %).
    pub fn resume_below(&self) -> usize {
        (self.max_connections * 9 / 10).max(1)
    }
}
