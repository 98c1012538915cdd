//! Fail-safe bookkeeping: decides from the stream of readings and read errors
//! whether the sensor can be trusted.
//!
//! Rules (all counts are of consecutive ticks):
//! - `max_consecutive_errors` read errors declare a fault. Transient errors
//!   (ENODATA, EAGAIN) count exactly like hard failures: a healthy sensor
//!   produces at most an isolated transient error, while three in a row leave
//!   the policy as blind as a missing file. A read error short of the limit
//!   makes the policy hold its previous decision.
//! - One implausible reading (outside `plausible_min_c..=plausible_max_c`)
//!   declares a fault at once: a driver returning 0 or 255 °C is broken.
//! - A reading exactly equal to the previous one for `stuck_s` seconds
//!   declares a stuck sensor (real sensors jitter by at least one LSB).
//! - A reading that jumps from the last trusted one by more than `max_step_c`
//!   plus what the die can move in the time between them
//!   (`max_trend_c_per_s` × the gap, the gap counted up to
//!   [`JUMP_GAP_CAP_S`]) declares a jump: a sensor that reads 50 °C and then
//!   0 °C is broken, not cooled.
//! - A fault ends after `recovery_readings` consecutive sane readings: a
//!   plausible value, for a stuck fault a value different from the stuck one
//!   (any change restarts the stuck clock, so "not stuck" is the same test),
//!   and a value within `max_step_c` of the last trusted reading. Requiring
//!   several readings keeps an intermittent sensor from toggling the
//!   fail-safe every tick.
//! - Readings far from the last trusted one become sane once they have run
//!   continuously (each within `max_step_c` of the one before) and alive (not
//!   all one value) for `jump_settle_s`: the temperature really moved while
//!   the sensor was out. A sensor pinned at a wrong constant never settles.

use crate::config::PolicyConfig;

/// The jump allowance grows with the gap between readings only up to this many seconds,
/// so that a long outage does not make any value believable.
pub const JUMP_GAP_CAP_S: f64 = 10.0;

/// Why the sensor is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorFaultCause {
    /// Too many consecutive read errors.
    ReadErrors,
    /// A reading outside the plausible range.
    Implausible,
    /// The reading has not changed at all for `stuck_s`.
    Stuck,
    /// The reading jumped further from the last trusted one than the die can move.
    Jump,
}

impl SensorFaultCause {
    /// Short machine-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            SensorFaultCause::ReadErrors => "read_errors",
            SensorFaultCause::Implausible => "implausible",
            SensorFaultCause::Stuck => "stuck",
            SensorFaultCause::Jump => "jump",
        }
    }
}

/// What the health tracker makes of one tick's reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HealthVerdict {
    /// A trusted reading: feed it to the filter.
    Trusted(f64),
    /// A trusted reading that ends a fault: reset the filter, then feed it.
    Recovered(f64),
    /// A read error short of the fault limit: hold the previous decision.
    Hold,
    /// The sensor is faulty: fail safe.
    Fault(SensorFaultCause),
}

/// Tracks consecutive errors, plausibility, stuck values and recovery.
#[derive(Debug, Clone)]
pub struct SensorHealth {
    max_consecutive_errors: u32,
    recovery_readings: u32,
    plausible_min_c: f64,
    plausible_max_c: f64,
    stuck_s: f64,
    max_step_c: f64,
    max_rate_c_per_s: f64,
    jump_settle_s: f64,
    consecutive_errors: u32,
    fault: Option<SensorFaultCause>,
    sane_since_fault: u32,
    last_value: Option<f64>,
    value_changed_at_s: f64,
    /// The last trusted reading and when it came (°C, s).
    last_trusted: Option<(f64, f64)>,
    /// The current run of continuous readings: when it began and whether it moved.
    run_started_at_s: f64,
    run_moved: bool,
}

impl SensorHealth {
    /// A tracker with the fail-safe limits of `config`.
    pub fn new(config: &PolicyConfig) -> Self {
        let mut health = SensorHealth {
            max_consecutive_errors: 0,
            recovery_readings: 0,
            plausible_min_c: 0.0,
            plausible_max_c: 0.0,
            stuck_s: 0.0,
            max_step_c: 0.0,
            max_rate_c_per_s: 0.0,
            jump_settle_s: 0.0,
            consecutive_errors: 0,
            fault: None,
            sane_since_fault: 0,
            last_value: None,
            value_changed_at_s: 0.0,
            last_trusted: None,
            run_started_at_s: 0.0,
            run_moved: false,
        };
        health.set_limits(config);
        health
    }

    /// Takes the fail-safe limits of `config`, keeping what has been seen: a fault
    /// in force stays in force until readings end it under the new limits.
    pub fn set_limits(&mut self, config: &PolicyConfig) {
        self.max_consecutive_errors = config.max_consecutive_errors;
        self.recovery_readings = config.recovery_readings;
        self.plausible_min_c = config.plausible_min_c;
        self.plausible_max_c = config.plausible_max_c;
        self.stuck_s = config.stuck_s;
        self.max_step_c = config.max_step_c;
        self.max_rate_c_per_s = config.max_trend_c_per_s;
        self.jump_settle_s = config.jump_settle_s;
    }

    /// Judges a read error.
    pub fn on_error(&mut self) -> HealthVerdict {
        self.consecutive_errors = self.consecutive_errors.saturating_add(1);
        self.sane_since_fault = 0;
        if self.fault.is_none() && self.consecutive_errors >= self.max_consecutive_errors {
            self.fault = Some(SensorFaultCause::ReadErrors);
        }
        match self.fault {
            Some(cause) => HealthVerdict::Fault(cause),
            None => HealthVerdict::Hold,
        }
    }

    /// Judges a reading of `celsius` at `now_s`.
    pub fn on_reading(&mut self, celsius: f64, now_s: f64) -> HealthVerdict {
        self.consecutive_errors = 0;
        if !(self.plausible_min_c..=self.plausible_max_c).contains(&celsius) {
            // NaN fails `contains` too.
            return self.declare(SensorFaultCause::Implausible);
        }
        let previous = self.last_value;
        self.track_run(previous, celsius, now_s);
        // Exact comparison on purpose: a live sensor changes by at least one LSB.
        #[allow(clippy::float_cmp)]
        let unchanged = previous == Some(celsius);
        if !unchanged {
            self.last_value = Some(celsius);
            self.value_changed_at_s = now_s;
        }
        let stuck =
            unchanged && self.stuck_s > 0.0 && now_s - self.value_changed_at_s >= self.stuck_s;
        if stuck {
            return self.declare(SensorFaultCause::Stuck);
        }
        let Some(cause) = self.fault else {
            if self.jumped(celsius, now_s) {
                return self.declare(SensorFaultCause::Jump);
            }
            self.last_trusted = Some((celsius, now_s));
            return HealthVerdict::Trusted(celsius);
        };
        if !self.near_last_trusted(celsius) && !self.settled(now_s) {
            return self.declare(SensorFaultCause::Jump);
        }
        self.sane_since_fault += 1;
        if self.sane_since_fault < self.recovery_readings {
            return HealthVerdict::Fault(cause);
        }
        self.fault = None;
        self.sane_since_fault = 0;
        self.last_trusted = Some((celsius, now_s));
        HealthVerdict::Recovered(celsius)
    }

    /// Enters (or stays in) a fault of `cause`; recovery starts over.
    fn declare(&mut self, cause: SensorFaultCause) -> HealthVerdict {
        self.sane_since_fault = 0;
        self.fault = Some(cause);
        HealthVerdict::Fault(cause)
    }

    /// How far `celsius` is from the last trusted reading, and how long ago that came;
    /// `None` while the jump check is off or nothing was trusted yet.
    fn distance_to_trusted(&self, celsius: f64, now_s: f64) -> Option<(f64, f64)> {
        let (trusted_c, at_s) = self.last_trusted.filter(|_| self.max_step_c > 0.0)?;
        Some(((celsius - trusted_c).abs(), now_s - at_s))
    }

    /// True when `celsius` is further from the last trusted reading than the die can move
    /// in the time since: `max_step_c` plus the fastest rate over the gap (capped).
    fn jumped(&self, celsius: f64, now_s: f64) -> bool {
        self.distance_to_trusted(celsius, now_s)
            .is_some_and(|(distance_c, gap_s)| {
                let gap_s = gap_s.clamp(0.0, JUMP_GAP_CAP_S);
                distance_c > self.max_step_c + self.max_rate_c_per_s * gap_s
            })
    }

    /// True when `celsius` is within `max_step_c` of the last trusted reading (or the check
    /// is off, or nothing was trusted yet).
    fn near_last_trusted(&self, celsius: f64) -> bool {
        !self
            .distance_to_trusted(celsius, 0.0)
            .is_some_and(|(distance_c, _)| distance_c > self.max_step_c)
    }

    /// Extends or restarts the run of continuous readings with `celsius`.
    fn track_run(&mut self, previous: Option<f64>, celsius: f64, now_s: f64) {
        match previous {
            Some(p) if (celsius - p).abs() <= self.max_step_c => {
                #[allow(clippy::float_cmp)]
                let moved = celsius != p;
                self.run_moved |= moved;
            }
            _ => {
                self.run_started_at_s = now_s;
                self.run_moved = false;
            }
        }
    }

    /// True when the readings have run continuously and alive for `jump_settle_s`.
    fn settled(&self, now_s: f64) -> bool {
        self.run_moved && now_s - self.run_started_at_s >= self.jump_settle_s
    }

    /// Consecutive read errors so far (0 after any reading).
    pub fn consecutive_errors(&self) -> u32 {
        self.consecutive_errors
    }

    /// The active fault, if any.
    pub fn fault(&self) -> Option<SensorFaultCause> {
        self.fault
    }

    /// The last trusted reading (°C), if any.
    pub fn last_trusted_c(&self) -> Option<f64> {
        self.last_trusted.map(|(celsius, _)| celsius)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> SensorHealth {
        SensorHealth::new(&PolicyConfig {
            stuck_s: 10.0,
            ..PolicyConfig::default()
        })
    }

    #[test]
    fn third_consecutive_error_is_a_fault_and_readings_reset_the_count() {
        let mut h = health();
        assert_eq!(h.on_error(), HealthVerdict::Hold);
        assert_eq!(h.on_error(), HealthVerdict::Hold);
        assert_eq!(h.on_reading(50.0, 1.0), HealthVerdict::Trusted(50.0));
        assert_eq!(h.on_error(), HealthVerdict::Hold);
        assert_eq!(h.on_error(), HealthVerdict::Hold);
        assert_eq!(
            h.on_error(),
            HealthVerdict::Fault(SensorFaultCause::ReadErrors)
        );
    }

    #[test]
    fn recovery_needs_consecutive_sane_readings() {
        let mut h = health();
        let implausible = HealthVerdict::Fault(SensorFaultCause::Implausible);
        assert_eq!(h.on_reading(151.0, 0.0), implausible);
        assert_eq!(h.on_reading(50.0, 1.0), implausible);
        assert_eq!(h.on_reading(50.5, 2.0), implausible);
        assert_eq!(h.on_reading(-41.0, 3.0), implausible);
        assert_eq!(h.on_reading(f64::NAN, 3.5), implausible);
        assert_eq!(h.on_reading(50.0, 4.0), implausible);
        assert_eq!(h.on_reading(50.5, 5.0), implausible);
        assert_eq!(h.on_reading(51.0, 6.0), HealthVerdict::Recovered(51.0));
        assert_eq!(h.on_reading(51.5, 7.0), HealthVerdict::Trusted(51.5));
    }

    #[test]
    fn stuck_value_faults_and_a_change_starts_recovery() {
        let mut h = health();
        for t in 0..10 {
            assert_eq!(h.on_reading(48.0, t as f64), HealthVerdict::Trusted(48.0));
        }
        let stuck = HealthVerdict::Fault(SensorFaultCause::Stuck);
        assert_eq!(h.on_reading(48.0, 10.0), stuck);
        assert_eq!(h.on_reading(48.0, 11.0), stuck);
        assert_eq!(h.on_reading(48.5, 12.0), stuck);
        assert_eq!(h.on_reading(48.0, 13.0), stuck);
        assert_eq!(h.on_reading(48.0, 14.0), HealthVerdict::Recovered(48.0));
    }

    #[test]
    fn stuck_check_off_at_zero() {
        let mut h = SensorHealth::new(&PolicyConfig {
            stuck_s: 0.0,
            ..PolicyConfig::default()
        });
        for t in 0..10_000 {
            assert_eq!(h.on_reading(48.0, t as f64), HealthVerdict::Trusted(48.0));
        }
    }
}
