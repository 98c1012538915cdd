//! The pure thermal policy: one [`ThermalPolicy::step`] per tick turns a
//! reading (or a read error) and the current monotonic time into a
//! [`Decision`] for the fan, admission and cpufreq. No I/O, no clock, no
//! allocation after construction, so every behaviour is testable with
//! synthetic traces.
//!
//! Prediction is one-sided on purpose. Every stage is *entered* when the
//! predicted temperature `filtered + clamp(trend, 0, max_trend) × horizon`
//! (the cap is the fastest rise the die can physically make) reaches its on
//! threshold, so a fast rise is met early, or when the raw reading itself
//! does, so a sudden jump is met on the very tick it is seen instead of
//! waiting for the filter to catch up. Every stage is *left* only when the
//! *filtered* temperature is at or below its off threshold (and the
//! prediction no longer reaches the on threshold): a falling trend never
//! pulls the prediction down, so cooling must actually have happened before
//! the fan stops, admission reopens or the CPU speeds up again.

use std::fmt;
use std::time::Duration;

use crate::config::{
    OnSensorFault, PolicyConfig, PolicyConfigError, ShedMode, StageThresholds, Thresholds,
};
use crate::fan_law::{DwellFan, SteppedCurve};
use crate::sensor_health::{HealthVerdict, SensorFaultCause, SensorHealth};
use crate::signal::{TemperatureFilter, TrendEstimator};

/// Why a sensor read failed, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleError {
    /// A momentary failure (ENODATA, EAGAIN); counts toward the fault limit like any error.
    Transient,
    /// Anything else: missing file, permission denied, garbage text.
    Failed,
}

/// One tick's input: a temperature in °C, or why there is none.
pub type Sample = Result<f64, SampleError>;

/// The hottest active stage, or a sensor fault; ordered coolest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Below every stage.
    Normal,
    /// Fan stage active.
    Fan,
    /// Shedding new connections.
    Shed,
    /// Stepping cpufreq down.
    Throttle,
    /// Minimum frequency, shed, fan full.
    Critical,
    /// The sensor cannot be trusted: fan full.
    SensorFault,
}

impl Level {
    /// Machine-readable name (`normal`, `fan`, `shed`, `throttle`, `critical`, `sensor_fault`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::Fan => "fan",
            Level::Shed => "shed",
            Level::Throttle => "throttle",
            Level::Critical => "critical",
            Level::SensorFault => "sensor_fault",
        }
    }
}

/// Whether the event loop may admit new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdmissionDecision {
    /// Admit new connections.
    Open,
    /// Refuse new connections (established ones are never cut).
    Shed {
        /// How newcomers are refused.
        mode: ShedMode,
    },
}

impl AdmissionDecision {
    /// True when new connections are refused.
    pub fn is_shed(self) -> bool {
        matches!(self, AdmissionDecision::Shed { .. })
    }

    /// Words for logs: `open`, `shed (reject)` or `shed (pause)`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionDecision::Open => "open",
            AdmissionDecision::Shed {
                mode: ShedMode::Reject,
            } => "shed (reject)",
            AdmissionDecision::Shed {
                mode: ShedMode::Pause,
            } => "shed (pause)",
        }
    }
}

impl fmt::Display for AdmissionDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why admission is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdmissionReason {
    /// Open: below the shed threshold, or cooled down to its off threshold.
    Cool,
    /// Shed: the filtered temperature is at or above the shed threshold.
    Hot,
    /// Shed: the prediction reached the shed threshold before the temperature did.
    Predicted,
    /// Shed: still above the shed off threshold after having been hot.
    Cooling,
    /// Shed: the critical stage is active.
    Critical,
    /// Shed or open by `on_sensor_fault`: the sensor cannot be trusted.
    SensorFault,
}

impl AdmissionReason {
    /// Machine-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionReason::Cool => "cool",
            AdmissionReason::Hot => "hot",
            AdmissionReason::Predicted => "predicted",
            AdmissionReason::Cooling => "cooling",
            AdmissionReason::Critical => "critical",
            AdmissionReason::SensorFault => "sensor_fault",
        }
    }
}

/// What to do with the CPU frequency cap this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuStep {
    /// Leave it where it is (throttle hysteresis band, or sensor fault).
    Hold,
    /// One available frequency lower.
    Down,
    /// One available frequency higher; the controller stops at the original.
    Up,
    /// Straight to the lowest available frequency (critical).
    ToMinimum,
}

impl CpuStep {
    /// The step in words, for the log: "one step down", "to the minimum", ….
    pub fn describe(self) -> &'static str {
        match self {
            CpuStep::Hold => "held",
            CpuStep::Down => "one step down",
            CpuStep::Up => "one step up",
            CpuStep::ToMinimum => "to the minimum",
        }
    }

    /// Machine-readable name (`hold`, `down`, `up`, `to_minimum`).
    pub fn as_str(self) -> &'static str {
        match self {
            CpuStep::Hold => "hold",
            CpuStep::Down => "down",
            CpuStep::Up => "up",
            CpuStep::ToMinimum => "to_minimum",
        }
    }
}

/// The policy's output for one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Fan duty 0.0–1.0 (an on/off fan gets 0.0 or 1.0).
    pub fan_duty: f64,
    /// Admission of new connections.
    pub admission: AdmissionDecision,
    /// Why admission is what it is.
    pub admission_reason: AdmissionReason,
    /// CPU frequency action.
    pub cpu_step: CpuStep,
    /// Hottest active stage or sensor fault.
    pub level: Level,
    /// Filtered temperature (°C); `None` before the first trusted reading and during a fault.
    pub filtered_c: Option<f64>,
    /// Least-squares trend of the filtered temperature (°C/s); `None` whenever
    /// `filtered_c` is (before the first trusted reading and during a fault).
    pub trend_c_per_s: Option<f64>,
    /// Temperature compared with on thresholds: filtered + max(trend, 0) × horizon (°C).
    pub predicted_c: Option<f64>,
    /// Why the sensor is distrusted, during a sensor fault.
    pub sensor_fault: Option<SensorFaultCause>,
}

impl Decision {
    /// The decision before any reading: fan off, admission open, CPU untouched.
    pub const INITIAL: Decision = Decision {
        fan_duty: 0.0,
        admission: AdmissionDecision::Open,
        admission_reason: AdmissionReason::Cool,
        cpu_step: CpuStep::Hold,
        level: Level::Normal,
        filtered_c: None,
        trend_c_per_s: None,
        predicted_c: None,
        sensor_fault: None,
    };
}

/// One stage's hysteresis: entered on the prediction, left on the filtered temperature.
#[derive(Debug, Clone, Copy)]
struct Stage {
    thresholds: StageThresholds,
    active: bool,
}

impl Stage {
    fn new(thresholds: StageThresholds) -> Self {
        Stage {
            thresholds,
            active: false,
        }
    }

    fn update(&mut self, predicted_c: f64, filtered_c: f64) -> bool {
        self.active = predicted_c >= self.thresholds.on_c
            || (self.active && filtered_c > self.thresholds.off_c);
        self.active
    }
}

/// The thermal control policy; see the module documentation for its rules.
#[derive(Debug, Clone)]
pub struct ThermalPolicy {
    config: PolicyConfig,
    filter: TemperatureFilter,
    trend: TrendEstimator,
    health: SensorHealth,
    fan: Stage,
    shed: Stage,
    throttle: Stage,
    critical: Stage,
    dwell_fan: DwellFan,
    curve: SteppedCurve,
    last: Decision,
}

impl ThermalPolicy {
    /// Builds a policy from a configuration, validating it first.
    pub fn new(config: PolicyConfig) -> Result<Self, PolicyConfigError> {
        config.validate()?;
        let t = config.thresholds;
        Ok(ThermalPolicy {
            filter: TemperatureFilter::new(config.filter_tau_s),
            trend: TrendEstimator::new(config.trend_window_s),
            health: SensorHealth::new(&config),
            fan: Stage::new(t.fan),
            shed: Stage::new(t.shed),
            throttle: Stage::new(t.throttle),
            critical: Stage::new(t.critical),
            dwell_fan: DwellFan::new(config.fan_min_on_s, config.fan_min_off_s),
            curve: SteppedCurve::new(&config.fan_curve, config.fan_curve_backoff_c),
            last: Decision::INITIAL,
            config,
        })
    }

    /// Advances the policy by one tick at monotonic time `now` (since start).
    pub fn step(&mut self, sample: Sample, now: Duration) -> Decision {
        let now_s = now.as_secs_f64();
        let verdict = match sample {
            Ok(celsius) => self.health.on_reading(celsius, now_s),
            Err(_) => self.health.on_error(),
        };
        let decision = match verdict {
            HealthVerdict::Hold => self.last,
            HealthVerdict::Fault(cause) => self.fail_safe(cause, now_s),
            HealthVerdict::Recovered(celsius) => {
                self.filter.reset();
                self.trend.reset();
                self.evaluate(celsius, now_s)
            }
            HealthVerdict::Trusted(celsius) => self.evaluate(celsius, now_s),
        };
        self.last = decision;
        decision
    }

    /// Takes a new configuration (a reload), validating it first; on error the old one
    /// stays. What the policy has learnt carries over: the filtered temperature, the
    /// stages' hysteresis state, the fan's dwell and any sensor fault. The next step
    /// judges them against the new thresholds. The trend restarts if its window changed,
    /// the fan curve's step if the curve changed. Whether the fan is proportional is the
    /// fan's own property and is kept.
    pub fn reconfigure(&mut self, mut config: PolicyConfig) -> Result<(), PolicyConfigError> {
        config.proportional_fan = self.config.proportional_fan;
        config.validate()?;
        let t = config.thresholds;
        self.fan.thresholds = t.fan;
        self.shed.thresholds = t.shed;
        self.throttle.thresholds = t.throttle;
        self.critical.thresholds = t.critical;
        self.filter.set_tau(config.filter_tau_s);
        if config.trend_window_s != self.config.trend_window_s {
            self.trend = TrendEstimator::new(config.trend_window_s);
        }
        self.health.set_limits(&config);
        self.dwell_fan
            .set_dwell(config.fan_min_on_s, config.fan_min_off_s);
        if config.fan_curve != self.config.fan_curve
            || config.fan_curve_backoff_c != self.config.fan_curve_backoff_c
        {
            self.curve = SteppedCurve::new(&config.fan_curve, config.fan_curve_backoff_c);
        }
        self.config = config;
        Ok(())
    }

    /// The validated configuration.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The stage thresholds.
    pub fn thresholds(&self) -> &Thresholds {
        &self.config.thresholds
    }

    /// Consecutive read errors so far (0 after any reading).
    pub fn consecutive_errors(&self) -> u32 {
        self.health.consecutive_errors()
    }

    /// The last reading the sensor checks trusted (°C), to name beside a jump.
    pub fn last_trusted_c(&self) -> Option<f64> {
        self.health.last_trusted_c()
    }

    fn evaluate(&mut self, celsius: f64, now_s: f64) -> Decision {
        let filtered_c = self.filter.update(celsius, now_s);
        self.trend.push(filtered_c, now_s);
        let trend_c_per_s = self.trend.slope_c_per_s();
        // Only a rise is extrapolated, and no faster than the die can heat.
        let rise_c_per_s = trend_c_per_s.clamp(0.0, self.config.max_trend_c_per_s);
        let predicted_c = filtered_c + rise_c_per_s * self.config.horizon_s;
        // What engages a stage: the prediction, or the raw reading when it is
        // already past it (a step the filter has not caught up with yet).
        let engage_c = predicted_c.max(celsius);

        let fan = self.fan.update(engage_c, filtered_c);
        let shed = self.shed.update(engage_c, filtered_c);
        let throttle = self.throttle.update(engage_c, filtered_c);
        let critical = self.critical.update(engage_c, filtered_c);

        let level = match (critical, throttle, shed, fan) {
            (true, ..) => Level::Critical,
            (_, true, ..) => Level::Throttle,
            (_, _, true, _) => Level::Shed,
            (.., true) => Level::Fan,
            _ => Level::Normal,
        };
        let shedding = shed || throttle || critical;
        let shed_on_c = self.config.thresholds.shed.on_c;
        let admission_reason = if !shedding {
            AdmissionReason::Cool
        } else if critical {
            AdmissionReason::Critical
        } else if filtered_c.max(celsius) >= shed_on_c {
            AdmissionReason::Hot
        } else if predicted_c >= shed_on_c {
            AdmissionReason::Predicted
        } else {
            AdmissionReason::Cooling
        };
        let cpu_step = if critical {
            CpuStep::ToMinimum
        } else if engage_c >= self.config.thresholds.throttle.on_c {
            CpuStep::Down
        } else if throttle {
            CpuStep::Hold
        } else {
            CpuStep::Up
        };
        // A proportional fan follows its curve; the fan stage then only names the level.
        let fan_duty = if critical {
            self.dwell_fan.update(true, true, now_s);
            1.0
        } else if self.config.proportional_fan {
            // The curve sets the speed; starts and stops obey the dwell and
            // anti-short-cycle rule, running at the lowest step while held on.
            let curve_duty = self.curve.update(engage_c, filtered_c);
            if self
                .dwell_fan
                .update(curve_duty > 0.0 || shedding, false, now_s)
            {
                curve_duty.max(self.lowest_running_duty())
            } else {
                0.0
            }
        } else if self.dwell_fan.update(fan || shedding, false, now_s) {
            1.0
        } else {
            0.0
        };
        Decision {
            fan_duty,
            admission: self.admission(shedding),
            admission_reason,
            cpu_step,
            level,
            filtered_c: Some(filtered_c),
            trend_c_per_s: Some(trend_c_per_s),
            predicted_c: Some(predicted_c),
            sensor_fault: None,
        }
    }

    fn fail_safe(&mut self, cause: SensorFaultCause, now_s: f64) -> Decision {
        self.dwell_fan.update(true, true, now_s);
        let shed = self.config.on_sensor_fault == OnSensorFault::FanFullAndShed;
        Decision {
            fan_duty: 1.0,
            admission: self.admission(shed),
            admission_reason: AdmissionReason::SensorFault,
            cpu_step: CpuStep::Hold,
            level: Level::SensorFault,
            filtered_c: None,
            trend_c_per_s: None,
            predicted_c: None,
            sensor_fault: Some(cause),
        }
    }

    /// The duty of the curve's first step: what a held-on fan runs at.
    fn lowest_running_duty(&self) -> f64 {
        self.config.fan_curve.first().map_or(1.0, |p| p.duty)
    }

    fn admission(&self, shed: bool) -> AdmissionDecision {
        if shed {
            AdmissionDecision::Shed {
                mode: self.config.shed_mode,
            }
        } else {
            AdmissionDecision::Open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_reads_as_words_in_logs() {
        let reject = AdmissionDecision::Shed {
            mode: ShedMode::Reject,
        };
        let pause = AdmissionDecision::Shed {
            mode: ShedMode::Pause,
        };
        assert_eq!(AdmissionDecision::Open.to_string(), "open");
        assert_eq!(reject.to_string(), "shed (reject)");
        assert_eq!(
            format!("{pause} -> {}", AdmissionDecision::Open),
            "shed (pause) -> open"
        );
    }

    #[test]
    fn the_trend_is_unknown_exactly_when_the_filtered_temperature_is() {
        assert_eq!(Decision::INITIAL.trend_c_per_s, None);
        let mut policy = ThermalPolicy::new(PolicyConfig::default()).unwrap();
        let trusted = policy.step(Ok(45.0), Duration::from_secs(1));
        assert!(trusted.filtered_c.is_some());
        assert!(trusted.trend_c_per_s.is_some_and(f64::is_finite));
        let fault = policy.step(Ok(0.0), Duration::from_millis(1500));
        assert!(fault.sensor_fault.is_some());
        assert_eq!((fault.filtered_c, fault.trend_c_per_s), (None, None));
    }

    #[test]
    fn the_last_trusted_reading_stays_across_a_jump() {
        let mut policy = ThermalPolicy::new(PolicyConfig::default()).unwrap();
        assert_eq!(policy.last_trusted_c(), None);
        policy.step(Ok(45.0), Duration::from_secs(1));
        let decision = policy.step(Ok(0.0), Duration::from_millis(1500));
        assert_eq!(decision.sensor_fault, Some(SensorFaultCause::Jump));
        assert_eq!(policy.last_trusted_c(), Some(45.0));
    }
}
