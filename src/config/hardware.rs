//! `[hardware]`: where the hardware lives (or whether it is simulated) and where state is kept.

use std::path::PathBuf;

use super::defaults::*;
use super::error::ConfigError;
use super::raw::RawHardware;
use super::validate::{absolute_path, absolute_path_text};

/// Validated `[hardware]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct HardwareConfig {
    /// Directory standing for `/` when resolving `/sys` and `/dev` paths (tests use a temp dir).
    pub sysfs_root: PathBuf,
    /// Directory of the restore state file read by `warden restore`.
    pub state_dir: PathBuf,
    /// Use the simulated board instead of real hardware.
    pub simulate: bool,
}

impl Default for HardwareConfig {
    fn default() -> Self {
        HardwareConfig {
            sysfs_root: PathBuf::from(DEFAULT_SYSFS_ROOT),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            simulate: DEFAULT_SIMULATE,
        }
    }
}

/// Applies defaults; both directories must be absolute, since a daemon's working directory means nothing.
pub(super) fn validate(raw: RawHardware) -> Result<HardwareConfig, ConfigError> {
    Ok(HardwareConfig {
        sysfs_root: match raw.sysfs_root {
            Some(text) => absolute_path(
                "hardware.sysfs_root",
                &text,
                &absolute_path_text(DEFAULT_SYSFS_ROOT),
            )?,
            None => PathBuf::from(DEFAULT_SYSFS_ROOT),
        },
        state_dir: match raw.state_dir {
            Some(text) => absolute_path(
                "hardware.state_dir",
                &text,
                &absolute_path_text(DEFAULT_STATE_DIR),
            )?,
            None => PathBuf::from(DEFAULT_STATE_DIR),
        },
        simulate: raw.simulate.unwrap_or(DEFAULT_SIMULATE),
    })
}

/// What `hardware.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "sysfs_root" => absolute_path_text(DEFAULT_SYSFS_ROOT),
        "state_dir" => absolute_path_text(DEFAULT_STATE_DIR),
        "simulate" => "true or false".to_string(),
        _ => return None,
    })
}
