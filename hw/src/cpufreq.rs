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
//! now, for a reload that switches to the "governor" strategy. A policy whose
//! `cpuinfo_min_freq` lies above its `cpuinfo_max_freq` is refused
//! ([`HwError::CpuInfoRange`]); one that starts capped at its lowest step (or below) is
//! flagged by [`SysfsCpuFreq::starts_capped_note`].
//!
//! Policies may start at different `scaling_max_freq` values (a CPU cluster capped lower
//! by the firmware or by hand): a cap is written to each policy as the lower of the cap
//! and that policy's own original, so throttling never raises a policy, and the highest
//! original is the cap that leaves every policy alone ([`CpuFreq::original`]).
//!
//! Only what warden changed is put back: [`CpuFreq::restore`] writes back the files
//! written since opening (or since the last complete restore), so a governor the operator
//! switches while the "max-freq" strategy runs is left alone, and a file warden never
//! writes cannot fail the exit. [`CpuFreqFiles`] tells the crash-restore state which files
//! a strategy writes. Every write goes to every policy and reports every failure
//! ([`HwError::Several`] for more than one); a write the kernel refuses to a file that
//! already holds the value asked for (an immutable policy warden never changed) is no
//! failure: the file is read back only then, never in the normal case.
//!
//! [`CpuFreq::max_khz`] reports the lowest cap in force on any policy. It reads policy0 and
//! every policy whose last write failed; the others hold what was last written to them, so
//! a single-policy Pi costs one read, as before.

use std::path::{Path, PathBuf};

use crate::error::HwError;
use crate::restore::RestoreEntry;
use crate::sysfs_io::{
    numbered_entries, parent_dir, parse_error, read_trimmed, read_u64, write_or_already_held,
};
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
/// Name of a policy's max-frequency file.
pub(crate) const MAX_FREQ_FILE: &str = "scaling_max_freq";
/// Name of a policy's governor file.
pub(crate) const GOVERNOR_FILE: &str = "scaling_governor";

/// Which cpufreq files a throttling strategy writes (or a backend has written), so that
/// only those are put back and recorded for a crash restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuFreqFiles {
    /// `scaling_max_freq` (written by the "max-freq" strategy).
    pub scaling_max_freq: bool,
    /// `scaling_governor` (written by the "governor" strategy).
    pub scaling_governor: bool,
}

impl CpuFreqFiles {
    /// No file (cpufreq not touched).
    pub const NONE: CpuFreqFiles = CpuFreqFiles {
        scaling_max_freq: false,
        scaling_governor: false,
    };
    /// `scaling_max_freq` only.
    pub const MAX_FREQ: CpuFreqFiles = CpuFreqFiles {
        scaling_max_freq: true,
        scaling_governor: false,
    };
    /// `scaling_governor` only.
    pub const GOVERNOR: CpuFreqFiles = CpuFreqFiles {
        scaling_max_freq: false,
        scaling_governor: true,
    };
    /// Both files.
    pub const ALL: CpuFreqFiles = CpuFreqFiles {
        scaling_max_freq: true,
        scaling_governor: true,
    };

    /// The files of `self` and of `other` (a reload from one strategy to another).
    pub fn union(self, other: CpuFreqFiles) -> CpuFreqFiles {
        CpuFreqFiles {
            scaling_max_freq: self.scaling_max_freq || other.scaling_max_freq,
            scaling_governor: self.scaling_governor || other.scaling_governor,
        }
    }

    /// True when `path` names one of these files (by its file name).
    pub fn covers(self, path: &Path) -> bool {
        match path.file_name().and_then(|name| name.to_str()) {
            Some(MAX_FREQ_FILE) => self.scaling_max_freq,
            Some(GOVERNOR_FILE) => self.scaling_governor,
            _ => false,
        }
    }
}

/// One cpufreq policy directory and its original values.
#[derive(Debug, Clone)]
struct Policy {
    dir: PathBuf,
    original_max_khz: u64,
    /// `None` when the policy has no `scaling_governor` (not needed by max-freq throttling).
    original_governor: Option<String>,
    /// What its `scaling_max_freq` holds as far as warden knows: the original when opened,
    /// then the last value written; `None` after a failed write (it may hold any value
    /// asked for since), until a write succeeds.
    held_max_khz: Option<u64>,
}

impl Policy {
    fn max_path(&self) -> PathBuf {
        self.dir.join(MAX_FREQ_FILE)
    }

    fn governor_path(&self) -> PathBuf {
        self.dir.join(GOVERNOR_FILE)
    }
}

/// Every `policy*` under `sys/devices/system/cpu/cpufreq`, driven together.
#[derive(Debug, Clone)]
pub struct SysfsCpuFreq {
    policies: Vec<Policy>,
    steps_khz: Vec<u64>,
    ignored_steps: Vec<String>,
    /// Files written (or tried, which may have changed some policies) since opening or
    /// since they were last put back: what [`CpuFreq::restore`] writes back.
    written: CpuFreqFiles,
}

impl SysfsCpuFreq {
    /// Opens every policy under the root, reads the steps and captures the originals.
    /// No policy at all is [`HwError::NoCpuFreq`]; a policy without `scaling_max_freq`, or
    /// with a zero one, is an error, and so is one whose `cpuinfo_min_freq` lies above its
    /// `cpuinfo_max_freq` ([`HwError::CpuInfoRange`]). `scaling_governor` may be missing
    /// (see [`SysfsCpuFreq::check_governor`] for the strategy that needs it).
    pub fn open(sysfs_root: &Path) -> Result<Self, HwError> {
        let dir = sysfs_root.join(CPUFREQ_DIR);
        let entries = numbered_entries(&dir, "policy")?;
        let Some((_, first_dir)) = entries.first() else {
            return Err(HwError::NoCpuFreq { dir });
        };
        for (_, policy_dir) in &entries {
            check_cpuinfo_limits(policy_dir)?;
        }
        let (steps_khz, ignored_steps) = read_steps(first_dir)?;
        let policies = entries
            .iter()
            .map(|(_, policy_dir)| {
                let original_governor =
                    match read_trimmed(&policy_dir.join(GOVERNOR_FILE), GOVERNOR) {
                        Ok(governor) => Some(governor),
                        Err(HwError::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    };
                let original_max_khz = read_nonzero_khz(&policy_dir.join(MAX_FREQ_FILE))?;
                Ok(Policy {
                    original_max_khz,
                    original_governor,
                    held_max_khz: Some(original_max_khz),
                    dir: policy_dir.clone(),
                })
            })
            .collect::<Result<Vec<_>, HwError>>()?;
        Ok(SysfsCpuFreq {
            policies,
            steps_khz,
            ignored_steps,
            written: CpuFreqFiles::NONE,
        })
    }

    /// A note when a policy starts capped at or below the lowest step while higher steps
    /// exist: warden takes that value as the original, cannot throttle below it and puts
    /// it back at exit, which keeps a CPU left at its minimum (by an earlier throttle, a
    /// damaged restore or by hand) there. `None` normally.
    pub fn starts_capped_note(&self) -> Option<String> {
        let (&lowest, &highest) = (self.steps_khz.first()?, self.steps_khz.last()?);
        let policy = self
            .policies
            .iter()
            .find(|p| p.original_max_khz <= lowest && lowest < highest)?;
        let khz = policy.original_max_khz;
        let relation = if khz < lowest { "below" } else { "at" };
        Some(format!(
            "cpufreq: {} holds {khz} kHz, {relation} the lowest step ({lowest} kHz of {:?}): \
             the CPU starts capped at its minimum, so warden cannot throttle it further and \
             puts {khz} kHz back at exit; an earlier throttle or a damaged restore may have \
             left it there: unless that is deliberate, write {highest} into it and restart warden",
            policy.max_path().display(),
            self.steps_khz
        ))
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

    /// Writes `value(policy)` to the `scaling_governor` of every policy, skipping a policy
    /// whose value is `None`; tries them all and reports every failure
    /// ([`HwError::combine`]).
    fn write_governors(&self, value: impl Fn(&Policy) -> Option<String>) -> Result<(), HwError> {
        let errors = self.policies.iter().filter_map(|policy| {
            let value = value(policy)?;
            write_or_already_held(&policy.governor_path(), &value).err()
        });
        HwError::combine(errors)
    }

    /// Writes `khz(policy)` to the `scaling_max_freq` of every policy, noting what each now
    /// holds (unknown after a failure); tries them all and reports every failure.
    fn write_max_freqs(&mut self, khz: impl Fn(&Policy) -> u64) -> Result<(), HwError> {
        let mut errors = Vec::new();
        for policy in &mut self.policies {
            let value = khz(policy);
            match write_or_already_held(&policy.max_path(), &value.to_string()) {
                Ok(()) => policy.held_max_khz = Some(value),
                Err(error) => {
                    policy.held_max_khz = None;
                    errors.push(error);
                }
            }
        }
        HwError::combine(errors)
    }

    /// The highest original `scaling_max_freq`: the cap that leaves every policy alone.
    fn highest_original_khz(&self) -> u64 {
        self.policies
            .iter()
            .map(|p| p.original_max_khz)
            .max()
            .unwrap_or(0)
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

/// Refuses a policy whose `cpuinfo_min_freq` is above its `cpuinfo_max_freq`
/// ([`HwError::CpuInfoRange`]); either missing passes (steps from
/// `scaling_available_frequencies` do not need them).
fn check_cpuinfo_limits(policy_dir: &Path) -> Result<(), HwError> {
    let min_path = policy_dir.join("cpuinfo_min_freq");
    let max_path = policy_dir.join("cpuinfo_max_freq");
    let (Ok(min_khz), Ok(max_khz)) = (read_u64(&min_path, KHZ), read_u64(&max_path, KHZ)) else {
        return Ok(());
    };
    if min_khz > max_khz {
        return Err(HwError::CpuInfoRange {
            min_path,
            min_khz,
            max_path,
            max_khz,
        });
    }
    Ok(())
}

/// Refuses a crash-restore `value` for `path` that cannot be right: for a
/// `scaling_max_freq`, anything but a non-zero kHz value within its policy's
/// `cpuinfo_min_freq` ..= `cpuinfo_max_freq` (each bound checked when readable). Any other
/// file passes.
pub(crate) fn check_restore_value(path: &Path, value: &str) -> Result<(), HwError> {
    if path.file_name().and_then(|name| name.to_str()) != Some(MAX_FREQ_FILE) {
        return Ok(());
    }
    let refuse = |reason: String| HwError::RefusedValue {
        path: path.to_path_buf(),
        value: value.to_string(),
        reason,
    };
    let khz = match value.trim().parse::<u64>() {
        Ok(khz) if khz > 0 => khz,
        _ => return Err(refuse(format!("{MAX_FREQ_FILE} takes {NONZERO_KHZ}"))),
    };
    let dir = parent_dir(path);
    let bound = |name: &str| {
        let file = dir.join(name);
        read_u64(&file, KHZ).ok().map(|khz| (khz, file))
    };
    if let Some((min, file)) = bound("cpuinfo_min_freq").filter(|(min, _)| khz < *min) {
        return Err(refuse(format!(
            "below the policy's lowest frequency ({min} kHz in {})",
            file.display()
        )));
    }
    if let Some((max, file)) = bound("cpuinfo_max_freq").filter(|(max, _)| khz > *max) {
        return Err(refuse(format!(
            "above the policy's highest frequency ({max} kHz in {})",
            file.display()
        )));
    }
    Ok(())
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

    /// The lowest `scaling_max_freq` any policy holds below its own original, else the
    /// highest original (or what policy0 holds, when raised above it by hand). Reads policy0
    /// and the policies whose last write failed; the others hold what was written to them.
    fn max_khz(&mut self) -> Result<u64, HwError> {
        let highest = self.highest_original_khz();
        let mut lowest_cap = u64::MAX;
        for (index, policy) in self.policies.iter().enumerate() {
            let khz = match policy.held_max_khz {
                Some(khz) if index > 0 => khz,
                _ => read_u64(&policy.max_path(), KHZ)?,
            };
            // A policy at (or above) its own original is not capped, however low that is.
            let cap = if khz < policy.original_max_khz {
                khz
            } else {
                khz.max(highest)
            };
            lowest_cap = lowest_cap.min(cap);
        }
        Ok(lowest_cap)
    }

    fn set_max_khz(&mut self, khz: u64) -> Result<(), HwError> {
        if khz == 0 {
            return Err(HwError::InvalidSpec {
                field: "cpufreq max",
                reason: "0 kHz is not a frequency".into(),
            });
        }
        // Before writing: a write that fails may still have changed some policies.
        self.written.scaling_max_freq = true;
        // Never above a policy's own original: a policy capped lower stays as low.
        self.write_max_freqs(|p| khz.min(p.original_max_khz))
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
        self.written.scaling_governor = true;
        self.write_governors(|_| Some(governor.to_string()))
    }

    /// The highest original `scaling_max_freq` of any policy (each policy gets at most its
    /// own, so this cap leaves every one alone) and the first policy's governor, empty when
    /// it has no `scaling_governor`.
    fn original(&self) -> (u64, String) {
        (
            self.highest_original_khz(),
            self.first().original_governor.clone().unwrap_or_default(),
        )
    }

    /// Writes back the originals of the files written since opening (or since they were
    /// last put back), on every policy; a file never written is left as it is, and so is
    /// one that refuses the write while holding its original already. Every failure is
    /// reported ([`HwError::Several`] for more than one), and a file that failed is tried
    /// again by the next call.
    fn restore(&mut self) -> Result<(), HwError> {
        let mut errors = Vec::new();
        if self.written.scaling_governor {
            match self.write_governors(|p| p.original_governor.clone()) {
                Ok(()) => self.written.scaling_governor = false,
                Err(e) => errors.push(e),
            }
        }
        if self.written.scaling_max_freq {
            match self.write_max_freqs(|p| p.original_max_khz) {
                Ok(()) => self.written.scaling_max_freq = false,
                Err(e) => errors.push(e),
            }
        }
        HwError::combine(errors)
    }

    /// Every policy's original governor (when it has one) and max frequency; the
    /// crash-restore state keeps those of the files its strategy writes
    /// ([`CpuFreqFiles::covers`]).
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
