//! `warden restore`: put the fan and cpufreq settings back from the state
//! file a warden that died (SIGKILL, power cut of the process) left behind.
//! systemd runs it as `ExecStopPost=`; after a clean stop there is nothing to
//! do and it says so. `warden run` replays a leftover state file the same way
//! before it starts ([`replay_leftover_state`]).
//!
//! Both refuse while the warden that wrote the file still runs (the file names
//! it, see `warden_hw::StateOwner`): replaying then would undo a live
//! daemon's fan and cpufreq settings underneath it.

use std::path::Path;

use warden_hw::RestoreError;

use crate::config::Config;
use crate::exit::Failure;

/// Runs the restore with the state directory from `config_path` (or the default).
pub fn run(config_path: Option<&Path>) -> Result<(), Failure> {
    let config = match config_path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let state_dir = &config.hardware.state_dir;
    let report = match warden_hw::restore_from_state(state_dir) {
        Ok(report) => report,
        Err(e @ RestoreError::OwnerRunning { .. }) => {
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
    if !report.found {
        println!(
            "nothing to restore: no state file at {}",
            report.state_file.display()
        );
        return Ok(());
    }
    for entry in &report.restored {
        println!("restored {} = {}", entry.path.display(), entry.value);
    }
    for (entry, error) in &report.failed {
        eprintln!(
            "warden: could not restore {} = {}: {error}",
            entry.path.display(),
            entry.value
        );
    }
    if report.is_complete() {
        Ok(())
    } else {
        Err(Failure::Runtime(anyhow::anyhow!(
            "{} of {} settings not restored; the state file {} is kept for another try",
            report.failed.len(),
            report.failed.len() + report.restored.len(),
            report.state_file.display()
        )))
    }
}

/// At start: replays the crash-restore state an earlier run left in `state_dir` (it was
/// killed while it had the hardware changed), so the originals captured next are the real
/// ones, and removes it when every write succeeded. Logs what it did; a failure is logged
/// and start-up goes on.
///
/// Errors (nothing written) when the file belongs to a warden that still runs: another
/// instance on the same `state_dir` drives the same fan and cpufreq, and this one must not
/// start.
pub fn replay_leftover_state(state_dir: &Path) -> Result<(), Failure> {
    let state_file = warden_hw::restore::state_path(state_dir);
    let report = match warden_hw::restore_from_state(state_dir) {
        Ok(report) => report,
        Err(RestoreError::OwnerRunning { owner, .. }) => {
            return Err(Failure::Runtime(anyhow::anyhow!(
                "another warden (pid {pid}) is running with hardware.state_dir = {dir} (its \
                 crash-restore state is {file}); two wardens would fight over the same fan and \
                 cpufreq: stop that one first (systemctl stop warden, or kill -TERM {pid}), or \
                 give this one a hardware.state_dir of its own",
                pid = owner.pid,
                dir = state_dir.display(),
                file = state_file.display()
            )));
        }
        Err(RestoreError::Hw(e)) => {
            log::error!(
                "found the crash-restore state of an earlier run ({}) but cannot replay it: {e}; \
                 starting anyway, so the fan and cpufreq settings read as originals now may be \
                 that run's throttled ones: check them, or fix the file and run `warden restore`",
                state_file.display()
            );
            return Ok(());
        }
    };
    if !report.found {
        return Ok(());
    }
    log::warn!(
        "found the crash-restore state of an earlier run ({}): put back {} settings before starting",
        report.state_file.display(),
        report.restored.len()
    );
    for entry in &report.restored {
        log::info!("restored {} = {}", entry.path.display(), entry.value);
    }
    for (entry, error) in &report.failed {
        log::error!(
            "could not put back {} = {} from the earlier run's crash-restore state: {error}; \
             starting anyway, so this setting read as an original now may be that run's",
            entry.path.display(),
            entry.value
        );
    }
    Ok(())
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

        replay_leftover_state(&state_dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(&max_freq).unwrap().trim(),
            "1500000"
        );
        assert!(!warden_hw::restore::state_path(&state_dir).exists());
        // Nothing left: a second start has nothing to do.
        replay_leftover_state(&state_dir).unwrap();
    }

    #[test]
    fn a_state_that_cannot_be_replayed_does_not_stop_the_start() {
        let scratch = Scratch::new("broken");
        let state_dir = scratch.0.join("run");
        std::fs::create_dir_all(&state_dir).unwrap();
        let state_file = warden_hw::restore::state_path(&state_dir);
        std::fs::write(&state_file, "not a state file\n").unwrap();
        replay_leftover_state(&state_dir).unwrap();
        let missing = scratch.0.join("no-such-dir/scaling_max_freq");
        let mut state = RestoreState::new();
        state.push(RestoreEntry::new(&missing, "1500000"));
        state.save(&state_dir).unwrap();
        replay_leftover_state(&state_dir).unwrap();
        assert!(state_file.exists(), "kept: the write failed");
    }

    /// A state in `<scratch>/run` putting `1500000` into `<scratch>/scaling_max_freq`
    /// (which holds `600000`), owned by `owner`; returns (state dir, max-freq file).
    fn state_owned_by(
        scratch: &Scratch,
        owner: warden_hw::StateOwner,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let max_freq = scratch.0.join("scaling_max_freq");
        std::fs::write(&max_freq, "600000\n").unwrap();
        let state_dir = scratch.0.join("run");
        let mut state = RestoreState::new();
        state.push(RestoreEntry::new(&max_freq, "1500000"));
        state.set_owner(owner);
        state.save(&state_dir).unwrap();
        (state_dir, max_freq)
    }

    #[test]
    fn the_state_of_a_running_warden_is_not_replayed_and_stops_the_start() {
        let scratch = Scratch::new("live-owner");
        let owner = warden_hw::StateOwner::current().unwrap();
        let (state_dir, max_freq) = state_owned_by(&scratch, owner.clone());
        let failure = replay_leftover_state(&state_dir).unwrap_err();
        assert!(
            matches!(failure, Failure::Runtime(_)),
            "exit 1: {failure:?}"
        );
        let text = failure.to_string();
        assert!(
            text.contains(&format!("pid {}", owner.pid))
                && text.contains(&state_dir.display().to_string())
                && text.contains("stop that one first"),
            "{text}"
        );
        assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "600000\n");
        assert!(warden_hw::restore::state_path(&state_dir).exists(), "kept");
    }

    #[test]
    fn the_state_of_an_owner_whose_pid_was_recycled_is_replayed() {
        let scratch = Scratch::new("recycled-owner");
        let mut owner = warden_hw::StateOwner::current().unwrap();
        // Our pid, but a process that started at another time: not the owner.
        owner.start_time += 1;
        let (state_dir, max_freq) = state_owned_by(&scratch, owner);
        replay_leftover_state(&state_dir).unwrap();
        assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "1500000");
        assert!(!warden_hw::restore::state_path(&state_dir).exists());
    }
}
