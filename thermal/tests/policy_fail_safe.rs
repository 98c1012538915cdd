//! Fail-safe tests of the pure policy: read errors, implausible values and a
//! stuck sensor run the fan at full duty, and sane readings recover.

mod common;

use std::time::Duration;

use warden_thermal::config::DEFAULT_JUMP_SETTLE_S;
use warden_thermal::{
    AdmissionDecision, AdmissionReason, CpuStep, Decision, Level, OnSensorFault, PolicyConfig,
    SampleError, SensorFaultCause, ShedMode, ThermalPolicy,
};

fn policy(config: PolicyConfig) -> ThermalPolicy {
    ThermalPolicy::new(config).unwrap()
}

fn at(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds)
}

fn assert_fault(decision: Decision, cause: SensorFaultCause) {
    assert_eq!(decision.level, Level::SensorFault);
    assert_eq!(decision.fan_duty, 1.0);
    assert_eq!(decision.sensor_fault, Some(cause));
    assert_eq!(decision.cpu_step, CpuStep::Hold);
    assert_eq!(decision.filtered_c, None);
}

#[test]
fn two_errors_hold_the_last_decision_the_third_is_a_fault() {
    let mut p = policy(PolicyConfig::default());
    let warm = p.step(Ok(65.0), at(0.0));
    assert_eq!(warm.level, Level::Fan);
    assert_eq!(p.step(Err(SampleError::Transient), at(0.5)), warm);
    assert_eq!(p.step(Err(SampleError::Failed), at(1.0)), warm);
    assert_eq!(p.consecutive_errors(), 2);
    let fault = p.step(Err(SampleError::Transient), at(1.5));
    assert_fault(fault, SensorFaultCause::ReadErrors);
    assert_eq!(
        fault.admission,
        AdmissionDecision::Open,
        "fan-full leaves admission open"
    );
    assert_eq!(fault.admission_reason, AdmissionReason::SensorFault);
}

#[test]
fn transient_errors_count_like_failures() {
    let mut p = policy(PolicyConfig::default());
    p.step(Ok(45.0), at(0.0));
    for k in 1..=2 {
        assert_eq!(
            p.step(Err(SampleError::Transient), at(k as f64)).level,
            Level::Normal
        );
    }
    assert_fault(
        p.step(Err(SampleError::Transient), at(3.0)),
        SensorFaultCause::ReadErrors,
    );
}

#[test]
fn fan_full_and_shed_sheds_with_the_configured_mode() {
    let config = PolicyConfig {
        on_sensor_fault: OnSensorFault::FanFullAndShed,
        shed_mode: ShedMode::Pause,
        ..PolicyConfig::default()
    };
    let mut p = policy(config);
    let fault = p.step(Ok(-41.0), at(0.0));
    assert_fault(fault, SensorFaultCause::Implausible);
    assert_eq!(
        fault.admission,
        AdmissionDecision::Shed {
            mode: ShedMode::Pause
        }
    );
}

#[test]
fn implausible_value_faults_at_once_and_three_sane_readings_recover() {
    let mut p = policy(PolicyConfig {
        proportional_fan: true,
        ..PolicyConfig::default()
    });
    assert_eq!(p.step(Ok(40.0), at(0.0)).fan_duty, 0.0);
    assert_fault(p.step(Ok(150.5), at(0.5)), SensorFaultCause::Implausible);
    assert_fault(p.step(Ok(40.0), at(1.0)), SensorFaultCause::Implausible);
    assert_fault(p.step(Ok(40.5), at(1.5)), SensorFaultCause::Implausible);
    let recovered = p.step(Ok(40.0), at(2.0));
    assert_eq!(recovered.level, Level::Normal);
    assert_eq!(
        recovered.filtered_c,
        Some(40.0),
        "the filter restarts from the sane reading"
    );
    // The fault started the fan: it keeps its minimum on time at the lowest
    // step, then stops.
    assert_eq!(recovered.fan_duty, 0.30);
    assert_eq!(p.step(Ok(40.0), at(30.0)).fan_duty, 0.30);
    assert_eq!(p.step(Ok(40.0), at(31.0)).fan_duty, 0.0);
}

#[test]
fn nan_is_implausible() {
    let mut p = policy(PolicyConfig::default());
    assert_fault(p.step(Ok(f64::NAN), at(0.0)), SensorFaultCause::Implausible);
}

#[test]
fn stuck_value_faults_after_stuck_s_and_a_changing_value_recovers() {
    let mut p = policy(PolicyConfig {
        stuck_s: 30.0,
        ..PolicyConfig::default()
    });
    let mut t = 0.0;
    while t < 30.0 {
        assert_eq!(p.step(Ok(47.0), at(t)).level, Level::Normal, "at {t}");
        t += 0.5;
    }
    assert_fault(p.step(Ok(47.0), at(30.0)), SensorFaultCause::Stuck);
    assert_fault(p.step(Ok(47.0), at(300.0)), SensorFaultCause::Stuck);
    assert_fault(p.step(Ok(47.1), at(300.5)), SensorFaultCause::Stuck);
    assert_fault(p.step(Ok(47.0), at(301.0)), SensorFaultCause::Stuck);
    assert_eq!(p.step(Ok(47.1), at(301.5)).level, Level::Normal);
}

#[test]
fn on_off_fan_stays_on_for_its_dwell_after_a_fault() {
    let mut p = policy(PolicyConfig::default());
    p.step(Ok(40.0), at(0.0));
    for k in 1..=3 {
        p.step(Err(SampleError::Failed), at(k as f64));
    }
    for (k, celsius) in [40.1, 40.2, 40.3].into_iter().enumerate() {
        p.step(Ok(celsius), at(4.0 + k as f64));
    }
    // Recovered at 6 s and cool, but the fault switched the fan on at 3 s: min on is 30 s.
    let recovered = p.step(Ok(40.4), at(7.0));
    assert_eq!((recovered.level, recovered.fan_duty), (Level::Normal, 1.0));
    assert_eq!(p.step(Ok(40.5), at(32.5)).fan_duty, 1.0);
    assert_eq!(p.step(Ok(40.6), at(33.0)).fan_duty, 0.0);
}

#[test]
fn errors_before_any_reading_keep_the_initial_decision_until_the_fault() {
    let mut p = policy(PolicyConfig::default());
    assert_eq!(p.step(Err(SampleError::Failed), at(0.0)), Decision::INITIAL);
    assert_eq!(p.step(Err(SampleError::Failed), at(0.5)), Decision::INITIAL);
    assert_fault(
        p.step(Err(SampleError::Failed), at(1.0)),
        SensorFaultCause::ReadErrors,
    );
}

#[test]
fn a_drop_to_zero_is_a_jump_fault_that_lasts_while_the_wrong_value_does() {
    let mut p = policy(PolicyConfig::default());
    let mut t = 0.0;
    while t < 10.0 {
        assert_eq!(p.step(Ok(52.0 + t / 10.0), at(t)).level, Level::Normal);
        t += 0.5;
    }
    // A broken sensor reading 0 °C for two minutes: never trusted, the fan runs full.
    while t < 130.0 {
        assert_fault(p.step(Ok(0.0), at(t)), SensorFaultCause::Jump);
        t += 0.5;
    }
    // True readings again, near the last trusted one: three of them recover.
    assert_fault(p.step(Ok(50.0), at(130.0)), SensorFaultCause::Jump);
    assert_fault(p.step(Ok(50.1), at(130.5)), SensorFaultCause::Jump);
    let recovered = p.step(Ok(50.2), at(131.0));
    assert_eq!(
        (recovered.level, recovered.sensor_fault),
        (Level::Normal, None)
    );
}

#[test]
fn steps_the_die_can_make_are_trusted() {
    let mut p = policy(PolicyConfig::default());
    p.step(Ok(45.0), at(0.0));
    // 20 °C plus 2 °C/s over the half-second tick.
    assert_eq!(p.step(Ok(65.9), at(0.5)).sensor_fault, None);
    assert_eq!(p.step(Ok(45.0), at(1.0)).sensor_fault, None);
    // After a gap of read errors more is believable, up to 20 + 2 × 10 s.
    for k in 1..=2 {
        p.step(Err(SampleError::Transient), at(1.0 + k as f64 * 10.0));
    }
    assert_eq!(p.step(Ok(84.0), at(31.0)).sensor_fault, None);
    assert_fault(p.step(Ok(30.0), at(31.5)), SensorFaultCause::Jump);
}

#[test]
fn a_real_change_during_a_fault_is_believed_once_it_has_run_continuously() {
    let mut p = policy(PolicyConfig::default());
    p.step(Ok(78.0), at(0.0));
    for k in 1..=3 {
        p.step(Err(SampleError::Failed), at(k as f64));
    }
    // Five minutes later the load has gone: the die reads 40 °C, far from 78.
    let mut t = 300.0;
    let mut celsius = 40.0;
    while t < 300.0 + DEFAULT_JUMP_SETTLE_S {
        assert_fault(p.step(Ok(celsius), at(t)), SensorFaultCause::Jump);
        celsius -= 0.01;
        t += 0.5;
    }
    // After 15 s of continuous, changing readings they are sane; three recover.
    let mut level = p.step(Ok(celsius), at(t)).level;
    for k in 1..=2 {
        level = p
            .step(Ok(celsius - 0.01 * k as f64), at(t + 0.5 * k as f64))
            .level;
    }
    assert_eq!(level, Level::Normal);
}

#[test]
fn the_jump_check_is_off_at_a_zero_step() {
    let mut p = policy(PolicyConfig {
        max_step_c: 0.0,
        ..PolicyConfig::default()
    });
    p.step(Ok(50.0), at(0.0));
    assert_eq!(p.step(Ok(0.0), at(0.5)).sensor_fault, None);
    assert_eq!(p.step(Ok(90.0), at(1.0)).level, Level::Critical);
}
