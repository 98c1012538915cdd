//! `warden restore`: put the fan and cpufreq settings back from the state
//! file a warden that died (SIGKILL, power cut of the process) left behind.
//! systemd runs it as `ExecStopPost=`; after a clean stop there is nothing to
//! do and it says so. `warden run` replays a leftover state file the same way
//! before it starts ([`replay_leftover_state`]).

use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::exit::Failure;

/// Runs the restore with the state directory from `config_path` (or the default).
pub fn run(config_path: Option<&Path>) -> Result<(), Failure> {
    let config = match config_path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let state_dir = &config.hardware.state_dir;
    let report = warden_hw::restore_from_state(state_dir)
        .with_context(|| format!("cannot read the restore state in {}", state_dir.display()))?;
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
pub fn replay_leftover_state(state_dir: &Path) {
    let state_file = warden_hw::restore::state_path(state_dir);
    let report = match warden_hw::restore_from_state(state_dir) {
        Ok(report) => report,
        Err(e) => {
            log::error!(
                "found the crash-restore state of an earlier run ({}) but cannot replay it: {e}; \
                 starting anyway, so the fan and cpufreq settings read as originals now may be \
                 that run's throttled ones: check them, or fix the file and run `warden restore`",
                state_file.display()
            );
            return;
        }
    };
    if !report.found {
        return;
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

        replay_leftover_state(&state_dir);
        assert_eq!(
            std::fs::read_to_string(&max_freq).unwrap().trim(),
            "1500000"
        );
        assert!(!warden_hw::restore::state_path(&state_dir).exists());
        // Nothing left: a second start has nothing to do.
        replay_leftover_state(&state_dir);
    }

    #[test]
    fn a_state_that_cannot_be_replayed_does_not_stop_the_start() {
        let scratch = Scratch::new("broken");
        let state_dir = scratch.0.join("run");
        std::fs::create_dir_all(&state_dir).unwrap();
        let state_file = warden_hw::restore::state_path(&state_dir);
        std::fs::write(&state_file, "not a state file\n").unwrap();
        replay_leftover_state(&state_dir);
        let missing = scratch.0.join("no-such-dir/scaling_max_freq");
        let mut state = RestoreState::new();
        state.push(RestoreEntry::new(&missing, "1500000"));
        state.save(&state_dir).unwrap();
        replay_leftover_state(&state_dir);
        assert!(state_file.exists(), "kept: the write failed");
    }
}
