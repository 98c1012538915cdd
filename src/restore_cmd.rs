//! `warden restore`: put the fan and cpufreq settings back from the state
//! file a warden that died (SIGKILL, power cut of the process) left behind.
//! systemd runs it as `ExecStopPost=`; after a clean stop there is nothing to
//! do and it says so. `warden run` replays a leftover state file the same way
//! before it starts ([`replay_leftover_state`]).
//!
//! Both refuse while another warden runs on the same state directory: a
//! running warden holds `<state_dir>/warden.lock` (see
//! `warden_hw::StateDirLock`), and the file names its owner (see
//! `warden_hw::StateOwner`) for older versions; replaying then would undo a
//! live daemon's fan and cpufreq settings underneath it.
//!
//! A leftover that `warden run` cannot replay is moved aside to
//! `restore.state.unreplayed` before the new run saves its own state, so its
//! values are not overwritten; `warden restore` does not read that file.
//!
//! `warden restore` needs only `hardware.state_dir` from the configuration, so a
//! file that fails validation (a bad edit, then a crash) does not stop it: it
//! warns, takes `state_dir` from the file's `[hardware]` table if the file is
//! TOML at all, else the default, and restores. The state file holds absolute
//! paths (already under `hardware.sysfs_root`), so no other key is needed.

use std::path::{Path, PathBuf};

use log::LevelFilter;

use warden_hw::restore::{list_entries, UNREPLAYED_FILE_NAME};
use warden_hw::{
    LockError, RestoreEntry, RestoreError, RestoreReport, RestoreTargets, StateDirLock,
};

use crate::config::defaults::DEFAULT_STATE_DIR;
use crate::config::{Config, ConfigError};
use crate::exit::{print_out, Failure};
use crate::logging::{self, LogFormat};

/// Runs the restore with the state directory from `config_path` (or the default).
///
/// A configuration file that cannot be loaded is no reason to leave the hardware
/// throttled: a warning names the error and the state directory used instead
/// ([`fallback_state_dir`]), and the restore goes on.
pub fn run(config_path: Option<&Path>) -> Result<(), Failure> {
    // warden-hw warns through `log` (a state directory it cannot lock, for one); the
    // logger is set up once, in the file's format when the file loads.
    let init = |format| logging::init(LevelFilter::Info, format);
    let (state_dir, targets) = match config_path {
        None => {
            init(LogFormat::Text);
            let config = Config::default();
            (config.hardware.state_dir.clone(), restore_targets(&config))
        }
        Some(path) => match Config::load(path) {
            Ok(config) => {
                init(crate::daemon::log_format(&config));
                (config.hardware.state_dir.clone(), restore_targets(&config))
            }
            Err(error) => {
                init(LogFormat::Text);
                let text = std::fs::read_to_string(path).ok();
                let (state_dir, source) = fallback_state_dir(text.as_deref());
                warn_fallback(&error, &state_dir, &source);
                // No file fan is trusted from a file that does not validate.
                (state_dir, RestoreTargets::without_a_valid_config())
            }
        },
    };
    restore_in(&state_dir, &targets)
}

/// The files a restore under `config` may write: the attributes warden records, and the
/// `file` fan's `fan.path` when that is the driver (as the daemon builds its fan).
pub fn restore_targets(config: &Config) -> RestoreTargets {
    RestoreTargets::for_fan(&crate::thermal_guard::hardware_spec(config).fan)
}

/// Says that the configuration was not usable and which state directory is used instead.
fn warn_fallback(error: &ConfigError, state_dir: &Path, source: &str) {
    log::warn!(
        "{error}; restoring anyway, with hardware.state_dir = {} ({source}); fix the file \
         before warden starts again (warden check-config)",
        state_dir.display()
    );
}

/// The state directory to use when the configuration file does not validate, and where it
/// came from: `hardware.state_dir` read leniently from `text` when that is TOML and the
/// key an absolute path, else the default.
fn fallback_state_dir(text: Option<&str>) -> (PathBuf, String) {
    let default = |why: &str| {
        (
            PathBuf::from(DEFAULT_STATE_DIR),
            format!("the default: {why}"),
        )
    };
    let Some(text) = text else {
        return default("the file cannot be read");
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return default("the file is not TOML");
    };
    match table.get("hardware").and_then(|h| h.get("state_dir")) {
        None => default("the file sets no hardware.state_dir"),
        Some(toml::Value::String(dir)) if Path::new(dir).is_absolute() => (
            PathBuf::from(dir),
            "from the file's [hardware] table".to_owned(),
        ),
        Some(other) => default(&format!(
            "the file's hardware.state_dir = {other} is not an absolute path"
        )),
    }
}

/// Replays the state file in `state_dir` and reports what it did.
fn restore_in(state_dir: &Path, targets: &RestoreTargets) -> Result<(), Failure> {
    let report = match warden_hw::restore_from_state(state_dir, targets) {
        Ok(report) => report,
        Err(e @ (RestoreError::OwnerRunning { .. } | RestoreError::LockHeld { .. })) => {
            return Err(Failure::Runtime(
                anyhow::Error::new(e).context("refusing to restore: nothing was changed"),
            ))
        }
        Err(RestoreError::Hw(e)) => {
            return Err(anyhow::Error::new(e)
                .context(format!(
                    "cannot read the restore state in {}",
                    state_dir.display()
                ))
                .into())
        }
    };
    print_out(&report_text(&report))?;
    for (entry, error) in &report.failed {
        logging::print_error(&format!("warden: could not restore {entry}: {error}"));
    }
    if !report.is_complete() {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "{} of {} settings not restored; the state file {} is kept: fix what the lines above name, then run warden restore again",
            report.failed.len(),
            report.failed.len() + report.restored.len(),
            report.state_file.display()
        )));
    }
    match &report.not_removed {
        Some(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "every setting was put back, but the state file {} could not be removed ({e}); \
             remove it by hand (replaying it again writes the same values)",
            report.state_file.display()
        ))),
        None => Ok(()),
    }
}

/// What `warden restore` prints on standard output for `report`: each setting put back, or
/// why there was nothing to put back.
fn report_text(report: &RestoreReport) -> String {
    if !report.found {
        return format!(
            "nothing to restore: no state file at {}\n",
            report.state_file.display()
        );
    }
    if report.restored.is_empty() && report.failed.is_empty() {
        return format!(
            "nothing to restore: the state file {} lists no settings\n",
            report.state_file.display()
        );
    }
    report
        .restored
        .iter()
        .map(|entry| format!("restored {entry}\n"))
        .collect()
}

/// At start, with the state directory locked: replays the crash-restore state an earlier
/// run left there (it was killed while it had the hardware changed), so the originals
/// captured next are the real ones, and removes it when every write succeeded. Logs what it
/// did; a failure is logged and start-up goes on.
///
/// A leftover that cannot be replayed (unreadable, malformed, or a write that failed) is
/// moved to `restore.state.unreplayed`, with an error naming it and the values that were
/// not put back, so the new run's state does not overwrite it. Returns whether the new run
/// may save its state: false only when such a leftover could not be moved out of the way.
///
/// Errors (nothing written) when the file belongs to a warden that still runs (an older
/// version, which takes no lock): it drives the same fan and cpufreq, and this one must not
/// start.
pub fn replay_leftover_state(
    lock: &StateDirLock,
    targets: &RestoreTargets,
) -> Result<bool, Failure> {
    let state_dir = lock.state_dir();
    let state_file = warden_hw::restore::state_path(state_dir);
    let report = match warden_hw::restore_from_state_locked(lock, targets) {
        Ok(report) => report,
        Err(RestoreError::OwnerRunning { owner, .. }) => {
            return Err(another_warden_runs(
                state_dir,
                Some(owner.pid),
                Evidence::StateFileOwner,
            ));
        }
        // Unreachable (only restore_from_state takes the lock, this caller holds it), but
        // RestoreError is exhaustive; should it come, it means the same as OwnerRunning.
        Err(RestoreError::LockHeld { holder, .. }) => {
            return Err(another_warden_runs(state_dir, holder, Evidence::Lock));
        }
        Err(RestoreError::Hw(e)) => {
            log::error!(
                "found the crash-restore state of an earlier run ({}) but cannot replay it: {e}",
                state_file.display()
            );
            return Ok(set_aside(state_dir, &[]));
        }
    };
    if !report.found {
        return Ok(true);
    }
    log::warn!(
        "found the crash-restore state of an earlier run ({}): put back {} settings before starting",
        report.state_file.display(),
        report.restored.len()
    );
    for entry in &report.restored {
        log::info!("restored {entry}");
    }
    for (entry, error) in &report.failed {
        log::error!(
            "could not put back {entry} from the earlier run's crash-restore state: {error}; \
             starting anyway, so this setting read as an original now may be that run's"
        );
    }
    if let Some(e) = &report.not_removed {
        log::warn!(
            "every setting from the earlier run's crash-restore state was put back, but {} \
             could not be removed ({e}); this run's own state replaces it",
            report.state_file.display()
        );
    }
    if report.is_complete() {
        return Ok(true);
    }
    let not_put_back: Vec<RestoreEntry> = report.failed.into_iter().map(|(e, _)| e).collect();
    Ok(set_aside(state_dir, &not_put_back))
}

/// Takes `<state_dir>/warden.lock` for the life of the daemon. Held by another process:
/// another warden runs there, and start-up stops (exit 1). Not lockable for another
/// reason (read-only filesystem, a file in the way): warns and runs without crash-restore
/// state (`Ok(None)`).
pub fn lock_state_dir(state_dir: &Path) -> Result<Option<StateDirLock>, Failure> {
    match StateDirLock::acquire(state_dir) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Held { holder, .. }) => {
            Err(another_warden_runs(state_dir, holder, Evidence::Lock))
        }
        Err(LockError::Unavailable(e)) => {
            log::warn!(
                "cannot lock the state directory ({e}); running WITHOUT crash-restore state: a \
                 state file an earlier run left there is not replayed, 'warden restore' will have \
                 nothing to undo after a crash, and a second warden on hardware.state_dir = {} \
                 would NOT be detected",
                state_dir.display()
            );
            Ok(None)
        }
    }
}

/// How start-up knows that another warden uses the state directory.
#[derive(Debug, Clone, Copy)]
enum Evidence {
    /// It holds `<state_dir>/warden.lock`.
    Lock,
    /// The state file names it as its owner and it still runs (an older warden, which
    /// takes no lock); warden-hw believes that only of a running warden process.
    StateFileOwner,
}

/// The start-up failure for a state directory another warden uses. `pid` is named (and
/// advised to be killed) only as warden-hw vouches for it: a running warden process.
fn another_warden_runs(state_dir: &Path, pid: Option<u32>, evidence: Evidence) -> Failure {
    let (who, kill) = match pid {
        Some(pid) => (format!(" (pid {pid})"), format!(", or kill -TERM {pid}")),
        None => (String::new(), String::new()),
    };
    let how = match evidence {
        Evidence::Lock => format!(
            "it holds {}",
            warden_hw::restore::lock::lock_path(state_dir).display()
        ),
        Evidence::StateFileOwner => format!(
            "the crash-restore state {} names it as its owner",
            warden_hw::restore::state_path(state_dir).display()
        ),
    };
    Failure::Runtime(anyhow::anyhow!(
        "another warden{who} is running with hardware.state_dir = {dir} ({how}); two wardens \
         would fight over the same fan and cpufreq: stop that one first (systemctl stop \
         warden{kill}), or give this one a hardware.state_dir of its own",
        dir = state_dir.display(),
    ))
}

/// Moves the unreplayable leftover in `state_dir` to `restore.state.unreplayed` and says
/// so; `not_put_back` lists its values that were not written (empty when it could not be
/// parsed). Returns false when it could not be moved: the new state must not be saved.
fn set_aside(state_dir: &Path, not_put_back: &[RestoreEntry]) -> bool {
    let state_file = warden_hw::restore::state_path(state_dir);
    let values = if not_put_back.is_empty() {
        "its values".to_owned()
    } else {
        format!("its values {}", list_entries(not_put_back))
    };
    match warden_hw::set_aside_unreplayed(state_dir) {
        Ok(Some(unreplayed)) => {
            log::error!(
                "moved the earlier run's crash-restore state to {aside}: {values} were NOT put \
                 back, so the fan and cpufreq settings read as originals now may be that run's \
                 throttled ones: check them and put back by hand what {aside} lists (or stop \
                 warden, move it back to {file}, fix it and run 'warden restore')",
                aside = unreplayed.display(),
                file = state_file.display()
            );
            true
        }
        Ok(None) => true,
        Err(e) => {
            log::error!(
                "cannot move the earlier run's crash-restore state {file} aside to {aside} \
                 ({e}): {values} were NOT put back; this run saves no crash-restore state, so \
                 that file is kept as it is, and 'warden restore' will have nothing of this \
                 run's to undo after a crash",
                file = state_file.display(),
                aside = state_dir.join(UNREPLAYED_FILE_NAME).display()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use warden_hw::{RestoreEntry, RestoreState};

    /// A fresh directory under the system temp dir, removed on drop.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("warden-restore-cmd-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_leftover_state_is_replayed_and_removed() {
        let scratch = Scratch::new("replay");
        let max_freq = scratch.0.join("scaling_max_freq");
        std::fs::write(&max_freq, "600000\n").unwrap();
        let state_dir = scratch.0.join("run");
        let mut state = RestoreState::new();
        state.push(RestoreEntry::new(&max_freq, "1500000"));
        state.save(&state_dir).unwrap();

        let lock = StateDirLock::acquire(&state_dir).unwrap();
        assert!(
            replay_leftover_state(&lock, &RestoreTargets::default()).unwrap(),
            "may save"
        );
        assert_eq!(
            std::fs::read_to_string(&max_freq).unwrap().trim(),
            "1500000"
        );
        assert!(!warden_hw::restore::state_path(&state_dir).exists());
        // Nothing left: a second start has nothing to do.
        assert!(replay_leftover_state(&lock, &RestoreTargets::default()).unwrap());
    }

    #[test]
    fn a_state_that_cannot_be_parsed_is_set_aside_and_does_not_stop_the_start() {
        let scratch = Scratch::new("broken");
        let state_dir = scratch.0.join("run");
        let lock = StateDirLock::acquire(&state_dir).unwrap();
        let state_file = warden_hw::restore::state_path(&state_dir);
        let unreplayed = state_dir.join(UNREPLAYED_FILE_NAME);
        let broken = "# warden restore state v1\nrelative\t1500000\n";
        std::fs::write(&state_file, broken).unwrap();
        assert!(
            replay_leftover_state(&lock, &RestoreTargets::default()).unwrap(),
            "may save"
        );
        assert!(!state_file.exists(), "out of the new state's way");
        assert_eq!(std::fs::read_to_string(&unreplayed).unwrap(), broken);
    }

    #[test]
    fn a_state_whose_write_failed_is_set_aside_with_all_its_values() {
        let scratch = Scratch::new("failed-write");
        let state_dir = scratch.0.join("run");
        let lock = StateDirLock::acquire(&state_dir).unwrap();
        let missing = scratch.0.join("no-such-dir/scaling_max_freq");
        let mut state = RestoreState::new();
        state.push(RestoreEntry::new(&missing, "1500000"));
        let saved = state.save(&state_dir).unwrap();
        let text = std::fs::read_to_string(&saved).unwrap();
        assert!(replay_leftover_state(&lock, &RestoreTargets::default()).unwrap());
        assert!(!saved.exists());
        assert_eq!(
            std::fs::read_to_string(state_dir.join(UNREPLAYED_FILE_NAME)).unwrap(),
            text,
            "scaling_max_freq 1500000 is not lost"
        );
    }

    #[test]
    fn a_leftover_that_cannot_be_moved_aside_forbids_saving_over_it() {
        let scratch = Scratch::new("stuck-aside");
        let state_dir = scratch.0.join("run");
        let lock = StateDirLock::acquire(&state_dir).unwrap();
        let state_file = warden_hw::restore::state_path(&state_dir);
        std::fs::write(&state_file, "not a state file\n").unwrap();
        // A non-empty directory cannot be replaced by a rename.
        std::fs::create_dir_all(state_dir.join(UNREPLAYED_FILE_NAME).join("x")).unwrap();
        assert!(
            !replay_leftover_state(&lock, &RestoreTargets::default()).unwrap(),
            "must not save"
        );
        assert_eq!(
            std::fs::read_to_string(&state_file).unwrap(),
            "not a state file\n"
        );
    }

    #[test]
    fn an_invalid_file_still_gives_its_absolute_state_dir() {
        let text = "[hardware]\nstate_dir = \"/srv/warden-run\"\nbogus = 1\n";
        let (dir, source) = fallback_state_dir(Some(text));
        assert_eq!(dir, Path::new("/srv/warden-run"));
        assert!(source.contains("[hardware]"), "{source}");
    }

    #[test]
    fn without_a_usable_state_dir_the_default_is_used_and_the_reason_named() {
        for (text, why) in [
            (None, "cannot be read"),
            (Some("[hardware\nstate_dir = \"/x\""), "not TOML"),
            (
                Some("[server]\nbacklog = 0\n"),
                "sets no hardware.state_dir",
            ),
            (
                Some("[hardware]\nstate_dir = \"run\"\n"),
                "not an absolute path",
            ),
            (Some("[hardware]\nstate_dir = 5\n"), "not an absolute path"),
            (Some("hardware = 5\n"), "sets no hardware.state_dir"),
        ] {
            let (dir, source) = fallback_state_dir(text);
            assert_eq!(dir, Path::new(DEFAULT_STATE_DIR), "{text:?}");
            assert!(source.contains(why), "{text:?}: {source}");
        }
    }

    #[test]
    fn warden_restore_refuses_while_the_state_dir_is_locked() {
        let scratch = Scratch::new("locked");
        let (state_dir, max_freq) = state_owned_by(&scratch, None);
        let config = scratch.0.join("warden.toml");
        std::fs::write(
            &config,
            format!("[hardware]\nstate_dir = \"{}\"\n", state_dir.display()),
        )
        .unwrap();
        let _held = StateDirLock::acquire(&state_dir).unwrap();
        let failure = run(Some(&config)).unwrap_err();
        assert!(
            matches!(failure, Failure::Runtime(_)),
            "exit 1: {failure:?}"
        );
        let text = failure.to_string();
        assert!(
            text.contains("stop that warden instead") && text.contains("nothing was changed"),
            "{text}"
        );
        assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "600000\n");
        assert!(warden_hw::restore::state_path(&state_dir).exists());
    }

    /// warden-hw's throttled-state fixture in the scratch directory.
    fn state_owned_by(
        scratch: &Scratch,
        owner: Option<warden_hw::StateOwner>,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        warden_hw::fake_sysfs::throttled_restore_state(&scratch.0, owner).unwrap()
    }

    #[test]
    fn the_state_of_a_running_warden_is_not_replayed_and_stops_the_start() {
        let scratch = Scratch::new("live-owner");
        let owner = warden_hw::StateOwner::current().unwrap();
        let (state_dir, max_freq) = state_owned_by(&scratch, Some(owner.clone()));
        let lock = StateDirLock::acquire(&state_dir).unwrap();
        let failure = replay_leftover_state(&lock, &RestoreTargets::default()).unwrap_err();
        assert!(
            matches!(failure, Failure::Runtime(_)),
            "exit 1: {failure:?}"
        );
        let text = failure.to_string();
        assert!(
            text.contains(&format!("pid {}", owner.pid))
                && text.contains(&state_dir.display().to_string())
                && text.contains("stop that one first")
                && text.contains("names it as its owner")
                && !text.contains("warden.lock"),
            "{text}"
        );
        assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "600000\n");
        assert!(warden_hw::restore::state_path(&state_dir).exists(), "kept");
    }

    #[test]
    fn a_state_whose_owner_line_names_a_live_process_that_is_no_warden_is_replayed() {
        let scratch = Scratch::new("forged-owner");
        let mut other = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        // The live process's real pid, start time and boot id, as a forged line copies them.
        let forged = warden_hw::StateOwner::of_pid(other.id()).unwrap();
        let (state_dir, max_freq) = state_owned_by(&scratch, forged);
        let lock = StateDirLock::acquire(&state_dir).unwrap();
        let replayed = replay_leftover_state(&lock, &RestoreTargets::default());
        let _ = other.kill();
        let _ = other.wait();
        assert!(replayed.unwrap(), "sleep is no warden: replayed, may save");
        assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "1500000");
    }

    #[test]
    fn the_state_of_an_owner_whose_pid_was_recycled_is_replayed() {
        let scratch = Scratch::new("recycled-owner");
        let mut owner = warden_hw::StateOwner::current().unwrap();
        // Our pid, but a process that started at another time: not the owner.
        owner.start_time += 1;
        let (state_dir, max_freq) = state_owned_by(&scratch, Some(owner));
        let lock = StateDirLock::acquire(&state_dir).unwrap();
        assert!(replay_leftover_state(&lock, &RestoreTargets::default()).unwrap());
        assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "1500000");
        assert!(!warden_hw::restore::state_path(&state_dir).exists());
    }
}
