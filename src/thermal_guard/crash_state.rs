//! The crash-restore state at start: the state directory's lock, the replay of a state
//! file a crashed run left behind, and saving this run's own state before the
//! controller changes anything. A simulated board touches no hardware, so it does none
//! of this.

use std::path::{Path, PathBuf};

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::{HwError, RestoreEntry, RestoreState, RestoreTargets, StateDirLock, StateOwner};

use crate::exit::Failure;

/// The state directory once it is this run's: its lock (held for the run's life), and
/// whether this run may save its state there.
pub(super) struct StateDirClaim {
    /// `None` when simulating or when the directory could not be locked.
    pub(super) lock: Option<StateDirLock>,
    /// True once locked, unless an earlier run's state that could not be replayed could
    /// not be moved out of the way either (saving would overwrite it).
    pub(super) may_save: bool,
}

/// Locks `state_dir` and replays what a crashed run left there, before the backends read
/// the "originals" (an earlier run killed while throttling left its changes in place).
/// Another warden holding the lock stops the start (exit 1).
/// A leftover writes only `targets` (the files this configuration's warden records).
pub(super) fn claim_state_dir(
    state_dir: &Path,
    simulated: bool,
    targets: &RestoreTargets,
) -> Result<StateDirClaim, Failure> {
    // Before the leftover replay, so no other warden replays or saves meanwhile.
    let lock = if simulated {
        log::info!(
            "simulated board: no crash-restore state is written and {} is not locked",
            state_dir.display()
        );
        None
    } else {
        crate::restore_cmd::lock_state_dir(state_dir)?
    };
    let may_save = match &lock {
        Some(lock) => crate::restore_cmd::replay_leftover_state(lock, targets)?,
        None => false,
    };
    Ok(StateDirClaim { lock, may_save })
}

/// Names this process as the owner of `restore` and saves it in `state_dir`; true when
/// saved. Failures are logged: warden runs on without crash-restore state.
pub(super) fn save_state(restore: &mut RestoreState, state_dir: &Path) -> bool {
    match try_save_state(restore, state_dir) {
        Ok(path) => {
            log::debug!("crash-restore state in {}", path.display());
            true
        }
        Err(e) => {
            log::warn!("cannot write the crash-restore state ({e}); 'warden restore' will have nothing to undo after a crash");
            false
        }
    }
}

/// Names this process as the owner of `restore` and saves it in `state_dir`, warning
/// about what the state cannot hold; the save's error is the caller's to judge.
pub(super) fn try_save_state(
    restore: &mut RestoreState,
    state_dir: &Path,
) -> Result<PathBuf, HwError> {
    match StateOwner::current() {
        Ok(owner) => restore.set_owner(owner),
        Err(e) => log::warn!(
            "crash-restore state: cannot name this process as its owner ({e}); \
             'warden restore' will not know whether this warden still runs"
        ),
    }
    for skipped in restore.skipped() {
        log::warn!(
            "crash-restore state: {} left out ({}); 'warden restore' will not put it back",
            skipped.entry.path.display(),
            skipped.reason
        );
    }
    restore.save(state_dir)
}

/// What a crash restore must put back: every original captured at start, of which the
/// state file records the fan's and those of the cpufreq files that the cpu strategies
/// used in this run write. A file warden never writes is left as the operator set it,
/// and a reload to another strategy widens the record before that strategy writes.
pub(super) struct CrashRecord {
    /// `RestoreState::capture` with every cpufreq file (boxed: the guard stays small).
    captured: Box<RestoreState>,
    /// The cpufreq files the strategies used so far write.
    files: CpuFreqFiles,
}

impl CrashRecord {
    /// `captured` holds every original ([`CpuFreqFiles::ALL`]); `files` are the ones the
    /// starting strategy writes.
    pub(super) fn new(captured: RestoreState, files: CpuFreqFiles) -> Self {
        CrashRecord {
            captured: Box::new(captured),
            files,
        }
    }

    /// The state to save: the fan's entries and the recorded cpufreq files' entries.
    pub(super) fn state(&self) -> RestoreState {
        self.state_with(self.files)
    }

    /// The files recorded once `strategy_files` are too, when that is more than now.
    pub(super) fn wider(&self, strategy_files: CpuFreqFiles) -> Option<CpuFreqFiles> {
        let wider = self.files.union(strategy_files);
        (wider != self.files).then_some(wider)
    }

    /// Records `files` from now on (once the state holding them is saved, if one is).
    pub(super) fn record(&mut self, files: CpuFreqFiles) {
        self.files = files;
    }

    /// The state to save with `files` recorded.
    pub(super) fn state_with(&self, files: CpuFreqFiles) -> RestoreState {
        let recorded = |entry: &RestoreEntry| {
            !CpuFreqFiles::ALL.covers(&entry.path) || files.covers(&entry.path)
        };
        let mut state = RestoreState::new();
        let skipped = self.captured.skipped().iter().map(|s| &s.entry);
        for entry in self.captured.entries().iter().chain(skipped) {
            if recorded(entry) {
                state.push(entry.clone());
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use warden_hw::cpufreq::CpuFreqFiles;
    use warden_hw::{RestoreEntry, RestoreState};

    use super::CrashRecord;

    const POLICY: &str = "/sys/devices/system/cpu/cpufreq/policy0";

    fn captured() -> RestoreState {
        let mut state = RestoreState::new();
        state.push(RestoreEntry::new(
            format!("{POLICY}/scaling_governor"),
            "ondemand",
        ));
        state.push(RestoreEntry::new(
            format!("{POLICY}/scaling_max_freq"),
            "1500000",
        ));
        state.push(RestoreEntry::new("/sys/class/hwmon/hwmon2/pwm1", "255"));
        state
    }

    fn recorded(record: &CrashRecord) -> Vec<String> {
        record
            .state()
            .entries()
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn only_the_files_a_strategy_writes_are_recorded_with_the_fan() {
        let record = CrashRecord::new(captured(), CpuFreqFiles::MAX_FREQ);
        assert_eq!(recorded(&record), ["scaling_max_freq", "pwm1"]);
        let record = CrashRecord::new(captured(), CpuFreqFiles::NONE);
        assert_eq!(recorded(&record), ["pwm1"]);
    }

    #[test]
    fn a_reload_to_another_strategy_widens_the_record_once() {
        let mut record = CrashRecord::new(captured(), CpuFreqFiles::MAX_FREQ);
        let wider = record
            .wider(CpuFreqFiles::GOVERNOR)
            .expect("the governor is new");
        record.record(wider);
        assert_eq!(
            recorded(&record),
            ["scaling_governor", "scaling_max_freq", "pwm1"]
        );
        assert_eq!(
            record.wider(CpuFreqFiles::MAX_FREQ),
            None,
            "nothing new to record"
        );
        assert_eq!(record.wider(CpuFreqFiles::NONE), None, "off writes nothing");
    }
}
