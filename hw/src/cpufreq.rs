//! CPU frequency capping through sysfs cpufreq policies: the mechanism only.
//!
//! Which step to pick and when is policy, and lives in warden-thermal. This module lists
//! the steps, writes `scaling_max_freq` / `scaling_governor` on every policy, and keeps
//! each policy's original values (captured when opened) to put back.

use std::path::{Path, PathBuf};

use crate::error::HwError;
use crate::restore::RestoreEntry;
use crate::sysfs_io::{numbered_entries, parse_error, read_trimmed, read_u64, write_text};
use crate::CpuFreq;

/// Directory of cpufreq policies, relative to the sysfs root.
pub const CPUFREQ_DIR: &str = "sys/devices/system/cpu/cpufreq";
/// Smallest step used when steps are derived from `cpuinfo_min_freq`/`cpuinfo_max_freq`.
pub const DERIVED_STEP_MIN_KHZ: u64 = 100_000;
/// Most steps derived from `cpuinfo_min_freq`/`cpuinfo_max_freq` (the step grows to fit).
pub const DERIVED_STEPS_MAX: u64 = 32;

/// What a frequency file must hold.
const KHZ: &str = "a frequency in kHz";
/// What a governor file must hold.
const GOVERNOR: &str = "a cpufreq governor name";

/// One cpufreq policy directory and its original values.
#[derive(Debug, Clone)]
struct Policy {
    dir: PathBuf,
    original_max_khz: u64,
    original_governor: String,
}

impl Policy {
    fn max_path(&self) -> PathBuf {
        self.dir.join("scaling_max_freq")
    }

    fn governor_path(&self) -> PathBuf {
        self.dir.join("scaling_governor")
    }
}

/// Every `policy*` under `sys/devices/system/cpu/cpufreq`, driven together.
#[derive(Debug, Clone)]
pub struct SysfsCpuFreq {
    policies: Vec<Policy>,
    steps_khz: Vec<u64>,
    available_governors: Option<Vec<String>>,
}

impl SysfsCpuFreq {
    /// Opens every policy under the root, reads the steps and captures the originals.
    /// No policy at all is [`HwError::NoCpuFreq`].
    pub fn open(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(CPUFREQ_DIR);
        let entries = numbered_entries(&dir, "policy");
        let Some((_, first_dir)) = entries.first() else {
            return Err(HwError::NoCpuFreq { dir });
        };
        let steps_khz = read_steps(first_dir)?;
        let available_governors =
            read_trimmed(&first_dir.join("scaling_available_governors"), GOVERNOR)
                .ok()
                .map(|text| text.split_whitespace().map(str::to_string).collect());
        let policies = entries
            .iter()
            .map(|(_, policy_dir)| {
                Ok(Policy {
                    original_max_khz: read_u64(&policy_dir.join("scaling_max_freq"), KHZ)?,
                    original_governor: read_trimmed(
                        &policy_dir.join("scaling_governor"),
                        GOVERNOR,
                    )?,
                    dir: policy_dir.clone(),
                })
            })
            .collect::<Result<Vec<_>, HwError>>()?;
        Ok(SysfsCpuFreq {
            policies,
            steps_khz,
            available_governors,
        })
    }

    /// The policy directories driven, in numeric order.
    pub fn policy_dirs(&self) -> impl Iterator<Item = &Path> {
        self.policies.iter().map(|p| p.dir.as_path())
    }

    /// Writes `value` to the file `file_of(policy)` of every policy; tries them all and
    /// returns the first error.
    fn write_all(
        &self,
        file_of: impl Fn(&Policy) -> PathBuf,
        value: impl Fn(&Policy) -> String,
    ) -> Result<(), HwError> {
        let mut first_error = None;
        for policy in &self.policies {
            if let Err(e) = write_text(&file_of(policy), &value(policy)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn first(&self) -> &Policy {
        // `open` refuses to build without a policy.
        &self.policies[0]
    }
}

/// Reads `scaling_available_frequencies` (sorted, deduplicated) or derives steps from
/// `cpuinfo_min_freq`/`cpuinfo_max_freq`.
fn read_steps(policy_dir: &Path) -> Result<Vec<u64>, HwError> {
    let available = policy_dir.join("scaling_available_frequencies");
    match read_trimmed(&available, "a list of frequencies in kHz") {
        Ok(text) => {
            let mut steps = text
                .split_whitespace()
                .map(|word| {
                    word.parse::<u64>()
                        .map_err(|_| parse_error(&available, &text, "a list of frequencies in kHz"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            steps.sort_unstable();
            steps.dedup();
            Ok(steps)
        }
        Err(HwError::NotFound { .. }) | Err(HwError::Empty { .. }) => {
            let min = read_u64(&policy_dir.join("cpuinfo_min_freq"), KHZ)?;
            let max = read_u64(&policy_dir.join("cpuinfo_max_freq"), KHZ)?;
            Ok(derive_steps(min, max))
        }
        Err(e) => Err(e),
    }
}

/// Steps from `min` to `max` (both included), at least [`DERIVED_STEP_MIN_KHZ`] apart and
/// at most about [`DERIVED_STEPS_MAX`] of them.
pub fn derive_steps(min_khz: u64, max_khz: u64) -> Vec<u64> {
    if min_khz >= max_khz {
        return vec![max_khz];
    }
    let span = max_khz - min_khz;
    let step = DERIVED_STEP_MIN_KHZ.max(span.div_ceil(DERIVED_STEPS_MAX));
    let mut steps: Vec<u64> = (0..)
        .map(|i| min_khz + i * step)
        .take_while(|&khz| khz < max_khz)
        .collect();
    steps.push(max_khz);
    steps
}

impl CpuFreq for SysfsCpuFreq {
    fn steps_khz(&self) -> &[u64] {
        &self.steps_khz
    }

    fn max_khz(&mut self) -> Result<u64, HwError> {
        read_u64(&self.first().max_path(), KHZ)
    }

    fn set_max_khz(&mut self, khz: u64) -> Result<(), HwError> {
        if khz == 0 {
            return Err(HwError::InvalidSpec {
                field: "cpufreq max",
                reason: "0 kHz is not a frequency".into(),
            });
        }
        self.write_all(Policy::max_path, |_| khz.to_string())
    }

    fn governor(&mut self) -> Result<String, HwError> {
        read_trimmed(&self.first().governor_path(), GOVERNOR)
    }

    fn set_governor(&mut self, governor: &str) -> Result<(), HwError> {
        let plausible = !governor.is_empty()
            && governor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let offered = self
            .available_governors
            .as_ref()
            .map_or(plausible, |list| list.iter().any(|g| g == governor));
        if !offered {
            return Err(HwError::GovernorNotAvailable {
                governor: governor.to_string(),
                available: self
                    .available_governors
                    .as_ref()
                    .map_or("unknown".into(), |list| list.join(" ")),
            });
        }
        self.write_all(Policy::governor_path, |_| governor.to_string())
    }

    fn original(&self) -> (u64, String) {
        let first = self.first();
        (first.original_max_khz, first.original_governor.clone())
    }

    fn restore(&mut self) -> Result<(), HwError> {
        let governors = self.write_all(Policy::governor_path, |p| p.original_governor.clone());
        let maxima = self.write_all(Policy::max_path, |p| p.original_max_khz.to_string());
        governors.and(maxima)
    }

    fn restore_entries(&self) -> Vec<RestoreEntry> {
        self.policies
            .iter()
            .flat_map(|p| {
                [
                    RestoreEntry::new(p.governor_path(), p.original_governor.clone()),
                    RestoreEntry::new(p.max_path(), p.original_max_khz.to_string()),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_steps_include_both_ends_100_mhz_apart() {
        assert_eq!(
            derive_steps(600_000, 1_000_000),
            vec![600_000, 700_000, 800_000, 900_000, 1_000_000]
        );
        assert_eq!(derive_steps(600_000, 1_050_000).last(), Some(&1_050_000));
    }

    #[test]
    fn derived_steps_stay_few_over_wide_ranges() {
        let steps = derive_steps(400_000, 5_000_000);
        assert!(
            steps.len() <= DERIVED_STEPS_MAX as usize + 1,
            "{} steps",
            steps.len()
        );
        assert_eq!((steps[0], *steps.last().unwrap()), (400_000, 5_000_000));
        assert!(steps.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_fixed_frequency_is_one_step() {
        assert_eq!(derive_steps(1_500_000, 1_500_000), vec![1_500_000]);
    }
}
