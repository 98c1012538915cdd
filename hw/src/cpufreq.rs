//! CPU frequency capping through sysfs cpufreq policies: the mechanism only.
//!
//! Which step to pick and when is policy, and lives in warden-thermal. This module lists
//! the steps, writes `scaling_max_freq` / `scaling_governor` on every policy, and keeps
//! each policy's original values (captured when opened) to put back.
//!
//! Everything a throttle will need is checked when opening, not at the first throttle:
//! unusable words in `scaling_available_frequencies` (a `0`, garbage) are dropped and
//! listed by [`SysfsCpuFreq::ignored_steps`]; a zero `scaling_max_freq` is refused; and
//! [`SysfsCpuFreq::check_governor`] checks the governor a "governor" strategy will switch
//! to. `scaling_governor` itself is optional: the max-freq strategy never touches it.
//! [`check_powersave_governor`] runs that check again, on the kernel's lists as they are
//! now, for a reload that switches to the "governor" strategy.

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
/// What a frequency file that must not be zero must hold.
const NONZERO_KHZ: &str = "a non-zero frequency in kHz";
/// What a governor file must hold.
const GOVERNOR: &str = "a cpufreq governor name";
/// What `scaling_available_frequencies` must hold.
const KHZ_LIST: &str = "a list of frequencies in kHz";

/// One cpufreq policy directory and its original values.
#[derive(Debug, Clone)]
struct Policy {
    dir: PathBuf,
    original_max_khz: u64,
    /// `None` when the policy has no `scaling_governor` (not needed by max-freq throttling).
    original_governor: Option<String>,
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
    ignored_steps: Vec<String>,
}

impl SysfsCpuFreq {
    /// Opens every policy under the root, reads the steps and captures the originals.
    /// No policy at all is [`HwError::NoCpuFreq`]; a policy without `scaling_max_freq`, or
    /// with a zero one, is an error. `scaling_governor` may be missing (see
    /// [`SysfsCpuFreq::check_governor`] for the strategy that needs it).
    pub fn open(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(CPUFREQ_DIR);
        let entries = numbered_entries(&dir, "policy")?;
        let Some((_, first_dir)) = entries.first() else {
            return Err(HwError::NoCpuFreq { dir });
        };
        let (steps_khz, ignored_steps) = read_steps(first_dir)?;
        let policies = entries
            .iter()
            .map(|(_, policy_dir)| {
                let original_governor =
                    match read_trimmed(&policy_dir.join("scaling_governor"), GOVERNOR) {
                        Ok(governor) => Some(governor),
                        Err(HwError::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    };
                Ok(Policy {
                    original_max_khz: read_nonzero_khz(&policy_dir.join("scaling_max_freq"))?,
                    original_governor,
                    dir: policy_dir.clone(),
                })
            })
            .collect::<Result<Vec<_>, HwError>>()?;
        Ok(SysfsCpuFreq {
            policies,
            steps_khz,
            ignored_steps,
        })
    }

    /// Words of `scaling_available_frequencies` left out of the steps because they are not
    /// usable frequencies (a `0`, garbage), as read; empty normally.
    pub fn ignored_steps(&self) -> &[String] {
        &self.ignored_steps
    }

    /// The first policy's `scaling_available_frequencies`, named in notes.
    pub fn available_frequencies_path(&self) -> PathBuf {
        self.first().dir.join("scaling_available_frequencies")
    }

    /// Checks, before any throttle, that `governor` can be switched to on every policy:
    /// each has a `scaling_governor` ([`HwError::InvalidSpec`] naming the missing file
    /// otherwise) and, when the kernel lists `scaling_available_governors`, it is listed
    /// ([`HwError::GovernorNotAvailable`] naming the governor, the file and the list).
    pub fn check_governor(&self, governor: &str) -> Result<(), HwError> {
        if let Some(policy) = self.policies.iter().find(|p| p.original_governor.is_none()) {
            return Err(HwError::InvalidSpec {
                field: "cpufreq.strategy",
                reason: format!(
                    "\"governor\" switches {}, which does not exist on this kernel; \
                     use strategy = \"max-freq\"",
                    policy.governor_path().display()
                ),
            });
        }
        self.check_offered(governor)
    }

    /// Refuses a governor that the kernel's list (or, without one, a plausible name) rules out.
    /// The list is read each time: loading a governor module adds to it while warden runs.
    fn check_offered(&self, governor: &str) -> Result<(), HwError> {
        let file = self.first().dir.join("scaling_available_governors");
        let available = read_trimmed(&file, GOVERNOR).ok();
        let plausible = !governor.is_empty()
            && governor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let offered = available.as_deref().map_or(plausible, |list| {
            list.split_whitespace().any(|g| g == governor)
        });
        if offered {
            return Ok(());
        }
        Err(HwError::GovernorNotAvailable {
            governor: governor.to_string(),
            file,
            available: available.unwrap_or_else(|| "unknown".into()),
        })
    }

    /// The policy directories driven, in numeric order.
    pub fn policy_dirs(&self) -> impl Iterator<Item = &Path> {
        self.policies.iter().map(|p| p.dir.as_path())
    }

    /// Writes `value(policy)` to the file `file_of(policy)` of every policy, skipping a
    /// policy whose value is `None`; tries them all and returns the first error.
    fn write_all(
        &self,
        file_of: impl Fn(&Policy) -> PathBuf,
        value: impl Fn(&Policy) -> Option<String>,
    ) -> Result<(), HwError> {
        let mut first_error = None;
        for policy in &self.policies {
            let Some(value) = value(policy) else { continue };
            if let Err(e) = write_text(&file_of(policy), &value) {
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

/// Checks, changing nothing, that the cpufreq policies under `sysfs_root` can switch to
/// `governor` now: the check [`crate::build`] makes for `HardwareSpec::powersave_governor`
/// ([`SysfsCpuFreq::check_governor`]), for a reload that switches to the "governor" strategy.
/// No cpufreq at all passes: there is nothing to switch.
pub fn check_powersave_governor(sysfs_root: &Path, governor: &str) -> Result<(), HwError> {
    match SysfsCpuFreq::open(sysfs_root) {
        Ok(cpufreq) => cpufreq.check_governor(governor),
        Err(HwError::NoCpuFreq { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads a frequency file that must hold a non-zero kHz value.
fn read_nonzero_khz(path: &Path) -> Result<u64, HwError> {
    match read_u64(path, NONZERO_KHZ)? {
        0 => Err(parse_error(path, "0", NONZERO_KHZ)),
        khz => Ok(khz),
    }
}

/// Reads `scaling_available_frequencies` (sorted, deduplicated, without the words that are
/// not non-zero kHz values, which are returned second), or derives steps from
/// `cpuinfo_min_freq`/`cpuinfo_max_freq` when the list is missing, empty or has no usable step.
fn read_steps(policy_dir: &Path) -> Result<(Vec<u64>, Vec<String>), HwError> {
    let available = policy_dir.join("scaling_available_frequencies");
    let mut ignored = Vec::new();
    match read_trimmed(&available, KHZ_LIST) {
        Ok(text) => {
            let mut steps = Vec::new();
            for word in text.split_whitespace() {
                match word.parse::<u64>() {
                    Ok(khz) if khz > 0 => steps.push(khz),
                    _ => ignored.push(word.chars().take(QUOTED_STEP_MAX_CHARS).collect()),
                }
            }
            if !steps.is_empty() {
                steps.sort_unstable();
                steps.dedup();
                return Ok((steps, ignored));
            }
        }
        Err(HwError::NotFound { .. }) | Err(HwError::Empty { .. }) => {}
        Err(e) => return Err(e),
    }
    let min = read_u64(&policy_dir.join("cpuinfo_min_freq"), KHZ)?;
    let max = read_nonzero_khz(&policy_dir.join("cpuinfo_max_freq"))?;
    Ok((derive_steps(min, max), ignored))
}

/// Longest ignored word of `scaling_available_frequencies` kept for the note.
const QUOTED_STEP_MAX_CHARS: usize = 32;

/// Steps from `min` to `max` (both included), at least [`DERIVED_STEP_MIN_KHZ`] apart and
/// at most about [`DERIVED_STEPS_MAX`] of them. Never 0 kHz, which is not a frequency.
pub fn derive_steps(min_khz: u64, max_khz: u64) -> Vec<u64> {
    if max_khz == 0 {
        return Vec::new();
    }
    if min_khz >= max_khz {
        return vec![max_khz];
    }
    let span = max_khz - min_khz;
    let step = DERIVED_STEP_MIN_KHZ.max(span.div_ceil(DERIVED_STEPS_MAX));
    let mut steps: Vec<u64> = (0..)
        .map(|i| min_khz + i * step)
        .take_while(|&khz| khz < max_khz)
        .filter(|&khz| khz > 0)
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
        self.write_all(Policy::max_path, |_| Some(khz.to_string()))
    }

    /// Empty when the first policy had no `scaling_governor` when opened (nothing to read).
    fn governor(&mut self) -> Result<String, HwError> {
        if self.first().original_governor.is_none() {
            return Ok(String::new());
        }
        read_trimmed(&self.first().governor_path(), GOVERNOR)
    }

    fn set_governor(&mut self, governor: &str) -> Result<(), HwError> {
        self.check_offered(governor)?;
        self.write_all(Policy::governor_path, |_| Some(governor.to_string()))
    }

    /// The governor is empty when the first policy has no `scaling_governor`.
    fn original(&self) -> (u64, String) {
        let first = self.first();
        (
            first.original_max_khz,
            first.original_governor.clone().unwrap_or_default(),
        )
    }

    fn restore(&mut self) -> Result<(), HwError> {
        // Both run whatever the first returns: every policy is tried.
        let governors = self.write_all(Policy::governor_path, |p| p.original_governor.clone());
        let maxima = self.write_all(Policy::max_path, |p| Some(p.original_max_khz.to_string()));
        governors.and(maxima)
    }

    fn restore_entries(&self) -> Vec<RestoreEntry> {
        self.policies
            .iter()
            .flat_map(|p| {
                let governor = p
                    .original_governor
                    .as_ref()
                    .map(|g| RestoreEntry::new(p.governor_path(), g.clone()));
                let max = RestoreEntry::new(p.max_path(), p.original_max_khz.to_string());
                governor.into_iter().chain([max])
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

    #[test]
    fn derived_steps_never_include_zero() {
        assert_eq!(derive_steps(0, 300_000), vec![100_000, 200_000, 300_000]);
        assert_eq!(derive_steps(0, 0), Vec::<u64>::new());
    }
}
