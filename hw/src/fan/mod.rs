//! Fan drivers behind the [`Fan`] trait.
//!
//! - [`GpioFan`], [`PwmFan`], [`SoftPwmFan`]: a fan wired to a GPIO pin, through rppal.
//! - [`HwmonFan`], [`FileFan`]: plain file writes (the Pi 5 fan header, tests/simulation).
//! - [`NoFan`]: nothing to drive.
//!
//! Every driver rejects a duty outside `0.0..=1.0` (or NaN) with [`HwError::InvalidDuty`]
//! rather than clamping it, so a policy bug shows up instead of hiding.

mod rppal_fans;
mod sysfs_fans;

use std::time::{Duration, Instant};

pub use rppal_fans::{GpioFan, PwmFan, SoftPwmFan};
pub use sysfs_fans::{FileFan, HwmonFan, HWMON_CLASS_DIR, HWMON_FAN_NAMES};
pub(crate) use sysfs_fans::{PWM_ENABLE_FILE, PWM_FILE};

use crate::error::HwError;
use crate::Fan;

/// Default hardware PWM frequency: the 4-pin PC fan standard (inaudible).
pub const DEFAULT_PWM_FREQUENCY_HZ: f64 = 25_000.0;
/// Default software PWM frequency: low, because rppal's soft PWM busy-waits (see [`SoftPwmFan`]).
pub const DEFAULT_SOFT_PWM_FREQUENCY_HZ: f64 = 100.0;
/// Default lowest running duty: most small fans stall below about 20 %.
pub const DEFAULT_MIN_DUTY: f64 = 0.2;
/// How long a PWM fan is held at full duty when it starts from stopped.
pub const KICK_DURATION: Duration = Duration::from_secs(1);

/// Checks that a requested duty lies in `0.0..=1.0`.
pub(crate) fn check_duty(duty: f64) -> Result<f64, HwError> {
    if (0.0..=1.0).contains(&duty) {
        Ok(duty)
    } else {
        Err(HwError::InvalidDuty { duty })
    }
}

/// Checks a `min_duty` setting.
pub(crate) fn check_min_duty(min_duty: f64) -> Result<(), HwError> {
    if (0.0..=1.0).contains(&min_duty) {
        Ok(())
    } else {
        Err(HwError::InvalidSpec {
            field: "fan.min_duty",
            reason: format!("{min_duty} is outside 0.0..=1.0"),
        })
    }
}

/// Checks a PWM frequency setting.
pub(crate) fn check_frequency(frequency_hz: f64) -> Result<(), HwError> {
    if frequency_hz.is_finite() && frequency_hz > 0.0 {
        Ok(())
    } else {
        Err(HwError::InvalidSpec {
            field: "fan.frequency_hz",
            reason: format!("{frequency_hz} is not a positive frequency in Hz"),
        })
    }
}

/// Turns requested duties into duties a real PWM fan can follow.
///
/// A running fan never gets less than `min_duty`; a fan starting from stopped is "kicked"
/// at full duty for [`KICK_DURATION`] so it overcomes static friction. The kick never
/// blocks: the start time is remembered and every `shape` call until the kick has lasted
/// long enough returns 1.0. Because the controller calls at its tick interval, the real
/// kick lasts from `KICK_DURATION` up to `KICK_DURATION` plus one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DutyShaper {
    min_duty: f64,
    kick: Duration,
    running: bool,
    kick_started: Option<Instant>,
}

impl DutyShaper {
    /// A shaper for a stopped fan.
    pub fn new(min_duty: f64, kick: Duration) -> Self {
        DutyShaper {
            min_duty,
            kick,
            running: false,
            kick_started: None,
        }
    }

    /// The duty to apply now for a requested (already validated) duty.
    pub fn shape(&mut self, requested: f64, now: Instant) -> f64 {
        if requested <= 0.0 {
            self.running = false;
            self.kick_started = None;
            return 0.0;
        }
        let duty = requested.max(self.min_duty);
        if !self.running {
            self.running = true;
            if !self.kick.is_zero() && duty < 1.0 {
                self.kick_started = Some(now);
                return 1.0;
            }
        }
        if let Some(started) = self.kick_started {
            if now.saturating_duration_since(started) < self.kick {
                return 1.0;
            }
            self.kick_started = None;
        }
        duty
    }

    /// True while a start-up kick is being held.
    pub fn kicking(&self) -> bool {
        self.kick_started.is_some()
    }
}

/// No fan: accepts every valid duty and does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFan;

impl Fan for NoFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        check_duty(duty).map(|_| ())
    }

    fn driver(&self) -> &'static str {
        "none"
    }

    fn is_proportional(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_stopped_fan_is_kicked_for_one_second_without_blocking() {
        let t0 = Instant::now();
        let mut shaper = DutyShaper::new(0.2, KICK_DURATION);
        assert_eq!(shaper.shape(0.3, t0), 1.0);
        assert!(shaper.kicking());
        assert_eq!(shaper.shape(0.3, at(t0, 500)), 1.0);
        assert_eq!(shaper.shape(0.4, at(t0, 999)), 1.0);
        assert_eq!(shaper.shape(0.4, at(t0, 1000)), 0.4);
        assert!(!shaper.kicking());
        assert_eq!(shaper.shape(0.5, at(t0, 1500)), 0.5);
    }

    #[test]
    fn stopping_cancels_the_kick_and_restarting_kicks_again() {
        let t0 = Instant::now();
        let mut shaper = DutyShaper::new(0.2, KICK_DURATION);
        assert_eq!(shaper.shape(0.3, t0), 1.0);
        assert_eq!(shaper.shape(0.0, at(t0, 200)), 0.0);
        assert_eq!(shaper.shape(0.3, at(t0, 400)), 1.0);
        assert_eq!(shaper.shape(0.3, at(t0, 1399)), 1.0);
        assert_eq!(shaper.shape(0.3, at(t0, 1400)), 0.3);
    }

    #[test]
    fn running_duties_never_go_below_min_duty() {
        let t0 = Instant::now();
        let mut shaper = DutyShaper::new(0.25, Duration::ZERO);
        assert_eq!(shaper.shape(0.1, t0), 0.25);
        assert_eq!(shaper.shape(0.6, t0), 0.6);
        assert_eq!(shaper.shape(0.0, t0), 0.0);
    }

    #[test]
    fn starting_at_full_duty_needs_no_kick() {
        let t0 = Instant::now();
        let mut shaper = DutyShaper::new(0.2, KICK_DURATION);
        assert_eq!(shaper.shape(1.0, t0), 1.0);
        assert!(!shaper.kicking());
        assert_eq!(shaper.shape(0.5, at(t0, 10)), 0.5);
    }

    #[test]
    fn no_fan_accepts_valid_duties_and_rejects_others() {
        let mut fan = NoFan;
        assert!(fan.set_duty(0.0).is_ok() && fan.set_duty(1.0).is_ok());
        assert!(matches!(
            fan.set_duty(1.5),
            Err(HwError::InvalidDuty { .. })
        ));
        assert!(matches!(
            fan.set_duty(f64::NAN),
            Err(HwError::InvalidDuty { .. })
        ));
        assert!(matches!(
            fan.set_duty(-0.1),
            Err(HwError::InvalidDuty { .. })
        ));
    }
}
