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
    /// Open connections below which accepting resumes after the cap: the
    /// smallest count that is not below 90 %, so any count under 90 % resumes.
    pub fn resume_below(&self) -> usize {
        (self.max_connections.saturating_mul(9).saturating_add(9) / 10).max(1)
    }
}

/// Settings for the tests of the connection cap.
#[cfg(test)]
impl EngineSettings {
    /// `max_connections` in `at_capacity` mode; nothing listened on, small buffers.
    pub(crate) fn capped_for_tests(max_connections: usize, at_capacity: ShedMode) -> Self {
        EngineSettings {
            listen: Vec::new(),
            backlog: 16,
            max_connections,
            at_capacity,
            max_pending_bytes: 1,
            read_buffer_bytes: 1,
            idle_timeout: None,
            drain_timeout: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_max(max_connections: usize) -> EngineSettings {
        EngineSettings::capped_for_tests(max_connections, ShedMode::Pause)
    }

    #[test]
    fn accepting_resumes_at_every_count_below_ninety_percent() {
        for max in [1, 2, 5, 9, 10, 11, 100, 16_384] {
            let resume_below = with_max(max).resume_below();
            for open in 0..=max {
                let under_ninety_percent = open * 10 < max * 9;
                assert_eq!(
                    open < resume_below,
                    under_ninety_percent,
                    "max {max}, open {open}"
                );
            }
        }
    }
}
