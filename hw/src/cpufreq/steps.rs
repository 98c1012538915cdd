//! A policy's frequency steps: its `scaling_available_frequencies` without the words
//! that are not frequencies, or, without a usable list, steps derived from
//! `cpuinfo_min_freq` ..= `cpuinfo_max_freq`.

use std::path::Path;

use crate::error::HwError;
use crate::sysfs_io::{read_trimmed, read_u64};

use super::{read_nonzero_khz, AVAILABLE_FREQUENCIES_FILE, KHZ};

/// Smallest step used when steps are derived from `cpuinfo_min_freq`/`cpuinfo_max_freq`.
pub const DERIVED_STEP_MIN_KHZ: u64 = 100_000;
/// Most steps derived from `cpuinfo_min_freq`/`cpuinfo_max_freq` (the step grows to fit).
pub const DERIVED_STEPS_MAX: u64 = 32;

/// What `scaling_available_frequencies` must hold.
const KHZ_LIST: &str = "a list of frequencies in kHz";
/// Longest ignored word of `scaling_available_frequencies` kept for the note.
const QUOTED_STEP_MAX_CHARS: usize = 32;

/// Reads `scaling_available_frequencies` (sorted, deduplicated, without the words that are
/// not non-zero kHz values, which are returned second), or derives steps from
/// `cpuinfo_min_freq`/`cpuinfo_max_freq` when the list is missing, empty or has no usable step.
pub(super) fn read_steps(policy_dir: &Path) -> Result<(Vec<u64>, Vec<String>), HwError> {
    let available = policy_dir.join(AVAILABLE_FREQUENCIES_FILE);
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
