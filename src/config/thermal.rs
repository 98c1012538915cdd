//! `[thermal]`: sensor sampling, prediction, and the four hysteresis stages.
//!
//! Besides per-key ranges this section has cross-field rules: every stage
//! switches off below where it switches on, and the stages escalate in order
//! (fan <= shed <= throttle <= critical) for both the on and the off values.
//! When one key of a broken rule is a default, the error names the key the
//! file wrote and quotes the other one's default.

use std::path::PathBuf;
use std::time::Duration;

use super::defaults::*;
use super::error::{ConfigError, ConfigErrorKind};
use super::limits::*;
use super::number::compact_f64;
use super::raw::RawThermal;
use super::validate::{
    absolute_path, choice, choices_text, in_range, integer_in, millis_in_range, number_in,
    optional_seconds, Setting,
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
    /// This file in millidegrees Celsius (a thermal zone directory means its `temp`): an
    /// absolute path, resolved under `hardware.sysfs_root`.
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

/// Whether a temperature key can be set above `value` (strictly, or to it) within
/// [`TEMPERATURE_C_RANGE`]: advice never names a value the key refuses. `value` is in
/// range already (checked first), so only a strict rule at the top has no room.
fn can_go_above(value: f64, strict: bool) -> bool {
    !strict || value < *TEMPERATURE_C_RANGE.end()
}

/// Whether a temperature key can be set below `value` (strictly, or to it) within
/// [`TEMPERATURE_C_RANGE`]; `value` is in range already.
fn can_go_below(value: f64, strict: bool) -> bool {
    !strict || value > *TEMPERATURE_C_RANGE.start()
}

/// The fixes that exist, joined by "or".
fn either_fix(first: Option<String>, second: Option<String>) -> String {
    match (first, second) {
        (Some(a), Some(b)) => format!("{a}, or {b}"),
        (Some(only), None) | (None, Some(only)) => only,
        // Only a pair at the two ends of the range (off 150, on -40), and only when the
        // file wrote both keys: that error gives the whole allowed text, not this fix.
        (None, None) => String::new(),
    }
}

/// One stage's two settings, range-checked.
struct Stage {
    on: Setting<f64>,
    off: Setting<f64>,
}

impl Stage {
    fn thresholds(&self) -> StageThresholds {
        StageThresholds {
            on_c: self.on.value,
            off_c: self.off.value,
        }
    }
}

/// Picks one side of a stage, on or off.
type StageSide = fn(&Stage) -> Setting<f64>;

/// Which of two misordered keys an error names when the file wrote both.
#[derive(Clone, Copy)]
enum BlameIfBoth {
    Lower,
    Upper,
}

/// A rule `lower < upper` (strict) or `lower <= upper` that the values break.
struct Misordered<'a> {
    lower: Setting<f64>,
    upper: Setting<f64>,
    strict: bool,
    blame_if_both: BlameIfBoth,
    /// Why the rule exists, said when one side is a default.
    rule: &'a str,
    /// The whole "allowed ..." text when the file wrote both keys.
    both_allowed: String,
}

impl Misordered<'_> {
    /// The error naming the key the file wrote; if one side is its default, the message
    /// says so and how to fix either side.
    fn error(self) -> ConfigError {
        let blame_upper = match (self.lower.written, self.upper.written) {
            (true, false) => false,
            (false, true) => true,
            _ => matches!(self.blame_if_both, BlameIfBoth::Upper),
        };
        let strict = self.strict;
        let below = |value: f64| {
            let value = compact_f64(value);
            if strict {
                format!("below {value}")
            } else {
                format!("to {value} or less")
            }
        };
        let above = |value: f64| {
            let value = compact_f64(value);
            if strict {
                format!("above {value}")
            } else {
                format!("to {value} or more")
            }
        };
        let (blamed, other, problem, fix) = if blame_upper {
            let (upper, lower) = (self.upper, self.lower);
            let relation = if strict { "is not above" } else { "is below" };
            let fix = either_fix(
                (can_go_below(upper.value, strict))
                    .then(|| format!("set {} {} too", lower.key, below(upper.value))),
                (can_go_above(lower.value, strict))
                    .then(|| format!("raise {} {}", upper.key, above(lower.value))),
            );
            let problem = format!(
                "{} {relation} {}",
                compact_f64(upper.value),
                lower.reference()
            );
            (upper, lower, problem, fix)
        } else {
            let (lower, upper) = (self.lower, self.upper);
            let relation = if strict { "is not below" } else { "is above" };
            let fix = either_fix(
                (can_go_above(lower.value, strict))
                    .then(|| format!("set {} {} too", upper.key, above(lower.value))),
                (can_go_below(upper.value, strict))
                    .then(|| format!("lower {} {}", lower.key, below(upper.value))),
            );
            let problem = format!(
                "{} {relation} {}",
                compact_f64(lower.value),
                upper.reference()
            );
            (lower, upper, problem, fix)
        };
        let allowed = if other.written {
            self.both_allowed
        } else {
            format!("{fix} ({})", self.rule)
        };
        ConfigError::at_key(ConfigErrorKind::Conflict, blamed.key, problem).allowing(allowed)
    }
}

/// Why each stage has two thresholds in this order.
const STAGE_RULE: &str = "a stage must switch off below where it switches on";

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
    let setting = Setting::from_file;
    let stages = [
        stage(
            setting("thermal.fan_on_c", raw.fan_on_c, DEFAULT_FAN_ON_C),
            setting("thermal.fan_off_c", raw.fan_off_c, DEFAULT_FAN_OFF_C),
        )?,
        stage(
            setting("thermal.shed_on_c", raw.shed_on_c, DEFAULT_SHED_ON_C),
            setting("thermal.shed_off_c", raw.shed_off_c, DEFAULT_SHED_OFF_C),
        )?,
        stage(
            setting(
                "thermal.throttle_on_c",
                raw.throttle_on_c,
                DEFAULT_THROTTLE_ON_C,
            ),
            setting(
                "thermal.throttle_off_c",
                raw.throttle_off_c,
                DEFAULT_THROTTLE_OFF_C,
            ),
        )?,
        stage(
            setting(
                "thermal.critical_on_c",
                raw.critical_on_c,
                DEFAULT_CRITICAL_ON_C,
            ),
            setting(
                "thermal.critical_off_c",
                raw.critical_off_c,
                DEFAULT_CRITICAL_OFF_C,
            ),
        )?,
    ];
    check_stage_order(&stages)?;
    let [fan, shed, throttle, critical] = stages.map(|stage| stage.thresholds());
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
fn stage(on: Setting<f64>, off: Setting<f64>) -> Result<Stage, ConfigError> {
    in_range(on.key, on.value, &TEMPERATURE_C_RANGE)?;
    in_range(off.key, off.value, &TEMPERATURE_C_RANGE)?;
    if off.value >= on.value {
        return Err(Misordered {
            lower: off,
            upper: on,
            strict: true,
            blame_if_both: BlameIfBoth::Lower,
            rule: STAGE_RULE,
            both_allowed: format!("allowed a value below {}: {STAGE_RULE}", on.key),
        }
        .error());
    }
    Ok(Stage { on, off })
}

/// Checks that stages escalate in order (fan <= shed <= throttle <= critical),
/// first for the on temperatures, then for the off temperatures.
fn check_stage_order(stages: &[Stage]) -> Result<(), ConfigError> {
    let sides: [StageSide; 2] = [|stage| stage.on, |stage| stage.off];
    for side in sides {
        for pair in stages.windows(2) {
            let (lower, upper) = (side(&pair[0]), side(&pair[1]));
            if upper.value < lower.value {
                let chain: Vec<&str> = stages
                    .iter()
                    .map(|stage| side(stage).key.trim_start_matches("thermal."))
                    .collect();
                let chain = chain.join(" <= ");
                return Err(Misordered {
                    lower,
                    upper,
                    strict: false,
                    blame_if_both: BlameIfBoth::Upper,
                    rule: &format!("stages escalate in order: {chain}"),
                    both_allowed: format!("allowed stages in escalating order: {chain}"),
                }
                .error());
            }
        }
    }
    Ok(())
}

/// Parses `thermal.sensor`: exactly "auto", or an absolute path.
fn sensor_selection(text: &str) -> Result<SensorSelection, ConfigError> {
    const KEY: &str = "thermal.sensor";
    if text == AUTO_SENSOR {
        return Ok(SensorSelection::Auto);
    }
    // "AUTO" or " auto" would otherwise be taken for a file path.
    if text.trim().eq_ignore_ascii_case(AUTO_SENSOR) {
        return Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            KEY,
            format!("{text:?} is not {AUTO_SENSOR:?}: it is spelt exactly so, in lower case without blanks"),
        )
        .allowing(format!("allowed {}", sensor_text())));
    }
    absolute_path(KEY, text, &sensor_text()).map(SensorSelection::Path)
}

/// What `thermal.sensor` accepts.
fn sensor_text() -> String {
    format!(
        "\"{AUTO_SENSOR}\" or an absolute path such as {SENSOR_PATH_EXAMPLE:?} (resolved under \
         hardware.sysfs_root)"
    )
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
