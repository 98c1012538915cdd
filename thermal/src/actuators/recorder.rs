//! What the cpufreq side tells the daemon's crash-restore state: the originals when a
//! throttle episode starts, and the end of the episode. The state file then holds a
//! cpufreq file's original only while warden may have changed that file, so a crash
//! restore never undoes a change an operator made while warden was not throttling.

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::RestoreEntry;

/// Keeps a crash-restore record in step with the throttle episodes of the cpu actuator.
/// Called on the controller thread, at most twice per episode and never per message; an
/// error says why the record could not be saved, is logged (rate-limited) and never stops
/// the controller: throttling goes on.
///
/// The rule: the record holds cpufreq entries from [`throttle_starts`] until a later
/// [`throttle_released`] succeeds. Strategy `off` writes no cpufreq file and calls
/// neither.
///
/// [`throttle_starts`]: OriginalsRecorder::throttle_starts
/// [`throttle_released`]: OriginalsRecorder::throttle_released
pub trait OriginalsRecorder: Send {
    /// A throttle episode starts under a strategy that writes `files`: `originals` are
    /// every policy's crash-restore entries ([`warden_hw::CpuFreq::restore_entries`]),
    /// taken afresh, and the first throttle write comes after this returns. Called at
    /// every episode start, changed originals or not, so a failed save is retried at the
    /// next one.
    fn throttle_starts(
        &mut self,
        originals: &[RestoreEntry],
        files: CpuFreqFiles,
    ) -> Result<(), String>;

    /// The episode ended: every policy was written back to its originals and no write is
    /// in doubt (after a failed or partial write back, this waits for one that succeeds
    /// whole). Called once per episode; a failed save is retried at the next release, the
    /// next episode's start saving the entries again meanwhile.
    fn throttle_released(&mut self) -> Result<(), String>;
}
