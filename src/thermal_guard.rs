//! Builds the hardware backends and the thermal controller from the config,
//! and connects the controller's admission decisions to the event loop.
//!
//! The controller thread owns the hardware. Before it changes anything, the
//! values to put back are written to a state file in `hardware.state_dir`,
//! so `warden restore` can undo a crash (SIGKILL); a clean stop restores the
//! hardware itself and removes the file. A stop that could not restore (a
//! failed write, a controller stuck in a sensor read) keeps the file and is an
//! error the daemon exits 1 on. The file names this process as its owner, so
//! `warden restore` refuses while it runs. A state file found at start is an
//! earlier run's crash: it is replayed before the originals are captured, so a
//! throttled clock is never taken for one.
//!
//! Before that, the daemon takes the exclusive lock `<state_dir>/warden.lock`
//! and holds it for its life: a second warden on the same state directory
//! (started at the same moment, or with `/proc` hidden) finds it held and
//! stops there. A simulated board touches no hardware, so it neither locks
//! nor writes a state file.

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use anyhow::anyhow;
use warden_hw::{
    Backends, FanSpec, HardwareSpec, HwError, RestoreEntry, RestoreState, SensorSpec, StateDirLock,
    StateOwner,
};
use warden_thermal::{
    AdmissionDecision, Controller, ControllerConfig, ControllerError, ControllerHandle,
    CpuStrategy, FanOnExit, PolicyConfig, SharedSnapshot,
};

use crate::config::{self, Config};
use crate::engine::{Admission, Command, ControlHandle, LoopShared, ShedMode};
use crate::exit::Failure;
use crate::simulate::Simulation;

/// The running thermal controller and what it needs at shutdown.
pub struct ThermalGuard {
    handle: Option<ControllerHandle>,
    snapshot: Arc<SharedSnapshot>,
    state_dir: PathBuf,
    state_saved: bool,
    /// The writes that put the hardware back, for the message when they fail and no state
    /// file was saved (the values to put back by hand).
    originals: Vec<RestoreEntry>,
    /// The in-process Pi model when simulating; dropped after the controller.
    simulation: Option<Simulation>,
    /// The state directory's lock, held until after the state file is removed; `None`
    /// when simulating or when the directory could not be locked.
    _state_lock: Option<StateDirLock>,
}

/// What thermal control is doing on this machine.
pub enum ThermalStart {
    /// The controller runs.
    Running(ThermalGuard),
    /// No thermal zone exists and none was named: no thermal control.
    NoSensor(String),
}

impl ThermalGuard {
    /// The controller's published state (for status and readiness).
    pub fn snapshot(&self) -> Arc<SharedSnapshot> {
        Arc::clone(&self.snapshot)
    }

    /// The controller's published state, borrowed.
    pub fn shared(&self) -> &SharedSnapshot {
        &self.snapshot
    }

    /// Hands the running controller a new policy (a SIGHUP); a bad one is refused
    /// and the running one stays.
    pub fn reconfigure(&self, policy: PolicyConfig) -> Result<(), ControllerError> {
        self.handle
            .as_ref()
            .ok_or(ControllerError::Stopped)?
            .reconfigure(policy)
    }

    /// Hands the running controller a new tick interval and cpu strategy (a SIGHUP).
    pub fn retune(&self, settings: &ControllerConfig) -> Result<(), ControllerError> {
        self.handle
            .as_ref()
            .ok_or(ControllerError::Stopped)?
            .retune(settings.interval, settings.cpu_strategy.clone())
    }

    /// Stops the controller: fan to `fan.on_exit`, cpufreq back to the
    /// originals; then removes the crash-restore state file. If the hardware
    /// could not be restored (or the controller did not stop in time), the
    /// file is kept for `warden restore`, the cause is logged, and the error
    /// says so (the daemon exits 1 on it, after draining).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
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
                log::info!("thermal control stopped; hardware restored");
                Ok(())
            }
            Err(e) => {
                let message = self.not_restored_message(&e);
                log::error!("thermal control stopped without restoring the hardware: {message}");
                Err(anyhow!(
                    "the fan and cpufreq settings were not all put back at exit (see the error \
                     logged above); {}",
                    self.what_now()
                ))
            }
        };
        self.simulation = None;
        stopped
    }
}

impl ThermalGuard {
    /// The controller's error and what to do now. With a saved state its own advice
    /// ("run `warden restore`") holds; without one, `warden restore` cannot help, so the
    /// advice is replaced by the values to put back by hand.
    fn not_restored_message(&self, error: &ControllerError) -> String {
        if self.state_saved {
            return format!("{error}; {}", self.what_now());
        }
        let cause = match error {
            ControllerError::RestoreFailed { what } => {
                format!("the thermal controller stopped but could not put back {what}")
            }
            ControllerError::NotStopped { waited } => format!(
                "the thermal controller thread did not stop within {} s (stuck in a sensor read \
                 or another hardware call?) and was left behind: the fan and cpufreq may not be \
                 restored",
                waited.as_secs_f64()
            ),
            ControllerError::Panicked => "the thermal controller thread panicked; see the log \
                                          for what it could not restore while unwinding"
                .to_owned(),
            other => other.to_string(),
        };
        format!("{cause}; {}", self.what_now())
    }

    /// Where the values to put back are: the kept state file, or (none saved) by hand.
    fn what_now(&self) -> String {
        if self.state_saved {
            return format!(
                "the crash-restore state {} is kept: run 'warden restore' to retry",
                warden_hw::restore::state_path(&self.state_dir).display()
            );
        }
        let by_hand = if self.originals.is_empty() {
            "check the fan and cpufreq settings by hand".to_owned()
        } else {
            format!(
                "put these back by hand: {}",
                warden_hw::restore::list_entries(&self.originals)
            )
        };
        format!(
            "no crash-restore state was saved at start, so 'warden restore' cannot help: {by_hand}"
        )
    }
}

impl Drop for ThermalGuard {
    fn drop(&mut self) {
        // Also on unwinding from a panic in the event loop; a failure is logged already.
        let _ = self.shutdown();
    }
}

/// Builds the backends and starts the controller.
///
/// Hardware the config explicitly asks for but that is missing (a GPIO fan
/// off a Pi, a named sensor file) is a configuration failure (exit 2). With
/// `thermal.sensor = "auto"` and no thermal zone at all, warden serves
/// without thermal control and says so.
pub fn start(
    config: &Config,
    simulate: bool,
    control: ControlHandle,
    shared: Arc<LoopShared>,
) -> Result<ThermalStart, Failure> {
    let simulated = simulate || config.hardware.simulate;
    let state_dir = config.hardware.state_dir.clone();
    // Before the leftover replay, so no other warden replays or saves meanwhile.
    let state_lock = if simulated {
        log::info!(
            "simulated board: no crash-restore state is written and {} is not locked",
            state_dir.display()
        );
        None
    } else {
        crate::restore_cmd::lock_state_dir(&state_dir)?
    };
    // Before the backends read the "originals": an earlier run killed while
    // throttling left its changes in place.
    let may_save = match &state_lock {
        Some(lock) => crate::restore_cmd::replay_leftover_state(lock)?,
        None => false,
    };
    let (backends, simulation) = match build_backends(config, simulate)? {
        Ok(built) => built,
        Err(no_sensor) => return Ok(ThermalStart::NoSensor(no_sensor)),
    };
    for note in &backends.notes {
        log::info!("{note}");
    }
    let fan_on_exit = fan_on_exit(config.fan.on_exit);
    let mut restore = RestoreState::capture(
        backends.fan.as_ref(),
        fan_on_exit.duty(),
        backends.cpufreq.as_deref(),
    );
    let state_saved = may_save && save_state(&mut restore, &state_dir);
    let active = Arc::clone(&shared);
    let controller = Controller::from_backends(policy_config(config), backends)
        .map_err(|e| Failure::HardwareConfig(anyhow::Error::new(e).context("thermal policy")))?
        .with_active_connections(Arc::new(move || active.stats.active.load(Relaxed)));
    let snapshot = Arc::new(SharedSnapshot::new());
    let sink = Box::new(move |decision: AdmissionDecision| {
        let admission = match decision {
            AdmissionDecision::Open => Admission::Open,
            AdmissionDecision::Shed { mode } => Admission::Shed {
                mode: match mode {
                    warden_thermal::ShedMode::Reject => ShedMode::Reject,
                    warden_thermal::ShedMode::Pause => ShedMode::Pause,
                },
            },
        };
        if let Err(e) = control.send(Command::SetAdmission(admission)) {
            log::debug!("admission change not delivered: {e}");
        }
    });
    let handle = controller
        .spawn(controller_config(config), sink, Arc::clone(&snapshot))
        .map_err(|e| {
            Failure::Runtime(anyhow::Error::new(e).context("cannot start the thermal controller"))
        })?;
    Ok(ThermalStart::Running(ThermalGuard {
        handle: Some(handle),
        snapshot,
        state_dir,
        state_saved,
        originals: restore.entries().to_vec(),
        simulation,
        _state_lock: state_lock,
    }))
}

/// Names this process as the owner of `restore` and saves it in `state_dir`; true when
/// saved. Failures are logged: warden runs on without crash-restore state.
fn save_state(restore: &mut RestoreState, state_dir: &std::path::Path) -> bool {
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
    match restore.save(state_dir) {
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

/// The hardware backends (or the simulated Pi), or why there is no sensor.
fn build_backends(
    config: &Config,
    simulate: bool,
) -> Result<Result<(Backends, Option<Simulation>), String>, Failure> {
    if simulate || config.hardware.simulate {
        let (backends, simulation) = crate::simulate::start_from_env()
            .map_err(|e| Failure::HardwareConfig(anyhow::Error::new(e).context("simulation")))?;
        return Ok(Ok((backends, Some(simulation))));
    }
    let spec = hardware_spec(config);
    match warden_hw::build(&spec) {
        Ok(backends) => Ok(Ok((backends, None))),
        Err(HwError::NoThermalZone { dir, reason }) if spec.sensor == SensorSpec::Auto => {
            Ok(Err(format!(
                "no thermal zone under {} ({reason}): THERMAL CONTROL IS OFF (no fan, no shedding, no throttling); \
                 set hardware.sysfs_root or thermal.sensor, or use --simulate to see the control loop",
                dir.display()
            )))
        }
        Err(e) => Err(Failure::HardwareConfig(anyhow::Error::new(e).context("hardware"))),
    }
}

/// warden-hw's view of `[hardware]`, `[thermal]` sensor, `[fan]` and `[cpufreq]`.
pub fn hardware_spec(config: &Config) -> HardwareSpec {
    let fan = &config.fan;
    let pin = fan.pin.unwrap_or_default();
    HardwareSpec {
        sysfs_root: config.hardware.sysfs_root.clone(),
        sensor: match &config.thermal.sensor {
            config::SensorSelection::Auto => SensorSpec::Auto,
            config::SensorSelection::Path(path) => SensorSpec::Path(path.clone()),
        },
        fan: match fan.driver {
            config::FanDriver::Auto => FanSpec::Auto,
            config::FanDriver::Disabled => FanSpec::None,
            config::FanDriver::Gpio => FanSpec::Gpio {
                pin,
                active_low: fan.active_low,
            },
            config::FanDriver::Pwm => FanSpec::Pwm {
                channel: fan.pwm_channel,
                frequency_hz: fan.pwm_frequency_hz,
                min_duty: fan.min_duty,
                active_low: fan.active_low,
                kick: fan.kick,
            },
            config::FanDriver::SoftPwm => FanSpec::SoftPwm {
                pin,
                frequency_hz: fan.pwm_frequency_hz,
                min_duty: fan.min_duty,
                active_low: fan.active_low,
                kick: fan.kick,
            },
            config::FanDriver::Hwmon => FanSpec::Hwmon {
                path: fan.path.clone(),
            },
            config::FanDriver::File => FanSpec::File {
                path: fan.path.clone().unwrap_or_default(),
            },
        },
        cpufreq_enabled: config.cpufreq.strategy != config::CpuFreqStrategy::Off,
        powersave_governor: (config.cpufreq.strategy == config::CpuFreqStrategy::Governor)
            .then(|| config.cpufreq.powersave_governor.clone()),
        throttle_flags_enabled: true,
    }
}

/// warden-thermal's view of `[thermal]` and the fan law of `[fan]`.
pub fn policy_config(config: &Config) -> PolicyConfig {
    let t = &config.thermal;
    let stage = |s: config::StageThresholds| warden_thermal::StageThresholds {
        on_c: s.on_c,
        off_c: s.off_c,
    };
    PolicyConfig {
        thresholds: warden_thermal::Thresholds {
            fan: stage(t.fan),
            shed: stage(t.shed),
            throttle: stage(t.throttle),
            critical: stage(t.critical),
        },
        filter_tau_s: t.filter_tau_s,
        trend_window_s: t.trend_window_s,
        horizon_s: t.horizon_s,
        shed_mode: match t.shed_mode {
            config::ShedMode::Reject => warden_thermal::ShedMode::Reject,
            config::ShedMode::Pause => warden_thermal::ShedMode::Pause,
        },
        fan_min_on_s: config.fan.min_on.as_secs_f64(),
        fan_min_off_s: config.fan.min_off.as_secs_f64(),
        fan_curve: config
            .fan
            .curve
            .iter()
            .map(|p| warden_thermal::CurvePoint {
                temp_c: p.temp_c,
                duty: p.duty,
            })
            .collect(),
        fan_curve_backoff_c: config.fan.curve_hysteresis_c,
        stuck_s: t.stuck_after.map_or(0.0, |d| d.as_secs_f64()),
        max_step_c: t.max_step_c,
        on_sensor_fault: match t.on_sensor_fault {
            config::OnSensorFault::FanFull => warden_thermal::OnSensorFault::FanFull,
            config::OnSensorFault::FanFullAndShed => warden_thermal::OnSensorFault::FanFullAndShed,
        },
        ..PolicyConfig::default()
    }
}

/// The controller thread's settings.
pub fn controller_config(config: &Config) -> ControllerConfig {
    ControllerConfig {
        interval: config.thermal.interval,
        cpu_strategy: match config.cpufreq.strategy {
            config::CpuFreqStrategy::MaxFreq => CpuStrategy::MaxFreq,
            config::CpuFreqStrategy::Governor => CpuStrategy::Governor {
                powersave: config.cpufreq.powersave_governor.clone(),
            },
            config::CpuFreqStrategy::Off => CpuStrategy::Off,
        },
        fan_on_exit: fan_on_exit(config.fan.on_exit),
    }
}

fn fan_on_exit(action: config::FanExitAction) -> FanOnExit {
    match action {
        config::FanExitAction::Full => FanOnExit::Full,
        config::FanExitAction::Off => FanOnExit::Off,
        config::FanExitAction::Leave => FanOnExit::Leave,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_maps_onto_valid_policy_and_controller_settings() {
        let config = Config::default();
        let policy = policy_config(&config);
        policy.validate().expect("defaults form a valid policy");
        assert_eq!(policy.thresholds.shed.on_c, 75.0);
        assert_eq!(policy.thresholds.fan.off_c, 50.0);
        assert_eq!(policy.fan_curve.len(), 4);
        let controller = controller_config(&config);
        assert_eq!(controller.interval, std::time::Duration::from_millis(500));
        assert_eq!(controller.cpu_strategy, CpuStrategy::MaxFreq);
        assert_eq!(controller.fan_on_exit, FanOnExit::Full);
        assert_eq!(hardware_spec(&config).fan, FanSpec::Auto);
        assert_eq!(hardware_spec(&config).powersave_governor, None);
    }

    #[test]
    fn the_governor_strategy_asks_the_factory_to_check_its_governor() {
        let config = Config::from_toml_str(
            "[cpufreq]\nstrategy = \"governor\"\npowersave_governor = \"conservative\"\n",
        )
        .unwrap();
        assert_eq!(
            hardware_spec(&config).powersave_governor.as_deref(),
            Some("conservative")
        );
    }

    #[test]
    fn a_changed_threshold_reaches_the_policy() {
        let config = Config::from_toml_str(
            "[thermal]\nshed_on_c = 72.0\nshed_off_c = 66.0\nshed_mode = \"pause\"\n",
        )
        .unwrap();
        let policy = policy_config(&config);
        assert_eq!(policy.thresholds.shed.on_c, 72.0);
        assert_eq!(policy.thresholds.shed.off_c, 66.0);
        assert_eq!(policy.shed_mode, warden_thermal::ShedMode::Pause);
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
        let originals = vec![RestoreEntry::new(
            "/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq",
            "1500000",
        )];
        if save {
            RestoreState::capture(&fan, Some(1.0), Some(cpu))
                .save(&state_dir)
                .unwrap();
        }
        let policy = PolicyConfig {
            filter_tau_s: 0.0,
            horizon_s: 0.0,
            ..PolicyConfig::default()
        };
        let snapshot = Arc::new(SharedSnapshot::new());
        let handle = Controller::new(policy, Box::new(sensor), Box::new(fan))
            .unwrap()
            .with_cpufreq(Box::new(cpu.clone()))
            .spawn(
                ControllerConfig {
                    interval: std::time::Duration::from_millis(10),
                    ..ControllerConfig::default()
                },
                Box::new(|_| {}),
                Arc::clone(&snapshot),
            )
            .unwrap();
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
            originals,
            simulation: None,
            _state_lock: None,
        }
    }

    /// A fresh directory under the system temp dir, removed on drop (also when a test panics).
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("warden-guard-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            ScratchDir(dir)
        }

        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
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

    #[test]
    fn a_stop_that_could_not_restore_keeps_the_state_file() {
        let dir = ScratchDir::new("failed");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        let guard = throttling_guard(&cpu, dir.path().to_path_buf());
        cpu.fail_writes_always(warden_hw::fake::FakeFailure::PermissionDenied);
        let error = guard.stop().expect_err("a failed restore is an error");
        assert!(
            error.to_string().contains("is kept"),
            "names the kept state file: {error}"
        );
        assert!(cpu.current_max_khz() < 1_500_000);
        assert!(
            warden_hw::restore::state_path(dir.path()).exists(),
            "kept for `warden restore`"
        );
    }

    #[test]
    fn a_failed_stop_without_a_saved_state_says_warden_restore_cannot_help() {
        let dir = ScratchDir::new("unsaved");
        let cpu = warden_hw::fake::FakeCpuFreq::pi4();
        let guard = throttling_guard_saving(&cpu, dir.path().to_path_buf(), false);
        cpu.fail_writes_always(warden_hw::fake::FakeFailure::PermissionDenied);
        let logged = guard.not_restored_message(&ControllerError::RestoreFailed {
            what: "cpufreq (scaling_max_freq 1500000 kHz)".into(),
        });
        let error = guard.stop().expect_err("a failed restore is an error");
        for text in [logged, error.to_string()] {
            assert!(
                text.contains("'warden restore' cannot help")
                    && text.contains("put these back by hand")
                    && text.contains("policy0/scaling_max_freq = 1500000")
                    && !text.contains("retry from the crash-restore state file")
                    && !text.contains("is kept"),
                "{text}"
            );
        }
        assert!(!warden_hw::restore::state_path(dir.path()).exists());
    }
}
