//! CPU frequency capping through sysfs cpufreq policies: the mechanism only.
//!
//! Which step to pick and when is policy, and lives in warden-thermal. This module lists
//! the steps, writes `scaling_max_freq` / `scaling_governor` on every policy, and keeps
//! each policy's original values (captured when opened, taken afresh by
//! [`CpuFreq::retake_originals`]) to put back.
//!
//! Everything a throttle will need is checked when opening, not at the first throttle:
//! unusable words in `scaling_available_frequencies` (a `0`, garbage) are dropped and
//! listed by [`SysfsCpuFreq::ignored_steps`]; a zero `scaling_max_freq` is refused; and
//! [`SysfsCpuFreq::check_governor`] checks the governor a "governor" strategy will switch
//! to. `scaling_governor` itself is optional: the max-freq strategy never touches it.
//! [`check_powersave_governor`] runs that check again, on the kernel's lists as they are
//! now, for a reload that switches to the "governor" strategy. A policy whose
//! `cpuinfo_min_freq` lies above its `cpuinfo_max_freq` is refused
//! ([`HwError::CpuInfoRange`]); an original `scaling_max_freq` outside
//! `cpuinfo_min_freq` ..= `cpuinfo_max_freq` (a fake or odd tree) is moved into them with
//! a warning naming the file, the value and the limit, so what is put back at exit and
//! what a crash restore accepts agree (`limits`); one that starts capped at its lowest step
//! (or below) is flagged by [`SysfsCpuFreq::starts_capped_note`].
//!
//! Policies may differ (a CPU cluster of its own frequencies, or capped lower by the
//! firmware or by hand): the steps are those of every policy merged, and a cap is written
//! to each policy clamped into its own range, from its `cpuinfo_min_freq` (else its lowest
//! step) up to its own original, so throttling never raises a policy nor asks one for less
//! than it can run at; the highest original is the cap that leaves every policy alone
//! ([`CpuFreq::original`]).
//!
//! Only what warden changed is put back: [`CpuFreq::restore`] writes back the files
//! written since opening (or since every policy was last put back at its original, by a
//! restore or by a write), so a governor the operator switches while the "max-freq"
//! strategy runs is left alone, and so is a change made after a throttle ended, and a file
//! warden never writes cannot fail the exit. [`CpuFreqFiles`] tells the crash-restore
//! state which files a strategy writes. Every write goes to every policy and reports every
//! failure ([`HwError::Several`] for more than one); a write the kernel refuses to a file
//! that already holds the value asked for (an immutable policy warden never changed) is no
//! failure: the file is read back only then, never in the normal case.
//!
//! [`CpuFreq::max_khz`] reports the lowest cap in force on any policy: the lowest
//! `scaling_max_freq` a policy holds below its own original. It reads policy0 and every
//! policy whose last write failed; the others hold what was last written to them, so a
//! single-policy Pi costs one read, as before.

mod files;
mod limits;
mod steps;

use std::path::{Path, PathBuf};

use crate::error::HwError;
use crate::restore::RestoreEntry;
use crate::sysfs_io::{
    numbered_entries, parse_error, read_trimmed, read_u64, write_or_already_held,
};
use crate::CpuFreq;

pub use files::CpuFreqFiles;
pub(crate) use limits::check_restore_value;
use limits::CpuInfoLimits;
use steps::read_steps;
pub use steps::{derive_steps, DERIVED_STEPS_MAX, DERIVED_STEP_MIN_KHZ};

/// Directory of cpufreq policies, relative to the sysfs root.
pub const CPUFREQ_DIR: &str = "sys/devices/system/cpu/cpufreq";

/// What a frequency file must hold.
const KHZ: &str = "a frequency in kHz";
/// What a frequency file that must not be zero must hold.
const NONZERO_KHZ: &str = "a non-zero frequency in kHz";
/// What a governor file must hold.
const GOVERNOR: &str = "a cpufreq governor name";
/// Name of a policy's list of frequencies.
pub(super) const AVAILABLE_FREQUENCIES_FILE: &str = "scaling_available_frequencies";
/// Name of a policy's max-frequency file.
pub(crate) const MAX_FREQ_FILE: &str = "scaling_max_freq";
/// Name of a policy's governor file.
pub(crate) const GOVERNOR_FILE: &str = "scaling_governor";

/// An original that a re-read found changed ([`CpuFreq::retake_originals`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalChange {
    /// The file: a policy's `scaling_max_freq` or `scaling_governor`.
    pub path: PathBuf,
    /// The original recorded until now.
    pub was: String,
    /// What the file holds now: the original from now on.
    pub now: String,
}

/// One cpufreq policy directory, its range and its original values.
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
    /// Its own steps, ascending.
    steps_khz: Vec<u64>,
    /// The lowest `scaling_max_freq` written to it: its `cpuinfo_min_freq`, else its
    /// lowest step.
    min_khz: u64,
    /// Its `cpuinfo_min_freq` and `cpuinfo_max_freq`, read when opened.
    limits: CpuInfoLimits,
}

impl Policy {
    /// Opens the policy in `dir` (whose limits were checked already): its steps, its
    /// originals, the words of its list that are not steps, and the warning for an
    /// original moved into its limits.
    fn open(dir: &Path, limits: CpuInfoLimits) -> Result<OpenedPolicy, HwError> {
        let (steps_khz, ignored) = read_steps(dir)?;
        let original_governor = match read_trimmed(&dir.join(GOVERNOR_FILE), GOVERNOR) {
            Ok(governor) => Some(governor),
            Err(HwError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let min_khz = limits
            .min
            .as_ref()
            .map(|bound| bound.khz)
            .or_else(|| steps_khz.first().copied())
            .unwrap_or(0);
        let mut policy = Policy {
            dir: dir.to_path_buf(),
            original_max_khz: 0,
            original_governor,
            held_max_khz: None,
            steps_khz,
            min_khz,
            limits,
        };
        let (original_max_khz, clamped) = policy.read_max_as_original()?;
        policy.original_max_khz = original_max_khz;
        policy.held_max_khz = Some(original_max_khz);
        Ok(OpenedPolicy {
            policy,
            ignored,
            clamped,
        })
    }

    fn max_path(&self) -> PathBuf {
        self.dir.join(MAX_FREQ_FILE)
    }

    fn governor_path(&self) -> PathBuf {
        self.dir.join(GOVERNOR_FILE)
    }

    /// Reads `scaling_max_freq` (non-zero) to take it as the original: moved into the
    /// policy's limits, with the warning saying so when it had to be.
    fn read_max_as_original(&self) -> Result<(u64, Option<String>), HwError> {
        let path = self.max_path();
        let khz = read_nonzero_khz(&path)?;
        Ok(self.limits.clamp_original(&path, khz))
    }

    /// What this policy is written for a cap of `cap_khz`: the cap clamped up to its own
    /// minimum and down to its own original (never above the original, even should the
    /// minimum lie above it).
    fn cap_for(&self, cap_khz: u64) -> u64 {
        cap_khz.max(self.min_khz).min(self.original_max_khz)
    }
}

/// A policy just opened, with what opening it found worth telling.
struct OpenedPolicy {
    policy: Policy,
    /// Words of its `scaling_available_frequencies` that are not steps.
    ignored: Vec<String>,
    /// The warning for an original moved into its limits.
    clamped: Option<String>,
}

/// Every `policy*` under `sys/devices/system/cpu/cpufreq`, driven together.
#[derive(Debug, Clone)]
pub struct SysfsCpuFreq {
    policies: Vec<Policy>,
    /// Every policy's steps merged, ascending, without duplicates.
    steps_khz: Vec<u64>,
    ignored_steps: Vec<String>,
    /// The first `scaling_available_frequencies` with ignored words, else policy0's.
    ignored_in: PathBuf,
    /// Files written (or tried, which may have changed some policies) since opening or
    /// since every policy was last put back at its original: what [`CpuFreq::restore`]
    /// writes back.
    written: CpuFreqFiles,
}

impl SysfsCpuFreq {
    /// Opens every policy under the root, reads the steps and captures the originals.
    /// No policy at all is [`HwError::NoCpuFreq`]; a policy without `scaling_max_freq`, or
    /// with a zero one, is an error, and so is one whose `cpuinfo_min_freq` lies above its
    /// `cpuinfo_max_freq` ([`HwError::CpuInfoRange`]), or one whose steps cannot be read.
    /// `scaling_governor` may be missing (see [`SysfsCpuFreq::check_governor`] for the
    /// strategy that needs it). An original `scaling_max_freq` outside its policy's
    /// `cpuinfo_min_freq` ..= `cpuinfo_max_freq` is taken as the limit it passes, with
    /// one warning naming the file, the value and the limit; a `cpuinfo_*` file that
    /// cannot be read leaves its side unchecked, with one warning naming it.
    pub fn open(sysfs_root: &Path) -> Result<Self, HwError> {
        let (cpufreq, warnings) = Self::open_quietly(sysfs_root)?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        Ok(cpufreq)
    }

    /// [`SysfsCpuFreq::open`], returning its warnings rather than logging them.
    fn open_quietly(sysfs_root: &Path) -> Result<(Self, Vec<String>), HwError> {
        let dir = sysfs_root.join(CPUFREQ_DIR);
        let entries = numbered_entries(&dir, "policy")?;
        let Some((_, first_dir)) = entries.first() else {
            return Err(HwError::NoCpuFreq { dir });
        };
        let limits = entries
            .iter()
            .map(|(_, policy_dir)| CpuInfoLimits::read_checked(policy_dir))
            .collect::<Result<Vec<_>, HwError>>()?;
        let mut policies = Vec::with_capacity(entries.len());
        let mut steps_khz = Vec::new();
        let mut ignored_steps = Vec::new();
        let mut ignored_in = None;
        let mut warnings = Vec::new();
        for ((_, policy_dir), (limits, gaps)) in entries.iter().zip(limits) {
            warnings.extend(gaps);
            let opened = Policy::open(policy_dir, limits)?;
            if !opened.ignored.is_empty() && ignored_in.is_none() {
                ignored_in = Some(policy_dir.join(AVAILABLE_FREQUENCIES_FILE));
            }
            ignored_steps.extend(opened.ignored);
            warnings.extend(opened.clamped);
            steps_khz.extend_from_slice(&opened.policy.steps_khz);
            policies.push(opened.policy);
        }
        steps_khz.sort_unstable();
        steps_khz.dedup();
        let cpufreq = SysfsCpuFreq {
            policies,
            steps_khz,
            ignored_steps,
            ignored_in: ignored_in.unwrap_or_else(|| first_dir.join(AVAILABLE_FREQUENCIES_FILE)),
            written: CpuFreqFiles::NONE,
        };
        Ok((cpufreq, warnings))
    }

    /// A note when a policy starts capped at or below its own lowest step while it has
    /// higher steps: warden takes that value as the original, cannot throttle below it and
    /// puts it back at exit, which keeps a CPU left at its minimum (by an earlier throttle,
    /// a damaged restore or by hand) there. `None` normally.
    pub fn starts_capped_note(&self) -> Option<String> {
        let policy = self.policies.iter().find(|p| {
            matches!(
                (p.steps_khz.first(), p.steps_khz.last()),
                (Some(&lowest), Some(&highest)) if p.original_max_khz <= lowest && lowest < highest
            )
        })?;
        let (&lowest, &highest) = (policy.steps_khz.first()?, policy.steps_khz.last()?);
        let khz = policy.original_max_khz;
        let relation = if khz < lowest { "below" } else { "at" };
        Some(format!(
            "cpufreq: {} holds {khz} kHz, {relation} the lowest step ({lowest} kHz of {:?}): \
             the CPU starts capped at its minimum, so warden cannot throttle it further and \
             puts {khz} kHz back at exit; an earlier throttle or a damaged restore may have \
             left it there: unless that is deliberate, write {highest} into it and restart warden",
            policy.max_path().display(),
            policy.steps_khz
        ))
    }

    /// Words of `scaling_available_frequencies` left out of the steps because they are not
    /// usable frequencies (a `0`, garbage), as read, of every policy; empty normally.
    pub fn ignored_steps(&self) -> &[String] {
        &self.ignored_steps
    }

    /// The `scaling_available_frequencies` named in the note on ignored words: the first
    /// policy's that had any, else policy0's.
    pub fn available_frequencies_path(&self) -> PathBuf {
        self.ignored_in.clone()
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
/// No cpufreq at all passes: there is nothing to switch. It warns of nothing: opening
/// warned once at start.
pub fn check_powersave_governor(sysfs_root: &Path, governor: &str) -> Result<(), HwError> {
    match SysfsCpuFreq::open_quietly(sysfs_root) {
        Ok((cpufreq, _)) => cpufreq.check_governor(governor),
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

impl CpuFreq for SysfsCpuFreq {
    /// Every policy's steps, merged.
    fn steps_khz(&self) -> &[u64] {
        &self.steps_khz
    }

    /// The lowest `scaling_max_freq` any policy holds below its own original, else the
    /// highest original (or what a policy holds, when raised above it by hand). Reads every
    /// policy: one written by hand (or by another tool) is seen as it is, not as written.
    fn max_khz(&mut self) -> Result<u64, HwError> {
        let highest = self.highest_original_khz();
        let mut lowest_cap = u64::MAX;
        for policy in &self.policies {
            let khz = read_u64(&policy.max_path(), KHZ)?;
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

    /// Writes each policy the cap clamped into its own range: up to its `cpuinfo_min_freq`
    /// (else its lowest step), down to its own original. A write that leaves every policy
    /// at its original leaves nothing to put back.
    fn set_max_khz(&mut self, khz: u64) -> Result<(), HwError> {
        if khz == 0 {
            return Err(HwError::InvalidSpec {
                field: "cpufreq max",
                reason: "0 kHz is not a frequency".into(),
            });
        }
        // Before writing: a write that fails may still have changed some policies.
        self.written.scaling_max_freq = true;
        self.write_max_freqs(|p| p.cap_for(khz))?;
        if self
            .policies
            .iter()
            .all(|p| p.held_max_khz == Some(p.original_max_khz))
        {
            self.written.scaling_max_freq = false;
        }
        Ok(())
    }

    /// Empty when the first policy had no `scaling_governor` when opened (nothing to read).
    fn governor(&mut self) -> Result<String, HwError> {
        if self.first().original_governor.is_none() {
            return Ok(String::new());
        }
        read_trimmed(&self.first().governor_path(), GOVERNOR)
    }

    /// Writes `governor` to every policy; once every policy holds its original governor
    /// again, nothing is left to put back.
    fn set_governor(&mut self, governor: &str) -> Result<(), HwError> {
        self.check_offered(governor)?;
        self.written.scaling_governor = true;
        self.write_governors(|_| Some(governor.to_string()))?;
        if self
            .policies
            .iter()
            .all(|p| p.original_governor.as_deref() == Some(governor))
        {
            self.written.scaling_governor = false;
        }
        Ok(())
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

    /// Writes back the originals of the files written since opening (or since every
    /// policy was last put back at its original), on every policy; a file never written is
    /// left as it is, and so is one that refuses the write while holding its original
    /// already. Every failure is reported ([`HwError::Several`] for more than one), and a
    /// file that failed is tried again by the next call.
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

    /// Re-reads `files` on every policy (a `scaling_governor` only where one was found at
    /// open) and takes what they hold as the originals; a `scaling_max_freq` outside its
    /// policy's limits is moved into them, with the same warning as at open. Every file is
    /// read before any original changes, so a failed read changes none.
    fn retake_originals(&mut self, files: CpuFreqFiles) -> Result<Vec<OriginalChange>, HwError> {
        let mut read = Vec::with_capacity(self.policies.len());
        for policy in &self.policies {
            let max = match files.scaling_max_freq {
                true => Some(policy.read_max_as_original()?),
                false => None,
            };
            let governor = match (files.scaling_governor, &policy.original_governor) {
                (true, Some(_)) => Some(read_trimmed(&policy.governor_path(), GOVERNOR)?),
                _ => None,
            };
            read.push((max, governor));
        }
        let mut changes = Vec::new();
        for (policy, (max, governor)) in self.policies.iter_mut().zip(read) {
            if let Some((khz, warning)) = max {
                if let Some(warning) = warning {
                    log::warn!("{warning}");
                }
                policy.held_max_khz = Some(khz);
                if khz != policy.original_max_khz {
                    changes.push(OriginalChange {
                        path: policy.max_path(),
                        was: policy.original_max_khz.to_string(),
                        now: khz.to_string(),
                    });
                    policy.original_max_khz = khz;
                }
            }
            if let Some(governor) = governor {
                if policy.original_governor.as_ref() != Some(&governor) {
                    changes.push(OriginalChange {
                        path: policy.governor_path(),
                        was: policy.original_governor.clone().unwrap_or_default(),
                        now: governor.clone(),
                    });
                    policy.original_governor = Some(governor);
                }
            }
        }
        Ok(changes)
    }
}
