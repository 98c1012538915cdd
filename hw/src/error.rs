//! The one error type of warden-hw.
//!
//! Each variant names one failure, carries the path or pin it concerns, and its message
//! tells the user what to do. The thermal controller tells passing glitches apart with
//! [`HwError::is_transient`]: those are retried on the next tick without counting as a
//! sensor fault by themselves.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Whether a file was being read or written when an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The file was being read.
    Read,
    /// The file was being written.
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "reading",
            Access::Write => "writing",
        })
    }
}

/// Everything that can go wrong between warden and the hardware.
#[derive(Debug, thiserror::Error)]
pub enum HwError {
    /// The kernel said "try again" (ENODATA, EAGAIN): a passing glitch, retry next tick.
    #[error("{access} {path}: temporarily unavailable ({os_error}); retrying on the next tick")]
    Transient {
        /// The file concerned.
        path: PathBuf,
        /// Whether it was being read or written.
        access: Access,
        /// The kernel's error: printed in the message, deliberately not an error `source`
        /// so a chain printed with `{:#}` shows it once.
        os_error: io::Error,
    },
    /// A component of a path in warden's own state directory is not a directory (ENOTDIR),
    /// e.g. `hardware.state_dir` names a regular file.
    #[error("a component of {path} is not a directory: set hardware.state_dir to a directory (or a path where warden may create one), not a file")]
    NotADirectory {
        /// The path that could not be reached.
        path: PathBuf,
    },
    /// The file does not exist (or, for a sysfs path, a parent of it is not a directory).
    #[error("{path} does not exist: {}", missing_advice(path))]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The kernel refused access (EACCES, EPERM, EROFS). The advice depends on whether
    /// warden ran as root: root is refused only by an immutable file, a read-only mount, a
    /// security module or a sandbox, so "run as root" would not help.
    #[error("permission denied {access} {path}: {}", permission_advice(*access, *as_root))]
    PermissionDenied {
        /// The file concerned.
        path: PathBuf,
        /// Whether it was being read or written.
        access: Access,
        /// Whether the refused access was made as root (filesystem uid 0).
        as_root: bool,
    },
    /// Any other I/O error on a file.
    #[error("I/O error {access} {path}: {os_error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// Whether it was being read or written.
        access: Access,
        /// The kernel's error: printed in the message, deliberately not an error `source`
        /// so a chain printed with `{:#}` shows it once.
        os_error: io::Error,
    },
    /// The path is not a regular file (a FIFO, a device, a directory, a socket).
    #[error("{path} is {kind}, not {wanted}")]
    NotRegularFile {
        /// The file concerned.
        path: PathBuf,
        /// What it is instead, e.g. "a FIFO (named pipe)" ([`crate::describe_file_kind`]).
        kind: &'static str,
        /// What it should be, and what to do.
        wanted: &'static str,
    },
    /// The file holds more than a sysfs attribute can (one page).
    #[error("{path} is larger than a sysfs attribute ({limit} bytes), so it is not one: check the configured path and hardware.sysfs_root")]
    TooLarge {
        /// The file concerned.
        path: PathBuf,
        /// The most a sysfs attribute holds, in bytes.
        limit: usize,
    },
    /// A directory that a configured file must live in does not exist.
    #[error("directory {dir} does not exist: create it, or set {setting} to a file in an existing directory")]
    MissingDirectory {
        /// The missing directory.
        dir: PathBuf,
        /// The config key naming the file, e.g. "fan.path".
        setting: &'static str,
    },
    /// The file was readable but empty.
    #[error("{path} is empty, expected {expected}")]
    Empty {
        /// The empty file.
        path: PathBuf,
        /// What it should have held.
        expected: &'static str,
    },
    /// The file held text that is not what it should hold.
    #[error("{path} holds {text:?}, expected {expected}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// The offending text (trimmed, at most 64 characters).
        text: String,
        /// What it should have held.
        expected: &'static str,
    },
    /// `thermal.sensor = "auto"` found no usable thermal zone.
    #[error("no usable thermal zone under {dir}: {reason}; check hardware.sysfs_root or set thermal.sensor to a temperature file (millidegrees)")]
    NoThermalZone {
        /// The directory searched.
        dir: PathBuf,
        /// Why: no zone at all, or the zone found and why its `temp` cannot be read.
        reason: String,
    },
    /// No cpufreq policy exists (the factory turns this into "no cpufreq" plus a note).
    #[error("no cpufreq policy under {dir}: this kernel has no CPU frequency scaling; throttling is unavailable")]
    NoCpuFreq {
        /// The directory searched.
        dir: PathBuf,
    },
    /// `fan.driver = "hwmon"` found no fan.
    #[error("no hwmon fan (name pwmfan or cooling_fan, with pwm1) under {dir}: on a Pi 5 the fan header needs a fan plugged in and the stock firmware; otherwise pick another fan.driver")]
    NoHwmonFan {
        /// The directory searched.
        dir: PathBuf,
    },
    /// rppal could not identify the board: not a Raspberry Pi.
    #[error("fan.driver = \"{driver}\" needs a Raspberry Pi, but this board is not one (rppal: {detail}); use fan.driver = \"auto\", \"hwmon\", \"file\" or \"none\" here")]
    NotRaspberryPi {
        /// The fan driver that was asked for.
        driver: &'static str,
        /// rppal's own message.
        detail: String,
    },
    /// Access to the GPIO device was refused.
    #[error(
        "permission denied on {path}: add the warden user to the gpio group (usermod -aG gpio USER) or run as root; \
         on a kernel without /dev/gpiomem (mainline), rppal falls back to /dev/mem, which also needs iomem=relaxed \
         on the kernel command line"
    )]
    GpioPermissionDenied {
        /// The device rppal tried to open, e.g. /dev/gpiomem.
        path: String,
    },
    /// A GPIO pin cannot be used.
    #[error("GPIO {pin}: {reason}")]
    GpioPin {
        /// BCM pin number.
        pin: u8,
        /// Why, and what to do.
        reason: String,
    },
    /// The hardware PWM channel cannot be used.
    #[error("hardware PWM channel {channel}: {reason}")]
    PwmUnavailable {
        /// PWM channel number.
        channel: u8,
        /// Why, and what to do.
        reason: String,
    },
    /// Any other rppal failure.
    #[error("{what} failed: {detail}")]
    Rppal {
        /// The operation, e.g. "soft PWM on GPIO 14".
        what: String,
        /// rppal's message.
        detail: String,
    },
    /// A fan duty outside 0.0..=1.0 (or NaN) was asked for.
    #[error("fan duty {duty} is outside 0.0..=1.0")]
    InvalidDuty {
        /// The rejected duty.
        duty: f64,
    },
    /// A field of the hardware spec is invalid.
    #[error("invalid {field}: {reason}")]
    InvalidSpec {
        /// The config key, e.g. "fan.min_duty".
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A cpufreq governor the kernel (or the simulated Pi) does not offer.
    #[error("cpufreq governor {governor:?} is not offered ({file} lists: {available}); set cpufreq.powersave_governor to one of those")]
    GovernorNotAvailable {
        /// The governor asked for.
        governor: String,
        /// The kernel's list, `scaling_available_governors` of the first policy.
        file: PathBuf,
        /// The kernel's scaling_available_governors.
        available: String,
    },
    /// A crash-restore value that cannot be right for its file is refused, not written.
    #[error("refusing to write {value:?} to {path}: {reason}; the restore state may be damaged: put the right value back by hand")]
    RefusedValue {
        /// The file the value was for.
        path: PathBuf,
        /// The refused value.
        value: String,
        /// Why it cannot be right.
        reason: String,
    },
    /// A file to create that only the `file` fan's `fan.path` could be, while the
    /// configuration that would name it did not validate: nothing is written.
    #[error("not creating {path}: warden creates only the file fan's fan.path, and the configuration did not validate (see above), so it names none to trust; fix it (warden check-config) and run warden restore again")]
    UnvalidatedFanFile {
        /// The file the state names.
        path: PathBuf,
    },
    /// A cpufreq policy whose `cpuinfo_min_freq` lies above its `cpuinfo_max_freq`: there
    /// is no range to throttle through.
    #[error("{min_path} holds {min_khz} kHz, above {max_path} ({max_khz} kHz): the CPU's frequency limits contradict each other, so warden cannot throttle through them; check hardware.sysfs_root, or set cpufreq.strategy = \"off\"")]
    CpuInfoRange {
        /// The policy's `cpuinfo_min_freq`.
        min_path: PathBuf,
        /// What it holds, in kHz.
        min_khz: u64,
        /// The policy's `cpuinfo_max_freq`.
        max_path: PathBuf,
        /// What it holds, in kHz.
        max_khz: u64,
    },
    /// More than one write failed (every file is tried): each failure, in order.
    #[error("{}", join_errors(errors))]
    Several {
        /// The failures, at least two, none of them `Several`.
        errors: Vec<HwError>,
    },
    /// The crash-restore state file is malformed.
    #[error("restore state file {path}{}: {reason}; if it is stale, delete it", line_text(*line))]
    StateFile {
        /// The state file.
        path: PathBuf,
        /// 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// ` line N` for a state file error on line N; nothing for the file as a whole (0).
fn line_text(line: usize) -> String {
    match line {
        0 => String::new(),
        n => format!(" line {n}"),
    }
}

/// What to check for a missing file: a sysfs attribute goes missing when its driver is not
/// loaded; any other path (a file outside `/sys`: a state directory, a `file` fan) was
/// simply named wrong, and `hardware.sysfs_root` has no part in it.
fn missing_advice(path: &Path) -> &'static str {
    if crate::sysfs_io::in_sysfs(path) {
        "check hardware.sysfs_root and that the kernel driver for it is loaded"
    } else {
        "check the configured path"
    }
}

/// What to do about [`HwError::PermissionDenied`], for a process that is root or not.
fn permission_advice(access: Access, as_root: bool) -> &'static str {
    match (as_root, access) {
        (false, _) => {
            "run warden as root, or grant its user access (udev rule or group); under \
             systemd, also check the unit's User= and sandboxing (ProtectSystem=, \
             ReadWritePaths=, InaccessiblePaths=)"
        }
        (true, Access::Write) => {
            "warden already runs as root, so the file (or its directory) is immutable \
             (lsattr shows it; chattr -i clears it), on a read-only mount, or refused by a \
             security module (AppArmor, SELinux); under systemd, also check the unit's \
             sandboxing (ProtectSystem=, ReadWritePaths=, CapabilityBoundingSet=)"
        }
        (true, Access::Read) => {
            "warden already runs as root, so a security module (AppArmor, SELinux) or the \
             unit's sandboxing refuses it; under systemd, check InaccessiblePaths= and \
             CapabilityBoundingSet="
        }
    }
}

/// The messages of several errors, numbered, on one line.
fn join_errors(errors: &[HwError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .enumerate()
        .map(|(index, error)| format!("({}) {error}", index + 1))
        .collect();
    format!("{} failures: {}", errors.len(), parts.join("; "))
}

/// True when this thread's file accesses are checked as root's: its filesystem uid (the
/// one the kernel checks files against, normally the effective uid) is 0.
fn files_accessed_as_root() -> bool {
    // SAFETY: setfsuid has no memory effects; an invalid uid (-1) changes nothing and only
    // returns the thread's current filesystem uid.
    let fsuid = unsafe { libc::setfsuid(libc::uid_t::MAX) };
    fsuid == 0
}

impl HwError {
    /// [`HwError::RefusedValue`]: `value` is not written to `path`, for `reason`.
    pub(crate) fn refused(path: &Path, value: &str, reason: String) -> HwError {
        HwError::RefusedValue {
            path: path.to_path_buf(),
            value: value.to_owned(),
            reason,
        }
    }

    /// [`HwError::PermissionDenied`] for `path`, its advice chosen by whether this thread
    /// accesses files as root.
    pub fn permission_denied(path: &Path, access: Access) -> HwError {
        HwError::PermissionDenied {
            path: path.to_path_buf(),
            access,
            as_root: files_accessed_as_root(),
        }
    }

    /// One error for every failure in `errors`: `Ok` for none, the error itself for one,
    /// [`HwError::Several`] (flattened) for more.
    pub fn combine(errors: impl IntoIterator<Item = HwError>) -> Result<(), HwError> {
        let mut flat = Vec::new();
        for error in errors {
            match error {
                HwError::Several { errors } => flat.extend(errors),
                error => flat.push(error),
            }
        }
        match flat.len() {
            0 => Ok(()),
            1 => Err(flat.remove(0)),
            _ => Err(HwError::Several { errors: flat }),
        }
    }

    /// Each single failure in this error: the errors of [`HwError::Several`], else itself.
    pub fn failures(&self) -> &[HwError] {
        match self {
            HwError::Several { errors } => errors,
            error => std::slice::from_ref(error),
        }
    }

    /// True for passing glitches (ENODATA, EAGAIN) that should simply be retried.
    pub fn is_transient(&self) -> bool {
        matches!(self, HwError::Transient { .. })
    }

    /// The file this error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            HwError::Transient { path, .. }
            | HwError::NotFound { path }
            | HwError::NotADirectory { path }
            | HwError::PermissionDenied { path, .. }
            | HwError::Io { path, .. }
            | HwError::Empty { path, .. }
            | HwError::Parse { path, .. }
            | HwError::NotRegularFile { path, .. }
            | HwError::TooLarge { path, .. }
            | HwError::RefusedValue { path, .. }
            | HwError::UnvalidatedFanFile { path }
            | HwError::StateFile { path, .. } => Some(path),
            HwError::NoThermalZone { dir, .. }
            | HwError::MissingDirectory { dir, .. }
            | HwError::NoCpuFreq { dir }
            | HwError::NoHwmonFan { dir } => Some(dir),
            _ => None,
        }
    }

    /// Maps an I/O error on `path` in warden's state directory (not sysfs): as
    /// [`HwError::from_io`], but ENOTDIR is [`HwError::NotADirectory`] instead of a hint at
    /// sysfs.
    pub fn from_state_io(path: &Path, access: Access, os_error: io::Error) -> HwError {
        match os_error.raw_os_error() {
            Some(libc::ENOTDIR) => HwError::NotADirectory {
                path: path.to_path_buf(),
            },
            _ => HwError::from_io(path, access, os_error),
        }
    }

    /// Maps an I/O error on `path` to the matching variant.
    pub fn from_io(path: &Path, access: Access, os_error: io::Error) -> HwError {
        let path = path.to_path_buf();
        match os_error.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::EAGAIN) => HwError::Transient {
                path,
                access,
                os_error,
            },
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => HwError::NotFound { path },
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
                HwError::permission_denied(&path, access)
            }
            _ => match os_error.kind() {
                io::ErrorKind::NotFound => HwError::NotFound { path },
                io::ErrorKind::PermissionDenied => HwError::permission_denied(&path, access),
                _ => HwError::Io {
                    path,
                    access,
                    os_error,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_sysfs_file_points_at_its_driver_and_any_other_at_the_path() {
        let missing = |path: &str| {
            HwError::NotFound {
                path: PathBuf::from(path),
            }
            .to_string()
        };
        let sysfs = missing("/tmp/fake/sys/class/thermal/thermal_zone0/temp");
        assert!(sysfs.contains("kernel driver"), "{sysfs}");
        let proc = missing("/proc/foo");
        assert!(
            proc == "/proc/foo does not exist: check the configured path",
            "{proc}"
        );
    }
}
