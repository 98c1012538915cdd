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
    #[error("{path} does not exist: check hardware.sysfs_root and that the kernel driver for it is loaded")]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The kernel refused access (EACCES, EPERM, EROFS).
    #[error("permission denied {access} {path}: run warden as root, or grant its user {access} access (udev rule or group); under systemd, also check the unit's User= and sandboxing (ProtectSystem=, ReadWritePaths=, InaccessiblePaths=)")]
    PermissionDenied {
        /// The file concerned.
        path: PathBuf,
        /// Whether it was being read or written.
        access: Access,
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
    #[error("{path} is a {kind}, not {wanted}")]
    NotRegularFile {
        /// The file concerned.
        path: PathBuf,
        /// What it is instead, e.g. "FIFO" or "character device".
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
    /// A cpufreq governor this kernel does not offer.
    #[error("cpufreq governor {governor:?} is not offered by this kernel ({file} lists: {available}); set cpufreq.powersave_governor to one of those")]
    GovernorNotAvailable {
        /// The governor asked for.
        governor: String,
        /// The kernel's list, `scaling_available_governors` of the first policy.
        file: PathBuf,
        /// The kernel's scaling_available_governors.
        available: String,
    },
    /// The crash-restore state file is malformed.
    #[error("restore state file {path} line {line}: {reason}; if it is stale, delete it")]
    StateFile {
        /// The state file.
        path: PathBuf,
        /// 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl HwError {
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
                HwError::PermissionDenied { path, access }
            }
            _ => match os_error.kind() {
                io::ErrorKind::NotFound => HwError::NotFound { path },
                io::ErrorKind::PermissionDenied => HwError::PermissionDenied { path, access },
                _ => HwError::Io {
                    path,
                    access,
                    os_error,
                },
            },
        }
    }
}
