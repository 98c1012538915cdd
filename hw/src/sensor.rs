//! Temperature from sysfs: thermal zones and hwmon `temp*_input` files.
//!
//! Both hold an integer in millidegrees Celsius ("48312\n"). `auto` picks the thermal zone
//! whose `type` is `cpu-thermal` (the Pi's SoC sensor) when its `temp` opens, else the
//! lowest-numbered other zone whose `temp` gives a temperature now. Passing over the SoC
//! zone is logged as a warning naming why; the other zones passed over on the way, and
//! why, are kept for the start-up notes ([`SysfsThermalZone::passed_over`]).
//! The chosen file is opened once when the sensor is built, so a missing, unreadable or
//! non-regular file is reported at start-up with its path rather than as a sensor fault
//! later. Zone `type` and hwmon `name` texts are quoted cut to [`QUOTED_NAME_MAX_CHARS`].

use std::fs;
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
/// Longest zone `type` or hwmon `name` quoted in descriptions and messages; longer ones end
/// in an ellipsis.
pub const QUOTED_NAME_MAX_CHARS: usize = 32;
/// Most `temp*_input` files named when a directory has neither `temp` nor `temp1_input`.
const LISTED_INPUTS_MAX: usize = 8;

/// What a temperature file must hold.
const MILLIDEGREES: &str = "an integer temperature in millidegrees Celsius";

/// A temperature file in millidegrees Celsius: a thermal zone's `temp` or a hwmon `temp*_input`.
#[derive(Debug, Clone)]
pub struct SysfsThermalZone {
    path: PathBuf,
    description: String,
    passed_over: Vec<String>,
}

impl SysfsThermalZone {
    /// Picks the zone whose `type` is `cpu-thermal` under `sysfs_root` when its `temp`
    /// opens, else the lowest-numbered other zone whose `temp` gives a temperature now.
    ///
    /// The Pi's SoC zone is taken once its `temp` opens as a regular file, even if what it
    /// reads is not a temperature: that sensor is the one that matters, so its failure is a
    /// sensor fault for the controller to act on (fan full); a passing ENODATA or EAGAIN is
    /// simply retried. A SoC zone whose `temp` is missing, not a regular file or fails to
    /// open (EIO or EINVAL from some VMs' ACPI zones) cannot serve at all, so it is passed
    /// over for the other zones. Those are tried in turn, because some never give a
    /// reading (a Wi-Fi chip's zone while the interface is down answers ENODATA): picking
    /// such a zone would put warden in its sensor fail-safe for good. A SoC zone passed over
    /// is a warning naming the zone, why, and the zone read instead; the other zones passed
    /// over are listed, with why, by [`SysfsThermalZone::passed_over`].
    ///
    /// Errors: the thermal class directory cannot be listed, or a zone's `temp` exists but
    /// this process may not read it (EACCES, EPERM): [`HwError::PermissionDenied`] naming
    /// the directory or file, since that is a misconfiguration to fix, not a machine without
    /// a sensor. [`HwError::NoThermalZone`] when there is no zone, or no zone serves (the
    /// SoC zone's `temp` does not open and no other zone gives a temperature); the reason
    /// names each zone tried, the SoC zone first, and why it was passed over.
    pub fn auto(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(THERMAL_CLASS_DIR);
        let zones = numbered_entries(&dir, "thermal_zone")?;
        if zones.is_empty() {
            return Err(HwError::NoThermalZone {
                dir,
                reason: "it holds no thermal_zone* directory".to_string(),
            });
        }
        let cpu_zone = zones.iter().position(|(_, zone)| {
            read_trimmed(&zone.join("type"), "a zone type").is_ok_and(|t| t == CPU_THERMAL_TYPE)
        });
        let mut soc_passed_over = None;
        if let Some(index) = cpu_zone {
            let temp = zones[index].1.join("temp");
            match judge_soc_temp(probe_attribute(&temp)) {
                SocTemp::Take => return Ok(Self::at(temp)),
                SocTemp::Stop(error) => return Err(error),
                SocTemp::PassOver(error) => {
                    soc_passed_over = Some(format!("{}: {error}", describe_file(&temp)));
                }
            }
        }
        let others = zones
            .iter()
            .enumerate()
            .filter(|(index, _)| Some(*index) != cpu_zone)
            .map(|(_, (_, zone))| zone.join("temp"));
        let zone = first_zone_reading(&dir, others, soc_passed_over.as_deref())?;
        if let Some(soc) = &soc_passed_over {
            log::warn!(
                "thermal.sensor = \"auto\": passed over the {CPU_THERMAL_TYPE:?} zone, whose \
                 temp does not open ({soc}); reading {} instead, which may not be the SoC's \
                 temperature: fix that zone or set thermal.sensor",
                zone.describe()
            );
        }
        Ok(zone)
    }

    /// Uses an explicit file, resolved by [`resolve_under_root`]; a directory means its
    /// `temp` (a thermal zone), or its `temp1_input` when it has no `temp` (a hwmon device).
    /// It must open for reading as a regular file: a missing file is [`HwError::NotFound`],
    /// a FIFO or device [`HwError::NotRegularFile`], and so on. A directory with neither
    /// file is [`HwError::InvalidSpec`] naming the `temp*_input` files it has.
    pub fn from_path(sysfs_root: &Path, path: &Path) -> Result<Self, HwError> {
        let mut resolved = resolve_under_root(sysfs_root, path);
        if resolved.is_dir() {
            let zone_temp = resolved.join("temp");
            let hwmon_input = resolved.join(HWMON_FIRST_INPUT);
            resolved = match (is_missing(&zone_temp), is_missing(&hwmon_input)) {
                (false, _) => zone_temp,
                (true, false) => hwmon_input,
                (true, true) => return Err(no_temperature_file(&resolved)),
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
        SysfsThermalZone {
            path,
            description,
            passed_over: Vec::new(),
        }
    }

    /// The file read on every tick.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The zones other than the SoC's that `auto` tried and passed over before this one,
    /// each as `thermal_zone0 (wifi) passed over: <why>`, at most [`LISTED_ZONES_MAX`] and
    /// then a count of the rest: for the start-up notes. Empty when the first zone tried
    /// served (a SoC zone passed over is a warning of its own, see [`SysfsThermalZone::auto`]).
    pub fn passed_over(&self) -> &[String] {
        &self.passed_over
    }
}

/// Zones `auto` passed over, with why: the first [`LISTED_ZONES_MAX`] by name, the rest
/// counted.
#[derive(Default)]
struct PassedOver {
    listed: Vec<(String, String)>,
    count: usize,
}

impl PassedOver {
    /// Counts a zone passed over (`zone`: its description), listing it while there is room.
    fn add(&mut self, zone: &str, why: &HwError) {
        self.count += 1;
        if self.listed.len() < LISTED_ZONES_MAX {
            self.listed.push((zone.to_string(), why.to_string()));
        }
    }

    /// Zones counted but not listed.
    fn unlisted(&self) -> usize {
        self.count - self.listed.len()
    }

    /// "; and N more" for the zones counted but not listed, else nothing.
    fn more(&self) -> String {
        match self.unlisted() {
            0 => String::new(),
            n => format!("; and {n} more"),
        }
    }

    /// One line per zone listed, then one counting the rest, as notes.
    fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self
            .listed
            .iter()
            .map(|(zone, why)| format!("{zone} passed over: {why}"))
            .collect();
        match self.unlisted() {
            0 => {}
            n => notes.push(format!("{n} more zones passed over")),
        }
        notes
    }

    /// "zone: why; zone: why; and N more", for an error's reason.
    fn reason_list(&self) -> String {
        let listed: Vec<String> = self
            .listed
            .iter()
            .map(|(zone, why)| format!("{zone}: {why}"))
            .collect();
        format!("{}{}", listed.join("; "), self.more())
    }
}

/// Most zones a [`HwError::NoThermalZone`] reason, or the passed-over notes, list one by one.
pub const LISTED_ZONES_MAX: usize = 4;

/// The first of `temps` (in the thermal class `dir`) that gives a temperature now; a
/// permission error stops the search (see [`judge_soc_temp`]). `soc_passed_over` is
/// "zone: why" for a SoC zone whose `temp` did not open, named first in the error.
fn first_zone_reading(
    dir: &Path,
    temps: impl Iterator<Item = PathBuf>,
    soc_passed_over: Option<&str>,
) -> Result<SysfsThermalZone, HwError> {
    let mut passed_over = PassedOver::default();
    for temp in temps {
        let mut zone = SysfsThermalZone::at(temp);
        match zone.read_celsius() {
            Ok(_) => {
                zone.passed_over = passed_over.notes();
                return Ok(zone);
            }
            Err(e @ HwError::PermissionDenied { .. }) => return Err(e),
            Err(e) => passed_over.add(&zone.description, &e),
        }
    }
    let reason = match (soc_passed_over, passed_over.count) {
        (None, tried) => format!(
            "none of its {tried} zones is {CPU_THERMAL_TYPE:?}, and none gave a temperature \
             when read ({})",
            passed_over.reason_list()
        ),
        (Some(soc), 0) => {
            format!("its only zone, the {CPU_THERMAL_TYPE:?} one, has no temp that opens ({soc})")
        }
        (Some(soc), others) => format!(
            "its {CPU_THERMAL_TYPE:?} zone has no temp that opens, and none of its {others} \
             other zones gave a temperature when read ({soc}; {})",
            passed_over.reason_list()
        ),
    };
    Err(HwError::NoThermalZone {
        dir: dir.to_path_buf(),
        reason,
    })
}

/// What `auto` does with the SoC zone, by how its `temp` opened.
#[derive(Debug)]
enum SocTemp {
    /// It opened, or failed in passing (ENODATA, EAGAIN): the sensor to use.
    Take,
    /// It cannot serve (missing, not a regular file, EIO, EINVAL): try the other zones.
    PassOver(HwError),
    /// Permission denied: a misconfiguration to fix, so start-up stops.
    Stop(HwError),
}

/// Judges how the SoC zone's `temp` opened.
///
/// A permission error stops start-up, naming the file: thermal zones are world-readable,
/// so it means the wrong user, a sandbox or a security module, which the user must fix;
/// passing over the zone would let warden run on a lesser sensor, or with thermal control
/// off. Any other failure to open means the zone cannot serve as a sensor.
fn judge_soc_temp(opened: Result<(), HwError>) -> SocTemp {
    match opened {
        Ok(()) => SocTemp::Take,
        Err(e) if e.is_transient() => SocTemp::Take,
        Err(e @ HwError::PermissionDenied { .. }) => SocTemp::Stop(e),
        Err(e) => SocTemp::PassOver(e),
    }
}

/// True when nothing exists at `path` (another failure to look, such as a permission
/// error, is left for opening the file to report).
fn is_missing(path: &Path) -> bool {
    matches!(fs::metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// The error for a sensor directory with neither `temp` nor `temp1_input`, naming the
/// `temp<N>_input` files it has (the first [`LISTED_INPUTS_MAX`]).
fn no_temperature_file(dir: &Path) -> HwError {
    let mut inputs: Vec<(u32, String)> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    let number = name.strip_prefix("temp")?.strip_suffix("_input")?;
                    Some((number.parse().ok()?, name))
                })
                .collect()
        })
        .unwrap_or_default();
    inputs.sort();
    let total = inputs.len();
    let names: Vec<String> = inputs
        .into_iter()
        .take(LISTED_INPUTS_MAX)
        .map(|(_, name)| name)
        .collect();
    let advice = match total {
        0 => "it has no temp*_input file either: set thermal.sensor to a temperature file \
              (millidegrees) or a thermal zone directory"
            .to_string(),
        _ => format!(
            "it has {}{}: set thermal.sensor to one of them",
            names.join(", "),
            match total - names.len() {
                0 => String::new(),
                more => format!(" and {more} more"),
            }
        ),
    };
    HwError::InvalidSpec {
        field: "thermal.sensor",
        reason: format!(
            "{} has neither temp nor temp1_input; {advice}",
            dir.display()
        ),
    }
}

/// `text` cut to [`QUOTED_NAME_MAX_CHARS`], an ellipsis marking the cut.
fn quoted_name(text: &str) -> String {
    if text.chars().count() <= QUOTED_NAME_MAX_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(QUOTED_NAME_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// "thermal_zone0 (cpu-thermal)", "hwmon1/temp1_input (rp1_adc)", or the path itself; the
/// `type` or `name` is cut to [`QUOTED_NAME_MAX_CHARS`].
fn describe_file(path: &Path) -> String {
    let Some(dir) = path.parent() else {
        return path.display().to_string();
    };
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Ok(kind) = read_trimmed(&dir.join("type"), "a zone type") {
        return format!("{dir_name} ({})", quoted_name(&kind));
    }
    if let Ok(name) = read_trimmed(&dir.join("name"), "a hwmon name") {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return format!("{dir_name}/{file} ({})", quoted_name(&name));
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
    fn only_permission_errors_on_the_soc_temp_stop_auto_and_open_failures_pass_it_over() {
        let temp = Path::new("/root/sys/class/thermal/thermal_zone0/temp");
        let judge = |errno| {
            let error = HwError::from_io(
                temp,
                crate::error::Access::Read,
                std::io::Error::from_raw_os_error(errno),
            );
            judge_soc_temp(Err(error))
        };
        for errno in [libc::EACCES, libc::EPERM] {
            assert!(
                matches!(judge(errno), SocTemp::Stop(HwError::PermissionDenied { ref path, .. }) if path == temp),
                "errno {errno}"
            );
        }
        for errno in [libc::EIO, libc::EINVAL] {
            let verdict = judge(errno);
            assert!(
                matches!(&verdict, SocTemp::PassOver(HwError::Io { .. })),
                "errno {errno}: {verdict:?}"
            );
        }
        for errno in [libc::ENODATA, libc::EAGAIN] {
            assert!(
                matches!(judge(errno), SocTemp::Take),
                "errno {errno} is retried by the controller"
            );
        }
        assert!(matches!(judge_soc_temp(Ok(())), SocTemp::Take));
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
