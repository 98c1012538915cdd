//! A cpufreq policy's hardware limits, `cpuinfo_min_freq` ..= `cpuinfo_max_freq`, and the
//! three places they bound a `scaling_max_freq`: a policy whose limits are upside down is
//! refused at open; an original found outside them (a fake or odd tree: a real kernel
//! never shows one) is moved into them with a warning, so what warden records and puts
//! back is a value a crash restore accepts; and a crash-restore value outside them is
//! refused ([`check_restore_value`]). Each bound counts only when its file is readable.

use std::path::{Path, PathBuf};

use crate::error::HwError;
use crate::sysfs_io::{parent_dir, read_u64};

use super::{KHZ, MAX_FREQ_FILE, NONZERO_KHZ};

/// One bound: the value in kHz and the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Bound {
    pub(super) khz: u64,
    pub(super) file: PathBuf,
}

/// A policy's `cpuinfo_min_freq` and `cpuinfo_max_freq`, each when readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CpuInfoLimits {
    pub(super) min: Option<Bound>,
    pub(super) max: Option<Bound>,
}

/// Which side of the limits a value fell outside.
enum Outside<'a> {
    Below(&'a Bound),
    Above(&'a Bound),
}

/// The file of a policy's lowest frequency.
const MIN_FILE: &str = "cpuinfo_min_freq";
/// The file of a policy's highest frequency.
const MAX_FILE: &str = "cpuinfo_max_freq";

/// What warden does without `cpuinfo_min_freq`, said when it cannot be read at open.
const WITHOUT_MIN: &str = "the policy's lowest frequency is unknown, so warden throttles no \
                           lower than its lowest listed step and checks no value against that limit";
/// What warden does without `cpuinfo_max_freq`, said when it cannot be read at open.
const WITHOUT_MAX: &str = "the policy's highest frequency is unknown, so warden checks no \
                           original or restore value against that limit";

impl CpuInfoLimits {
    /// Reads the limits of the policy in `policy_dir`; a file that cannot be read leaves
    /// its side unbounded.
    pub(super) fn read(policy_dir: &Path) -> Self {
        CpuInfoLimits {
            min: read_bound(policy_dir, MIN_FILE).ok(),
            max: read_bound(policy_dir, MAX_FILE).ok(),
        }
    }

    /// [`CpuInfoLimits::read`], with a warning for each side left unbounded, naming the
    /// file, why it could not be read and what warden does without it. A kernel's policy
    /// always has both files, so a gap means an odd driver or a damaged tree.
    fn read_noting_gaps(policy_dir: &Path) -> (Self, Vec<String>) {
        let mut gaps = Vec::new();
        let mut bound = |name: &str, without: &str| match read_bound(policy_dir, name) {
            Ok(bound) => Some(bound),
            Err(error) => {
                gaps.push(format!("cpufreq: {error}; {without}"));
                None
            }
        };
        let limits = CpuInfoLimits {
            min: bound(MIN_FILE, WITHOUT_MIN),
            max: bound(MAX_FILE, WITHOUT_MAX),
        };
        (limits, gaps)
    }

    /// Reads the limits, with the warnings of [`CpuInfoLimits::read_noting_gaps`], and
    /// refuses a policy whose `cpuinfo_min_freq` lies above its `cpuinfo_max_freq`
    /// ([`HwError::CpuInfoRange`]).
    pub(super) fn read_checked(policy_dir: &Path) -> Result<(Self, Vec<String>), HwError> {
        let (limits, gaps) = Self::read_noting_gaps(policy_dir);
        if let (Some(min), Some(max)) = (&limits.min, &limits.max) {
            if min.khz > max.khz {
                return Err(HwError::CpuInfoRange {
                    min_path: min.file.clone(),
                    min_khz: min.khz,
                    max_path: max.file.clone(),
                    max_khz: max.khz,
                });
            }
        }
        Ok((limits, gaps))
    }

    fn outside(&self, khz: u64) -> Option<Outside<'_>> {
        if let Some(min) = self.min.as_ref().filter(|min| khz < min.khz) {
            return Some(Outside::Below(min));
        }
        self.max
            .as_ref()
            .filter(|max| khz > max.khz)
            .map(Outside::Above)
    }

    /// `khz`, read from the `scaling_max_freq` at `path` to be taken as its original,
    /// moved into the limits, with a warning naming the file, the value and the limit
    /// when it had to be. What is recorded for a crash restore and put back is then a
    /// value the restore accepts.
    pub(super) fn clamp_original(&self, path: &Path, khz: u64) -> (u64, Option<String>) {
        let (bound, relation) = match self.outside(khz) {
            None => return (khz, None),
            Some(Outside::Below(bound)) => (bound, "below the policy's lowest"),
            Some(Outside::Above(bound)) => (bound, "above the policy's highest"),
        };
        let warning = format!(
            "cpufreq: {} holds {khz} kHz, {relation} frequency ({} kHz in {}): taking {} kHz \
             as its original, the value warden steps down from and puts back at exit and \
             after a crash",
            path.display(),
            bound.khz,
            bound.file.display(),
            bound.khz
        );
        (bound.khz, Some(warning))
    }
}

/// Reads the bound in the file `name` of the policy in `policy_dir`.
fn read_bound(policy_dir: &Path, name: &str) -> Result<Bound, HwError> {
    let file = policy_dir.join(name);
    let khz = read_u64(&file, KHZ)?;
    Ok(Bound { khz, file })
}

/// Refuses a crash-restore `value` for `path` that cannot be right: for a
/// `scaling_max_freq`, anything but a non-zero kHz value within its policy's
/// `cpuinfo_min_freq` ..= `cpuinfo_max_freq` (each bound checked when readable). Any other
/// file passes.
pub(crate) fn check_restore_value(path: &Path, value: &str) -> Result<(), HwError> {
    if path.file_name().and_then(|name| name.to_str()) != Some(MAX_FREQ_FILE) {
        return Ok(());
    }
    let refuse = |reason: String| HwError::refused(path, value, reason);
    let khz = match value.trim().parse::<u64>() {
        Ok(khz) if khz > 0 => khz,
        _ => return Err(refuse(format!("{MAX_FREQ_FILE} takes {NONZERO_KHZ}"))),
    };
    match CpuInfoLimits::read(parent_dir(path)).outside(khz) {
        None => Ok(()),
        Some(Outside::Below(min)) => Err(refuse(format!(
            "below the policy's lowest frequency ({} kHz in {})",
            min.khz,
            min.file.display()
        ))),
        Some(Outside::Above(max)) => Err(refuse(format!(
            "above the policy's highest frequency ({} kHz in {})",
            max.khz,
            max.file.display()
        ))),
    }
}
