//! `[thermal]`: sensor sampling, prediction, and the four hysteresis stages.
//!
//! Besides per-key ranges this section has cross-field rules: every stage
//! switches off below where it switches on, and the stages escalate in order
//! (fan <= shed <= throttle <= critical) for both the on and the off values.

use std::path::PathBuf;
use std::time::Duration;

use super::defaults::*;
use super::error::{ConfigError, ConfigErrorKind};
use super::limits::*;
use super::raw::RawThermal;
use super::validate::{
    choice, choices_text, in_range, integer_in, millis_in_range, number_in, optional_seconds,
};

/// Spelling of `thermal.sensor` that selects the SoC zone automatically.
const AUTO_SENSOR: &str = "auto";
/// Example quoted when `thermal.sensor` is wrong.
const SENSOR_PATH_EXAMPLE: &str = "/sys/class/thermal/thermal_zone0/temp";

/// Which temperature file the thermal thread reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SensorSelection {
    /// The SoC thermal zone found by probing `/sys/class/thermal`.
    Auto,
    /// This file in millidegrees Celsius (a thermal zone directory means its `temp`),
    /// resolved under `hardware.sysfs_root`; a relative path is relative to that root.
    Path(PathBuf),
}

choice_enum! {
    /// How new connections are refused while the shed stage is active.
    pub enum ShedMode {
        /// Accept and close at once, so clients fail over fast.
        Reject = "reject",
        /// Stop accepting; newcomers wait in the kernel backlog.
        Pause = "pause",
    }
}

choice_enum! {
    /// The fail-safe applied while the sensor is faulty (errors, implausible or stuck).
    pub enum OnSensorFault {
        /// Run the fan at full speed.
        FanFull = "fan-full",
        /// Run the fan at full speed and shed new connections.
        FanFullAndShed = "fan-full-and-shed",
    }
}

/// The two temperatures of one hysteresis stage (the thermal crate's own type).
pub use warden_thermal::StageThresholds;

/// Validated `[thermal]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct ThermalConfig {
    /// Time between sensor readings.
    pub interval: Duration,
    /// Temperature source.
    pub sensor: SensorSelection,
    /// How far ahead the trend is extrapolated, in seconds.
    pub horizon_s: f64,
    /// Low-pass filter time constant, in seconds (0 = unfiltered).
    pub filter_tau_s: f64,
    /// Span of readings the trend is fitted over, in seconds.
    pub trend_window_s: f64,
    /// Fan stage: run the fan.
    pub fan: StageThresholds,
    /// Shed stage: refuse new connections.
    pub shed: StageThresholds,
    /// Throttle stage: step cpufreq down.
    pub throttle: StageThresholds,
    /// Critical stage: minimum frequency, shed, fan full.
    pub critical: StageThresholds,
    /// How connections are refused while shedding.
    pub shed_mode: ShedMode,
    /// An unchanged reading for this long is a sensor fault; `None` = never.
    pub stuck_after: Option<Duration>,
    /// A reading this far (°C) from the last trusted one is a sensor fault; 0 = never.
    pub max_step_c: f64,
    /// Fail-safe while the sensor is faulty.
    pub on_sensor_fault: OnSensorFault,
}

impl Default for ThermalConfig {
    fn default() -> Self {
        // The stage thresholds are the thermal crate's own defaults.
        let stages = warden_thermal::Thresholds::default();
        ThermalConfig {
            interval: Duration::from_millis(DEFAULT_THERMAL_INTERVAL_MS),
            sensor: DEFAULT_SENSOR,
            horizon_s: DEFAULT_HORIZON_S,
            filter_tau_s: DEFAULT_FILTER_TAU_S,
            trend_window_s: DEFAULT_TREND_WINDOW_S,
            fan: stages.fan,
            shed: stages.shed,
            throttle: stages.throttle,
            critical: stages.critical,
            shed_mode: DEFAULT_SHED_MODE,
            stuck_after: Some(Duration::from_secs(DEFAULT_STUCK_S)),
            max_step_c: DEFAULT_MAX_STEP_C,
            on_sensor_fault: DEFAULT_ON_SENSOR_FAULT,
        }
    }
}

/// One validated stage with the names of its two keys, for ordering errors.
struct StageKeys {
    on_key: &'static str,
    off_key: &'static str,
    thresholds: StageThresholds,
}

/// Picks one side of a stage, on or off: its key and its temperature.
type StageSide = fn(&StageKeys) -> (&'static str, f64);

/// Applies defaults, ranges and the stage rules to `[thermal]`.
pub(super) fn validate(raw: RawThermal) -> Result<ThermalConfig, ConfigError> {
    let interval = millis_in_range(
        "thermal.interval_ms",
        raw.interval_ms.unwrap_or(DEFAULT_THERMAL_INTERVAL_MS),
        &THERMAL_INTERVAL_MS_RANGE,
    )?;
    let sensor = match raw.sensor {
        Some(text) => sensor_selection(&text)?,
        None => DEFAULT_SENSOR,
    };
    let horizon_s = in_range(
        "thermal.horizon_s",
        raw.horizon_s.unwrap_or(DEFAULT_HORIZON_S),
        &HORIZON_S_RANGE,
    )?;
    let filter_tau_s = in_range(
        "thermal.filter_tau_s",
        raw.filter_tau_s.unwrap_or(DEFAULT_FILTER_TAU_S),
        &FILTER_TAU_S_RANGE,
    )?;
    let trend_window_s = in_range(
        "thermal.trend_window_s",
        raw.trend_window_s.unwrap_or(DEFAULT_TREND_WINDOW_S),
        &TREND_WINDOW_S_RANGE,
    )?;
    let stages = [
        stage(
            "thermal.fan_on_c",
            raw.fan_on_c.unwrap_or(DEFAULT_FAN_ON_C),
            "thermal.fan_off_c",
            raw.fan_off_c.unwrap_or(DEFAULT_FAN_OFF_C),
        )?,
        stage(
            "thermal.shed_on_c",
            raw.shed_on_c.unwrap_or(DEFAULT_SHED_ON_C),
            "thermal.shed_off_c",
            raw.shed_off_c.unwrap_or(DEFAULT_SHED_OFF_C),
        )?,
        stage(
            "thermal.throttle_on_c",
            raw.throttle_on_c.unwrap_or(DEFAULT_THROTTLE_ON_C),
            "thermal.throttle_off_c",
            raw.throttle_off_c.unwrap_or(DEFAULT_THROTTLE_OFF_C),
        )?,
        stage(
            "thermal.critical_on_c",
            raw.critical_on_c.unwrap_or(DEFAULT_CRITICAL_ON_C),
            "thermal.critical_off_c",
            raw.critical_off_c.unwrap_or(DEFAULT_CRITICAL_OFF_C),
        )?,
    ];
    check_stage_order(&stages)?;
    let [fan, shed, throttle, critical] = stages.map(|stage| stage.thresholds);
    Ok(ThermalConfig {
        interval,
        sensor,
        horizon_s,
        filter_tau_s,
        trend_window_s,
        fan,
        shed,
        throttle,
        critical,
        shed_mode: match raw.shed_mode {
            Some(text) => choice("thermal.shed_mode", &text, ShedMode::CHOICES)?,
            None => DEFAULT_SHED_MODE,
        },
        stuck_after: optional_seconds(
            "thermal.stuck_s",
            raw.stuck_s.unwrap_or(DEFAULT_STUCK_S),
            &STUCK_S_RANGE,
        )?,
        max_step_c: in_range(
            "thermal.max_step_c",
            raw.max_step_c.unwrap_or(DEFAULT_MAX_STEP_C),
            &MAX_STEP_C_RANGE,
        )?,
        on_sensor_fault: match raw.on_sensor_fault {
            Some(text) => choice("thermal.on_sensor_fault", &text, OnSensorFault::CHOICES)?,
            None => DEFAULT_ON_SENSOR_FAULT,
        },
    })
}

/// Checks one stage's pair: each in range, and off below on.
fn stage(
    on_key: &'static str,
    on_c: f64,
    off_key: &'static str,
    off_c: f64,
) -> Result<StageKeys, ConfigError> {
    let on_c = in_range(on_key, on_c, &TEMPERATURE_C_RANGE)?;
    let off_c = in_range(off_key, off_c, &TEMPERATURE_C_RANGE)?;
    if off_c >= on_c {
        return Err(ConfigError::at_key(
            ConfigErrorKind::Conflict,
            off_key,
            format!("{off_c} is not below {on_key} ({on_c})"),
        )
        .allowing(format!(
            "allowed a value below {on_key}: a stage must switch off below where it switches on"
        )));
    }
    Ok(StageKeys {
        on_key,
        off_key,
        thresholds: StageThresholds { on_c, off_c },
    })
}

/// Checks that stages escalate in order (fan <= shed <= throttle <= critical),
/// first for the on temperatures, then for the off temperatures.
fn check_stage_order(stages: &[StageKeys]) -> Result<(), ConfigError> {
    let sides: [StageSide; 2] = [
        |stage| (stage.on_key, stage.thresholds.on_c),
        |stage| (stage.off_key, stage.thresholds.off_c),
    ];
    for side in sides {
        for pair in stages.windows(2) {
            let (lower_key, lower_value) = side(&pair[0]);
            let (key, value) = side(&pair[1]);
            if value < lower_value {
                let chain: Vec<&str> = stages
                    .iter()
                    .map(|stage| side(stage).0.trim_start_matches("thermal."))
                    .collect();
                return Err(ConfigError::at_key(
                    ConfigErrorKind::Conflict,
                    key,
                    format!("{value} is below {lower_key} ({lower_value})"),
                )
                .allowing(format!(
                    "allowed stages in escalating order: {}",
                    chain.join(" <= ")
                )));
            }
        }
    }
    Ok(())
}

/// Parses `thermal.sensor`: "auto" or a non-empty path.
fn sensor_selection(text: &str) -> Result<SensorSelection, ConfigError> {
    match text {
        AUTO_SENSOR => Ok(SensorSelection::Auto),
        "" => Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            "thermal.sensor",
            "the path is empty",
        )
        .allowing(format!("allowed {}", sensor_text()))),
        path => Ok(SensorSelection::Path(PathBuf::from(path))),
    }
}

/// What `thermal.sensor` accepts.
fn sensor_text() -> String {
    format!("\"{AUTO_SENSOR}\" or a path such as {SENSOR_PATH_EXAMPLE:?}")
}

/// What `thermal.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "interval_ms" => integer_in(&THERMAL_INTERVAL_MS_RANGE),
        "sensor" => sensor_text(),
        "horizon_s" => number_in(&HORIZON_S_RANGE),
        "filter_tau_s" => number_in(&FILTER_TAU_S_RANGE),
        "trend_window_s" => number_in(&TREND_WINDOW_S_RANGE),
        "fan_on_c" | "fan_off_c" | "shed_on_c" | "shed_off_c" | "throttle_on_c"
        | "throttle_off_c" | "critical_on_c" | "critical_off_c" => {
            format!("{} (°C)", number_in(&TEMPERATURE_C_RANGE))
        }
        "shed_mode" => choices_text(ShedMode::CHOICES),
        "stuck_s" => format!("{} (0 = never)", integer_in(&STUCK_S_RANGE)),
        "max_step_c" => format!("{} (°C, 0 = never)", number_in(&MAX_STEP_C_RANGE)),
        "on_sensor_fault" => choices_text(OnSensorFault::CHOICES),
        _ => return None,
    })
}
