//! `[cpufreq]`: how the throttle stage slows the CPU down.

use super::defaults::*;
use super::error::{ConfigError, ConfigErrorKind};
use super::raw::RawCpuFreq;
use super::validate::{choice, choices_text};

/// Longest governor name the kernel accepts (`CPUFREQ_NAME_LEN` is 16 with the NUL).
const GOVERNOR_NAME_MAX_CHARS: usize = 15;

choice_enum! {
    /// How the throttle stage limits the CPU.
    pub enum CpuFreqStrategy {
        /// Step `scaling_max_freq` down one available frequency per tick, and back up.
        MaxFreq = "max-freq",
        /// Switch to `cpufreq.powersave_governor` while throttling, then restore the old governor.
        Governor = "governor",
        /// Never touch cpufreq (the firmware still throttles on its own at 80-85 °C).
        Off = "off",
    }
}

/// Validated `[cpufreq]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuFreqConfig {
    /// Throttling method.
    pub strategy: CpuFreqStrategy,
    /// Governor written to `scaling_governor` by the `Governor` strategy.
    pub powersave_governor: String,
}

impl Default for CpuFreqConfig {
    fn default() -> Self {
        CpuFreqConfig {
            strategy: DEFAULT_CPUFREQ_STRATEGY,
            powersave_governor: DEFAULT_POWERSAVE_GOVERNOR.to_string(),
        }
    }
}

/// Applies defaults and checks the strategy and governor name.
pub(super) fn validate(raw: RawCpuFreq) -> Result<CpuFreqConfig, ConfigError> {
    Ok(CpuFreqConfig {
        strategy: match raw.strategy {
            Some(text) => choice("cpufreq.strategy", &text, CpuFreqStrategy::CHOICES)?,
            None => DEFAULT_CPUFREQ_STRATEGY,
        },
        powersave_governor: match raw.powersave_governor {
            Some(name) => governor_name(name)?,
            None => DEFAULT_POWERSAVE_GOVERNOR.to_string(),
        },
    })
}

/// Accepts a name that can be written to sysfs as is: short, letters, digits, `_` and `-`.
fn governor_name(name: String) -> Result<String, ConfigError> {
    let well_formed = !name.is_empty()
        && name.chars().count() <= GOVERNOR_NAME_MAX_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if well_formed {
        Ok(name)
    } else {
        Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            "cpufreq.powersave_governor",
            format!("{name:?} is not a governor name"),
        )
        .allowing(format!("allowed {}", governor_text())))
    }
}

/// What `cpufreq.powersave_governor` accepts.
fn governor_text() -> String {
    format!(
        "1 to {GOVERNOR_NAME_MAX_CHARS} letters, digits, '_' or '-', such as \"powersave\" or \"conservative\" \
         (see scaling_available_governors)"
    )
}

/// What `cpufreq.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "strategy" => choices_text(CpuFreqStrategy::CHOICES),
        "powersave_governor" => governor_text(),
        _ => return None,
    })
}
