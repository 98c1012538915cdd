//! warden's hardware layer: the only code in warden that touches `/sys`, `/dev` or rppal.
//!
//! Everything above this crate sees four small traits — [`TempSensor`], [`Fan`], [`CpuFreq`]
//! and [`ThrottleReader`] — and one factory, [`build`], that turns a plain [`HardwareSpec`]
//! into boxed backends plus human notes for the daemon to log once. The crate knows nothing
//! of policy, config files, mio or HTTP.
//!
//! # Paths
//! `sysfs_root` is the filesystem root under which every sysfs path is resolved (default
//! `/`, so the real files are `/sys/class/thermal/...`). Tests point it at a temp dir laid
//! out like `<root>/sys/class/thermal/thermal_zone0/temp`; [`fake_sysfs::FakeSysfsTree`]
//! builds such a tree. See [`resolve_under_root`] for how explicit paths are mapped.
//!
//! # Test doubles
//! [`fake`] holds always-compiled fakes that record every call and fail on demand, for the
//! thermal controller's tests.
//!
//! # Simulation
//! [`sim`] holds a two-node RC model of a Pi 4 SoC and backends over it, for the live demo
//! (`warden run --simulate`) and the closed-loop evaluation in `tools/thermal-sim`.
//!
//! # User-named files
//! [`user_file`] reads and writes a file a person named (a config file, a scenario, a
//! chart) without blocking on a FIFO, reading a device forever or loading a huge file.

pub mod cpufreq;
pub mod error;
pub mod factory;
pub mod fake;
pub mod fake_sysfs;
pub mod fan;
mod file_kind;
pub mod restore;
pub mod sensor;
pub mod sim;
pub mod spec;
mod sysfs_io;
pub mod throttle;
pub mod user_file;

pub use cpufreq::{check_powersave_governor, SysfsCpuFreq};
pub use error::{Access, HwError};
pub use factory::{build, Backends};
pub use fan::{FileFan, GpioFan, HwmonFan, NoFan, PwmFan, SoftPwmFan};
pub use file_kind::describe_file_kind;
pub use restore::{
    restore_from_state, restore_from_state_locked, set_aside_unreplayed, LockError, RestoreEntry,
    RestoreError, RestoreReport, RestoreState, RestoreTargets, SkippedEntry, StateDirLock,
    StateOwner,
};
pub use sensor::SysfsThermalZone;
pub use sim::{PiThermalModel, PiThermalParams, SimBoard};
pub use spec::{FanSpec, HardwareSpec, SensorSpec};
pub use sysfs_io::resolve_under_root;
pub use throttle::{SysfsThrottleReader, ThrottleFlags};
pub use user_file::UserFileError;

/// Reads the SoC temperature.
pub trait TempSensor: Send {
    /// One reading in degrees Celsius.
    fn read_celsius(&mut self) -> Result<f64, HwError>;
    /// Human description, e.g. "thermal_zone0 (cpu-thermal)".
    fn describe(&self) -> String;
}

/// Drives a fan.
pub trait Fan: Send {
    /// Sets the duty, 0.0 (off) ..= 1.0 (full). On/off drivers treat any duty > 0 as on.
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError>;
    /// Driver name as in config: "gpio", "pwm", "soft-pwm", "hwmon", "file", "none", "sim".
    fn driver(&self) -> &'static str;
    /// True when intermediate duties are meaningful (PWM-like), false for on/off.
    fn is_proportional(&self) -> bool;
    /// Writes again `duty`, the duty of the last successful [`Fan::set_duty`], taking the
    /// fan back from whatever changed it behind warden's back (the kernel's cooling device,
    /// another tool): also puts back anything else warden's control needs (hwmon: manual
    /// mode), which an ordinary `set_duty` writes only once. Returns what was found in
    /// place of warden's setting when the driver can tell cheaply (e.g. `pwm1_enable 2,
    /// pwm1 0`), else `None`. The default writes the duty again and can tell nothing.
    fn reassert_duty(&mut self, duty: f64) -> Result<Option<String>, HwError> {
        self.set_duty(duty).map(|()| None)
    }
    /// Plain sysfs/file writes that a crash restore should replay for this fan: with
    /// `Some(duty)` the writes that set that duty (the `on_exit` duty), with `None`
    /// (`on_exit = "leave"`) none at all, so the fan stays as warden last set it. Empty for
    /// drivers that are not plain file writes (gpio, pwm, soft-pwm, none).
    fn restore_entries(&self, exit_duty: Option<f64>) -> Vec<RestoreEntry> {
        let _ = exit_duty;
        Vec::new()
    }
}

/// Caps the CPU frequency of every cpufreq policy.
pub trait CpuFreq: Send {
    /// Available max-frequency steps in kHz, ascending (from scaling_available_frequencies, or derived from cpuinfo_min/max).
    fn steps_khz(&self) -> &[u64];
    /// The cap in force in kHz: the lowest scaling_max_freq any policy holds below its own
    /// original, else `original().0` (or more, when raised by hand); equal to
    /// `original().0` exactly when no policy is held below its original.
    fn max_khz(&mut self) -> Result<u64, HwError>;
    /// Caps every policy's scaling_max_freq at `khz`, never above that policy's original.
    fn set_max_khz(&mut self, khz: u64) -> Result<(), HwError>;
    /// Current scaling_governor (empty when the kernel exposes none).
    fn governor(&mut self) -> Result<String, HwError>;
    /// Writes scaling_governor on every policy.
    fn set_governor(&mut self, governor: &str) -> Result<(), HwError>;
    /// Original max frequency (kHz) and governor captured when the backend was built: the
    /// highest policy's original, the cap that leaves every policy alone; the governor is
    /// empty when the kernel exposes no `scaling_governor`.
    fn original(&self) -> (u64, String);
    /// Writes the original values back to every policy.
    fn restore(&mut self) -> Result<(), HwError>;
    /// The writes that put every policy back to its original values, for the crash-restore
    /// state file. Empty for backends that are not plain sysfs files.
    fn restore_entries(&self) -> Vec<RestoreEntry> {
        Vec::new()
    }
    /// Takes what every policy holds now, in the `files` a strategy writes, as the
    /// originals from now on (an operator's change made while nothing warden wrote was in
    /// force) and returns those that changed; a failed read changes none. Call it only
    /// while no throttle is in force. The default keeps the originals: a backend that is
    /// not files an operator can write has nothing to re-read.
    fn retake_originals(
        &mut self,
        files: cpufreq::CpuFreqFiles,
    ) -> Result<Vec<cpufreq::OriginalChange>, HwError> {
        let _ = files;
        Ok(Vec::new())
    }
}

/// Reads the Pi firmware's throttle flags.
pub trait ThrottleReader: Send {
    /// Ok(None) when the platform has no such file.
    fn read(&mut self) -> Result<Option<ThrottleFlags>, HwError>;
}
