//! warden's configuration: TOML file -> raw structs -> validated [`Config`].
//!
//! [`raw`] lets serde check the shape (unknown keys rejected, TOML types
//! checked, key paths tracked by `serde_path_to_error`); each section module
//! then applies its documented default (`DEFAULT_*` in [`defaults`]) to every
//! absent key and checks ranges (`*_RANGE` in [`limits`]), choices, addresses
//! and cross-field rules. Any failure is one [`ConfigError`] naming the key,
//! the bad value and what is allowed. `docs/CONFIG.md` documents every key and
//! `init/warden.toml` is the full default file. [`changes`] compares two
//! configurations key by key for a reload.

#[macro_use]
mod choice;

mod changes;
mod cpufreq;
pub mod defaults;
mod error;
mod fan;
mod file;
mod hardware;
pub mod limits;
mod logging;
pub mod number;
mod raw;
mod schema;
mod server;
mod status;
mod thermal;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use changes::{live_changes, KeyChange};
pub use cpufreq::{CpuFreqConfig, CpuFreqStrategy};
pub use error::{ConfigError, ConfigErrorKind};
pub use fan::{CurvePoint, FanConfig, FanDriver, FanExitAction};
pub use hardware::HardwareConfig;
pub use logging::{LogConfig, LogFormat, LogLevel};
pub(crate) use server::listeners_overlap;
pub use server::{AtCapacity, ServerConfig, Service};
pub(crate) use status::addresses_overlap;
pub use status::StatusConfig;
pub use thermal::{OnSensorFault, SensorSelection, ShedMode, StageThresholds, ThermalConfig};

/// The validated configuration of a warden instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// `[server]`: listeners and connection limits.
    pub server: ServerConfig,
    /// `[thermal]`: sensor, prediction and stage thresholds.
    pub thermal: ThermalConfig,
    /// `[fan]`: fan driver, wiring and curve.
    pub fan: FanConfig,
    /// `[cpufreq]`: how throttling slows the CPU.
    pub cpufreq: CpuFreqConfig,
    /// `[hardware]`: sysfs root, state directory, simulation.
    pub hardware: HardwareConfig,
    /// `[status]`: the HTTP status page.
    pub status: StatusConfig,
    /// `[log]`: log level and format.
    pub log: LogConfig,
}

impl Config {
    /// Parses and validates TOML text; absent keys and sections take their defaults.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let raw = raw::parse(text)?;
        let config = Config {
            server: server::validate(raw.server)?,
            thermal: thermal::validate(raw.thermal)?,
            fan: fan::validate(raw.fan)?,
            cpufreq: cpufreq::validate(raw.cpufreq)?,
            hardware: hardware::validate(raw.hardware)?,
            status: status::validate(raw.status)?,
            log: logging::validate(raw.log)?,
        };
        status::check_against_server(&config.status, &config.server)?;
        Ok(config)
    }

    /// Reads and validates the file at `path`; every error message starts with the path.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = file::read_text(path).map_err(|why| {
            ConfigError::whole_file(ConfigErrorKind::Unreadable, why)
                .allowing("expected a readable UTF-8 TOML file")
                .in_file(path)
        })?;
        Config::from_toml_str(&text).map_err(|error| error.in_file(path))
    }
}

/// Validates the file at `path` without starting anything: what `warden check-config` runs.
pub fn check_file(path: &Path) -> Result<Config, ConfigError> {
    Config::load(path)
}
