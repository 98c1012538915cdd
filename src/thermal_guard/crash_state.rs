//! The crash-restore state at start: the state directory's lock, the replay of a state
//! file a crashed run left behind, and saving this run's own state (the fan's entries:
//! nothing is throttled yet) before the controller changes anything; then the
//! [`CrashRecord`] that keeps it current: holding the cpufreq originals the controller
//! takes afresh at the start of each throttle episode, saved before it throttles, and
//! dropping them once the throttle is released; wider on a reload to another cpu
//! strategy. A simulated board touches no hardware, so it saves none of this.

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

/// What a crash restore must put back: the fan's entries always, and the cpufreq
/// originals only while warden holds a throttle, from the start of a throttle episode
/// (the originals the controller takes afresh then, saved before it throttles) until the
/// throttle is released; of those, only the cpufreq files that the cpu strategies used
/// in this run write. A file warden never writes, or did not change since the last
/// throttle ended, is left as the operator set it. Each episode's start names the files
/// its strategy writes; a reload to another strategy while a throttle is held widens the
/// record before that strategy writes (the old one's files may still be changed), until
/// the release.
///
/// Shared between the daemon (reloads, the exit message) and the controller thread (the
/// episodes), behind one lock held across each change and its save, so the state file
/// always holds the latest originals and the widest files. Taken at most twice per
/// throttle episode and once per reload, never per message.
#[derive(Clone)]
pub(super) struct CrashRecord {
    shared: Arc<Mutex<Recorded>>,
}

/// The record behind [`CrashRecord`]'s lock.
struct Recorded {
    /// `RestoreState::capture` with every cpufreq file, values updated by
    /// [`CrashRecord::throttle_starts`].
    captured: RestoreState,
    /// The cpufreq files recorded while a throttle is held: those of the strategy that
    /// started the episode, and of any a reload switched to during it.
    files: CpuFreqFiles,
    /// A throttle episode started and was not released since: the cpufreq entries of
    /// `files` are recorded.
    throttle_held: bool,
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

    /// The cpufreq files recorded now: the strategies' while a throttle is held, else none.
    fn recorded_files(&self) -> CpuFreqFiles {
        match self.throttle_held {
            true => self.files,
            false => CpuFreqFiles::NONE,
        }
    }
}

impl CrashRecord {
    /// `captured` holds every original ([`CpuFreqFiles::ALL`]). No throttle is held yet:
    /// [`CrashRecord::state`] holds the fan's entries alone.
    pub(super) fn new(captured: RestoreState) -> Self {
        CrashRecord {
            shared: Arc::new(Mutex::new(Recorded {
                captured,
                files: CpuFreqFiles::NONE,
                throttle_held: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        // A panic elsewhere while holding it left a consistent record: each change is whole.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state to save: the fan's entries, and while a throttle is held the recorded
    /// cpufreq files' entries.
    pub(super) fn state(&self) -> RestoreState {
        let recorded = self.lock();
        recorded.state_with(recorded.recorded_files())
    }

    /// A reload switches to a strategy writing `strategy_files`. While a throttle is held
    /// they are recorded beside the files recorded now (the old strategy's stay changed
    /// until it puts them back), and the state holding them is saved in `save_in` first,
    /// when given; a failed save records nothing. While none is held there is nothing to
    /// do: the episode that starts next says which files its strategy writes.
    pub(super) fn switch_strategy(
        &self,
        strategy_files: CpuFreqFiles,
        save_in: Option<&Path>,
    ) -> Result<(), HwError> {
        let mut recorded = self.lock();
        let wider = recorded.files.union(strategy_files);
        if !recorded.throttle_held || wider == recorded.files {
            return Ok(());
        }
        if let Some(state_dir) = save_in {
            try_save_state(&mut recorded.state_with(wider), state_dir)?;
        }
        recorded.files = wider;
        Ok(())
    }

    /// A throttle episode starts under a strategy writing `files`: takes the values of
    /// `entries` (the controller's originals, taken afresh) for the captured entries of
    /// the same paths, records `files` (beside those recorded already, while a throttle
    /// is still held), and saves the state in `save_in`, when given. The record keeps the
    /// new values and the throttle even if the save fails: the exit message names them.
    /// The controller names the files, not a reload: it is the one about to write them.
    pub(super) fn throttle_starts(
        &self,
        entries: &[RestoreEntry],
        files: CpuFreqFiles,
        save_in: Option<&Path>,
    ) -> Result<(), HwError> {
        let mut recorded = self.lock();
        recorded.files = match recorded.throttle_held {
            true => recorded.files.union(files),
            false => files,
        };
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
        recorded.throttle_held = true;
        save_recorded(&recorded, save_in)
    }

    /// The throttle was released whole: no cpufreq file is recorded any more (the next
    /// episode records its own strategy's alone), and the state is saved without them
    /// in `save_in`, when given. A failed save leaves the file holding them, until the
    /// next episode's start or release saves again.
    pub(super) fn throttle_released(&self, save_in: Option<&Path>) -> Result<(), HwError> {
        let mut recorded = self.lock();
        recorded.throttle_held = false;
        save_recorded(&recorded, save_in)
    }

    /// The controller's [`OriginalsRecorder`], saving in `save_in` when given (a state
    /// was saved at start).
    pub(super) fn originals_recorder(
        &self,
        save_in: Option<PathBuf>,
    ) -> Box<dyn OriginalsRecorder> {
        Box::new(CrashRecorder {
            record: self.clone(),
            save_in,
        })
    }
}

/// Saves what `recorded` holds now in `save_in`, when given.
fn save_recorded(recorded: &Recorded, save_in: Option<&Path>) -> Result<(), HwError> {
    match save_in {
        Some(state_dir) => try_save_state(
            &mut recorded.state_with(recorded.recorded_files()),
            state_dir,
        )
        .map(|_| ()),
        None => Ok(()),
    }
}

/// [`CrashRecord`] as the controller's [`OriginalsRecorder`]: each call its method, the
/// error in words.
struct CrashRecorder {
    record: CrashRecord,
    save_in: Option<PathBuf>,
}

impl OriginalsRecorder for CrashRecorder {
    fn throttle_starts(
        &mut self,
        originals: &[RestoreEntry],
        files: CpuFreqFiles,
    ) -> Result<(), String> {
        self.record
            .throttle_starts(originals, files, self.save_in.as_deref())
            .map_err(|e| format!("cannot save it: {e}"))
    }

    fn throttle_released(&mut self) -> Result<(), String> {
        self.record
            .throttle_released(self.save_in.as_deref())
            .map_err(|e| format!("cannot save it: {e}"))
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

    /// The file names `state` lists, in order.
    fn names(state: &RestoreState) -> Vec<String> {
        state
            .entries()
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn recorded(record: &CrashRecord) -> Vec<String> {
        names(&record.state())
    }

    /// The file names the state saved in `state_dir` lists.
    fn saved(state_dir: &Path) -> Vec<String> {
        names(
            &RestoreState::load(state_dir)
                .unwrap()
                .expect("a saved state"),
        )
    }

    fn saved_value(state_dir: &Path, file_name: &str) -> Option<String> {
        RestoreState::load(state_dir)
            .unwrap()
            .expect("a saved state")
            .entries()
            .iter()
            .find(|e| e.path.file_name().is_some_and(|n| n == file_name))
            .map(|e| e.value.clone())
    }

    /// The originals `captured` holds, as the controller hands them over when unchanged.
    fn unchanged() -> Vec<RestoreEntry> {
        captured().entries()[..2].to_vec()
    }

    #[test]
    fn before_the_first_episode_no_cpufreq_file_is_recorded() {
        let record = CrashRecord::new(captured());
        assert_eq!(recorded(&record), ["pwm1"], "nothing throttled yet");
    }

    #[test]
    fn only_the_files_a_strategy_writes_are_recorded_with_the_fan() {
        let record = CrashRecord::new(captured());
        record
            .throttle_starts(&unchanged(), CpuFreqFiles::MAX_FREQ, None)
            .unwrap();
        assert_eq!(recorded(&record), ["scaling_max_freq", "pwm1"]);
        let record = CrashRecord::new(captured());
        record
            .throttle_starts(&unchanged(), CpuFreqFiles::NONE, None)
            .unwrap();
        assert_eq!(recorded(&record), ["pwm1"]);
    }

    #[test]
    fn an_episode_start_saves_the_originals_even_when_unchanged_and_its_release_drops_them() {
        let dir = ScratchDir::new("crash-record-episode");
        let record = CrashRecord::new(captured());
        record.state().save(dir.path()).unwrap();
        assert_eq!(saved(dir.path()), ["pwm1"]);
        let mut recorder = record.originals_recorder(Some(dir.path().to_path_buf()));
        for _ in 0..2 {
            recorder
                .throttle_starts(&unchanged(), CpuFreqFiles::MAX_FREQ)
                .unwrap();
            assert_eq!(saved(dir.path()), ["scaling_max_freq", "pwm1"]);
            assert_eq!(
                saved_value(dir.path(), "scaling_max_freq").as_deref(),
                Some("1500000")
            );
            recorder.throttle_released().unwrap();
            assert_eq!(saved(dir.path()), ["pwm1"], "released: nothing to undo");
            assert_eq!(recorded(&record), ["pwm1"]);
        }
    }

    #[test]
    fn originals_taken_afresh_are_saved_for_a_crash_restore() {
        let dir = ScratchDir::new("crash-record-retake");
        let record = CrashRecord::new(captured());
        record.state().save(dir.path()).unwrap();
        let mut recorder = record.originals_recorder(Some(dir.path().to_path_buf()));
        let retaken = [
            RestoreEntry::new(format!("{POLICY}/scaling_governor"), "performance"),
            RestoreEntry::new(format!("{POLICY}/scaling_max_freq"), "1000000"),
        ];
        recorder
            .throttle_starts(&retaken, CpuFreqFiles::MAX_FREQ)
            .unwrap();
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
        // A reload to the governor strategy while throttled saves the governor retaken.
        record
            .switch_strategy(CpuFreqFiles::GOVERNOR, Some(dir.path()))
            .unwrap();
        assert_eq!(
            saved_value(dir.path(), "scaling_governor").as_deref(),
            Some("performance")
        );
    }

    #[test]
    fn a_reload_while_throttled_widens_the_record_until_the_release() {
        let dir = ScratchDir::new("crash-record-switch-throttled");
        let record = CrashRecord::new(captured());
        let starts = |files| record.throttle_starts(&unchanged(), files, Some(dir.path()));
        starts(CpuFreqFiles::MAX_FREQ).unwrap();
        record
            .switch_strategy(CpuFreqFiles::GOVERNOR, Some(dir.path()))
            .unwrap();
        // The max-freq throttle may not be put back yet: both are recorded.
        let both = ["scaling_governor", "scaling_max_freq", "pwm1"];
        assert_eq!(recorded(&record), both);
        assert_eq!(saved(dir.path()), both);
        record
            .switch_strategy(CpuFreqFiles::MAX_FREQ, None)
            .unwrap();
        assert_eq!(recorded(&record), both, "never narrowed while held");
        // Released whole: the next episode records its own strategy's file alone.
        record.throttle_released(Some(dir.path())).unwrap();
        assert_eq!(saved(dir.path()), ["pwm1"]);
        starts(CpuFreqFiles::GOVERNOR).unwrap();
        assert_eq!(saved(dir.path()), ["scaling_governor", "pwm1"]);
    }

    #[test]
    fn the_files_recorded_are_those_of_the_strategy_that_throttles_not_of_a_reload() {
        let dir = ScratchDir::new("crash-record-switch-unthrottled");
        let record = CrashRecord::new(captured());
        record.state().save(dir.path()).unwrap();
        // A reload to the governor while none is held: nothing to record yet.
        record
            .switch_strategy(CpuFreqFiles::GOVERNOR, Some(dir.path()))
            .unwrap();
        assert_eq!(saved(dir.path()), ["pwm1"], "nothing to undo yet");
        // The controller may still throttle the old way before it takes the new
        // strategy: what it writes is what is recorded.
        record
            .throttle_starts(&unchanged(), CpuFreqFiles::MAX_FREQ, Some(dir.path()))
            .unwrap();
        assert_eq!(saved(dir.path()), ["scaling_max_freq", "pwm1"]);
        record.throttle_released(Some(dir.path())).unwrap();
        record
            .throttle_starts(&unchanged(), CpuFreqFiles::GOVERNOR, Some(dir.path()))
            .unwrap();
        // scaling_max_freq is the operator's again: only the old strategy wrote it.
        assert_eq!(saved(dir.path()), ["scaling_governor", "pwm1"]);
        record.throttle_released(Some(dir.path())).unwrap();
        record
            .throttle_starts(&unchanged(), CpuFreqFiles::NONE, None)
            .unwrap();
        assert_eq!(recorded(&record), ["pwm1"], "off writes nothing");
    }

    #[test]
    fn without_a_saved_state_originals_taken_afresh_are_only_noted() {
        let record = CrashRecord::new(captured());
        let mut recorder = record.originals_recorder(None);
        recorder
            .throttle_starts(
                &[RestoreEntry::new(
                    format!("{POLICY}/scaling_max_freq"),
                    "1000000",
                )],
                CpuFreqFiles::MAX_FREQ,
            )
            .unwrap();
        let values: Vec<String> = record
            .state()
            .entries()
            .iter()
            .map(|e| e.value.clone())
            .collect();
        assert_eq!(values, ["1000000", "255"], "for the by-hand message");
        recorder.throttle_released().unwrap();
        assert_eq!(recorded(&record), ["pwm1"], "released: none to put back");
    }

    #[test]
    fn a_failed_save_is_an_error_for_the_controller_to_log() {
        let dir = ScratchDir::new("crash-record-retake-fails");
        // A file where the state directory should be.
        std::fs::write(dir.path(), "not a directory").unwrap();
        let record = CrashRecord::new(captured());
        let mut recorder = record.originals_recorder(Some(dir.path().to_path_buf()));
        let error = recorder
            .throttle_starts(
                &[RestoreEntry::new(
                    format!("{POLICY}/scaling_max_freq"),
                    "1000000",
                )],
                CpuFreqFiles::MAX_FREQ,
            )
            .expect_err("cannot save into a file");
        assert!(error.starts_with("cannot save it: "), "{error}");
        assert_eq!(
            recorded(&record),
            ["scaling_max_freq", "pwm1"],
            "the throttle is held all the same: the exit message names it"
        );
        let error = recorder
            .throttle_released()
            .expect_err("cannot save into a file");
        assert!(error.starts_with("cannot save it: "), "{error}");
        let _ = std::fs::remove_file(dir.path());
    }
}
