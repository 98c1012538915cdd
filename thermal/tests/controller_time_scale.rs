//! A time-scaled controller (the simulated board run faster than real time): the
//! policy's clock and the tick run `scale` times as fast as the wall clock, so a
//! dwell or tick that takes a minute at 1× passes within the test's deadline.
//! Every wait is bounded by a generous deadline; nothing asserts how fast.

use std::sync::Arc;
use std::time::Duration;

use warden_hw::fake::{FakeFan, FakeSensor};
use warden_thermal::{Controller, ControllerConfig, ControllerError, PolicyConfig, SharedSnapshot};

mod common;

use common::{reactive_policy, wait_until, DEADLINE};

fn controller(sensor: &FakeSensor, fan: &FakeFan, policy: PolicyConfig) -> Controller {
    Controller::new(policy, Box::new(sensor.clone()), Box::new(fan.clone())).unwrap()
}

fn every(interval: Duration) -> ControllerConfig {
    ControllerConfig {
        interval,
        ..ControllerConfig::default()
    }
}

#[test]
fn the_fan_dwell_runs_on_the_scaled_clock() {
    // A minute of minimum on time: at 1× it would outlast the 10 s deadline.
    let policy = PolicyConfig {
        fan_min_on_s: 60.0,
        ..reactive_policy()
    };
    assert!(Duration::from_secs(60) > DEADLINE);
    let sensor = FakeSensor::new(65.0);
    let fan = FakeFan::on_off();
    let snapshot = Arc::new(SharedSnapshot::new());
    let handle = controller(&sensor, &fan, policy)
        .with_time_scale(100.0)
        .spawn(
            every(Duration::from_millis(500)),
            Box::new(|_| {}),
            Arc::clone(&snapshot),
        )
        .unwrap();
    wait_until("the fan is on", || fan.last_applied() == Some(1.0));
    sensor.set_celsius(40.0);
    wait_until(
        "the fan stops once its minute of scaled time is over",
        || fan.last_applied() == Some(0.0),
    );
    assert_eq!(fan.applied(), vec![1.0, 0.0], "on, then off once");
    handle.stop().unwrap();
}

#[test]
fn the_tick_is_the_configured_interval_of_scaled_time() {
    // 100 ticks of 1 s each: 100 s at 1× (beyond the deadline), 1 s of wall time at 100×.
    let sensor = FakeSensor::new(45.0);
    let fan = FakeFan::on_off();
    let handle = controller(&sensor, &fan, reactive_policy())
        .with_time_scale(100.0)
        .spawn(
            every(Duration::from_secs(1)),
            Box::new(|_| {}),
            Arc::new(SharedSnapshot::new()),
        )
        .unwrap();
    wait_until("100 ticks", || sensor.read_count() >= 100);
    handle.stop().unwrap();
}

#[test]
fn a_scale_that_is_not_a_speed_up_is_refused_before_spawning() {
    for scale in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
        let sensor = FakeSensor::new(45.0);
        let fan = FakeFan::on_off();
        let result = controller(&sensor, &fan, reactive_policy())
            .with_time_scale(scale)
            .spawn(
                ControllerConfig::default(),
                Box::new(|_| {}),
                Arc::new(SharedSnapshot::new()),
            );
        match result {
            Err(ControllerError::BadTimeScale(got)) => {
                assert!(got.is_nan() && scale.is_nan() || got == scale)
            }
            other => panic!("scale {scale}: {other:?}"),
        }
        assert_eq!(sensor.read_count(), 0, "scale {scale}");
    }
}
