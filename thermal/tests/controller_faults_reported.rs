//! What the controller reports about failing hardware, read back through the snapshot
//! and a capturing logger: throttle flags that become unreadable are unknown, not the
//! last ones read, and each new kind of read error is logged at once; a fan whose writes
//! succeed again after failing says so once. Every test holds the capture guard, so the
//! controllers of one test never log into another's record. Waits are bounded by a
//! generous deadline; nothing asserts how fast anything is.

use std::sync::Arc;
use std::time::Duration;

use log::{Level, LevelFilter};
use warden_hw::fake::{FakeCpuFreq, FakeFailure, FakeFan, FakeSensor, FakeThrottle};
use warden_hw::ThrottleFlags;
use warden_thermal::{Controller, ControllerConfig, ControllerHandle, SharedSnapshot};

mod common;

use common::capture_log::{capture_at, captured, messages};
use common::{reactive_policy, spawn_until_first_reading, wait_until};

const CONTROLLER_TARGET: &str = "warden_thermal::controller";
const FAN_TARGET: &str = "warden_thermal::actuators::fan";
const THROTTLE_PREFIX: &str = "throttle flags: ";

/// A controller at 45 °C over `fan` and `throttle`, ticking every 10 ms; returns once it
/// has its first reading.
fn spawn(fan: FakeFan, throttle: FakeThrottle) -> (ControllerHandle, Arc<SharedSnapshot>) {
    let config = ControllerConfig {
        interval: Duration::from_millis(10),
        ..ControllerConfig::default()
    };
    let controller = Controller::new(
        reactive_policy(),
        Box::new(FakeSensor::new(45.0)),
        Box::new(fan),
    )
    .unwrap()
    .with_cpufreq(Box::new(FakeCpuFreq::pi4()))
    .with_throttle_reader(Box::new(throttle));
    spawn_until_first_reading(controller, config)
}

#[test]
fn unreadable_throttle_flags_are_unknown_not_the_last_ones_read() {
    let _guard = capture_at(LevelFilter::Info);
    let flags = ThrottleFlags::from_raw(0x5_0005);
    let throttle = FakeThrottle::new(Some(flags));
    let (handle, snapshot) = spawn(FakeFan::proportional(), throttle.clone());
    assert_eq!(snapshot.current().throttle_flags, Some(flags));

    // `get_throttled` now holds garbage: the flags are unknown, as for a missing file.
    let reads = throttle.read_count();
    throttle.fail_always(FakeFailure::Garbage);
    wait_until("a failed read of the flags", || {
        throttle.read_count() > reads
    });
    wait_until("the flags published as unknown", || {
        snapshot.current().throttle_flags.is_none()
    });
    // And they stay unknown while the reads fail.
    let reads = throttle.read_count();
    wait_until("another failed read", || throttle.read_count() > reads + 1);
    assert_eq!(snapshot.current().throttle_flags, None);
    let why = snapshot.current().throttle_flags_error;
    assert!(
        why.as_deref().is_some_and(|w| w.contains("garbage")),
        "the status says why the flags are unknown: {why:?}"
    );

    // Readable again: the flags are back.
    let calmer = ThrottleFlags::from_raw(0x5_0000);
    throttle.set(Some(calmer));
    throttle.stop_failing();
    wait_until("the flags read again", || {
        snapshot.current().throttle_flags == Some(calmer)
    });
    assert_eq!(snapshot.current().throttle_flags_error, None);
    handle.stop().unwrap();
}

#[test]
fn a_new_kind_of_throttle_flags_error_is_logged_at_once() {
    let _guard = capture_at(LevelFilter::Info);
    let throttle = FakeThrottle::new(Some(ThrottleFlags::from_raw(0x5_0005)));
    throttle.fail_always(FakeFailure::Garbage);
    let (handle, _snapshot) = spawn(FakeFan::proportional(), throttle.clone());
    let warnings = || messages(CONTROLLER_TARGET, THROTTLE_PREFIX);
    wait_until("the garbage logged", || warnings().len() == 1);
    // The same error again is held back...
    let reads = throttle.read_count();
    wait_until("two more failed reads", || {
        throttle.read_count() >= reads + 2
    });
    assert_eq!(warnings().len(), 1, "{:?}", warnings());
    // ...but a different one (the file became a directory, say) is logged at once,
    // not a minute after the first.
    throttle.fail_always(FakeFailure::Io);
    wait_until("the new error logged", || warnings().len() == 2);
    handle.stop().unwrap();
    let warnings = warnings();
    assert!(warnings[0].contains("garbage"), "{warnings:?}");
    assert!(
        !warnings[1].contains("garbage") && warnings[1].contains("fake/get_throttled"),
        "{warnings:?}"
    );
}

#[test]
fn a_fan_written_again_after_failed_writes_says_so_once() {
    let _guard = capture_at(LevelFilter::Info);
    let fan = FakeFan::proportional();
    fan.fail_next(3, FakeFailure::Io);
    let (handle, snapshot) = spawn(fan.clone(), FakeThrottle::new(None));
    wait_until("the fan written", || fan.last_applied().is_some());
    wait_until("a few more ticks", || snapshot.current().ticks >= 10);
    handle.stop().unwrap();
    let recovered: Vec<_> = captured()
        .into_iter()
        .filter(|record| record.target == FAN_TARGET && record.message.contains("again after"))
        .collect();
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0].level, Level::Info);
    assert_eq!(
        recovered[0].message,
        "fan (pwm): duty 0.00 written again after 3 failed writes"
    );
    assert_eq!(snapshot.current().fan.errors, 3);
}
