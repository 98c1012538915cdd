//! How the controller thread runs ([`ControllerConfig`]: tick interval, cpu
//! strategy, fan on exit) and why it could not start or how it ended
//! ([`ControllerError`]); both are re-exported from `controller`.

use std::time::Duration;

use thiserror::Error;

use crate::actuators::{CpuStrategy, FanOnExit};
use crate::config::PolicyConfigError;
use crate::controller::DEFAULT_INTERVAL;

/// How the controller thread runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    /// Time between ticks (> 0).
    pub interval: Duration,
    /// How the CPU is slowed while throttling.
    pub cpu_strategy: CpuStrategy,
    /// What the fan does when the controller stops.
    pub fan_on_exit: FanOnExit,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            interval: DEFAULT_INTERVAL,
            cpu_strategy: CpuStrategy::default(),
            fan_on_exit: FanOnExit::default(),
        }
    }
}

impl ControllerConfig {
    /// Checks the interval and the governor name.
    pub fn validate(&self) -> Result<(), ControllerError> {
        if self.interval.is_zero() {
            return Err(ControllerError::ZeroInterval);
        }
        if let CpuStrategy::Governor { powersave } = &self.cpu_strategy {
            if powersave.trim().is_empty() {
                return Err(ControllerError::EmptyGovernor);
            }
        }
        Ok(())
    }
}

/// Why the controller could not start, or how it ended.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// The tick interval is zero.
    #[error("thermal tick interval is zero: set thermal.interval_ms to at least 1")]
    ZeroInterval,
    /// The governor strategy has no governor to switch to.
    #[error(
        "cpu strategy `governor` needs a governor to switch to while hot, such as \"powersave\""
    )]
    EmptyGovernor,
    /// A time scale below 1 or not finite.
    #[error("thermal time scale {0} is not a speed-up: give a finite factor of 1 or more")]
    BadTimeScale(f64),
    /// The thread could not be created.
    #[error(
        "could not start the thermal controller thread: {0}; check the process and memory limits"
    )]
    Spawn(#[source] std::io::Error),
    /// The thread panicked (it tried to put fan and cpufreq back while it unwound).
    #[error(
        "the thermal controller thread panicked; while unwinding it tried to put the fan and \
         cpufreq back, and logged each setting it could not"
    )]
    Panicked,
    /// The thread did not end within the stop timeout (stuck in a sensor read or another
    /// hardware call); it was left running, detached.
    #[error("the thermal controller thread did not stop within {} s (stuck in a sensor read or \
             another hardware call?) and was left behind: the fan and cpufreq may not have been \
             put back", waited.as_secs_f64())]
    NotStopped {
        /// How long stopping waited.
        waited: Duration,
    },
    /// The thread stopped but could not put the hardware back. Each failed write was
    /// logged with its cause; what to do about it is the caller's to say (the daemon
    /// points at `warden restore` or at the values to put back by hand).
    #[error("the thermal controller stopped but could not put back {what}")]
    RestoreFailed {
        /// What was not restored, each as `PATH = VALUE` when the failed write named its
        /// file (e.g. "/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq = 1500000"),
        /// else as a description ("the fan's exit duty 1.00"), joined by " and ".
        what: String,
    },
    /// A new policy cannot work; the running one stays.
    #[error("{0}; the running thermal policy stays")]
    Policy(#[from] PolicyConfigError),
    /// The thread has ended, so there is nothing to reconfigure.
    #[error("the thermal controller has stopped; a new policy takes a restart")]
    Stopped,
}
