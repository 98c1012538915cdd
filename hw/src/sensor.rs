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

/// A hwmon device's first temperature input, read when its directory is given.
const HWMON_FIRST_INPUT: &str = "temp1_input";

/// What a temperature file must hold.
const MILLIDEGREES: &str = "an integer temperature in millidegrees Celsius";

/// A temperature file in millidegrees Celsius: a thermal zone's `temp` or a hwmon `temp*_input`.
#[derive(Debug, Clone)]
pub struct SysfsThermalZone {
    path: PathBuf,
    description: String,
}

impl SysfsThermalZone {
    /// Picks the zone whose `type` is `cpu-thermal` under `sysfs_root`, else the
    /// lowest-numbered zone whose `temp` gives a temperature now.
    ///
    /// The Pi's SoC zone is taken even if its first read fails: that sensor is the one that
    /// matters, so its failure is a sensor fault for the controller to act on (a passing
    /// ENODATA or EAGAIN is simply retried). Another machine's zones are tried in turn,
    /// because some never give a reading (a Wi-Fi chip's zone while the interface is down
    /// answers ENODATA): picking such a zone would put warden in its sensor fail-safe for
    /// good.
    ///
    /// Errors: the thermal class directory cannot be listed, or a zone's `temp` exists but
    /// this process may not read it (EACCES, EPERM): [`HwError::PermissionDenied`] naming
    /// the directory or file, since that is a misconfiguration to fix, not a machine without
    /// a sensor. [`HwError::NoThermalZone`] when there is no zone, the SoC zone's `temp`
    /// cannot be opened (EIO or EINVAL from some VMs' ACPI zones), or no other zone gives a
    /// temperature; the reason names each zone tried and why it was passed over.
    pub fn auto(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(THERMAL_CLASS_DIR);
        let zones = numbered_entries(&dir, "thermal_zone")?;
        let cpu_zone = zones.iter().find(|(_, zone)| {
            read_trimmed(&zone.join("type"), "a zone type").is_ok_and(|t| t == CPU_THERMAL_TYPE)
        });
        if let Some((_, zone)) = cpu_zone {
            let temp = zone.join("temp");
            check_chosen_temp(&dir, &temp, probe_attribute(&temp))?;
            return Ok(Self::at(temp));
        }
        if zones.is_empty() {
            return Err(HwError::NoThermalZone {
                dir,
                reason: "it holds no thermal_zone* directory".to_string(),
            });
        }
        first_zone_reading(&dir, zones.iter().map(|(_, zone)| zone.join("temp")))
    }

    /// Uses an explicit file, resolved by [`resolve_under_root`]; a directory means its
    /// `temp` (a thermal zone), or its `temp1_input` when it has no `temp` (a hwmon device).
    /// It must open for reading as a regular file: a missing file is [`HwError::NotFound`],
    /// a FIFO or device [`HwError::NotRegularFile`], and so on.
    pub fn from_path(sysfs_root: &Path, path: &Path) -> Result<Self, HwError> {
        let mut resolved = resolve_under_root(sysfs_root, path);
        if resolved.is_dir() {
            let hwmon_input = resolved.join(HWMON_FIRST_INPUT);
            let zone_temp = resolved.join("temp");
            resolved = match zone_temp.exists() || !hwmon_input.exists() {
                true => zone_temp,
                false => hwmon_input,
            };
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

/// Most zones a [`HwError::NoThermalZone`] reason lists one by one.
const LISTED_ZONES_MAX: usize = 4;

/// The first of `temps` (in the thermal class `dir`) that gives a temperature now; a
/// permission error stops the search (see [`check_chosen_temp`]).
fn first_zone_reading(
    dir: &Path,
    temps: impl Iterator<Item = PathBuf>,
) -> Result<SysfsThermalZone, HwError> {
    let mut passed_over = Vec::new();
    let mut tried: usize = 0;
    for temp in temps {
        let mut zone = SysfsThermalZone::at(temp);
        match zone.read_celsius() {
            Ok(_) => return Ok(zone),
            Err(e @ HwError::PermissionDenied { .. }) => return Err(e),
            Err(e) => {
                tried += 1;
                if passed_over.len() < LISTED_ZONES_MAX {
                    passed_over.push(format!("{}: {e}", zone.describe()));
                }
            }
        }
    }
    let more = match tried.saturating_sub(LISTED_ZONES_MAX) {
        0 => String::new(),
        n => format!("; and {n} more"),
    };
    Err(HwError::NoThermalZone {
        dir: dir.to_path_buf(),
        reason: format!(
            "none of its {tried} zones is {CPU_THERMAL_TYPE:?}, and none gave a temperature \
             when read ({}{more})",
            passed_over.join("; ")
        ),
    })
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

    /// A sysfs root holding zones 0.. with these `temp` contents (`None`: no file).
    fn root_with_zones(name: &str, temps: &[Option<&str>]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("warden-auto-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (n, temp) in temps.iter().enumerate() {
            let zone = root
                .join(THERMAL_CLASS_DIR)
                .join(format!("thermal_zone{n}"));
            std::fs::create_dir_all(&zone).unwrap();
            std::fs::write(zone.join("type"), format!("zone-{n}")).unwrap();
            if let Some(text) = temp {
                std::fs::write(zone.join("temp"), text).unwrap();
            }
        }
        root
    }

    #[test]
    fn without_a_soc_zone_auto_takes_the_first_zone_that_gives_a_reading() {
        // A zone with no reading (here garbage and a missing file; ENODATA on a real box)
        // is passed over rather than handed to the controller as a permanent fault.
        let root = root_with_zones("first", &[Some("n/a\n"), None, Some("41000\n")]);
        let mut zone = SysfsThermalZone::auto(&root).unwrap();
        assert_eq!(zone.describe(), "thermal_zone2 (zone-2)");
        assert_eq!(zone.read_celsius().unwrap(), 41.0);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn when_no_zone_reads_the_reason_names_each_one_tried() {
        let root = root_with_zones("none", &[Some("n/a\n"); 6]);
        let err = SysfsThermalZone::auto(&root).unwrap_err();
        let HwError::NoThermalZone { reason, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(
            reason.starts_with("none of its 6 zones is \"cpu-thermal\""),
            "{reason}"
        );
        assert!(
            reason.contains("thermal_zone0 (zone-0): ") && reason.contains("n/a"),
            "{reason}"
        );
        assert!(
            reason.contains("thermal_zone3") && !reason.contains("thermal_zone4"),
            "{reason}"
        );
        assert!(reason.ends_with("; and 2 more)"), "{reason}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_hwmon_directory_means_its_first_input_and_a_zone_directory_its_temp() {
        let root = std::env::temp_dir().join(format!("warden-dir-sensor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let hwmon = root.join("hwmon0");
        let zone = root.join("thermal_zone0");
        for dir in [&hwmon, &zone] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(hwmon.join(HWMON_FIRST_INPUT), "52000\n").unwrap();
        std::fs::write(zone.join("temp"), "47000\n").unwrap();
        std::fs::write(zone.join(HWMON_FIRST_INPUT), "1\n").unwrap();
        let picked = |dir: &Path| {
            SysfsThermalZone::from_path(&root, dir)
                .unwrap()
                .path()
                .to_path_buf()
        };
        assert_eq!(picked(&hwmon), hwmon.join(HWMON_FIRST_INPUT));
        assert_eq!(picked(&zone), zone.join("temp"));
        std::fs::remove_dir_all(root).unwrap();
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
