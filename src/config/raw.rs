//! The file as serde sees it: every key optional, unknown keys rejected.
//!
//! Raw structs only capture shape and TOML types; defaults and every semantic
//! rule are applied afterwards by the section modules, which also see from
//! each `Option` whether the file wrote a key or left it to its default. Type
//! errors are turned here into `ConfigError`s carrying the key path (tracked
//! by `serde_path_to_error`) and the line and column reported by `toml`, and
//! put into words by [`shape`]; syntax errors are put into words by [`syntax`].

use serde::Deserialize;

use super::error::ConfigError;

mod shape;
mod statements;
mod syntax;

/// The whole file: one optional table per section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a TOML document of tables")]
pub(super) struct RawConfig {
    pub server: RawServer,
    pub thermal: RawThermal,
    pub fan: RawFan,
    pub cpufreq: RawCpuFreq,
    pub hardware: RawHardware,
    pub status: RawStatus,
    pub log: RawLog,
}

/// `[server]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawServer {
    pub listen: Option<Vec<String>>,
    pub service: Option<String>,
    pub backlog: Option<u32>,
    pub max_connections: Option<usize>,
    pub at_capacity: Option<String>,
    pub max_pending_bytes: Option<usize>,
    pub read_buffer_bytes: Option<usize>,
    pub idle_timeout_s: Option<u64>,
    pub drain_timeout_s: Option<u64>,
}

/// `[thermal]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawThermal {
    pub interval_ms: Option<u64>,
    pub sensor: Option<String>,
    pub horizon_s: Option<f64>,
    pub filter_tau_s: Option<f64>,
    pub trend_window_s: Option<f64>,
    pub fan_on_c: Option<f64>,
    pub fan_off_c: Option<f64>,
    pub shed_on_c: Option<f64>,
    pub shed_off_c: Option<f64>,
    pub throttle_on_c: Option<f64>,
    pub throttle_off_c: Option<f64>,
    pub critical_on_c: Option<f64>,
    pub critical_off_c: Option<f64>,
    pub shed_mode: Option<String>,
    pub stuck_s: Option<u64>,
    pub max_step_c: Option<f64>,
    pub on_sensor_fault: Option<String>,
}

/// `[fan]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawFan {
    pub driver: Option<String>,
    pub pin: Option<u8>,
    pub active_low: Option<bool>,
    pub pwm_channel: Option<u8>,
    pub pwm_frequency_hz: Option<f64>,
    pub min_duty: Option<f64>,
    pub kick_ms: Option<u64>,
    pub min_on_s: Option<u64>,
    pub min_off_s: Option<u64>,
    pub curve: Option<Vec<Vec<f64>>>,
    pub curve_hysteresis_c: Option<f64>,
    pub path: Option<String>,
    pub on_exit: Option<String>,
}

/// `[cpufreq]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawCpuFreq {
    pub strategy: Option<String>,
    pub powersave_governor: Option<String>,
}

/// `[hardware]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawHardware {
    pub sysfs_root: Option<String>,
    pub state_dir: Option<String>,
    pub simulate: Option<bool>,
}

/// `[status]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawStatus {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub workers: Option<usize>,
    pub request_timeout_ms: Option<u64>,
}

/// `[log]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

/// Parses TOML text into the raw structs, naming the key of any shape or type error.
pub(super) fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    // A generic table accepts every valid document, so any error here is syntax;
    // telling it apart from type errors gives the user the right hint.
    if let Err(error) = text.parse::<toml::Table>() {
        return Err(syntax::syntax_error(text, &error));
    }
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|error| {
        let toml_error = error.inner();
        let at = toml_error.span().map(|span| span.start);
        locate(
            shape::shape_error(error.path(), toml_error.message().trim_end(), text, at),
            text,
            toml_error,
        )
    })
}

/// Attaches the line and column `toml` reported, if any.
pub(super) fn locate(error: ConfigError, text: &str, toml_error: &toml::de::Error) -> ConfigError {
    match toml_error.span() {
        Some(span) => error.located(text, span.start),
        None => error,
    }
}
