//! The files a crash restore may write: only what warden itself records, so a state file
//! that names anything else (a forged one, in a state directory another account can write)
//! cannot turn `warden restore` run as root into a write to any file it likes.
//!
//! warden records the cpufreq attributes `scaling_max_freq` and `scaling_governor`, the
//! hwmon fan's `pwm1` and `pwm1_enable`, and the `file` fan's own file (`fan.path`). An
//! attribute is written in place, never created, never through a symbolic link (a sysfs
//! attribute is never one), and never when it is a regular file with other hard links (a
//! sysfs attribute has one link), so a recorded name can reach only an existing file of
//! that name, not another file linked under it. A plain file, replaced whole and created
//! when missing, is written only when it is the `file` fan's path in the configuration the
//! restore runs with, and not when a regular file with other hard links stands there
//! (warden replaces its file whole, so it never has any). A refused file is left as it was
//! ([`HwError::RefusedValue`]). When the kernel refuses a write, the file is read back to
//! see whether it already holds the value, by the same rules: never through a symbolic
//! link, never from a file with other hard links. These checks are made where the files
//! are opened (`write_recorded_attribute` and `replace_recorded_file` in `sysfs_io`). The
//! value must be one warden writes there (a governor name, a PWM duty 0–255, a fan mode,
//! a file-fan duty 0–1), so even a redirected write cannot carry text of an attacker's
//! choosing.

use std::path::{Path, PathBuf};

use super::RestoreEntry;
use crate::cpufreq::{GOVERNOR_FILE, MAX_FREQ_FILE};
use crate::error::HwError;
use crate::fan::{PWM_ENABLE_FILE, PWM_FILE};
use crate::spec::FanSpec;
use crate::sysfs_io::in_sysfs;

/// The attribute names warden records, the only ones a restore writes in place.
pub const RECORDED_ATTRIBUTES: [&str; 4] =
    [MAX_FREQ_FILE, GOVERNOR_FILE, PWM_FILE, PWM_ENABLE_FILE];

/// What a restore may write: the [`RECORDED_ATTRIBUTES`] anywhere, and the `file` fan's
/// path when the configuration names one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreTargets {
    /// `fan.path` when `fan.driver = "file"`.
    fan_file: Option<PathBuf>,
    /// The configuration did not validate, so whether it has a file fan is unknown.
    unvalidated: bool,
}

impl RestoreTargets {
    /// Targets for a configuration whose `file` fan writes `fan_file` (`None`: no file fan).
    pub fn new(fan_file: Option<PathBuf>) -> Self {
        RestoreTargets {
            fan_file,
            unvalidated: false,
        }
    }

    /// Targets when the configuration did not validate: the recorded attributes, and no
    /// file to create ([`HwError::UnvalidatedFanFile`] says why).
    pub fn without_a_valid_config() -> Self {
        RestoreTargets {
            fan_file: None,
            unvalidated: true,
        }
    }

    /// Targets for the fan `fan` describes: its file when it is the `file` fan.
    pub fn for_fan(fan: &FanSpec) -> Self {
        match fan {
            FanSpec::File { path } => RestoreTargets::new(Some(path.clone())),
            _ => RestoreTargets::default(),
        }
    }

    /// Refuses `entry` ([`HwError::RefusedValue`], nothing written) unless it is a file
    /// warden records.
    pub(super) fn check(&self, entry: &RestoreEntry) -> Result<(), HwError> {
        let refused = |reason: String| Err(HwError::refused(&entry.path, &entry.value, reason));
        if entry.creates_file && !in_sysfs(&entry.path) {
            return match &self.fan_file {
                Some(fan) if fan == &entry.path => match is_duty_text(&entry.value) {
                    true => Ok(()),
                    false => refused("the file fan's value is a duty from 0 to 1".to_owned()),
                },
                Some(fan) => refused(format!(
                    "a file to create, and warden creates only the file fan's fan.path, \
                     which is {} in this configuration",
                    fan.display()
                )),
                None if self.unvalidated => Err(HwError::UnvalidatedFanFile {
                    path: entry.path.clone(),
                }),
                None => refused(
                    "a file to create, and warden creates only the file fan's fan.path, \
                     which this configuration does not use (fan.driver is not \"file\")"
                        .to_owned(),
                ),
            };
        }
        if let Some(name) = recorded_attribute(&entry.path) {
            return match value_fits(name, &entry.value) {
                Ok(()) => Ok(()),
                Err(what) => refused(format!("{name} holds {what}")),
            };
        }
        refused(format!(
            "warden records only the attributes {} and the file fan's fan.path",
            RECORDED_ATTRIBUTES.join(", ")
        ))
    }
}

/// `path`'s file name when it is one of the [`RECORDED_ATTRIBUTES`].
fn recorded_attribute(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    RECORDED_ATTRIBUTES
        .iter()
        .copied()
        .find(|&recorded| recorded == name)
}

/// Whether `value` is one warden writes to the attribute `name`, else what it should
/// be. (`scaling_max_freq` is checked against its policy's limits when written.)
fn value_fits(name: &str, value: &str) -> Result<(), &'static str> {
    let fits = match name {
        GOVERNOR_FILE => {
            value.len() <= GOVERNOR_NAME_MAX
                && value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }
        PWM_FILE => value.parse::<u8>().is_ok(),
        PWM_ENABLE_FILE => value.parse::<u8>().is_ok_and(|mode| mode <= PWM_ENABLE_MAX),
        _ => return Ok(()),
    };
    match (fits, name) {
        (true, _) => Ok(()),
        (false, GOVERNOR_FILE) => Err("a governor name (lowercase letters, digits, _)"),
        (false, PWM_FILE) => Err("a PWM duty from 0 to 255"),
        (false, _) => Err("a hwmon fan mode from 0 to 5"),
    }
}

/// Longest governor name the kernel takes (CPUFREQ_NAME_LEN, 16, less its NUL).
const GOVERNOR_NAME_MAX: usize = 15;
/// Highest hwmon `pwm1_enable` mode.
const PWM_ENABLE_MAX: u8 = 5;

/// True for a duty as the `file` fan writes it: a decimal from 0 to 1 ("0.400").
fn is_duty_text(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value
            .parse::<f64>()
            .is_ok_and(|duty| (0.0..=1.0).contains(&duty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(targets: &RestoreTargets, entry: RestoreEntry) -> Result<(), String> {
        targets.check(&entry).map_err(|e| e.to_string())
    }

    #[test]
    fn recorded_attributes_pass_and_any_other_file_is_refused() {
        let targets = RestoreTargets::default();
        let policy = "/sys/devices/system/cpu/cpufreq/policy0";
        for name in RECORDED_ATTRIBUTES {
            check(&targets, RestoreEntry::new(format!("{policy}/{name}"), "1")).unwrap();
        }
        let refused = check(&targets, RestoreEntry::new("/etc/shadow", "x")).unwrap_err();
        assert!(
            refused.contains("/etc/shadow") && refused.contains("records only the attributes"),
            "{refused}"
        );
    }

    #[test]
    fn a_value_warden_never_writes_is_refused() {
        let targets = RestoreTargets::new(Some(PathBuf::from("/srv/fan")));
        let at = |name: &str, value: &str| {
            let path = format!("/sys/devices/system/cpu/cpufreq/policy0/{name}");
            check(&targets, RestoreEntry::new(path, value))
        };
        at(GOVERNOR_FILE, "ondemand").unwrap();
        at(GOVERNOR_FILE, "* * * * * root sh").unwrap_err();
        at(PWM_FILE, "255").unwrap();
        at(PWM_FILE, "256").unwrap_err();
        at(PWM_ENABLE_FILE, "2").unwrap();
        at(PWM_ENABLE_FILE, "7").unwrap_err();
        check(&targets, RestoreEntry::plain_file("/srv/fan", "0.400")).unwrap();
        let refused =
            check(&targets, RestoreEntry::plain_file("/srv/fan", "#!/bin/sh")).unwrap_err();
        assert!(refused.contains("a duty from 0 to 1"), "{refused}");
        check(&targets, RestoreEntry::plain_file("/srv/fan", "1.5")).unwrap_err();
    }

    #[test]
    fn a_file_to_create_must_be_the_configured_file_fan() {
        let fan = PathBuf::from("/var/lib/warden/fan");
        let targets = RestoreTargets::new(Some(fan.clone()));
        check(&targets, RestoreEntry::plain_file(&fan, "1.000")).unwrap();
        let cron = RestoreEntry::plain_file("/etc/cron.d/x", "* * * * * root sh");
        let refused = check(&targets, cron.clone()).unwrap_err();
        assert!(refused.contains("/var/lib/warden/fan"), "{refused}");
        let refused = check(&RestoreTargets::default(), cron).unwrap_err();
        assert!(refused.contains("does not use"), "{refused}");
        // Named like an attribute, still a file to create: only the fan's path.
        let named_like = RestoreEntry::plain_file("/etc/pwm1", "1");
        check(&RestoreTargets::default(), named_like).unwrap_err();
    }

    #[test]
    fn without_a_valid_config_no_file_is_created_and_the_message_says_why() {
        let unvalidated = RestoreTargets::without_a_valid_config();
        let fan = RestoreEntry::plain_file("/var/lib/warden/fan", "1.000");
        let refused = check(&unvalidated, fan).unwrap_err();
        assert!(
            refused.contains("the configuration did not validate")
                && refused.contains("run warden restore again")
                && !refused.contains("does not use")
                && !refused.contains("damaged"),
            "{refused}"
        );
        // The recorded attributes are still put back.
        let policy = "/sys/devices/system/cpu/cpufreq/policy0";
        check(
            &unvalidated,
            RestoreEntry::new(format!("{policy}/{MAX_FREQ_FILE}"), "1500000"),
        )
        .unwrap();
    }
}
