//! The fan side of the actuators: the exit action, and the backend with what was applied
//! to it (written only on a change or after a failed write; failures rate-limited).

use std::time::Instant;

use warden_hw::Fan;

use crate::rate_limit::{LogLimiter, SuppressedNote};
use crate::snapshot::FanStatus;

/// What the fan does when the controller stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanOnExit {
    /// Full duty: safest when nothing watches the temperature any more.
    #[default]
    Full,
    /// Off.
    Off,
    /// Leave it as it is.
    Leave,
}

impl FanOnExit {
    /// The duty to write on exit, if any.
    pub fn duty(self) -> Option<f64> {
        match self {
            FanOnExit::Full => Some(1.0),
            FanOnExit::Off => Some(0.0),
            FanOnExit::Leave => None,
        }
    }
}

/// The fan backend with what was applied to it.
pub(crate) struct FanActuator {
    fan: Box<dyn Fan>,
    applied: Option<f64>,
    last_write_failed: bool,
    log: LogLimiter,
    pub(crate) status: FanStatus,
}

impl FanActuator {
    pub(crate) fn new(fan: Box<dyn Fan>, proportional: bool) -> Self {
        let status = FanStatus {
            driver: fan.driver(),
            proportional,
            ..FanStatus::default()
        };
        FanActuator {
            fan,
            applied: None,
            last_write_failed: false,
            log: LogLimiter::default(),
            status,
        }
    }

    /// Writes `duty` if it differs from the applied duty or the last write failed.
    pub(crate) fn apply(&mut self, duty: f64, now: Instant) {
        self.status.requested_duty = duty;
        if self.applied == Some(duty) && !self.last_write_failed {
            return;
        }
        match self.fan.set_duty(duty) {
            Ok(()) => {
                if self.applied.unwrap_or(0.0) != duty {
                    self.status.switches += 1;
                }
                self.applied = Some(duty);
                self.status.duty = Some(duty);
                self.last_write_failed = false;
            }
            Err(error) => {
                self.last_write_failed = true;
                self.status.errors += 1;
                if let Some(suppressed) = self.log.allow(now) {
                    log::warn!(
                        "fan ({}): could not set duty {duty:.2}: {error}; retrying every tick{}",
                        self.fan.driver(),
                        SuppressedNote(suppressed)
                    );
                }
            }
        }
    }

    /// Sets the exit duty; on failure, logs the error and says what was not put back.
    pub(super) fn restore(&mut self, on_exit: FanOnExit) -> Result<(), String> {
        let Some(duty) = on_exit.duty() else {
            return Ok(());
        };
        match self.fan.set_duty(duty) {
            Ok(()) => {
                self.status.duty = Some(duty);
                Ok(())
            }
            Err(error) => {
                log::error!(
                    "fan ({}): could not set the exit duty {duty:.2}: {error}",
                    self.fan.driver()
                );
                Err(format!("the fan's exit duty {duty:.2}"))
            }
        }
    }
}
