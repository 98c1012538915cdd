//! Fans driven by plain file writes: the kernel's hwmon `pwm1` and a simulation file.
//!
//! Both record crash-restore writes only for an explicit exit duty: with `fan.on_exit =
//! "leave"` the fan stays as warden last set it, after a crash too.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::check_duty;
use crate::error::{Access, HwError};
use crate::restore::RestoreEntry;
use crate::sysfs_io::{
    ensure_regular, numbered_entries, parent_dir, read_text, read_trimmed, replace_plain_file,
    resolve_under_root, write_or_already_held, write_text,
};
use crate::Fan;

/// Directory of hwmon devices, relative to the sysfs root.
pub const HWMON_CLASS_DIR: &str = "sys/class/hwmon";
/// hwmon `name`s of fan controllers warden may drive (pwm-fan driver; the Pi 5 fan header).
pub const HWMON_FAN_NAMES: [&str; 2] = ["pwmfan", "cooling_fan"];

/// hwmon's `pwm1_enable` value for manual control.
const PWM_ENABLE_MANUAL: &str = "1";
/// A hwmon fan's duty file (0–255).
pub(crate) const PWM_FILE: &str = "pwm1";
/// A hwmon fan's mode file (1: manual).
pub(crate) const PWM_ENABLE_FILE: &str = "pwm1_enable";
/// How far a `pwm1` read back may lie from the value warden wrote before a re-assert calls
/// it changed: some hwmon chips keep fewer than 8 bits and read back a rounded value.
const PWM_READ_BACK_TOLERANCE: i32 = 4;
/// What [`HwError::NotRegularFile`] says the `file` fan's path should be.
const FAN_FILE: &str =
    "a regular file for fan.path (the \"file\" fan driver replaces it with each duty)";

/// At most this many characters of a file's text are quoted in what a re-assert found.
const QUOTED_CHARS: usize = 32;

/// `text` as found in a file, for a log line: plain when it is a short word of letters,
/// digits and dots (`2`, `0.500`), else quoted with escapes and cut to [`QUOTED_CHARS`].
fn quoted_prefix(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '.';
    if !text.is_empty() && text.len() <= QUOTED_CHARS && text.chars().all(plain) {
        return text.to_string();
    }
    let prefix: String = text.chars().take(QUOTED_CHARS).collect();
    let more = if prefix.len() < text.len() { "..." } else { "" };
    format!("{prefix:?}{more}")
}

/// A fan controlled through a hwmon device's `pwm1` (0–255), e.g. the Pi 5 fan header.
///
/// The first write switches `pwm1_enable` to 1 (manual); later duty changes write only
/// `pwm1`. The kernel's thermal governor may still set the speed through the fan's cooling
/// device when a trip point is crossed, and another tool may write `pwm1` or
/// `pwm1_enable`: [`Fan::reassert_duty`], which the controller calls periodically while the
/// duty is unchanged, writes manual mode and the duty again and says what it found instead.
#[derive(Debug, Clone)]
pub struct HwmonFan {
    dir: PathBuf,
    name: String,
    original_enable: Option<String>,
    manual: bool,
}

impl HwmonFan {
    /// Finds the hwmon device named `pwmfan` or `cooling_fan` (with a `pwm1`) under the root.
    pub fn discover(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(HWMON_CLASS_DIR);
        numbered_entries(&dir, "hwmon")?
            .into_iter()
            .map(|(_, device)| device)
            .find(|device| {
                device.join(PWM_FILE).is_file()
                    && read_trimmed(&device.join("name"), "a hwmon name")
                        .is_ok_and(|name| HWMON_FAN_NAMES.contains(&name.as_str()))
            })
            .map_or(Err(HwError::NoHwmonFan { dir }), |device| Self::at(&device))
    }

    /// Uses an explicit hwmon directory (resolved with [`resolve_under_root`]); it must hold `pwm1`.
    pub fn open(sysfs_root: &Path, dir: &Path) -> Result<Self, HwError> {
        Self::at(&resolve_under_root(sysfs_root, dir))
    }

    /// Opens a hwmon directory, remembering `pwm1_enable` (whether to switch it to manual).
    fn at(dir: &Path) -> Result<Self, HwError> {
        // Read once so a missing or unusable pwm1 is reported now, not at the first tick.
        read_trimmed(&dir.join(PWM_FILE), "a PWM value 0-255")?;
        let enable_path = dir.join(PWM_ENABLE_FILE);
        let original_enable = if enable_path.exists() {
            Some(read_trimmed(&enable_path, "a pwm1_enable mode")?)
        } else {
            None
        };
        let name = read_trimmed(&dir.join("name"), "a hwmon name").unwrap_or_default();
        Ok(HwmonFan {
            dir: dir.to_path_buf(),
            name,
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
        Self::pwm_level(duty).to_string()
    }

    /// The `pwm1` level (0–255) for a duty.
    fn pwm_level(duty: f64) -> u8 {
        (duty * 255.0).round() as u8
    }

    /// What `pwm1_enable` and `pwm1` hold where they differ from manual mode and `level`,
    /// e.g. `pwm1_enable 2, pwm1 0`; empty when they match or cannot be read (then there
    /// is nothing to tell, and the writes that follow say whether the files work).
    fn found_instead(&self, level: u8) -> Vec<String> {
        let mut found = Vec::new();
        if self.original_enable.is_some() {
            match read_trimmed(&self.dir.join(PWM_ENABLE_FILE), "a pwm1_enable mode") {
                Ok(mode) if mode != PWM_ENABLE_MANUAL => {
                    found.push(format!("{PWM_ENABLE_FILE} {}", quoted_prefix(&mode)));
                }
                _ => {}
            }
        }
        if let Ok(text) = read_trimmed(&self.dir.join(PWM_FILE), "a PWM value 0-255") {
            let off_by = text
                .parse::<i32>()
                .map(|read| (read - i32::from(level)).abs());
            if off_by.map_or(true, |off_by| off_by > PWM_READ_BACK_TOLERANCE) {
                found.push(format!("{PWM_FILE} {}", quoted_prefix(&text)));
            }
        }
        found
    }
}

impl Fan for HwmonFan {
    /// Writes manual mode first when it is due (a file that refuses the write but holds
    /// manual mode already counts as written), then the duty whatever the mode write did:
    /// a mode that could not be set is reported, and tried again by the next write.
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        let duty = check_duty(duty)?;
        let mode = match !self.manual && self.original_enable.is_some() {
            true => write_or_already_held(&self.dir.join(PWM_ENABLE_FILE), PWM_ENABLE_MANUAL),
            false => Ok(()),
        };
        self.manual |= mode.is_ok();
        write_text(&self.dir.join(PWM_FILE), &Self::pwm_value(duty))?;
        mode
    }

    /// Reads `pwm1_enable` and `pwm1`, then writes manual mode (when the device has a
    /// `pwm1_enable`) and the duty whatever they held.
    fn reassert_duty(&mut self, duty: f64) -> Result<Option<String>, HwError> {
        let found = self.found_instead(Self::pwm_level(check_duty(duty)?));
        // Manual mode is written again, as on the first write.
        self.manual = false;
        self.set_duty(duty)?;
        Ok((!found.is_empty()).then(|| found.join(", ")))
    }

    fn driver(&self) -> &'static str {
        "hwmon"
    }

    fn is_proportional(&self) -> bool {
        true
    }

    fn restore_entries(&self, exit_duty: Option<f64>) -> Vec<RestoreEntry> {
        let Some(duty) = exit_duty else {
            return Vec::new();
        };
        let mut entries = Vec::new();
        if self.original_enable.is_some() {
            entries.push(RestoreEntry::new(
                self.dir.join(PWM_ENABLE_FILE),
                PWM_ENABLE_MANUAL,
            ));
        }
        entries.push(RestoreEntry::new(
            self.dir.join(PWM_FILE),
            Self::pwm_value(duty.clamp(0.0, 1.0)),
        ));
        entries
    }
}

/// A "fan" that writes its duty as text ("0.000" to "1.000", no newline) to a file, for
/// tests and simulation. The path is used as given (it is not a sysfs path); each write
/// is atomic (temp file + rename), so a reader never sees a torn value, and recreates a
/// file that was removed. Errors name `fan.path`'s file or its missing directory.
#[derive(Debug, Clone)]
pub struct FileFan {
    path: PathBuf,
}

impl FileFan {
    /// The config key naming the file, in errors about it.
    pub const PATH_SETTING: &'static str = "fan.path";

    /// Uses `path` (`fan.path`): its directory must exist ([`HwError::MissingDirectory`]),
    /// and the path must be absent or a regular file ([`HwError::NotRegularFile`]).
    pub fn open(path: &Path) -> Result<Self, HwError> {
        let parent = parent_dir(path);
        let missing_dir = || HwError::MissingDirectory {
            dir: parent.to_path_buf(),
            setting: Self::PATH_SETTING,
        };
        match fs::metadata(parent) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(missing_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing_dir()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Err(missing_dir()),
            Err(e) => return Err(HwError::from_io(parent, Access::Read, e)),
        }
        match fs::metadata(path) {
            Ok(meta) => ensure_regular(path, meta.file_type(), FAN_FILE)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(HwError::from_io(path, Access::Read, e)),
        }
        Ok(FileFan {
            path: path.to_path_buf(),
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
        let text = Self::duty_text(check_duty(duty)?);
        replace_plain_file(&self.path, &text, Self::PATH_SETTING)
    }

    /// Reads the file, then replaces it with the duty whatever it held.
    fn reassert_duty(&mut self, duty: f64) -> Result<Option<String>, HwError> {
        let text = Self::duty_text(check_duty(duty)?);
        let found = match read_text(&self.path) {
            Ok(held) if held.trim() == text => None,
            Ok(held) => Some(format!(
                "{} holds {}",
                self.path.display(),
                quoted_prefix(held.trim())
            )),
            Err(HwError::NotFound { .. }) => Some(format!("{} is gone", self.path.display())),
            // Unreadable: nothing to tell; the write says whether the file works.
            Err(_) => None,
        };
        self.set_duty(duty)?;
        Ok(found)
    }

    fn driver(&self) -> &'static str {
        "file"
    }

    fn is_proportional(&self) -> bool {
        true
    }

    /// The exit duty as an entry that creates the file when missing, as the fan does.
    fn restore_entries(&self, exit_duty: Option<f64>) -> Vec<RestoreEntry> {
        exit_duty
            .map(|duty| {
                RestoreEntry::plain_file(self.path.clone(), Self::duty_text(duty.clamp(0.0, 1.0)))
            })
            .into_iter()
            .collect()
    }
}
