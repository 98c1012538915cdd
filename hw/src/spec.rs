//! A plain description of the hardware to drive, filled in by the daemon from its config.
//!
//! This crate owns these types so it never sees a config file; the daemon maps its
//! validated TOML onto them and calls [`crate::build`].

use std::path::PathBuf;
use std::time::Duration;

use crate::fan::{
    DEFAULT_MIN_DUTY, DEFAULT_PWM_FREQUENCY_HZ, DEFAULT_SOFT_PWM_FREQUENCY_HZ, KICK_DURATION,
};

/// Default filesystem root under which sysfs paths are resolved.
pub const DEFAULT_SYSFS_ROOT: &str = "/";

/// What hardware to drive and how.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareSpec {
    /// Filesystem root standing for `/` when resolving sysfs paths (`hardware.sysfs_root`).
    pub sysfs_root: PathBuf,
    /// Where the temperature comes from (`thermal.sensor`).
    pub sensor: SensorSpec,
    /// Which fan driver to use, with its parameters (`fan.*`).
    pub fan: FanSpec,
    /// Whether to open cpufreq for throttling at all.
    pub cpufreq_enabled: bool,
    /// The governor the "governor" throttling strategy switches to
    /// (`cpufreq.powersave_governor`), `None` under any other strategy. When set, [`crate::build`]
    /// checks that every policy has a `scaling_governor` and that the kernel offers it.
    pub powersave_governor: Option<String>,
    /// Whether to read the Pi firmware's throttle flags.
    pub throttle_flags_enabled: bool,
}

impl Default for HardwareSpec {
    fn default() -> Self {
        HardwareSpec {
            sysfs_root: PathBuf::from(DEFAULT_SYSFS_ROOT),
            sensor: SensorSpec::Auto,
            fan: FanSpec::Auto,
            cpufreq_enabled: true,
            powersave_governor: None,
            throttle_flags_enabled: true,
        }
    }
}

/// Where the temperature comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SensorSpec {
    /// The thermal zone whose `type` is `cpu-thermal`, else `thermal_zone0`.
    #[default]
    Auto,
    /// An explicit millidegree file (thermal zone `temp`, hwmon `temp*_input`) or a thermal
    /// zone directory, resolved with [`crate::resolve_under_root`].
    Path(PathBuf),
}

/// Which fan driver, with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum FanSpec {
    /// A hwmon fan (`pwmfan`/`cooling_fan`) if present, else none; never guesses a GPIO pin.
    Auto,
    /// No fan.
    None,
    /// On/off through a GPIO pin.
    Gpio {
        /// BCM GPIO number.
        pin: u8,
        /// True when a low level runs the fan.
        active_low: bool,
    },
    /// Hardware PWM.
    Pwm {
        /// PWM channel (0 or 1 on a Pi 4; 0..=3 on a Pi 5).
        channel: u8,
        /// PWM frequency in Hz (default [`DEFAULT_PWM_FREQUENCY_HZ`]).
        frequency_hz: f64,
        /// Lowest running duty (default [`DEFAULT_MIN_DUTY`]).
        min_duty: f64,
        /// True when a low level runs the fan (inverse polarity).
        active_low: bool,
        /// Full-duty kick when starting from stopped (default [`KICK_DURATION`]).
        kick: Duration,
    },
    /// Software PWM on any GPIO pin (costs CPU: see [`crate::SoftPwmFan`]).
    SoftPwm {
        /// BCM GPIO number.
        pin: u8,
        /// PWM frequency in Hz (default [`DEFAULT_SOFT_PWM_FREQUENCY_HZ`]).
        frequency_hz: f64,
        /// Lowest running duty (default [`DEFAULT_MIN_DUTY`]).
        min_duty: f64,
        /// True when a low level runs the fan.
        active_low: bool,
        /// Full-duty kick when starting from stopped (default [`KICK_DURATION`]).
        kick: Duration,
    },
    /// The kernel's hwmon `pwm1`.
    Hwmon {
        /// Explicit hwmon directory; `None` finds `pwmfan`/`cooling_fan` under `sys/class/hwmon`.
        path: Option<PathBuf>,
    },
    /// Writes the duty to a file (tests, simulation).
    File {
        /// The file, used as given.
        path: PathBuf,
    },
}

impl FanSpec {
    /// Hardware PWM on `channel` with the default frequency and minimum duty.
    pub fn pwm(channel: u8) -> Self {
        FanSpec::Pwm {
            channel,
            frequency_hz: DEFAULT_PWM_FREQUENCY_HZ,
            min_duty: DEFAULT_MIN_DUTY,
            active_low: false,
            kick: KICK_DURATION,
        }
    }

    /// Software PWM on `pin` with the default frequency and minimum duty.
    pub fn soft_pwm(pin: u8) -> Self {
        FanSpec::SoftPwm {
            pin,
            frequency_hz: DEFAULT_SOFT_PWM_FREQUENCY_HZ,
            min_duty: DEFAULT_MIN_DUTY,
            active_low: false,
            kick: KICK_DURATION,
        }
    }

    /// The driver name as written in config.
    pub fn driver_name(&self) -> &'static str {
        match self {
            FanSpec::Auto => "auto",
            FanSpec::None => "none",
            FanSpec::Gpio { .. } => "gpio",
            FanSpec::Pwm { .. } => "pwm",
            FanSpec::SoftPwm { .. } => "soft-pwm",
            FanSpec::Hwmon { .. } => "hwmon",
            FanSpec::File { .. } => "file",
        }
    }
}
