//! `[fan]`: which fan driver to use, its wiring, and the temperature-to-duty law.

use std::path::PathBuf;
use std::time::Duration;

use super::defaults::*;
use super::error::{ConfigError, ConfigErrorKind};
use super::limits::*;
use super::number::compact_f64;
use super::raw::RawFan;
use super::validate::{
    absolute_path, choice, choices_text, in_range, integer_in, millis_in_range, number_in,
    range_text, seconds_in_range,
};

/// Example quoted when `fan.path` is wrong.
const FAN_PATH_EXAMPLE: &str = "/run/warden-sim/fan_duty";

choice_enum! {
    /// How the fan is driven.
    pub enum FanDriver {
        /// hwmon `pwm1` if the board has one (Pi 5 fan header), else none; never guesses a GPIO pin.
        Auto = "auto",
        /// On/off through a GPIO pin (rppal); needs `fan.pin`.
        Gpio = "gpio",
        /// Hardware PWM channel `fan.pwm_channel` (rppal).
        Pwm = "pwm",
        /// Software PWM on a GPIO pin (rppal); needs `fan.pin`.
        SoftPwm = "soft-pwm",
        /// The kernel's hwmon `pwm1` (`fan.path` names the hwmon directory instead of probing).
        Hwmon = "hwmon",
        /// Writes the duty as text ("0.000" to "1.000") to the file `fan.path`; for tests and simulation.
        File = "file",
        /// No fan: fan stages are reported but drive nothing.
        Disabled = "none",
    }
}

choice_enum! {
    /// What happens to the fan when warden exits.
    pub enum FanExitAction {
        /// Full speed: safe if nothing else manages the fan afterwards.
        Full = "full",
        /// Stopped.
        Off = "off",
        /// Left exactly as warden last set it.
        Leave = "leave",
    }
}

/// One point of the fan law: at `temp_c` the fan runs at `duty` (the thermal crate's own type).
pub use warden_thermal::CurvePoint;

/// Validated `[fan]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct FanConfig {
    /// Fan driver.
    pub driver: FanDriver,
    /// BCM GPIO number; always set for `Gpio` and `SoftPwm`.
    pub pin: Option<u8>,
    /// The fan runs when the pin is low.
    pub active_low: bool,
    /// Hardware PWM channel (0 or 1) for the `Pwm` driver.
    pub pwm_channel: u8,
    /// PWM frequency for the PWM drivers, in Hz.
    pub pwm_frequency_hz: f64,
    /// Lowest non-zero duty; anything lower is raised to it.
    pub min_duty: f64,
    /// Full-power pulse when starting from rest; zero = none.
    pub kick: Duration,
    /// Minimum time an on/off fan stays on.
    pub min_on: Duration,
    /// Minimum time an on/off fan stays off.
    pub min_off: Duration,
    /// Fan law for PWM drivers: 1 to 16 points, temperatures increasing, duty non-decreasing.
    pub curve: Vec<CurvePoint>,
    /// The duty only falls once the temperature drops this far, in °C.
    pub curve_hysteresis_c: f64,
    /// The duty file for `File` (always set), or the hwmon directory for `Hwmon` (probed if `None`).
    pub path: Option<PathBuf>,
    /// Fan state left behind on exit.
    pub on_exit: FanExitAction,
}

impl Default for FanConfig {
    fn default() -> Self {
        FanConfig {
            driver: DEFAULT_FAN_DRIVER,
            pin: None,
            active_low: DEFAULT_ACTIVE_LOW,
            pwm_channel: DEFAULT_PWM_CHANNEL,
            pwm_frequency_hz: DEFAULT_PWM_FREQUENCY_HZ,
            min_duty: DEFAULT_MIN_DUTY,
            kick: Duration::from_millis(DEFAULT_KICK_MS),
            min_on: Duration::from_secs(DEFAULT_MIN_ON_S),
            min_off: Duration::from_secs(DEFAULT_MIN_OFF_S),
            curve: DEFAULT_FAN_CURVE.to_vec(),
            curve_hysteresis_c: DEFAULT_CURVE_HYSTERESIS_C,
            path: None,
            on_exit: DEFAULT_FAN_ON_EXIT,
        }
    }
}

/// Applies defaults, ranges, curve rules and driver requirements to `[fan]`.
pub(super) fn validate(raw: RawFan) -> Result<FanConfig, ConfigError> {
    let driver = match raw.driver {
        Some(text) => choice("fan.driver", &text, FanDriver::CHOICES)?,
        None => DEFAULT_FAN_DRIVER,
    };
    let pin = raw
        .pin
        .map(|pin| in_range("fan.pin", pin, &FAN_PIN_RANGE))
        .transpose()?;
    if pin.is_none() && matches!(driver, FanDriver::Gpio | FanDriver::SoftPwm) {
        return Err(missing_for_driver("fan.pin", driver, &pin_text()));
    }
    let path = raw
        .path
        .map(|text| absolute_path("fan.path", &text, &path_text()))
        .transpose()?;
    if path.is_none() && driver == FanDriver::File {
        return Err(missing_for_driver("fan.path", driver, &path_text()));
    }
    let pwm_frequency_hz = pwm_frequency(driver, raw.pwm_frequency_hz)?;
    Ok(FanConfig {
        driver,
        pin,
        active_low: raw.active_low.unwrap_or(DEFAULT_ACTIVE_LOW),
        pwm_channel: in_range(
            "fan.pwm_channel",
            raw.pwm_channel.unwrap_or(DEFAULT_PWM_CHANNEL),
            &PWM_CHANNEL_RANGE,
        )?,
        pwm_frequency_hz,
        min_duty: in_range(
            "fan.min_duty",
            raw.min_duty.unwrap_or(DEFAULT_MIN_DUTY),
            &DUTY_RANGE,
        )?,
        kick: millis_in_range(
            "fan.kick_ms",
            raw.kick_ms.unwrap_or(DEFAULT_KICK_MS),
            &KICK_MS_RANGE,
        )?,
        min_on: seconds_in_range(
            "fan.min_on_s",
            raw.min_on_s.unwrap_or(DEFAULT_MIN_ON_S),
            &FAN_DWELL_S_RANGE,
        )?,
        min_off: seconds_in_range(
            "fan.min_off_s",
            raw.min_off_s.unwrap_or(DEFAULT_MIN_OFF_S),
            &FAN_DWELL_S_RANGE,
        )?,
        curve: match raw.curve {
            Some(pairs) => curve(&pairs)?,
            None => DEFAULT_FAN_CURVE.to_vec(),
        },
        curve_hysteresis_c: in_range(
            "fan.curve_hysteresis_c",
            raw.curve_hysteresis_c.unwrap_or(DEFAULT_CURVE_HYSTERESIS_C),
            &CURVE_HYSTERESIS_C_RANGE,
        )?,
        path,
        on_exit: match raw.on_exit {
            Some(text) => choice("fan.on_exit", &text, FanExitAction::CHOICES)?,
            None => DEFAULT_FAN_ON_EXIT,
        },
    })
}

/// Checks `fan.pwm_frequency_hz`; software PWM gets its own default and a lower ceiling.
fn pwm_frequency(driver: FanDriver, frequency_hz: Option<f64>) -> Result<f64, ConfigError> {
    const KEY: &str = "fan.pwm_frequency_hz";
    if driver != FanDriver::SoftPwm {
        return in_range(
            KEY,
            frequency_hz.unwrap_or(DEFAULT_PWM_FREQUENCY_HZ),
            &PWM_FREQUENCY_HZ_RANGE,
        );
    }
    let frequency_hz = in_range(
        KEY,
        frequency_hz.unwrap_or(DEFAULT_SOFT_PWM_FREQUENCY_HZ),
        &PWM_FREQUENCY_HZ_RANGE,
    )?;
    if !SOFT_PWM_FREQUENCY_HZ_RANGE.contains(&frequency_hz) {
        return Err(ConfigError::at_key(
            ConfigErrorKind::Conflict,
            KEY,
            format!(
                "{} is too high for fan.driver = \"soft-pwm\" (software PWM busy-waits)",
                compact_f64(frequency_hz)
            ),
        )
        .allowing(format!(
            "allowed {} with soft-pwm ({} is typical)",
            range_text(&SOFT_PWM_FREQUENCY_HZ_RANGE),
            compact_f64(DEFAULT_SOFT_PWM_FREQUENCY_HZ)
        )));
    }
    Ok(frequency_hz)
}

/// The error for a key the chosen driver cannot work without.
fn missing_for_driver(key: &str, driver: FanDriver, allowed: &str) -> ConfigError {
    ConfigError::at_key(
        ConfigErrorKind::Missing,
        key,
        format!("missing, but fan.driver = \"{driver}\" requires it"),
    )
    .allowing(format!("allowed {allowed}"))
}

/// Checks `fan.curve`: point count, ranges, temperatures strictly rising, duty never falling.
fn curve(pairs: &[Vec<f64>]) -> Result<Vec<CurvePoint>, ConfigError> {
    if !FAN_CURVE_POINTS_RANGE.contains(&pairs.len()) {
        return Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            "fan.curve",
            format!("has {} points", pairs.len()),
        )
        .allowing(format!("allowed {}", curve_text())));
    }
    let mut points: Vec<CurvePoint> = Vec::with_capacity(pairs.len());
    for (index, pair) in pairs.iter().enumerate() {
        let &[temp_c, duty] = pair.as_slice() else {
            return Err(ConfigError::at_key(
                ConfigErrorKind::BadValue,
                format!("fan.curve[{index}]"),
                format!(
                    "has {} number{}",
                    pair.len(),
                    if pair.len() == 1 { "" } else { "s" }
                ),
            )
            .allowing(format!("allowed {}", curve_text())));
        };
        let temp_key = format!("fan.curve[{index}][0]");
        let duty_key = format!("fan.curve[{index}][1]");
        let point = CurvePoint {
            temp_c: in_range(&temp_key, temp_c, &TEMPERATURE_C_RANGE)?,
            duty: in_range(&duty_key, duty, &DUTY_RANGE)?,
        };
        if let Some(previous) = points.last() {
            let previous_index = index - 1;
            if point.temp_c <= previous.temp_c {
                return Err(ConfigError::at_key(
                    ConfigErrorKind::BadValue,
                    temp_key,
                    format!(
                        "{} is not above fan.curve[{previous_index}][0] ({})",
                        compact_f64(point.temp_c),
                        compact_f64(previous.temp_c)
                    ),
                )
                .allowing("allowed temperatures strictly increasing along the curve"));
            }
            if point.duty < previous.duty {
                return Err(ConfigError::at_key(
                    ConfigErrorKind::BadValue,
                    duty_key,
                    format!(
                        "{} is below fan.curve[{previous_index}][1] ({})",
                        compact_f64(point.duty),
                        compact_f64(previous.duty)
                    ),
                )
                .allowing("allowed duties that never decrease as the temperature rises"));
            }
        }
        points.push(point);
    }
    Ok(points)
}

/// What `fan.pin` accepts.
fn pin_text() -> String {
    format!("{} (BCM GPIO number)", integer_in(&FAN_PIN_RANGE))
}

/// What `fan.path` accepts.
fn path_text() -> String {
    format!("an absolute path such as {FAN_PATH_EXAMPLE:?} (driver \"file\", used as written) or \"/sys/class/hwmon/hwmon2\" (driver \"hwmon\", under hardware.sysfs_root)")
}

/// What `fan.curve` accepts.
fn curve_text() -> String {
    format!(
        "{} [temp_c, duty] pairs, temp_c {} strictly increasing, duty {} never decreasing",
        range_text(&FAN_CURVE_POINTS_RANGE),
        range_text(&TEMPERATURE_C_RANGE),
        range_text(&DUTY_RANGE),
    )
}

/// What `fan.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "driver" => choices_text(FanDriver::CHOICES),
        "pin" => pin_text(),
        "active_low" => "true or false".to_string(),
        "pwm_channel" => integer_in(&PWM_CHANNEL_RANGE),
        "pwm_frequency_hz" => format!(
            "{} ({} with soft-pwm)",
            number_in(&PWM_FREQUENCY_HZ_RANGE),
            range_text(&SOFT_PWM_FREQUENCY_HZ_RANGE)
        ),
        "min_duty" => number_in(&DUTY_RANGE),
        "kick_ms" => format!("{} (0 = no kick)", integer_in(&KICK_MS_RANGE)),
        "min_on_s" | "min_off_s" => integer_in(&FAN_DWELL_S_RANGE),
        "curve" => curve_text(),
        "curve_hysteresis_c" => number_in(&CURVE_HYSTERESIS_C_RANGE),
        "path" => path_text(),
        "on_exit" => choices_text(FanExitAction::CHOICES),
        _ => return None,
    })
}
