//! The controller's per-tick debug line, read back through a capturing logger: one
//! line per tick at debug level naming temperatures, fan, cpu, admission and a
//! degraded sensor; nothing of it at info level. Waits are bounded by a generous
//! deadline; nothing asserts how fast anything is.

use std::sync::Arc;
use std::time::Duration;

use log::LevelFilter;
use warden_hw::fake::{FakeCpuFreq, FakeFailure, FakeFan, FakeSensor};
use warden_thermal::{ControllerConfig, ControllerHandle, Level, PolicyConfig, SharedSnapshot};

mod common;

use common::capture_log::{capture_at, captured, messages};
use common::{reactive_policy, spawn_controller, wait_until};

/// The target of the controller's log lines (its module path).
const CONTROLLER_TARGET: &str = "warden_thermal::controller";
const TICK_PREFIX: &str = "thermal tick: ";

struct Rig {
    sensor: FakeSensor,
    snapshot: Arc<SharedSnapshot>,
}

impl Rig {
    /// A controller over fakes at `celsius`, ticking every 10 ms, admission sent nowhere.
    fn spawn(celsius: f64, policy: PolicyConfig) -> (Rig, ControllerHandle) {
        let sensor = FakeSensor::new(celsius);
        let config = ControllerConfig {
            interval: Duration::from_millis(10),
            ..ControllerConfig::default()
        };
        let (handle, snapshot) = spawn_controller(
            policy,
            Box::new(sensor.clone()),
            Box::new(FakeFan::on_off()),
            Box::new(FakeCpuFreq::pi4()),
            config,
        );
        (Rig { sensor, snapshot }, handle)
    }
}

fn tick_lines() -> Vec<String> {
    messages(CONTROLLER_TARGET, TICK_PREFIX)
}

/// Waits for a tick line containing every one of `parts`, and returns it.
fn wait_for_tick_line(parts: &[&str]) -> String {
    let mut found = None;
    wait_until(&format!("a tick line with {parts:?}"), || {
        found = tick_lines()
            .into_iter()
            .find(|line| parts.iter().all(|part| line.contains(part)));
        found.is_some()
    });
    found.unwrap()
}

#[test]
fn debug_level_logs_one_line_per_tick_with_what_the_controller_read_and_did() {
    let _capture = capture_at(LevelFilter::Debug);
    let (rig, handle) = Rig::spawn(45.0, reactive_policy());

    let cool = wait_for_tick_line(&["raw 45.000 °C"]);
    assert!(
        cool.starts_with(
            "thermal tick: raw 45.000 °C, filtered 45.00 °C, predicted 45.00 °C (trend "
        ),
        "{cool}"
    );
    assert!(
        cool.ends_with(
            "level normal, fan 0.00, cpu cap 1500000 of 1500000 kHz, step up, \
             admission open because cool"
        ),
        "{cool}"
    );

    // Throttling: the cap steps down one frequency per tick, to the lowest.
    rig.sensor.set_celsius(81.0);
    let throttling = wait_for_tick_line(&["cap 600000 of 1500000 kHz"]);
    assert!(
        throttling.starts_with(
            "thermal tick: raw 81.000 °C, filtered 81.00 °C, predicted 81.00 °C (trend +"
        ),
        "{throttling}"
    );
    assert!(
        throttling.ends_with(
            "level throttle, fan 1.00, cpu cap 600000 of 1500000 kHz, step down, \
             admission shed (reject) because hot"
        ),
        "{throttling}"
    );
    wait_for_tick_line(&["cap 1000000 of 1500000 kHz, step down"]);

    handle.stop().unwrap();
    let ticks = rig.snapshot.current().ticks;
    assert_eq!(
        tick_lines().len() as u64,
        ticks,
        "one tick line per controller tick"
    );
    let not_debug: Vec<_> = captured()
        .into_iter()
        .filter(|record| {
            record.message.starts_with(TICK_PREFIX) && record.level != log::Level::Debug
        })
        .collect();
    assert!(
        not_debug.is_empty(),
        "tick lines above debug: {not_debug:?}"
    );
}

#[test]
fn a_degraded_sensor_shows_its_fault_and_errors_and_no_prediction() {
    let _capture = capture_at(LevelFilter::Debug);
    let (rig, handle) = Rig::spawn(50.0, reactive_policy());
    rig.sensor.fail_always(FakeFailure::Io);
    wait_until("a sensor fault", || {
        rig.snapshot.current().level == Level::SensorFault
    });
    let faulty = wait_for_tick_line(&["level sensor_fault"]);
    handle.stop().unwrap();

    assert!(
        faulty.starts_with(
            "thermal tick: raw unreadable, filtered none, level sensor_fault, fan 1.00, \
             cpu cap 1500000 of 1500000 kHz, step hold, admission open because sensor_fault, \
             sensor fault read_errors, sensor errors "
        ),
        "{faulty}"
    );
    assert!(
        faulty.contains(" in a row (last: I/O error reading "),
        "{faulty}"
    );
    assert!(!faulty.contains("predicted"), "{faulty}");
}

#[test]
fn info_level_logs_state_changes_but_no_tick_lines() {
    let _capture = capture_at(LevelFilter::Info);
    let (rig, handle) = Rig::spawn(45.0, reactive_policy());
    rig.sensor.set_celsius(76.0);
    wait_until("the shed level is logged", || {
        !messages(CONTROLLER_TARGET, "thermal level normal -> shed").is_empty()
    });
    handle.stop().unwrap();

    // The reactive policy neither filters nor predicts: all three are the reading.
    let change = messages(CONTROLLER_TARGET, "thermal level normal -> shed");
    assert_eq!(
        change,
        vec!["thermal level normal -> shed (read 76.0 °C, filtered 76.0 °C, predicted 76.0 °C)"]
    );
    assert!(rig.snapshot.current().ticks >= 2);
    let ticks: Vec<_> = captured()
        .into_iter()
        .filter(|record| record.message.starts_with(TICK_PREFIX))
        .collect();
    assert!(ticks.is_empty(), "tick lines at info level: {ticks:?}");
}
