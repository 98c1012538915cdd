//! A fake sysfs tree on disk, for tests of this crate and of the daemon binary.
//!
//! [`FakeSysfsTree::create`] lays out, under a directory that then serves as
//! `hardware.sysfs_root`, what a Pi 4 shows: a `cpu-thermal` zone, one cpufreq policy with
//! `scaling_available_frequencies` "600000 1000000 1500000", the firmware throttle file,
//! a `cpu_thermal` hwmon, plus a fan file outside `sys/` for the `file` fan driver.
//! [`FakeSysfsLayout`] varies it (more zones or policies, no frequency list, a hwmon fan).
//! Values are written atomically (temp + rename) so a running daemon never reads a torn one.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use warden_hw::fake_sysfs::FakeSysfsTree;
//! use warden_hw::FanSpec;
//! let tree = FakeSysfsTree::create(std::path::Path::new("/tmp/warden-test/root"))?;
//! tree.set_temp_celsius(72.5)?;
//! let spec = tree.spec(FanSpec::File { path: tree.fan_file_path() });
//! let backends = warden_hw::build(&spec).expect("fake tree builds");
//! # drop(backends); Ok(()) }
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::cpufreq::CPUFREQ_DIR;
use crate::error::{Access, HwError};
use crate::fan::HWMON_CLASS_DIR;
use crate::restore::{RestoreEntry, RestoreState, StateOwner};
use crate::sensor::{parse_millidegrees, THERMAL_CLASS_DIR};
use crate::spec::{FanSpec, HardwareSpec, SensorSpec};
use crate::throttle::THROTTLE_FILE;

/// Name of the `file` fan's file, directly under the tree's root.
pub const FAN_FILE_NAME: &str = "fan_duty";
/// ext2/3/4 "immutable" inode flag (`chattr +i`), not exported by libc.
const FS_IMMUTABLE_FL: libc::c_int = 0x10;
/// [`FakeSysfsTree::ramp_temp_celsius`] moves at most this far per write (°C).
pub const RAMP_STEP_C: f64 = 5.0;
/// [`FakeSysfsTree::ramp_temp_celsius`] waits this long between writes.
pub const RAMP_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
/// Re-reads of a file caught empty mid-write (1 ms apart); see [`read_settled`].
pub const SETTLE_TRIES: u32 = 100;

/// What [`FakeSysfsTree::create_with`] lays out.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSysfsLayout {
    /// One `thermal_zone<i>` per entry, with that `type`.
    pub zone_types: Vec<String>,
    /// Initial temperature of every zone, °C.
    pub temp_celsius: f64,
    /// Number of cpufreq policies (`policy0`, `policy1`, ...); 0 = no cpufreq.
    pub policies: usize,
    /// `scaling_available_frequencies` as written (any order); `None` omits the file.
    pub available_khz: Option<Vec<u64>>,
    /// `cpuinfo_min_freq`.
    pub cpuinfo_min_khz: u64,
    /// `cpuinfo_max_freq`.
    pub cpuinfo_max_khz: u64,
    /// Initial `scaling_max_freq`.
    pub max_khz: u64,
    /// Initial `scaling_governor`.
    pub governor: String,
    /// `scaling_available_governors`.
    pub available_governors: String,
    /// Adds `hwmon1` named `pwmfan` with `pwm1` = 0 and `pwm1_enable` = 2 (Pi 5 style).
    pub hwmon_fan: bool,
    /// Content of the firmware throttle file; `None` omits it.
    pub throttle_raw: Option<u32>,
}

impl Default for FakeSysfsLayout {
    fn default() -> Self {
        FakeSysfsLayout {
            zone_types: vec!["cpu-thermal".into()],
            temp_celsius: 45.0,
            policies: 1,
            available_khz: Some(vec![600_000, 1_000_000, 1_500_000]),
            cpuinfo_min_khz: 600_000,
            cpuinfo_max_khz: 1_500_000,
            max_khz: 1_500_000,
            governor: "ondemand".into(),
            available_governors: "conservative ondemand userspace powersave performance schedutil"
                .into(),
            hwmon_fan: false,
            throttle_raw: Some(0),
        }
    }
}

/// How [`FakeSysfsTree::make_read_only`] made a file unwritable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOnlyMethod {
    /// The immutable inode flag (`chattr +i`): refuses root too. Cleared on drop.
    Immutable,
    /// Mode 0444: refuses only non-root processes.
    Mode0444,
}

/// A fake sysfs tree rooted at a directory (see the module docs).
#[derive(Debug)]
pub struct FakeSysfsTree {
    root: PathBuf,
    cpu_zone: usize,
    policies: usize,
    immutable: Mutex<Vec<PathBuf>>,
}

/// Writes `text` to `path` via a temp file and rename. The temp file's name is unique to
/// this process and this write (`.NAME.<pid>-<n>.tmp`), so two writers of the same file
/// (two processes, or two threads) never write into, nor rename away, each other's.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let tmp = temp_path_for(path);
    if let Err(error) = fs::write(&tmp, text) {
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    fs::rename(&tmp, path)
}

/// A temp file name beside `path` that no other process or write uses: the pid, and a
/// per-process count of writes.
fn temp_path_for(path: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let write = WRITES.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".{}-{write}.tmp", std::process::id()));
    path.with_file_name(tmp_name)
}

/// `error` with `path` in front of its message, its kind kept: io errors carry no path.
fn with_path(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Reads a file warden writes in place, as real sysfs attributes must be
/// written. On a plain file a reader can land between the writer's truncate
/// and its write and see it empty (real sysfs never shows that), so an empty
/// read is retried for up to [`SETTLE_TRIES`] ms; a file that stays empty is
/// returned as it is.
pub fn read_settled(path: &Path) -> io::Result<String> {
    let mut text = fs::read_to_string(path)?;
    for _ in 0..SETTLE_TRIES {
        if !text.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        text = fs::read_to_string(path)?;
    }
    Ok(text)
}

/// Writes `text` to `dir/name`, creating `dir`.
fn put(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), text)
}

fn join_khz(list: &[u64]) -> String {
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The values a ramp from `from` to `to` writes: steps of [`RAMP_STEP_C`], then `to`.
pub fn ramp_steps(from: f64, to: f64) -> Vec<f64> {
    let mut steps = Vec::new();
    let mut now = from;
    while (to - now).abs() > RAMP_STEP_C {
        now += RAMP_STEP_C.copysign(to - now);
        steps.push(now);
    }
    steps.push(to);
    steps
}

/// Saves, in `<dir>/run`, a crash-restore state owned by `owner` (if any) that puts
/// `1500000` back into `<dir>/scaling_max_freq`, which is left holding a throttled
/// `600000`; returns (state dir, max-freq file). For tests of `warden restore` and the
/// replay at start.
pub fn throttled_restore_state(
    dir: &Path,
    owner: Option<StateOwner>,
) -> Result<(PathBuf, PathBuf), HwError> {
    let max_freq = dir.join("scaling_max_freq");
    fs::write(&max_freq, "600000\n").map_err(|e| HwError::from_io(&max_freq, Access::Write, e))?;
    let state_dir = dir.join("run");
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new(&max_freq, "1500000"));
    if let Some(owner) = owner {
        state.set_owner(owner);
    }
    state.save(&state_dir)?;
    Ok((state_dir, max_freq))
}

fn millidegrees(celsius: f64) -> String {
    format!("{}\n", (celsius * 1000.0).round() as i64)
}

impl FakeSysfsTree {
    /// Lays out the default Pi 4 tree under `dir` (created if needed).
    pub fn create(dir: &Path) -> io::Result<Self> {
        Self::create_with(dir, &FakeSysfsLayout::default())
    }

    /// Lays out `layout` under `dir` (created if needed).
    pub fn create_with(dir: &Path, layout: &FakeSysfsLayout) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let root = dir.to_path_buf();
        let thermal = root.join(THERMAL_CLASS_DIR);
        for (index, kind) in layout.zone_types.iter().enumerate() {
            let zone = thermal.join(format!("thermal_zone{index}"));
            put(&zone, "type", &format!("{kind}\n"))?;
            put(&zone, "temp", &millidegrees(layout.temp_celsius))?;
        }
        let cpufreq = root.join(CPUFREQ_DIR);
        for index in 0..layout.policies {
            let policy = cpufreq.join(format!("policy{index}"));
            put(
                &policy,
                "cpuinfo_min_freq",
                &format!("{}\n", layout.cpuinfo_min_khz),
            )?;
            put(
                &policy,
                "cpuinfo_max_freq",
                &format!("{}\n", layout.cpuinfo_max_khz),
            )?;
            put(
                &policy,
                "scaling_min_freq",
                &format!("{}\n", layout.cpuinfo_min_khz),
            )?;
            put(
                &policy,
                "scaling_max_freq",
                &format!("{}\n", layout.max_khz),
            )?;
            put(
                &policy,
                "scaling_governor",
                &format!("{}\n", layout.governor),
            )?;
            put(
                &policy,
                "scaling_available_governors",
                &format!("{}\n", layout.available_governors),
            )?;
            if let Some(list) = &layout.available_khz {
                put(
                    &policy,
                    "scaling_available_frequencies",
                    &format!("{} \n", join_khz(list)),
                )?;
            }
        }
        let hwmon = root.join(HWMON_CLASS_DIR);
        put(&hwmon.join("hwmon0"), "name", "cpu_thermal\n")?;
        put(
            &hwmon.join("hwmon0"),
            "temp1_input",
            &millidegrees(layout.temp_celsius),
        )?;
        if layout.hwmon_fan {
            put(&hwmon.join("hwmon1"), "name", "pwmfan\n")?;
            put(&hwmon.join("hwmon1"), "pwm1", "0\n")?;
            put(&hwmon.join("hwmon1"), "pwm1_enable", "2\n")?;
        }
        if let Some(raw) = layout.throttle_raw {
            let path = root.join(THROTTLE_FILE);
            put(
                path.parent().unwrap_or(&root),
                "get_throttled",
                &format!("{raw:x}\n"),
            )?;
        }
        fs::write(root.join(FAN_FILE_NAME), "0.000")?;
        let cpu_zone = layout
            .zone_types
            .iter()
            .position(|t| t == "cpu-thermal")
            .unwrap_or(0);
        Ok(FakeSysfsTree {
            root,
            cpu_zone,
            policies: layout.policies,
            immutable: Mutex::new(Vec::new()),
        })
    }

    /// The directory to use as `hardware.sysfs_root`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A spec over this tree: auto sensor, cpufreq and throttle flags on, the given fan.
    pub fn spec(&self, fan: FanSpec) -> HardwareSpec {
        HardwareSpec {
            sysfs_root: self.root.clone(),
            sensor: SensorSpec::Auto,
            fan,
            cpufreq_enabled: true,
            powersave_governor: None,
            throttle_flags_enabled: true,
        }
    }

    /// Directory of `thermal_zone<index>`.
    pub fn zone_dir(&self, index: usize) -> PathBuf {
        self.root
            .join(THERMAL_CLASS_DIR)
            .join(format!("thermal_zone{index}"))
    }

    /// The `temp` file of the `cpu-thermal` zone (else zone 0).
    pub fn temp_path(&self) -> PathBuf {
        self.zone_dir(self.cpu_zone).join("temp")
    }

    /// Sets the `cpu-thermal` zone's temperature (written as millidegrees).
    pub fn set_temp_celsius(&self, celsius: f64) -> io::Result<()> {
        write_atomically(&self.temp_path(), &millidegrees(celsius))
    }

    /// Reads the `cpu-thermal` zone's temperature (°C).
    pub fn temp_celsius(&self) -> io::Result<f64> {
        let path = self.temp_path();
        let text = fs::read_to_string(&path)?;
        parse_millidegrees(&path, &text)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    /// Moves the temperature to `celsius` the way a die moves, at most [`RAMP_STEP_C`]
    /// per write with [`RAMP_PAUSE`] between writes, so that a reader polling every
    /// 100 ms sees no step its jump check would call a sensor fault. Starts from the
    /// current value (a garbage file counts as already there: one write).
    pub fn ramp_temp_celsius(&self, celsius: f64) -> io::Result<()> {
        let from = self.temp_celsius().unwrap_or(celsius);
        let steps = ramp_steps(from, celsius);
        let last = steps.len() - 1;
        for (index, value) in steps.into_iter().enumerate() {
            self.set_temp_celsius(value)?;
            if index < last {
                std::thread::sleep(RAMP_PAUSE);
            }
        }
        Ok(())
    }

    /// Writes arbitrary text to the `cpu-thermal` zone's `temp` (garbage, empty, ...).
    pub fn write_temp_raw(&self, text: &str) -> io::Result<()> {
        write_atomically(&self.temp_path(), text)
    }

    /// Deletes the `cpu-thermal` zone's `temp` (a vanished sensor).
    pub fn remove_temp(&self) -> io::Result<()> {
        fs::remove_file(self.temp_path())
    }

    /// Directory of cpufreq `policy<index>`.
    pub fn policy_dir(&self, index: usize) -> PathBuf {
        self.root.join(CPUFREQ_DIR).join(format!("policy{index}"))
    }

    /// The `scaling_max_freq` file of `policy<index>`.
    pub fn scaling_max_freq_path(&self, index: usize) -> PathBuf {
        self.policy_dir(index).join("scaling_max_freq")
    }

    /// Reads `scaling_max_freq` of `policy<index>`; an error names the file's full path.
    pub fn scaling_max_freq(&self, index: usize) -> io::Result<u64> {
        let path = self.scaling_max_freq_path(index);
        let text = read_settled(&path).map_err(|e| with_path(&path, e))?;
        text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} holds {text:?}, not a frequency in kHz", path.display()),
            )
        })
    }

    /// Reads `scaling_governor` of `policy<index>`; an error names the file's full path.
    pub fn governor(&self, index: usize) -> io::Result<String> {
        let path = self.policy_dir(index).join("scaling_governor");
        Ok(read_settled(&path)
            .map_err(|e| with_path(&path, e))?
            .trim()
            .to_string())
    }

    /// Number of cpufreq policies laid out.
    pub fn policy_count(&self) -> usize {
        self.policies
    }

    /// The file for `fan.driver = "file"` (holds "0.000" initially).
    pub fn fan_file_path(&self) -> PathBuf {
        self.root.join(FAN_FILE_NAME)
    }

    /// Reads the fan file's duty; an error names the file's full path.
    pub fn fan_file_duty(&self) -> io::Result<f64> {
        let path = self.fan_file_path();
        let text = read_settled(&path).map_err(|e| with_path(&path, e))?;
        text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} holds {text:?}, not a duty", path.display()),
            )
        })
    }

    /// The hwmon fan's directory (exists only with [`FakeSysfsLayout::hwmon_fan`]).
    pub fn hwmon_fan_dir(&self) -> PathBuf {
        self.root.join(HWMON_CLASS_DIR).join("hwmon1")
    }

    /// The firmware throttle file.
    pub fn throttle_path(&self) -> PathBuf {
        self.root.join(THROTTLE_FILE)
    }

    /// Sets the firmware throttle word (written as bare hex, as the kernel does).
    pub fn set_throttle_raw(&self, raw: u32) -> io::Result<()> {
        write_atomically(&self.throttle_path(), &format!("{raw:x}\n"))
    }

    /// Makes `path` unwritable while staying readable: the immutable flag when running as
    /// root (root ignores mode bits; needs CAP_LINUX_IMMUTABLE and ext4/xfs/btrfs, else an
    /// error), mode 0444 otherwise. Undo with [`FakeSysfsTree::make_writable`] or drop.
    pub fn make_read_only(&self, path: &Path) -> io::Result<ReadOnlyMethod> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o444))?;
            return Ok(ReadOnlyMethod::Mode0444);
        }
        set_immutable(path, true)?;
        self.immutable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path.to_path_buf());
        Ok(ReadOnlyMethod::Immutable)
    }

    /// [`FakeSysfsTree::make_read_only`] for a test that needs the write to fail: panics,
    /// naming the path and what to do, when the temp filesystem has no immutable flag
    /// (a skip would let the test pass unseen).
    pub fn make_unwritable(&self, path: &Path) -> ReadOnlyMethod {
        self.make_read_only(path).unwrap_or_else(|e| {
            panic!(
                "cannot make {} unwritable ({e}); run the tests on a filesystem with the \
                 immutable flag (ext4, xfs, btrfs, or tmpfs on Linux 6.0 or later)",
                path.display()
            )
        })
    }

    /// Undoes [`FakeSysfsTree::make_read_only`].
    pub fn make_writable(&self, path: &Path) -> io::Result<()> {
        let mut immutable = self.immutable.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = immutable.iter().position(|p| p == path) {
            set_immutable(path, false)?;
            immutable.remove(index);
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o644))
    }
}

impl Drop for FakeSysfsTree {
    fn drop(&mut self) {
        // An immutable file would make the test's temp dir undeletable.
        let immutable = self.immutable.get_mut().unwrap_or_else(|p| p.into_inner());
        for path in immutable.drain(..) {
            let _ = set_immutable(&path, false);
        }
    }
}

/// Sets or clears the immutable inode flag of `path`.
fn set_immutable(path: &Path, on: bool) -> io::Result<()> {
    let file = fs::File::open(path)?;
    let mut flags: libc::c_int = 0;
    // SAFETY: the fd is open for the whole call and FS_IOC_GETFLAGS writes one c_int
    // into `flags`, which lives on this stack frame.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if on {
        flags |= FS_IMMUTABLE_FL;
    } else {
        flags &= !FS_IMMUTABLE_FL;
    }
    // SAFETY: as above; FS_IOC_SETFLAGS only reads the c_int.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("warden-fake-sysfs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn concurrent_writers_of_one_file_never_lose_each_others_temp_file() {
        let dir = scratch("writers");
        let tree = FakeSysfsTree::create(&dir).unwrap();
        // Another writer's temp file in flight, under the one name a fixed scheme uses.
        let fixed = tree.zone_dir(0).join(".temp.tmp");
        fs::create_dir(&fixed).unwrap();
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let tree = &tree;
                scope.spawn(move || {
                    for write in 0..300 {
                        tree.set_temp_celsius(f64::from(writer * 1000 + write) / 100.0)
                            .unwrap_or_else(|e| panic!("writer {writer}, write {write}: {e}"));
                    }
                });
            }
        });
        assert!(tree.temp_celsius().is_ok());
        let leftovers: Vec<_> = fs::read_dir(tree.zone_dir(0))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| name.to_string_lossy().ends_with(".tmp") && *name != ".temp.tmp")
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
        drop(tree);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_errors_name_the_full_path() {
        let dir = scratch("paths");
        let tree = FakeSysfsTree::create(&dir).unwrap();
        fs::write(tree.scaling_max_freq_path(0), "abc\n").unwrap();
        let error = tree.scaling_max_freq(0).unwrap_err().to_string();
        let path = tree.scaling_max_freq_path(0).display().to_string();
        assert!(error.contains(&format!("{path} holds")), "{error}");
        let governor = tree.policy_dir(0).join("scaling_governor");
        fs::remove_file(&governor).unwrap();
        let error = tree.governor(0).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(
            error.to_string().contains(&*governor.to_string_lossy()),
            "{error}"
        );
        fs::write(tree.fan_file_path(), "fast").unwrap();
        let error = tree.fan_file_duty().unwrap_err().to_string();
        assert!(
            error.contains(&*tree.fan_file_path().to_string_lossy()),
            "{error}"
        );
        drop(tree);
        fs::remove_dir_all(&dir).unwrap();
    }
}
