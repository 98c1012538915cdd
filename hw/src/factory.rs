//! The one factory: a [`HardwareSpec`] in, boxed backends and start-up notes out.

use crate::error::HwError;
use crate::fan::{FileFan, GpioFan, HwmonFan, NoFan, PwmFan, SoftPwmFan};
use crate::sensor::SysfsThermalZone;
use crate::spec::{FanSpec, HardwareSpec, SensorSpec};
use crate::throttle::SysfsThrottleReader;
use crate::{CpuFreq, Fan, TempSensor, ThrottleReader};

/// The hardware backends the thermal controller drives.
pub struct Backends {
    /// The temperature sensor.
    pub sensor: Box<dyn TempSensor>,
    /// The fan (a [`NoFan`] when there is none).
    pub fan: Box<dyn Fan>,
    /// cpufreq, or `None` when disabled or absent (see `notes`).
    pub cpufreq: Option<Box<dyn CpuFreq>>,
    /// The firmware throttle flags, or `None` when disabled.
    pub throttle: Option<Box<dyn ThrottleReader>>,
    /// Human notes on what was chosen or missing, for the daemon to log once at start-up.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("sensor", &self.sensor.describe())
            .field("fan", &self.fan.driver())
            .field("cpufreq", &self.cpufreq.is_some())
            .field("throttle", &self.throttle.is_some())
            .field("notes", &self.notes)
            .finish()
    }
}

/// Opens everything `spec` asks for. Nothing is written to the hardware here: originals
/// are captured, pins are opened with the fan off.
///
/// Errors: a missing sensor ([`HwError::NoThermalZone`], [`HwError::NotFound`]); a fan
/// driver that cannot work here ([`HwError::NotRaspberryPi`] for gpio/pwm/soft-pwm off a
/// Pi, [`HwError::NoHwmonFan`], ...); a `spec.powersave_governor` this kernel cannot switch
/// to ([`HwError::GovernorNotAvailable`], [`HwError::InvalidSpec`]). Missing cpufreq or
/// throttle flags are only notes, and so are unusable words in
/// `scaling_available_frequencies` (they are dropped).
pub fn build(spec: &HardwareSpec) -> Result<Backends, HwError> {
    let root = spec.sysfs_root.as_path();
    let mut notes = Vec::new();

    let zone = match &spec.sensor {
        SensorSpec::Auto => SysfsThermalZone::auto(root)?,
        SensorSpec::Path(path) => SysfsThermalZone::from_path(root, path)?,
    };
    notes.push(format!(
        "sensor: {} at {}",
        zone.describe(),
        zone.path().display()
    ));
    notes.extend(
        zone.passed_over()
            .iter()
            .map(|why| format!("sensor: {why}")),
    );

    let fan = build_fan(spec, &mut notes)?;

    let cpufreq: Option<Box<dyn CpuFreq>> = if !spec.cpufreq_enabled {
        notes.push("cpufreq: disabled by config; throttling will not cap the CPU".into());
        None
    } else {
        match crate::cpufreq::SysfsCpuFreq::open(root) {
            Ok(cpufreq) => {
                if let Some(governor) = &spec.powersave_governor {
                    cpufreq.check_governor(governor)?;
                }
                let (max, governor) = cpufreq.original();
                let governor = if governor.is_empty() {
                    "none (no scaling_governor)".to_string()
                } else {
                    governor
                };
                notes.push(format!(
                    "cpufreq: {} policies, steps {:?} kHz, original max {max} kHz, governor {governor}",
                    cpufreq.policy_dirs().count(),
                    cpufreq.steps_khz()
                ));
                if !cpufreq.ignored_steps().is_empty() {
                    notes.push(format!(
                        "cpufreq: ignored {:?} in {}: not frequencies in kHz",
                        cpufreq.ignored_steps(),
                        cpufreq.available_frequencies_path().display()
                    ));
                }
                if let Some(note) = cpufreq.starts_capped_note() {
                    notes.push(note);
                }
                Some(Box::new(cpufreq))
            }
            Err(e @ HwError::NoCpuFreq { .. }) => {
                notes.push(format!("cpufreq: {e}"));
                None
            }
            Err(e) => return Err(e),
        }
    };

    let throttle: Option<Box<dyn ThrottleReader>> = if spec.throttle_flags_enabled {
        let reader = SysfsThrottleReader::new(root);
        if !reader.path().exists() {
            notes.push(format!(
                "throttle flags: {} absent (not a Pi firmware); not reported",
                reader.path().display()
            ));
        }
        Some(Box::new(reader))
    } else {
        None
    };

    Ok(Backends {
        sensor: Box::new(zone),
        fan,
        cpufreq,
        throttle,
        notes,
    })
}

/// Opens the fan driver `spec.fan` names.
fn build_fan(spec: &HardwareSpec, notes: &mut Vec<String>) -> Result<Box<dyn Fan>, HwError> {
    let root = spec.sysfs_root.as_path();
    let fan: Box<dyn Fan> = match &spec.fan {
        FanSpec::Auto => match HwmonFan::discover(root) {
            Ok(fan) => {
                notes.push(format!(
                    "fan: auto found hwmon fan {} ({})",
                    fan.name(),
                    fan.dir().display()
                ));
                Box::new(fan)
            }
            Err(HwError::NoHwmonFan { dir }) => {
                notes.push(format!(
                    "fan: auto found no hwmon fan under {}; running without a fan (set fan.driver to use a GPIO pin)",
                    dir.display()
                ));
                Box::new(NoFan)
            }
            Err(e) => return Err(e),
        },
        FanSpec::None => {
            notes.push("fan: none configured".into());
            Box::new(NoFan)
        }
        FanSpec::Gpio { pin, active_low } => {
            notes.push(format!(
                "fan: gpio on BCM {pin}{}",
                if *active_low { " (active low)" } else { "" }
            ));
            Box::new(GpioFan::open(*pin, *active_low)?)
        }
        FanSpec::Pwm {
            channel,
            frequency_hz,
            min_duty,
            active_low,
            kick,
        } => {
            notes.push(format!(
                "fan: hardware pwm channel {channel} at {frequency_hz} Hz, min duty {min_duty}"
            ));
            Box::new(PwmFan::open(
                *channel,
                *frequency_hz,
                *min_duty,
                *active_low,
                *kick,
            )?)
        }
        FanSpec::SoftPwm {
            pin,
            frequency_hz,
            min_duty,
            active_low,
            kick,
        } => {
            notes.push(format!(
                "fan: soft-pwm on BCM {pin} at {frequency_hz} Hz, min duty {min_duty} (a busy-waiting thread while at partial duty)"
            ));
            Box::new(SoftPwmFan::open(
                *pin,
                *frequency_hz,
                *min_duty,
                *active_low,
                *kick,
            )?)
        }
        FanSpec::Hwmon { path } => {
            let fan = match path {
                Some(dir) => HwmonFan::open(root, dir)?,
                None => HwmonFan::discover(root)?,
            };
            notes.push(format!(
                "fan: hwmon {} ({})",
                fan.name(),
                fan.dir().display()
            ));
            Box::new(fan)
        }
        FanSpec::File { path } => {
            notes.push(format!("fan: file {}", path.display()));
            Box::new(FileFan::open(path)?)
        }
    };
    Ok(fan)
}
