//! Configuration of the thermal policy: thresholds, filter, prediction, fan
//! law and fail-safe, every default a documented `DEFAULT_*` constant, and a
//! [`PolicyConfig::validate`] that names the offending field. The daemon maps
//! its TOML `thermal.*` keys onto this struct; nothing here knows TOML.

use thiserror::Error;

/// Fan stage: on at this temperature (°C, filtered or predicted).
pub const DEFAULT_FAN_ON_C: f64 = 60.0;
/// Fan stage: off once the filtered temperature is at or below this (°C).
pub const DEFAULT_FAN_OFF_C: f64 = 50.0;
/// Shed stage: stop admitting new connections at this temperature (°C).
pub const DEFAULT_SHED_ON_C: f64 = 75.0;
/// Shed stage: admit again once the filtered temperature is at or below this (°C).
pub const DEFAULT_SHED_OFF_C: f64 = 70.0;
/// Throttle stage: step cpufreq down from this temperature (°C).
pub const DEFAULT_THROTTLE_ON_C: f64 = 80.0;
/// Throttle stage: step cpufreq back up at or below this temperature (°C).
pub const DEFAULT_THROTTLE_OFF_C: f64 = 75.0;
/// Critical stage: minimum frequency, shed, fan full from this temperature (°C).
pub const DEFAULT_CRITICAL_ON_C: f64 = 85.0;
/// Critical stage: left at or below this filtered temperature (°C).
pub const DEFAULT_CRITICAL_OFF_C: f64 = 80.0;
/// Time constant of the exponential filter on raw readings (s); 0 disables filtering.
pub const DEFAULT_FILTER_TAU_S: f64 = 1.5;
/// Window of filtered samples the least-squares trend is fitted over (s).
pub const DEFAULT_TREND_WINDOW_S: f64 = 10.0;
/// How far ahead the rising trend is extrapolated to "near" a threshold (s); 0 disables prediction.
pub const DEFAULT_HORIZON_S: f64 = 10.0;
/// Minimum time an on/off fan stays on once switched on (s).
pub const DEFAULT_FAN_MIN_ON_S: f64 = 30.0;
/// Minimum time an on/off fan stays off once switched off (s).
pub const DEFAULT_FAN_MIN_OFF_S: f64 = 30.0;
/// A proportional fan leaves a curve step only this far (°C) below the step's temperature.
pub const DEFAULT_FAN_CURVE_BACKOFF_C: f64 = 5.0;
/// Default proportional fan curve, after the Raspberry Pi 5 fan (°C, duty 0.0–1.0).
pub const DEFAULT_FAN_CURVE: [CurvePoint; 4] = [
    CurvePoint {
        temp_c: 50.0,
        duty: 0.30,
    },
    CurvePoint {
        temp_c: 60.0,
        duty: 0.50,
    },
    CurvePoint {
        temp_c: 67.5,
        duty: 0.70,
    },
    CurvePoint {
        temp_c: 75.0,
        duty: 1.00,
    },
];
/// Consecutive read errors (transient or not) that declare a sensor fault.
pub const DEFAULT_MAX_CONSECUTIVE_ERRORS: u32 = 3;
/// Consecutive sane readings needed to leave a sensor fault.
pub const DEFAULT_RECOVERY_READINGS: u32 = 3;
/// Readings below this (°C) are implausible and declare a sensor fault.
pub const DEFAULT_PLAUSIBLE_MIN_C: f64 = -40.0;
/// Readings above this (°C) are implausible and declare a sensor fault.
pub const DEFAULT_PLAUSIBLE_MAX_C: f64 = 150.0;
/// A reading exactly constant for this long (s) declares a stuck sensor; 0 disables the check.
pub const DEFAULT_STUCK_S: f64 = 600.0;
/// Fastest rise the prediction believes (°C/s). A Pi 4 SoC at full load puts
/// about 6.4 W into a die of about 3.4 J/°C, which heats it by at most ~1.9 °C/s;
/// a steeper trend comes from a step or glitch in the readings, not the die.
pub const DEFAULT_MAX_TREND_C_PER_S: f64 = 2.0;
/// A reading further than this (°C) from the last trusted one, beyond what the die can
/// move at `max_trend_c_per_s` in between, declares a jump fault; 0 disables the check.
/// A Pi's die moves a few °C in a second under a sudden load step, never 20.
pub const DEFAULT_MAX_STEP_C: f64 = 20.0;
/// Readings far from the last trusted one are believed after running continuously and
/// changing for this long (s): the temperature moved while the sensor was out, or the
/// die really rose that fast. Short, because the fail-safe does not throttle or shed.
pub const DEFAULT_JUMP_SETTLE_S: f64 = 15.0;

/// On/off temperatures of one stage; the stage is entered at `on_c` and left at `off_c`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageThresholds {
    /// Entered when the predicted temperature reaches this (°C).
    pub on_c: f64,
    /// Left when the filtered temperature is at or below this (°C).
    pub off_c: f64,
}

/// The four stages' thresholds, ordered fan ≤ shed ≤ throttle ≤ critical.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Run the fan.
    pub fan: StageThresholds,
    /// Stop admitting new connections.
    pub shed: StageThresholds,
    /// Step the CPU frequency down.
    pub throttle: StageThresholds,
    /// Minimum frequency, shed, fan full.
    pub critical: StageThresholds,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            fan: StageThresholds {
                on_c: DEFAULT_FAN_ON_C,
                off_c: DEFAULT_FAN_OFF_C,
            },
            shed: StageThresholds {
                on_c: DEFAULT_SHED_ON_C,
                off_c: DEFAULT_SHED_OFF_C,
            },
            throttle: StageThresholds {
                on_c: DEFAULT_THROTTLE_ON_C,
                off_c: DEFAULT_THROTTLE_OFF_C,
            },
            critical: StageThresholds {
                on_c: DEFAULT_CRITICAL_ON_C,
                off_c: DEFAULT_CRITICAL_OFF_C,
            },
        }
    }
}

impl Thresholds {
    /// The stages as `(name, thresholds)` pairs, coolest first.
    pub fn named(&self) -> [(&'static str, StageThresholds); 4] {
        [
            ("fan", self.fan),
            ("shed", self.shed),
            ("throttle", self.throttle),
            ("critical", self.critical),
        ]
    }
}

/// One point of a proportional fan curve: at or above `temp_c`, run at `duty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Temperature at which this step starts (°C).
    pub temp_c: f64,
    /// Fan duty of this step, 0.0–1.0.
    pub duty: f64,
}

/// How new connections are refused while shedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShedMode {
    /// Accept and close at once, so clients and load balancers retry elsewhere.
    #[default]
    Reject,
    /// Stop accepting; newcomers wait in the kernel backlog.
    Pause,
}

impl ShedMode {
    /// The config spelling: `"reject"` or `"pause"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShedMode::Reject => "reject",
            ShedMode::Pause => "pause",
        }
    }
}

/// What a sensor fault does besides running the fan at full duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnSensorFault {
    /// Fan full; admission unchanged (open).
    #[default]
    FanFull,
    /// Fan full and shed new connections.
    FanFullAndShed,
}

impl OnSensorFault {
    /// The config spelling: `"fan-full"` or `"fan-full-and-shed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnSensorFault::FanFull => "fan-full",
            OnSensorFault::FanFullAndShed => "fan-full-and-shed",
        }
    }
}

/// Everything the pure [`crate::ThermalPolicy`] needs; build with `Default` and override.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Stage thresholds (°C).
    pub thresholds: Thresholds,
    /// EWMA time constant on raw readings (s, ≥ 0; 0 = no filtering).
    pub filter_tau_s: f64,
    /// Trend fitting window (s, > 0).
    pub trend_window_s: f64,
    /// Prediction horizon (s, ≥ 0; 0 = react to the filtered temperature only).
    pub horizon_s: f64,
    /// How shedding refuses new connections.
    pub shed_mode: ShedMode,
    /// True for a PWM/hwmon fan driven by the curve (the fan stage then only names the level),
    /// false for an on/off fan with dwell times. The controller sets it from the fan driver.
    pub proportional_fan: bool,
    /// On/off fan: minimum time on (s, ≥ 0).
    pub fan_min_on_s: f64,
    /// On/off fan: minimum time off (s, ≥ 0).
    pub fan_min_off_s: f64,
    /// Proportional fan: curve points, temperatures strictly increasing, duties non-decreasing.
    pub fan_curve: Vec<CurvePoint>,
    /// Proportional fan: a step is left only this far below its temperature (°C, ≥ 0).
    pub fan_curve_backoff_c: f64,
    /// Consecutive read errors that declare a sensor fault (≥ 1).
    pub max_consecutive_errors: u32,
    /// Consecutive sane readings that end a sensor fault (≥ 1).
    pub recovery_readings: u32,
    /// Lowest plausible reading (°C).
    pub plausible_min_c: f64,
    /// Highest plausible reading (°C).
    pub plausible_max_c: f64,
    /// Exactly constant readings for this long declare a stuck sensor (s, ≥ 0; 0 = off).
    pub stuck_s: f64,
    /// Rising trends are capped at this rate before predicting (°C/s, > 0); also the
    /// fastest change the jump check allows between readings.
    pub max_trend_c_per_s: f64,
    /// Largest believable step from the last trusted reading (°C, ≥ 0; 0 = no jump check).
    pub max_step_c: f64,
    /// A continuous, changing run of readings this long ends a jump fault (s, ≥ 0).
    pub jump_settle_s: f64,
    /// Reaction to a sensor fault beyond fan full.
    pub on_sensor_fault: OnSensorFault,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            thresholds: Thresholds::default(),
            filter_tau_s: DEFAULT_FILTER_TAU_S,
            trend_window_s: DEFAULT_TREND_WINDOW_S,
            horizon_s: DEFAULT_HORIZON_S,
            shed_mode: ShedMode::default(),
            proportional_fan: false,
            fan_min_on_s: DEFAULT_FAN_MIN_ON_S,
            fan_min_off_s: DEFAULT_FAN_MIN_OFF_S,
            fan_curve: DEFAULT_FAN_CURVE.to_vec(),
            fan_curve_backoff_c: DEFAULT_FAN_CURVE_BACKOFF_C,
            max_consecutive_errors: DEFAULT_MAX_CONSECUTIVE_ERRORS,
            recovery_readings: DEFAULT_RECOVERY_READINGS,
            plausible_min_c: DEFAULT_PLAUSIBLE_MIN_C,
            plausible_max_c: DEFAULT_PLAUSIBLE_MAX_C,
            stuck_s: DEFAULT_STUCK_S,
            max_trend_c_per_s: DEFAULT_MAX_TREND_C_PER_S,
            max_step_c: DEFAULT_MAX_STEP_C,
            jump_settle_s: DEFAULT_JUMP_SETTLE_S,
            on_sensor_fault: OnSensorFault::default(),
        }
    }
}

/// A [`PolicyConfig`] field that cannot work; each message names the field and the fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyConfigError {
    /// A number is NaN or infinite.
    #[error("thermal config `{field}` is {value}: give a finite number")]
    NotFinite {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A duration or distance is negative.
    #[error("thermal config `{field}` is {value}: it must be zero or positive")]
    Negative {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A value that must be strictly positive is not.
    #[error("thermal config `{field}` is {value}: it must be greater than zero")]
    NotPositive {
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A count that must be at least one is zero.
    #[error("thermal config `{field}` is 0: it must be at least 1")]
    ZeroCount {
        /// Field name.
        field: &'static str,
    },
    /// A stage's on threshold is not above its off threshold.
    #[error(
        "thermal config `thresholds.{stage}`: on ({on_c} °C) must be above off ({off_c} °C); \
         raise on_c or lower off_c"
    )]
    OnNotAboveOff {
        /// Stage name (fan, shed, throttle, critical).
        stage: &'static str,
        /// On threshold.
        on_c: f64,
        /// Off threshold.
        off_c: f64,
    },
    /// Two stages are out of order (fan ≤ shed ≤ throttle ≤ critical, for on and for off).
    #[error(
        "thermal config `thresholds.{higher}.{edge}_c` ({higher_c} °C) is below \
         `thresholds.{lower}.{edge}_c` ({lower_c} °C): stages must be ordered \
         fan <= shed <= throttle <= critical"
    )]
    StagesOutOfOrder {
        /// The cooler stage.
        lower: &'static str,
        /// The hotter stage.
        higher: &'static str,
        /// `"on"` or `"off"`.
        edge: &'static str,
        /// The cooler stage's threshold.
        lower_c: f64,
        /// The hotter stage's threshold.
        higher_c: f64,
    },
    /// The plausible range is empty.
    #[error(
        "thermal config `plausible_min_c` ({min_c} °C) must be below `plausible_max_c` ({max_c} °C)"
    )]
    EmptyPlausibleRange {
        /// Lower bound.
        min_c: f64,
        /// Upper bound.
        max_c: f64,
    },
    /// A proportional fan has no curve.
    #[error("thermal config `fan_curve` is empty: give at least one (temp_c, duty) point")]
    EmptyFanCurve,
    /// Curve temperatures do not strictly increase.
    #[error(
        "thermal config `fan_curve[{index}]` temperature {temp_c} °C is not above the previous \
         point's: list points by increasing temperature"
    )]
    FanCurveNotIncreasing {
        /// Index of the offending point.
        index: usize,
        /// Its temperature.
        temp_c: f64,
    },
    /// A curve duty lies outside 0.0–1.0.
    #[error("thermal config `fan_curve[{index}]` duty {duty} is outside 0.0-1.0")]
    FanCurveDutyOutOfRange {
        /// Index of the offending point.
        index: usize,
        /// Its duty.
        duty: f64,
    },
    /// Curve duties decrease with temperature.
    #[error(
        "thermal config `fan_curve[{index}]` duty {duty} is below the previous point's: \
         a hotter step must not run the fan slower"
    )]
    FanCurveDutyDecreasing {
        /// Index of the offending point.
        index: usize,
        /// Its duty.
        duty: f64,
    },
}

impl PolicyConfig {
    /// Checks every field; the first problem found is returned, naming its field.
    pub fn validate(&self) -> Result<(), PolicyConfigError> {
        self.validate_thresholds()?;
        finite_non_negative("filter_tau_s", self.filter_tau_s)?;
        finite("trend_window_s", self.trend_window_s)?;
        if self.trend_window_s <= 0.0 {
            return Err(PolicyConfigError::NotPositive {
                field: "trend_window_s",
                value: self.trend_window_s,
            });
        }
        finite_non_negative("horizon_s", self.horizon_s)?;
        finite_non_negative("fan_min_on_s", self.fan_min_on_s)?;
        finite_non_negative("fan_min_off_s", self.fan_min_off_s)?;
        finite_non_negative("fan_curve_backoff_c", self.fan_curve_backoff_c)?;
        finite_non_negative("stuck_s", self.stuck_s)?;
        finite_non_negative("max_step_c", self.max_step_c)?;
        finite_non_negative("jump_settle_s", self.jump_settle_s)?;
        finite("max_trend_c_per_s", self.max_trend_c_per_s)?;
        if self.max_trend_c_per_s <= 0.0 {
            return Err(PolicyConfigError::NotPositive {
                field: "max_trend_c_per_s",
                value: self.max_trend_c_per_s,
            });
        }
        if self.max_consecutive_errors == 0 {
            return Err(PolicyConfigError::ZeroCount {
                field: "max_consecutive_errors",
            });
        }
        if self.recovery_readings == 0 {
            return Err(PolicyConfigError::ZeroCount {
                field: "recovery_readings",
            });
        }
        finite("plausible_min_c", self.plausible_min_c)?;
        finite("plausible_max_c", self.plausible_max_c)?;
        if self.plausible_min_c >= self.plausible_max_c {
            return Err(PolicyConfigError::EmptyPlausibleRange {
                min_c: self.plausible_min_c,
                max_c: self.plausible_max_c,
            });
        }
        self.validate_curve()
    }

    fn validate_thresholds(&self) -> Result<(), PolicyConfigError> {
        let stages = self.thresholds.named();
        for (stage, t) in stages {
            finite(stage_field(stage, "on"), t.on_c)?;
            finite(stage_field(stage, "off"), t.off_c)?;
            if t.on_c <= t.off_c {
                return Err(PolicyConfigError::OnNotAboveOff {
                    stage,
                    on_c: t.on_c,
                    off_c: t.off_c,
                });
            }
        }
        for pair in stages.windows(2) {
            let ((lower, lo), (higher, hi)) = (pair[0], pair[1]);
            for (edge, lower_c, higher_c) in [("on", lo.on_c, hi.on_c), ("off", lo.off_c, hi.off_c)]
            {
                if higher_c < lower_c {
                    return Err(PolicyConfigError::StagesOutOfOrder {
                        lower,
                        higher,
                        edge,
                        lower_c,
                        higher_c,
                    });
                }
            }
        }
        Ok(())
    }

    fn validate_curve(&self) -> Result<(), PolicyConfigError> {
        // An on/off fan never consults the curve, so an empty one is only an error when used.
        if self.fan_curve.is_empty() {
            return if self.proportional_fan {
                Err(PolicyConfigError::EmptyFanCurve)
            } else {
                Ok(())
            };
        }
        for (index, point) in self.fan_curve.iter().enumerate() {
            finite("fan_curve.temp_c", point.temp_c)?;
            if !(0.0..=1.0).contains(&point.duty) {
                return Err(PolicyConfigError::FanCurveDutyOutOfRange {
                    index,
                    duty: point.duty,
                });
            }
            if index > 0 {
                let previous = self.fan_curve[index - 1];
                if point.temp_c <= previous.temp_c {
                    return Err(PolicyConfigError::FanCurveNotIncreasing {
                        index,
                        temp_c: point.temp_c,
                    });
                }
                if point.duty < previous.duty {
                    return Err(PolicyConfigError::FanCurveDutyDecreasing {
                        index,
                        duty: point.duty,
                    });
                }
            }
        }
        Ok(())
    }
}

fn stage_field(stage: &'static str, edge: &'static str) -> &'static str {
    match (stage, edge) {
        ("fan", "on") => "thresholds.fan.on_c",
        ("fan", _) => "thresholds.fan.off_c",
        ("shed", "on") => "thresholds.shed.on_c",
        ("shed", _) => "thresholds.shed.off_c",
        ("throttle", "on") => "thresholds.throttle.on_c",
        ("throttle", _) => "thresholds.throttle.off_c",
        (_, "on") => "thresholds.critical.on_c",
        _ => "thresholds.critical.off_c",
    }
}

fn finite(field: &'static str, value: f64) -> Result<(), PolicyConfigError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(PolicyConfigError::NotFinite { field, value })
    }
}

fn finite_non_negative(field: &'static str, value: f64) -> Result<(), PolicyConfigError> {
    finite(field, value)?;
    if value < 0.0 {
        return Err(PolicyConfigError::Negative { field, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(PolicyConfig::default().validate(), Ok(()));
        let proportional = PolicyConfig {
            proportional_fan: true,
            ..PolicyConfig::default()
        };
        assert_eq!(proportional.validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Edit = fn(&mut PolicyConfig);
        let cases: &[(Edit, &str)] = &[
            (|c| c.thresholds.fan.on_c = 50.0, "thresholds.fan"),
            (|c| c.thresholds.shed.off_c = 76.0, "thresholds.shed"),
            (
                |c| {
                    c.thresholds.shed = StageThresholds {
                        on_c: 59.0,
                        off_c: 55.0,
                    }
                },
                "thresholds.shed.on_c",
            ),
            (
                |c| c.thresholds.throttle.off_c = 69.0,
                "thresholds.throttle.off_c",
            ),
            (
                |c| c.thresholds.critical.on_c = f64::NAN,
                "thresholds.critical.on_c",
            ),
            (|c| c.filter_tau_s = -1.0, "filter_tau_s"),
            (|c| c.trend_window_s = 0.0, "trend_window_s"),
            (|c| c.horizon_s = -0.5, "horizon_s"),
            (|c| c.fan_min_on_s = f64::INFINITY, "fan_min_on_s"),
            (|c| c.fan_min_off_s = -1.0, "fan_min_off_s"),
            (|c| c.fan_curve_backoff_c = -1.0, "fan_curve_backoff_c"),
            (|c| c.stuck_s = -1.0, "stuck_s"),
            (|c| c.max_step_c = -5.0, "max_step_c"),
            (|c| c.jump_settle_s = f64::NAN, "jump_settle_s"),
            (|c| c.max_consecutive_errors = 0, "max_consecutive_errors"),
            (|c| c.recovery_readings = 0, "recovery_readings"),
            (|c| c.plausible_min_c = 200.0, "plausible_min_c"),
            (|c| c.fan_curve[2].temp_c = 55.0, "fan_curve[2]"),
            (|c| c.fan_curve[1].duty = 1.5, "fan_curve[1]"),
            (|c| c.fan_curve[3].duty = 0.6, "fan_curve[3]"),
        ];
        for (index, (edit, field)) in cases.iter().enumerate() {
            let mut config = PolicyConfig::default();
            edit(&mut config);
            let message = config
                .validate()
                .expect_err("edit must be rejected")
                .to_string();
            assert!(
                message.contains(field),
                "case {index}: {message:?} does not name {field}"
            );
        }
    }

    #[test]
    fn empty_curve_only_matters_for_proportional_fans() {
        let on_off = PolicyConfig {
            fan_curve: Vec::new(),
            ..PolicyConfig::default()
        };
        assert_eq!(on_off.validate(), Ok(()));
        let proportional = PolicyConfig {
            proportional_fan: true,
            ..on_off
        };
        assert_eq!(
            proportional.validate(),
            Err(PolicyConfigError::EmptyFanCurve)
        );
    }

    #[test]
    fn equal_stage_thresholds_are_allowed() {
        let mut config = PolicyConfig::default();
        config.thresholds.throttle = config.thresholds.shed;
        assert_eq!(config.validate(), Ok(()));
    }
}
