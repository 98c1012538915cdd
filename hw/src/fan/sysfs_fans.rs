//! Fans driven by plain file writes: the kernel's hwmon `pwm1` and a simulation file.

use std::path::{Path, PathBuf};

use super::check_duty;
use crate::error::HwError;
use crate::restore::RestoreEntry;
use crate::sysfs_io::{
    numbered_entries, read_text, read_trimmed, resolve_under_root, write_atomically, write_text,
};
use crate::Fan;

/// Directory of hwmon devices, relative to the sysfs root.
pub const HWMON_CLASS_DIR: &str = "sys/class/hwmon";
/// hwmon `name`s of fan controllers warden may drive (pwm-fan driver; the Pi 5 fan header).
pub const HWMON_FAN_NAMES: [&str; 2] = ["pwmfan", "cooling_fan"];

/// hwmon's `pwm1_enable` value for manual control.
const PWM_ENABLE_MANUAL: &str = "1";

/// A fan controlled through a hwmon device's `pwm1` (0–255), e.g. the Pi 5 fan header.
///
/// The first write switches `pwm1_enable` to 1 (manual). Note that the kernel's thermal
/// governor may still set the speed through the fan's cooling device when a trip point is
/// crossed; warden's next write wins again.
#[derive(Debug, Clone)]
pub struct HwmonFan {
    dir: PathBuf,
    name: String,
    original_pwm: Option<String>,
    original_enable: Option<String>,
    manual: bool,
}

impl HwmonFan {
    /// Finds the hwmon device named `pwmfan` or `cooling_fan` (with a `pwm1`) under the root.
    pub fn discover(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(HWMON_CLASS_DIR);
        numbered_entries(&dir, "hwmon")
            .into_iter()
            .map(|(_, device)| device)
            .find(|device| {
                device.join("pwm1").is_file()
                    && read_trimmed(&device.join("name"), "a hwmon name")
                        .is_ok_and(|name| HWMON_FAN_NAMES.contains(&name.as_str()))
            })
            .map_or(Err(HwError::NoHwmonFan { dir }), |device| Self::at(&device))
    }

    /// Uses an explicit hwmon directory (resolved with [`resolve_under_root`]); it must hold `pwm1`.
    pub fn open(sysfs_root: &Path, dir: &Path) -> Result<Self, HwError> {
        Self::at(&resolve_under_root(sysfs_root, dir))
    }

    /// Opens a hwmon directory, remembering `pwm1` and `pwm1_enable` for restore.
    fn at(dir: &Path) -> Result<Self, HwError> {
        let original_pwm = read_trimmed(&dir.join("pwm1"), "a PWM value 0-255")?;
        let enable_path = dir.join("pwm1_enable");
        let original_enable = if enable_path.exists() {
            Some(read_trimmed(&enable_path, "a pwm1_enable mode")?)
        } else {
            None
        };
        let name = read_trimmed(&dir.join("name"), "a hwmon name").unwrap_or_default();
        Ok(HwmonFan {
            dir: dir.to_path_buf(),
            name,
            original_pwm: Some(original_pwm),
            manual: original_enable.as_deref() == Some(PWM_ENABLE_MANUAL),
            original_enable,
        })
    }

    /// The hwmon directory driven.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hwmon device's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `pwm1` value for a duty.
    fn pwm_value(duty: f64) -> String {
        ((duty * 255.0).round() as u8).to_string()
    }
}

impl Fan for HwmonFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        let duty = check_duty(duty)?;
        if !self.manual && self.original_enable.is_some() {
            write_text(&self.dir.join("pwm1_enable"), PWM_ENABLE_MANUAL)?;
            self.manual = true;
        }
        write_text(&self.dir.join("pwm1"), &Self::pwm_value(duty))
    }

    fn driver(&self) -> &'static str {
        "hwmon"
    }

    fn is_proportional(&self) -> bool {
        true
    }

    fn restore_entries(&self, exit_duty: Option<f64>) -> Vec<RestoreEntry> {
        let pwm = self.dir.join("pwm1");
        let enable = self.dir.join("pwm1_enable");
        match exit_duty {
            Some(duty) => {
                let duty = duty.clamp(0.0, 1.0);
                let mut entries = Vec::new();
                if self.original_enable.is_some() {
                    entries.push(RestoreEntry::new(enable, PWM_ENABLE_MANUAL));
                }
                entries.push(RestoreEntry::new(pwm, Self::pwm_value(duty)));
                entries
            }
            None => {
                let mut entries = Vec::new();
                if let Some(value) = &self.original_pwm {
                    entries.push(RestoreEntry::new(pwm, value.clone()));
                }
                if let Some(value) = &self.original_enable {
                    entries.push(RestoreEntry::new(enable, value.clone()));
                }
                entries
            }
        }
    }
}

/// A "fan" that writes its duty as text ("0.000" to "1.000", no newline) to a file, for
/// tests and simulation. The path is used as given (it is not a sysfs path); each write
/// is atomic (temp file + rename), so a reader never sees a torn value.
#[derive(Debug, Clone)]
pub struct FileFan {
    path: PathBuf,
    original: Option<String>,
}

impl FileFan {
    /// Uses `path`, remembering its current content (if any) for restore. Its directory must exist.
    pub fn open(path: &Path) -> Result<Self, HwError> {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(HwError::NotFound {
                path: parent.to_path_buf(),
            });
        }
        let original = match read_text(path) {
            Ok(text) => Some(text),
            Err(HwError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(FileFan {
            path: path.to_path_buf(),
            original,
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text written for a duty.
    pub fn duty_text(duty: f64) -> String {
        format!("{duty:.3}")
    }
}

impl Fan for FileFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        write_atomically(&self.path, &Self::duty_text(check_duty(duty)?))
    }

    fn driver(&self) -> &'static str {
        "file"
    }

    fn is_proportional(&self) -> bool {
        true
    }

    fn restore_entries(&self, exit_duty: Option<f64>) -> Vec<RestoreEntry> {
        match exit_duty {
            Some(duty) => vec![RestoreEntry::new(
                self.path.clone(),
                Self::duty_text(duty.clamp(0.0, 1.0)),
            )],
            None => self
                .original
                .as_ref()
                .map(|text| RestoreEntry::new(self.path.clone(), text.trim_end().to_string()))
                .into_iter()
                .collect(),
        }
    }
}
