//! Start-up: claims the state directory, opens the hardware (or the simulated Pi),
//! saves the crash-restore state and starts the controller thread, whose admission
//! decisions are forwarded to the event loop.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::{Backends, HwError, RestoreState, SensorSpec};
use warden_thermal::{AdmissionDecision, Controller, CpuStrategy, SharedSnapshot};

use super::crash_state::{claim_state_dir, save_state, CrashRecord};
use super::reload::MissingCpufreq;
use super::settings::{controller_config, fan_on_exit, hardware_spec, policy_config};
use super::{ThermalGuard, ThermalStart};
use crate::config::defaults::{DEFAULT_FAN_DRIVER, DEFAULT_SYSFS_ROOT};
use crate::config::{Config, SensorSelection};
use crate::engine::{Admission, Command, ControlHandle, LoopShared, ShedMode};
use crate::exit::Failure;
use crate::simulate::{SimulateError, Simulation, SimulationOptions};

/// Builds the backends and starts the controller: on the simulated Pi with `simulation`
/// (read before anything was bound, see [`crate::simulate::options_for_run`]), else on
/// the hardware the config names.
///
/// Hardware the config explicitly asks for but that is missing (a GPIO fan
/// off a Pi, a named sensor file) is a configuration failure (exit 2). With
/// `thermal.sensor = "auto"` and no thermal zone at all, warden serves
/// without thermal control and says so.
pub fn start(
    config: &Config,
    simulation: Option<SimulationOptions>,
    control: ControlHandle,
    shared: Arc<LoopShared>,
) -> Result<ThermalStart, Failure> {
    let simulated = simulation.is_some();
    let state_dir = config.hardware.state_dir.clone();
    let claim = claim_state_dir(
        &state_dir,
        simulated,
        &crate::restore_cmd::restore_targets(config),
    )?;
    let (backends, simulation) = match build_backends(config, simulation.as_ref())? {
        Ok(built) => built,
        Err(reason) => {
            // Still the only warden on this state directory: the caller keeps the lock.
            return Ok(ThermalStart::NoSensor {
                reason,
                state_lock: claim.lock,
            });
        }
    };
    for note in &backends.notes {
        log::info!("{note}");
    }
    let settings = controller_config(config);
    // The factory found no policy where it looked (it said so in a note above).
    let missing_cpufreq =
        (!simulated && backends.cpufreq.is_none() && settings.cpu_strategy != CpuStrategy::Off)
            .then(|| {
                Box::new(MissingCpufreq::new(
                    config
                        .hardware
                        .sysfs_root
                        .join(warden_hw::cpufreq::CPUFREQ_DIR),
                    settings.cpu_strategy.clone(),
                ))
            });
    let crash = CrashRecord::new(RestoreState::capture(
        backends.fan.as_ref(),
        fan_on_exit(config.fan.on_exit).duty(),
        backends.cpufreq.as_deref(),
        CpuFreqFiles::ALL,
    ));
    // The fan's entries alone: no cpufreq file is recorded before the first throttle.
    let state_saved = claim.may_save && save_state(&mut crash.state(), &state_dir);
    // Each throttle episode's originals are saved before it throttles, and dropped once
    // it is released.
    let recorder = crash.originals_recorder(state_saved.then(|| state_dir.clone()));
    let active = Arc::clone(&shared);
    let controller = Controller::from_backends(policy_config(config), backends)
        .map_err(|e| Failure::HardwareConfig(anyhow::Error::new(e).context("thermal policy")))?
        .with_originals_recorder(recorder)
        .with_active_connections(Arc::new(move || active.stats.active.load(Relaxed)))
        .with_time_scale(simulation.as_ref().map_or(1.0, Simulation::speed));
    let snapshot = Arc::new(SharedSnapshot::new());
    let handle = controller
        .spawn(settings, admission_sink(control), Arc::clone(&snapshot))
        .map_err(|e| {
            Failure::Runtime(anyhow::Error::new(e).context("cannot start the thermal controller"))
        })?;
    Ok(ThermalStart::Running(ThermalGuard {
        handle: Some(handle),
        snapshot,
        state_dir,
        state_saved,
        crash,
        missing_cpufreq,
        simulation,
        _state_lock: claim.lock,
    }))
}

/// Hands each admission change to the event loop (on the controller thread).
fn admission_sink(control: ControlHandle) -> warden_thermal::AdmissionSink {
    Box::new(move |decision: AdmissionDecision| {
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
    })
}

/// The hardware settings of `config` that name real hardware and differ from their
/// defaults, as `key = value`: a simulated run drives none of them.
fn ignored_when_simulating(config: &Config) -> Vec<String> {
    let mut ignored = Vec::new();
    if config.fan.driver != DEFAULT_FAN_DRIVER {
        ignored.push(format!("fan.driver = \"{}\"", config.fan.driver.as_str()));
    }
    if let SensorSelection::Path(path) = &config.thermal.sensor {
        ignored.push(format!("thermal.sensor = \"{}\"", path.display()));
    }
    if config.hardware.sysfs_root != Path::new(DEFAULT_SYSFS_ROOT) {
        ignored.push(format!(
            "hardware.sysfs_root = \"{}\"",
            config.hardware.sysfs_root.display()
        ));
    }
    ignored
}

/// The hardware backends (or the simulated Pi, when given its options), or why there is
/// no sensor.
fn build_backends(
    config: &Config,
    simulation: Option<&SimulationOptions>,
) -> Result<Result<(Backends, Option<Simulation>), String>, Failure> {
    if let Some(options) = simulation {
        // The check real hardware makes at start: a governor the board cannot switch to
        // would fail every throttle.
        crate::simulate::check_governor(config)?;
        let ignored = ignored_when_simulating(config);
        if !ignored.is_empty() {
            log::warn!(
                "simulated Pi: {} ignored: the simulation has its own sensor, fan and cpufreq",
                ignored.join(", ")
            );
        }
        let (backends, simulation) =
            crate::simulate::start_with_options(options).map_err(SimulateError::into_failure)?;
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
        Err(e) => {
            // A sensor file named by hand that fails is named by its key.
            let context = match &spec.sensor {
                SensorSpec::Path(sensor)
                    if e.path().is_some_and(|p| {
                        p.starts_with(warden_hw::resolve_under_root(&spec.sysfs_root, sensor))
                    }) =>
                {
                    "hardware: thermal.sensor"
                }
                _ => "hardware",
            };
            Err(Failure::HardwareConfig(anyhow::Error::new(e).context(context)))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use warden_hw::fake_sysfs::FakeSysfsTree;
    use warden_hw::RestoreState;

    use super::super::scratch_dir::ScratchDir;
    use super::*;
    use crate::engine::control::channel;

    /// A fresh directory under the system temp dir, removed on drop.
    fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn saved_max_freq(state_dir: &Path) -> Option<String> {
        RestoreState::load(state_dir)
            .unwrap()
            .expect("a saved state")
            .entries()
            .iter()
            .find(|e| e.path.ends_with("policy0/scaling_max_freq"))
            .map(|e| e.value.clone())
    }

    #[test]
    fn the_max_freq_is_saved_for_a_crash_restore_only_while_a_throttle_is_held() {
        let dir = ScratchDir::new("retake");
        let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
        let state_dir = dir.path().join("run");
        let config = Config::from_toml_str(&format!(
            "[hardware]\nsysfs_root = \"{}\"\nstate_dir = \"{}\"\n\n\
             [thermal]\ninterval_ms = 50\nfilter_tau_s = 0.0\nhorizon_s = 0.0\n\n\
             [fan]\ndriver = \"none\"\n",
            tree.root().display(),
            state_dir.display()
        ))
        .unwrap();
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let (sender, _commands) = channel();
        let shared = Arc::new(LoopShared::new(16));
        let guard = match start(&config, None, ControlHandle::new(sender, waker), shared) {
            Ok(ThermalStart::Running(guard)) => guard,
            Ok(ThermalStart::NoSensor { reason, .. }) => panic!("no sensor: {reason}"),
            Err(_) => panic!("thermal control did not start"),
        };
        assert_eq!(saved_max_freq(&state_dir), None, "no throttle yet");

        std::fs::write(tree.scaling_max_freq_path(0), "1000000\n").unwrap();
        tree.ramp_temp_celsius(82.0).unwrap();
        wait_until("throttled", || {
            tree.scaling_max_freq(0).unwrap() < 1_000_000
        });
        assert_eq!(
            saved_max_freq(&state_dir).as_deref(),
            Some("1000000"),
            "what 'warden restore' puts back after a crash now"
        );
        tree.ramp_temp_celsius(45.0).unwrap();
        wait_until("released", || {
            tree.scaling_max_freq(0).unwrap() == 1_000_000
                && guard
                    .shared()
                    .current()
                    .cpu
                    .is_some_and(|cpu| !cpu.throttled)
        });
        wait_until("the release saved", || saved_max_freq(&state_dir).is_none());
        guard.stop().unwrap();
        assert_eq!(tree.scaling_max_freq(0).unwrap(), 1_000_000);
        assert!(!warden_hw::restore::state_path(&state_dir).exists());
    }
}
