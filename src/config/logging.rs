//! `[log]`: verbosity and line format of the daemon's log.

use super::defaults::*;
use super::error::ConfigError;
use super::raw::RawLog;
use super::validate::{choice, choices_text};

choice_enum! {
    /// The most verbose log level written.
    pub enum LogLevel {
        /// Only failures.
        Error = "error",
        /// Failures and conditions worth a look.
        Warn = "warn",
        /// Plus state changes (stages, admission, start and stop).
        Info = "info",
        /// Plus per-tick and per-connection detail.
        Debug = "debug",
        /// Everything.
        Trace = "trace",
    }
}

choice_enum! {
    /// How each log record is written.
    pub enum LogFormat {
        /// One human-readable line.
        Text = "text",
        /// One JSON object per line.
        Json = "json",
    }
}

impl LogLevel {
    /// The `log` crate filter for this level.
    pub fn level_filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

/// Validated `[log]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// Most verbose level written.
    pub level: LogLevel,
    /// Record format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: DEFAULT_LOG_LEVEL,
            format: DEFAULT_LOG_FORMAT,
        }
    }
}

/// Applies defaults and checks both choices.
pub(super) fn validate(raw: RawLog) -> Result<LogConfig, ConfigError> {
    Ok(LogConfig {
        level: match raw.level {
            Some(text) => choice("log.level", &text, LogLevel::CHOICES)?,
            None => DEFAULT_LOG_LEVEL,
        },
        format: match raw.format {
            Some(text) => choice("log.format", &text, LogFormat::CHOICES)?,
            None => DEFAULT_LOG_FORMAT,
        },
    })
}

/// What `log.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "level" => choices_text(LogLevel::CHOICES),
        "format" => choices_text(LogFormat::CHOICES),
        _ => return None,
    })
}
