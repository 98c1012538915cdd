//! Temperature from sysfs: thermal zones and hwmon `temp*_input` files.
//!
//! Both hold an integer in millidegrees Celsius ("48312\n"). `auto` picks the thermal zone
//! whose `type` is `cpu-thermal` (the Pi's SoC sensor), else `thermal_zone0`. The chosen
//! file is opened once when the sensor is built, so a missing, unreadable or non-regular
//! file is reported at start-up with its path rather than as a sensor fault later.

use std::path::{Path, PathBuf};

use crate::error::HwError;
use crate::sysfs_io::{
    numbered_entries, parse_error, probe_attribute, read_trimmed, resolve_under_root,
};
use crate::TempSensor;

/// Directory of thermal zones, relative to the sysfs root.
pub const THERMAL_CLASS_DIR: &str = "sys/class/thermal";
/// The thermal zone `type` that `auto` prefers: the SoC sensor on every Pi.
pub const CPU_THERMAL_TYPE: &str = "cpu-thermal";

/// What a temperature file must hold.
const MILLIDEGREES: &str = "an integer temperature in millidegrees Celsius";

/// A temperature file in millidegrees Celsius: a thermal zone's `temp` or a hwmon `temp*_input`.
#[derive(Debug, Clone)]
pub struct SysfsThermalZone {
    path: PathBuf,
    description: String,
}

impl SysfsThermalZone {
    /// Picks the zone whose `type` is `cpu-thermal`, else `thermal_zone0`, under `sysfs_root`.
    ///
    /// Errors: the thermal class directory cannot be listed, or the picked zone's `temp`
    /// exists but this process may not read it (EACCES, EPERM):
    /// [`HwError::PermissionDenied`] naming the directory or file, since that is a
    /// misconfiguration to fix, not a machine without a sensor. [`HwError::NoThermalZone`]
    /// when there is no zone to pick, or the picked zone's `temp` fails to open any other
    /// way, e.g. EIO or EINVAL from some VMs' ACPI zones (the reason names both). A passing
    /// glitch (ENODATA, EAGAIN) is accepted: the controller retries it every tick.
    pub fn auto(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(THERMAL_CLASS_DIR);
        let zones = numbered_entries(&dir, "thermal_zone")?;
        let cpu_zone = zones.iter().find(|(_, zone)| {
            read_trimmed(&zone.join("type"), "a zone type").is_ok_and(|t| t == CPU_THERMAL_TYPE)
        });
        let chosen = match cpu_zone.or_else(|| zones.iter().find(|(number, _)| *number == 0)) {
            Some((_, zone)) => zone.clone(),
            None => {
                let reason = if zones.is_empty() {
                    "it holds no thermal_zone* directory".to_string()
                } else {
                    format!(
                        "none of its {} zones is {CPU_THERMAL_TYPE:?} or thermal_zone0",
                        zones.len()
                    )
                };
                return Err(HwError::NoThermalZone { dir, reason });
            }
        };
        let temp = chosen.join("temp");
        check_chosen_temp(&dir, &temp, probe_attribute(&temp))?;
        Ok(Self::at(temp))
    }

    /// Uses an explicit file (or a thermal zone directory, meaning its `temp`), resolved by
    /// [`resolve_under_root`]. It must open for reading as a regular file: a missing file is
    /// [`HwError::NotFound`], a FIFO or device [`HwError::NotRegularFile`], and so on.
    pub fn from_path(sysfs_root: &Path, path: &Path) -> Result<Self, HwError> {
        let mut resolved = resolve_under_root(sysfs_root, path);
        if resolved.is_dir() {
            resolved.push("temp");
        }
        match probe_attribute(&resolved) {
            Err(e) if !e.is_transient() => Err(e),
            _ => Ok(Self::at(resolved)),
        }
    }

    /// Wraps a file without checks, describing it from its directory's `type` or `name`.
    pub fn at(path: PathBuf) -> Self {
        let description = describe_file(&path);
        SysfsThermalZone { path, description }
    }

    /// The file read on every tick.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Judges how the `temp` that `auto` picked (in the thermal class `dir`) opened.
///
/// A permission error is returned as it is, naming the file: thermal zones are
/// world-readable, so it means the wrong user, a sandbox or a security module, which the
/// user must fix; turning it into [`HwError::NoThermalZone`] would let warden run with
/// thermal control off. Any other failure means the zone cannot serve as a sensor.
fn check_chosen_temp(dir: &Path, temp: &Path, opened: Result<(), HwError>) -> Result<(), HwError> {
    match opened {
        Ok(()) => Ok(()),
        Err(e) if e.is_transient() => Ok(()),
        Err(e @ HwError::PermissionDenied { .. }) => Err(e),
        Err(e) => Err(HwError::NoThermalZone {
            dir: dir.to_path_buf(),
            reason: format!("{} has no readable temp ({e})", describe_file(temp)),
        }),
    }
}

/// "thermal_zone0 (cpu-thermal)", "hwmon1/temp1_input (rp1_adc)", or the path itself.
fn describe_file(path: &Path) -> String {
    let Some(dir) = path.parent() else {
        return path.display().to_string();
    };
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Ok(kind) = read_trimmed(&dir.join("type"), "a zone type") {
        return format!("{dir_name} ({kind})");
    }
    if let Ok(name) = read_trimmed(&dir.join("name"), "a hwmon name") {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return format!("{dir_name}/{file} ({name})");
    }
    path.display().to_string()
}

/// Parses a millidegree reading ("48312", "-5000") into degrees Celsius.
pub fn parse_millidegrees(path: &Path, text: &str) -> Result<f64, HwError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(HwError::Empty {
            path: path.to_path_buf(),
            expected: MILLIDEGREES,
        });
    }
    let milli: i64 = trimmed
        .parse()
        .map_err(|_| parse_error(path, trimmed, MILLIDEGREES))?;
    Ok(milli as f64 / 1000.0)
}

impl TempSensor for SysfsThermalZone {
    fn read_celsius(&mut self) -> Result<f64, HwError> {
        let text = crate::sysfs_io::read_text(&self.path)?;
        parse_millidegrees(&self.path, &text)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millidegrees_parse_with_sign_and_newline() {
        let p = Path::new("t");
        assert_eq!(parse_millidegrees(p, "48312\n").unwrap(), 48.312);
        assert_eq!(parse_millidegrees(p, "-5000\n").unwrap(), -5.0);
        assert_eq!(parse_millidegrees(p, "0").unwrap(), 0.0);
    }

    /// The permission test in tests/hw/sensor.rs gets a real EACCES; the other errnos
    /// cannot be produced on a temp dir, so the judgement is checked on the mapped errors.
    #[test]
    fn only_permission_errors_on_the_chosen_temp_stop_auto() {
        let dir = Path::new("/root/sys/class/thermal");
        let temp = dir.join("thermal_zone0/temp");
        let judge = |errno| {
            let error = HwError::from_io(
                &temp,
                crate::error::Access::Read,
                std::io::Error::from_raw_os_error(errno),
            );
            check_chosen_temp(dir, &temp, Err(error))
        };
        for errno in [libc::EACCES, libc::EPERM] {
            assert!(
                matches!(judge(errno), Err(HwError::PermissionDenied { ref path, .. }) if path == &temp),
                "errno {errno}"
            );
        }
        for errno in [libc::EIO, libc::EINVAL] {
            let err = judge(errno).unwrap_err();
            assert!(
                matches!(&err, HwError::NoThermalZone { dir: d, reason } if d == dir
                    && reason.contains("has no readable temp")),
                "errno {errno}: {err:?}"
            );
        }
        for errno in [libc::ENODATA, libc::EAGAIN] {
            assert!(
                judge(errno).is_ok(),
                "errno {errno} is retried by the controller"
            );
        }
        assert!(check_chosen_temp(dir, &temp, Ok(())).is_ok());
    }

    #[test]
    fn garbage_and_empty_are_different_errors() {
        let p = Path::new("t");
        assert!(matches!(
            parse_millidegrees(p, "48.3C"),
            Err(HwError::Parse { .. })
        ));
        assert!(matches!(
            parse_millidegrees(p, " \n"),
            Err(HwError::Empty { .. })
        ));
    }
}
