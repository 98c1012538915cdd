//! Stopping the controller when the hardware misbehaves: a sensor read that
//! never returns must not hang the stop, and a restore that fails must be
//! reported as a failure, not as a clean stop.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use log::{Level, LevelFilter};
use warden_hw::fake::{CpuFreqCall, FakeCpuFreq, FakeFailure, FakeFan, FAKE_CPUFREQ_PATH};
use warden_hw::{HwError, TempSensor};
use warden_thermal::{
    ControllerConfig, ControllerError, ControllerHandle, CpuStrategy, FanOnExit, STOP_TIMEOUT,
};

mod common;

use common::capture_log::{capture_at, captured};
use common::{reactive_policy, spawn_controller, wait_until, DEADLINE};

const TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Default)]
struct Gate {
    /// The temperature read while open; `None` makes reads block.
    celsius: Option<f64>,
    /// A read is waiting at the closed gate.
    blocked: bool,
}

/// A sensor whose reads block, like a kernel read that stalls, while its gate is closed.
#[derive(Debug, Clone, Default)]
struct StallingSensor(Arc<(Mutex<Gate>, Condvar)>);

impl StallingSensor {
    fn new(celsius: f64) -> Self {
        let sensor = StallingSensor::default();
        sensor.set(Some(celsius));
        sensor
    }

    /// `Some` opens the gate at that temperature, `None` closes it.
    fn set(&self, celsius: Option<f64>) {
        let (gate, opened) = &*self.0;
        gate.lock().unwrap().celsius = celsius;
        opened.notify_all();
    }

    fn is_blocked(&self) -> bool {
        self.0 .0.lock().unwrap().blocked
    }
}

impl TempSensor for StallingSensor {
    fn read_celsius(&mut self) -> Result<f64, HwError> {
        let (gate, opened) = &*self.0;
        let mut state = gate.lock().unwrap();
        loop {
            if let Some(celsius) = state.celsius {
                state.blocked = false;
                return Ok(celsius);
            }
            state.blocked = true;
            state = opened.wait(state).unwrap();
        }
    }

    fn describe(&self) -> String {
        "stalling sensor".into()
    }
}

fn spawn(
    sensor: &StallingSensor,
    fan: &FakeFan,
    cpu: &FakeCpuFreq,
    fan_on_exit: FanOnExit,
) -> ControllerHandle {
    let config = ControllerConfig {
        interval: TICK,
        cpu_strategy: CpuStrategy::MaxFreq,
        fan_on_exit,
    };
    let fan = Box::new(fan.clone());
    spawn_controller(
        reactive_policy(),
        Box::new(sensor.clone()),
        fan,
        Box::new(cpu.clone()),
        config,
    )
    .0
}

/// Runs `stop` on another thread and waits for it well past [`STOP_TIMEOUT`], so a stop
/// that hangs fails the test instead of hanging it.
fn stop_elsewhere(
    stop: impl FnOnce() -> Result<(), ControllerError> + Send + 'static,
) -> Result<(), ControllerError> {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(stop());
    });
    done_rx
        .recv_timeout(STOP_TIMEOUT + DEADLINE)
        .expect("stopping the controller hung on the stuck sensor read")
}

#[test]
fn stop_gives_up_on_a_thread_stuck_in_a_sensor_read() {
    let sensor = StallingSensor::new(82.0);
    let (fan, cpu) = (FakeFan::on_off(), FakeCpuFreq::pi4());
    let handle = spawn(&sensor, &fan, &cpu, FanOnExit::Off);
    wait_until("throttled", || cpu.current_max_khz() == 600_000);
    sensor.set(None);
    wait_until("a read is stuck", || sensor.is_blocked());

    let error = stop_elsewhere(move || handle.stop()).unwrap_err();
    assert!(
        matches!(error, ControllerError::NotStopped { waited } if waited == STOP_TIMEOUT),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("did not stop")
            && message.contains("may not have been put back")
            && !message.contains("warden restore"),
        "{message}"
    );
    assert_eq!(cpu.current_max_khz(), 600_000, "nothing restored yet");

    // The detached thread still restores should its read ever return.
    sensor.set(Some(82.0));
    wait_until("restored late", || cpu.current_max_khz() == 1_500_000);
    wait_until("fan at its exit duty", || fan.last_applied() == Some(0.0));
}

#[test]
fn dropping_the_handle_of_a_stuck_thread_returns_too() {
    let sensor = StallingSensor::new(45.0);
    let (fan, cpu) = (FakeFan::on_off(), FakeCpuFreq::pi4());
    let handle = spawn(&sensor, &fan, &cpu, FanOnExit::Full);
    sensor.set(None);
    wait_until("a read is stuck", || sensor.is_blocked());
    stop_elsewhere(move || {
        drop(handle);
        Ok(())
    })
    .unwrap();
    sensor.set(Some(45.0));
}

#[test]
fn stop_within_uses_the_given_timeout() {
    let sensor = StallingSensor::new(45.0);
    let (fan, cpu) = (FakeFan::on_off(), FakeCpuFreq::pi4());
    let handle = spawn(&sensor, &fan, &cpu, FanOnExit::Full);
    sensor.set(None);
    wait_until("a read is stuck", || sensor.is_blocked());
    let short = Duration::from_millis(50);
    let error = stop_elsewhere(move || handle.stop_within(short)).unwrap_err();
    assert!(
        matches!(error, ControllerError::NotStopped { waited } if waited == short),
        "{error:?}"
    );
    sensor.set(Some(45.0));
}

#[test]
fn a_cpufreq_restore_that_fails_is_reported_not_taken_for_success() {
    let _capture = capture_at(LevelFilter::Info);
    let sensor = StallingSensor::new(82.0);
    let (fan, cpu) = (FakeFan::on_off(), FakeCpuFreq::pi4());
    let handle = spawn(&sensor, &fan, &cpu, FanOnExit::Full);
    wait_until("throttled", || cpu.current_max_khz() == 600_000);
    cpu.fail_writes_always(FakeFailure::PermissionDenied);
    let error = handle.stop().unwrap_err();
    let put_back = format!("{FAKE_CPUFREQ_PATH} = 1500000");
    assert!(
        matches!(&error, ControllerError::RestoreFailed { what } if *what == put_back),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&put_back) && !message.contains("warden restore"),
        "says what failed, and leaves the advice to the daemon: {message}"
    );
    // One ERROR line for the one setting: its file, the value it should hold, the OS error.
    let logged: Vec<_> = captured()
        .into_iter()
        .filter(|r| r.message.contains("could not put back"))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    let line = &logged[0];
    assert_eq!(line.level, Level::Error, "{line:?}");
    assert!(
        line.message
            .starts_with("cpufreq: could not put back scaling_max_freq = 1500000: ")
            && line
                .message
                .contains(&format!("permission denied writing {FAKE_CPUFREQ_PATH}"))
            && !line.message.contains("warden restore"),
        "{line:?}"
    );
    assert_eq!(cpu.calls().last(), Some(&CpuFreqCall::Restore));
    assert_eq!(cpu.current_max_khz(), 600_000);
    assert_eq!(
        fan.last_applied(),
        Some(1.0),
        "the fan still got its exit duty"
    );
}

#[test]
fn a_fan_exit_duty_that_fails_is_reported_too() {
    let sensor = StallingSensor::new(45.0);
    let (fan, cpu) = (FakeFan::on_off(), FakeCpuFreq::pi4());
    let handle = spawn(&sensor, &fan, &cpu, FanOnExit::Full);
    fan.fail_always(FakeFailure::Io);
    let error = handle.stop().unwrap_err();
    assert!(
        matches!(&error, ControllerError::RestoreFailed { what } if what.contains("fan's exit duty 1.00")),
        "{error:?}"
    );
}

#[test]
fn a_clean_stop_is_still_ok() {
    let sensor = StallingSensor::new(82.0);
    let (fan, cpu) = (FakeFan::on_off(), FakeCpuFreq::pi4());
    let handle = spawn(&sensor, &fan, &cpu, FanOnExit::Full);
    wait_until("throttled", || cpu.current_max_khz() == 600_000);
    handle.stop().unwrap();
    assert_eq!(cpu.current_max_khz(), 1_500_000);
}
