//! Which cpufreq files a throttling strategy writes, so that only those are put back and
//! recorded for a crash restore.

use std::path::Path;

use super::{GOVERNOR_FILE, MAX_FREQ_FILE};

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
