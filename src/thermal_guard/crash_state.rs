//! The crash-restore state at start: the state directory's lock, the replay of a state
//! file a crashed run left behind, and saving this run's own state before the
//! controller changes anything; then the [`CrashRecord`] that keeps it current: wider
//! on a reload to another cpu strategy, and holding the cpufreq originals the
//! controller takes afresh at the start of each throttle episode, saved before it
//! throttles. A simulated board touches no hardware, so it saves none of this.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::{HwError, RestoreEntry, RestoreState, RestoreTargets, StateDirLock, StateOwner};
use warden_thermal::controller::OriginalsRecorder;

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

/// What a crash restore must put back: every original captured at start (and taken
/// afresh by the controller at the start of a throttle episode), of which the state file
/// records the fan's and those of the cpufreq files that the cpu strategies used in this
/// run write. A file warden never writes is left as the operator set it, and a reload to
/// another strategy widens the record before that strategy writes.
///
/// Shared between the daemon (reloads, the exit message) and the controller thread (the
/// originals taken afresh), behind one lock held across each change and its save, so the
/// state file always holds the latest originals and the widest files. Taken once per
/// throttle episode or reload, never per message.
#[derive(Clone)]
pub(super) struct CrashRecord {
    shared: Arc<Mutex<Recorded>>,
}

/// The record behind [`CrashRecord`]'s lock.
struct Recorded {
    /// `RestoreState::capture` with every cpufreq file, values updated by
    /// [`CrashRecord::retake`].
    captured: RestoreState,
    /// The cpufreq files the strategies used so far write.
    files: CpuFreqFiles,
}

impl Recorded {
    /// The state to save with `files` recorded.
    fn state_with(&self, files: CpuFreqFiles) -> RestoreState {
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

impl CrashRecord {
    /// `captured` holds every original ([`CpuFreqFiles::ALL`]); `files` are the ones the
    /// starting strategy writes.
    pub(super) fn new(captured: RestoreState, files: CpuFreqFiles) -> Self {
        CrashRecord {
            shared: Arc::new(Mutex::new(Recorded { captured, files })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        // A panic elsewhere while holding it left a consistent record: each change is whole.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state to save: the fan's entries and the recorded cpufreq files' entries.
    pub(super) fn state(&self) -> RestoreState {
        let recorded = self.lock();
        recorded.state_with(recorded.files)
    }

    /// Records `strategy_files` too, when that is more than now (true then): the state
    /// holding them is saved in `save_in` first, when given, and a failed save records
    /// nothing. Without `save_in` (no state was saved at start) they are only noted, for
    /// the values-to-put-back-by-hand message of a failed exit.
    pub(super) fn widen(
        &self,
        strategy_files: CpuFreqFiles,
        save_in: Option<&Path>,
    ) -> Result<bool, HwError> {
        let mut recorded = self.lock();
        let wider = recorded.files.union(strategy_files);
        if wider == recorded.files {
            return Ok(false);
        }
        if let Some(state_dir) = save_in {
            try_save_state(&mut recorded.state_with(wider), state_dir)?;
        }
        recorded.files = wider;
        Ok(true)
    }

    /// Takes the values of `entries` (the controller's originals, taken afresh) for the
    /// captured entries of the same paths, and saves the state in `save_in`, when given.
    /// The record keeps the new values even if the save fails: a clean exit puts them back.
    pub(super) fn retake(
        &self,
        entries: &[RestoreEntry],
        save_in: Option<&Path>,
    ) -> Result<(), HwError> {
        let mut recorded = self.lock();
        let mut updated = RestoreState::new();
        let skipped = recorded.captured.skipped().iter().map(|s| &s.entry);
        for entry in recorded.captured.entries().iter().chain(skipped) {
            let value = entries
                .iter()
                .find(|newer| newer.path == entry.path)
                .map_or_else(|| entry.value.clone(), |newer| newer.value.clone());
            updated.push(RestoreEntry {
                value,
                ..entry.clone()
            });
        }
        recorded.captured = updated;
        if let Some(state_dir) = save_in {
            let files = recorded.files;
            try_save_state(&mut recorded.state_with(files), state_dir)?;
        }
        Ok(())
    }

    /// The controller's [`OriginalsRecorder`]: [`CrashRecord::retake`], saving in
    /// `save_in` when given (a state was saved at start), the error in words.
    pub(super) fn originals_recorder(&self, save_in: Option<PathBuf>) -> OriginalsRecorder {
        let record = self.clone();
        Box::new(move |entries: &[RestoreEntry]| {
            record
                .retake(entries, save_in.as_deref())
                .map_err(|e| format!("cannot save it: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use warden_hw::cpufreq::CpuFreqFiles;
    use warden_hw::{RestoreEntry, RestoreState};

    use super::super::scratch_dir::ScratchDir;
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
        let record = CrashRecord::new(captured(), CpuFreqFiles::MAX_FREQ);
        assert!(
            record.widen(CpuFreqFiles::GOVERNOR, None).unwrap(),
            "the governor is new"
        );
        assert_eq!(
            recorded(&record),
            ["scaling_governor", "scaling_max_freq", "pwm1"]
        );
        assert!(
            !record.widen(CpuFreqFiles::MAX_FREQ, None).unwrap(),
            "nothing new to record"
        );
        assert!(
            !record.widen(CpuFreqFiles::NONE, None).unwrap(),
            "off writes nothing"
        );
    }

    /// A fresh state directory under the system temp dir, removed on drop.
    fn saved_value(state_dir: &Path, file_name: &str) -> Option<String> {
        RestoreState::load(state_dir)
            .unwrap()
            .expect("a saved state")
            .entries()
            .iter()
            .find(|e| e.path.file_name().is_some_and(|n| n == file_name))
            .map(|e| e.value.clone())
    }

    #[test]
    fn originals_taken_afresh_are_saved_for_a_crash_restore() {
        let dir = ScratchDir::new("crash-record-retake");
        let record = CrashRecord::new(captured(), CpuFreqFiles::MAX_FREQ);
        record.state().save(dir.path()).unwrap();
        let mut recorder = record.originals_recorder(Some(dir.path().to_path_buf()));
        let retaken = [
            RestoreEntry::new(format!("{POLICY}/scaling_governor"), "performance"),
            RestoreEntry::new(format!("{POLICY}/scaling_max_freq"), "1000000"),
        ];
        recorder(&retaken).unwrap();
        assert_eq!(
            saved_value(dir.path(), "scaling_max_freq").as_deref(),
            Some("1000000")
        );
        assert_eq!(
            saved_value(dir.path(), "scaling_governor"),
            None,
            "not recorded"
        );
        assert_eq!(saved_value(dir.path(), "pwm1").as_deref(), Some("255"));
        // A reload to the governor strategy saves the governor retaken meanwhile.
        record
            .widen(CpuFreqFiles::GOVERNOR, Some(dir.path()))
            .unwrap();
        assert_eq!(
            saved_value(dir.path(), "scaling_governor").as_deref(),
            Some("performance")
        );
    }

    #[test]
    fn without_a_saved_state_originals_taken_afresh_are_only_noted() {
        let record = CrashRecord::new(captured(), CpuFreqFiles::MAX_FREQ);
        let mut recorder = record.originals_recorder(None);
        recorder(&[RestoreEntry::new(
            format!("{POLICY}/scaling_max_freq"),
            "1000000",
        )])
        .unwrap();
        let values: Vec<String> = record
            .state()
            .entries()
            .iter()
            .map(|e| e.value.clone())
            .collect();
        assert_eq!(values, ["1000000", "255"], "for the by-hand message");
    }

    #[test]
    fn a_failed_save_is_an_error_for_the_controller_to_log() {
        let dir = ScratchDir::new("crash-record-retake-fails");
        // A file where the state directory should be.
        std::fs::write(dir.path(), "not a directory").unwrap();
        let record = CrashRecord::new(captured(), CpuFreqFiles::MAX_FREQ);
        let mut recorder = record.originals_recorder(Some(dir.path().to_path_buf()));
        let error = recorder(&[RestoreEntry::new(
            format!("{POLICY}/scaling_max_freq"),
            "1000000",
        )])
        .expect_err("cannot save into a file");
        assert!(error.starts_with("cannot save it: "), "{error}");
        let _ = std::fs::remove_file(dir.path());
    }
}
