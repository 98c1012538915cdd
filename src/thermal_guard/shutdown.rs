//! Stopping the controller at exit, and saying so when the hardware was not all put
//! back. warden-thermal logs one ERROR per setting it could not write back (file, value,
//! OS error) and reports what failed; this side adds, on exactly one line, what to do
//! now: run `warden restore` from the kept crash-restore state once the cause is fixed,
//! or, when no state was saved at start, the values to put back by hand. On the
//! simulated Pi no hardware was ever touched, and every line says so instead of
//! claiming a restore or sending the user to put sysfs values back.

use anyhow::anyhow;
use warden_hw::RestoreState;
use warden_thermal::ControllerError;

use super::ThermalGuard;

/// Logged when the controller stopped and put the real fan and cpufreq back.
pub(super) const STOPPED_RESTORED: &str = "thermal control stopped; hardware restored";
/// Logged when the controller stopped on the simulated Pi: nothing real was changed.
pub(super) const STOPPED_SIMULATED: &str =
    "thermal control stopped (simulated Pi; no hardware was touched)";

impl ThermalGuard {
    /// Stops the controller: fan to `fan.on_exit`, cpufreq back to the
    /// originals; then removes the crash-restore state file. If the hardware
    /// could not be restored (or the controller did not stop in time), the
    /// file is kept for `warden restore`, what to do is logged once, and the
    /// error says that the settings were not all put back (the daemon exits 1 on
    /// it, after draining).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    pub(super) fn shutdown(&mut self) -> anyhow::Result<()> {
        let Some(handle) = self.handle.take() else {
            return Ok(());
        };
        let stopped = match handle.stop() {
            Ok(()) => {
                if self.state_saved {
                    if let Err(e) = RestoreState::remove(&self.state_dir) {
                        log::warn!("cannot remove the restore state file: {e}");
                    }
                }
                log::info!("{}", self.stopped_message());
                Ok(())
            }
            Err(e) => {
                log::error!("{}", self.not_restored_message(&e));
                // The advice is in the line above: the error only says what happened.
                Err(if self.simulation.is_some() {
                    anyhow!(
                        "the thermal controller did not stop cleanly (simulated Pi; no hardware \
                         was touched; see the error logged above)"
                    )
                } else {
                    anyhow!(
                        "the fan and cpufreq settings were not all put back at exit (see the \
                         errors logged above)"
                    )
                })
            }
        };
        self.simulation = None;
        stopped
    }

    /// The line for a clean stop: a restore on hardware, none on the simulated Pi.
    fn stopped_message(&self) -> &'static str {
        if self.simulation.is_some() {
            STOPPED_SIMULATED
        } else {
            STOPPED_RESTORED
        }
    }

    /// The one line for a stop that did not put everything back: the controller's error
    /// (what failed) and what to do now. On the simulated Pi the fan and cpufreq it names
    /// are the model's, so there is nothing to restore.
    fn not_restored_message(&self, error: &ControllerError) -> String {
        if self.simulation.is_some() {
            return format!(
                "{error} (simulated Pi: that fan and cpufreq are the model's; no hardware was \
                 touched and there is nothing to put back)"
            );
        }
        format!("{error}; {}", self.what_now(error))
    }

    /// Where the values to put back are (the kept state file, or by hand) and when to
    /// put them back.
    fn what_now(&self, error: &ControllerError) -> String {
        let when = match error {
            // Its thread ends with the process; nothing else stands in the way.
            ControllerError::NotStopped { .. } => "once this warden has exited",
            // The unwinding restore logged each failure, if there was one.
            ControllerError::Panicked => "once the cause of any failure logged above is fixed",
            _ => "once the cause logged above is fixed",
        };
        if self.state_saved {
            return format!(
                "the crash-restore state {} is kept: run 'warden restore' {when}",
                warden_hw::restore::state_path(&self.state_dir).display()
            );
        }
        let originals = self.crash.state();
        let by_hand = if originals.is_empty() {
            "check the fan and cpufreq settings by hand".to_owned()
        } else {
            format!(
                "put these back by hand: {}",
                warden_hw::restore::list_entries(originals.entries())
            )
        };
        format!(
            "no crash-restore state was saved at start, so 'warden restore' cannot help: \
             {when}, {by_hand}"
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use warden_hw::cpufreq::CpuFreqFiles;
    use warden_hw::RestoreEntry;
    use warden_thermal::{
        Controller, ControllerConfig, ControllerHandle, PolicyConfig, SharedSnapshot,
    };

    use super::super::crash_state::CrashRecord;
    use super::super::scratch_dir::ScratchDir;
    use super::*;

    /// Starts `controller` on a 10 ms tick, admission changes dropped.
    fn spawn_ticking_fast(controller: Controller) -> (ControllerHandle, Arc<SharedSnapshot>) {
        let snapshot = Arc::new(SharedSnapshot::new());
        let config = ControllerConfig {
            interval: std::time::Duration::from_millis(10),
            ..ControllerConfig::default()
        };
        let handle = controller
            .spawn(config, Box::new(|_| {}), Arc::clone(&snapshot))
            .unwrap();
        (handle, snapshot)
    }

    /// A guard over a controller at 82 °C (throttling) on fakes, with a saved state file.
    fn throttling_guard(cpu: &warden_hw::fake::FakeCpuFreq, state_dir: PathBuf) -> ThermalGuard {
        throttling_guard_saving(cpu, state_dir, true)
    }

    /// [`throttling_guard`], saving the state file only when `save` is true.
    fn throttling_guard_saving(
        cpu: &warden_hw::fake::FakeCpuFreq,
        state_dir: PathBuf,
        save: bool,
    ) -> ThermalGuard {
        let sensor = warden_hw::fake::FakeSensor::new(82.0);
        let fan = warden_hw::fake::FakeFan::on_off();
        // The fake cpufreq names no files of its own: record the one a Pi's would.
        let mut captured = RestoreState::capture(&fan, Some(1.0), Some(cpu), CpuFreqFiles::ALL);
        captured.push(RestoreEntry::new(
            "/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq",
            "1500000",
        ));
        let crash = CrashRecord::new(captured);
        if save {
            crash.state().save(&state_dir).unwrap();
        }
        let policy = PolicyConfig {
            filter_tau_s: 0.0,
            horizon_s: 0.0,
            ..PolicyConfig::default()
        };
        // As start-up wires it: the throttle's originals are recorded while it is held.
        let recorder = crash.originals_recorder(save.then(|| state_dir.clone()));
        let (handle, snapshot) = spawn_ticking_fast(
            Controller::new(policy, Box::new(sensor), Box::new(fan))
                .unwrap()
                .with_cpufreq(Box::new(cpu.clone()))
                .with_originals_recorder(recorder),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cpu.current_max_khz() == 1_500_000 {
            assert!(std::time::Instant::now() < deadline, "never throttled");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        ThermalGuard {
            handle: Some(handle),
            snapshot,
            state_dir,
            state_saved: save,
            crash,
            missing_cpufreq: None,
            simulation: None,
            _state_lock: None,
        }
    }

    /// A fresh directory under the system temp dir, removed on drop (also when a test panics).
    /// A guard over a controller on the simulated Pi, as start-up builds it: no state file,
    /// no lock, the simulation kept alive by the guard.
    fn simulated_guard() -> ThermalGuard {
        let options = crate::simulate::SimulationOptions::default();
        let (backends, simulation) = crate::simulate::start_simulation(&options, || 0.0).unwrap();
        let (handle, snapshot) = spawn_ticking_fast(
            Controller::from_backends(PolicyConfig::default(), backends).unwrap(),
        );
        ThermalGuard {
            handle: Some(handle),
            snapshot,
            state_dir: PathBuf::from("/run/warden"),
            state_saved: false,
            crash: CrashRecord::new(RestoreState::new()),
            missing_cpufreq: None,
            simulation: Some(simulation),
            _state_lock: None,
        }
    }

    #[test]
    fn a_simulated_stop_claims_no_hardware_restore() {
        let guard = simulated_guard();
        assert_eq!(guard.stopped_message(), STOPPED_SIMULATED);
        assert!(
            STOPPED_SIMULATED.contains("no hardware was touched")
                && !STOPPED_SIMULATED.contains("restored"),
            "{STOPPED_SIMULATED}"
        );
        for error in [
            ControllerError::Panicked,
            ControllerError::NotStopped {
                waited: std::time::Duration::from_secs(5),
            },
            failed_cpufreq_restore(),
        ] {
            let logged = guard.not_restored_message(&error);
            assert!(
                logged.contains("no hardware was touched")
                    && !logged.contains("warden restore")
                    && !logged.contains("by hand"),
                "{logged}"
            );
        }
        guard.stop().unwrap();
    }

    #[test]
    fn a_hardware_stop_says_the_hardware_was_restored() {
        let dir = ScratchDir::new("restored-line");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        let guard = throttling_guard(&cpu, dir.path().to_path_buf());
        assert_eq!(guard.stopped_message(), STOPPED_RESTORED);
        guard.stop().unwrap();
    }

    #[test]
    fn a_clean_stop_removes_the_state_file() {
        let dir = ScratchDir::new("clean");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        throttling_guard(&cpu, dir.path().to_path_buf())
            .stop()
            .unwrap();
        assert_eq!(cpu.current_max_khz(), 1_500_000);
        assert!(!warden_hw::restore::state_path(dir.path()).exists());
    }

    /// What a stop whose cpufreq restore failed logs, as the controller reports it.
    fn failed_cpufreq_restore() -> ControllerError {
        ControllerError::RestoreFailed {
            what: "/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq = 1500000".into(),
        }
    }

    #[test]
    fn a_stop_that_could_not_restore_keeps_the_state_file_and_advises_once() {
        let dir = ScratchDir::new("failed");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        let guard = throttling_guard(&cpu, dir.path().to_path_buf());
        cpu.fail_writes_always(warden_hw::fake::FakeFailure::PermissionDenied);
        let logged = guard.not_restored_message(&failed_cpufreq_restore());
        let state_file = warden_hw::restore::state_path(dir.path());
        assert!(
            logged.contains(&format!(
                "the crash-restore state {} is kept: run 'warden restore' once the cause logged \
                 above is fixed",
                state_file.display()
            )) && logged.contains("policy0/scaling_max_freq = 1500000")
                && logged.matches("warden restore").count() == 1,
            "{logged}"
        );
        let error = guard.stop().expect_err("a failed restore is an error");
        assert!(
            error.to_string().contains("not all put back")
                && !error.to_string().contains("warden restore"),
            "the advice is logged once, not repeated in the error: {error}"
        );
        assert!(cpu.current_max_khz() < 1_500_000);
        assert!(state_file.exists(), "kept for `warden restore`");
    }

    #[test]
    fn a_failed_stop_without_a_saved_state_says_warden_restore_cannot_help() {
        let dir = ScratchDir::new("unsaved");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        let guard = throttling_guard_saving(&cpu, dir.path().to_path_buf(), false);
        cpu.fail_writes_always(warden_hw::fake::FakeFailure::PermissionDenied);
        let logged = guard.not_restored_message(&failed_cpufreq_restore());
        assert!(
            logged.contains("'warden restore' cannot help")
                && logged.contains("once the cause logged above is fixed, put these back by hand")
                && logged.contains("policy0/scaling_max_freq = 1500000")
                && !logged.contains("is kept"),
            "{logged}"
        );
        let error = guard.stop().expect_err("a failed restore is an error");
        assert!(
            !error.to_string().contains("warden restore") && !error.to_string().contains("by hand"),
            "{error}"
        );
        assert!(!warden_hw::restore::state_path(dir.path()).exists());
    }

    #[test]
    fn a_controller_left_behind_is_put_back_once_warden_has_exited() {
        let dir = ScratchDir::new("stuck");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        let guard = throttling_guard(&cpu, dir.path().to_path_buf());
        let logged = guard.not_restored_message(&ControllerError::NotStopped {
            waited: std::time::Duration::from_secs(5),
        });
        assert!(
            logged.contains("did not stop within 5 s")
                && logged.contains("run 'warden restore' once this warden has exited"),
            "{logged}"
        );
        guard.stop().unwrap();
    }
}
