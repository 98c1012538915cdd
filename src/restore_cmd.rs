//! `warden restore`: put the fan and cpufreq settings back from the state
//! file a warden that died (SIGKILL, power cut of the process) left behind.
//! systemd runs it as `ExecStopPost=`; after a clean stop there is nothing to
//! do and it says so.

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
