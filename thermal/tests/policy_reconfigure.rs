//! A reload hands the running policy new thresholds: they apply from the next
//! step, and what the policy has learnt (filter, hysteresis, faults, the fan's
//! kind) carries over. A policy that cannot work is refused whole.

use std::time::Duration;

use warden_thermal::{
    AdmissionDecision, Level, PolicyConfig, PolicyConfigError, SampleError, StageThresholds,
    ThermalPolicy,
};

const TICK: Duration = Duration::from_millis(500);

/// No filter, no prediction, no dwell: each step reacts to its reading.
fn reactive() -> PolicyConfig {
    PolicyConfig {
        filter_tau_s: 0.0,
        horizon_s: 0.0,
        fan_min_on_s: 0.0,
        fan_min_off_s: 0.0,
        ..PolicyConfig::default()
    }
}

fn with_shed(on_c: f64, off_c: f64) -> PolicyConfig {
    let mut config = reactive();
    config.thresholds.shed = StageThresholds { on_c, off_c };
    config
}

/// Steps `policy` through `readings`, one tick apart from `*tick`.
fn feed(policy: &mut ThermalPolicy, tick: &mut u32, readings: &[f64]) -> AdmissionDecision {
    let mut last = AdmissionDecision::Open;
    for &celsius in readings {
        *tick += 1;
        last = policy.step(Ok(celsius), TICK * *tick).admission;
    }
    last
}

#[test]
fn a_lower_shed_threshold_sheds_at_the_next_step_and_hysteresis_carries_over() {
    let mut policy = ThermalPolicy::new(reactive()).unwrap();
    let mut tick = 0;
    assert_eq!(
        feed(&mut policy, &mut tick, &[72.0; 4]),
        AdmissionDecision::Open
    );

    policy.reconfigure(with_shed(70.0, 65.0)).unwrap();
    assert_eq!(policy.thresholds().shed.on_c, 70.0);
    assert!(feed(&mut policy, &mut tick, &[72.0]).is_shed());

    // Back to 75/70: 72 °C is below the new on threshold but above its off
    // threshold, and the stage is active, so it keeps shedding.
    policy.reconfigure(with_shed(75.0, 70.0)).unwrap();
    assert!(feed(&mut policy, &mut tick, &[72.0; 3]).is_shed());
    // An off threshold above the reading ends it.
    policy.reconfigure(with_shed(78.0, 74.0)).unwrap();
    assert_eq!(
        feed(&mut policy, &mut tick, &[72.0]),
        AdmissionDecision::Open
    );
}

#[test]
fn a_policy_that_cannot_work_is_refused_and_the_running_one_stays() {
    let mut policy = ThermalPolicy::new(reactive()).unwrap();
    let mut tick = 0;
    feed(&mut policy, &mut tick, &[72.0; 2]);
    let error = policy.reconfigure(with_shed(70.0, 71.0)).unwrap_err();
    assert!(
        matches!(
            error,
            PolicyConfigError::OnNotAboveOff { stage: "shed", .. }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("shed"), "{error}");
    assert_eq!(policy.thresholds().shed.on_c, 75.0);
    assert_eq!(
        feed(&mut policy, &mut tick, &[72.0]),
        AdmissionDecision::Open
    );
}

#[test]
fn the_filtered_temperature_carries_over_a_new_time_constant() {
    let config = PolicyConfig {
        filter_tau_s: 10.0,
        ..reactive()
    };
    let mut policy = ThermalPolicy::new(config.clone()).unwrap();
    for tick in 1..=40 {
        policy.step(Ok(50.0), TICK * tick);
    }
    policy
        .reconfigure(PolicyConfig {
            filter_tau_s: 2.0,
            ..config
        })
        .unwrap();
    let filtered = policy.step(Ok(60.0), TICK * 41).filtered_c.unwrap();
    // Carried over: 50 + (1 - e^(-0.5/2)) × 10 = 52.2; a reset filter would read 60.
    assert!((filtered - 52.21).abs() < 0.01, "filtered {filtered}");
}

#[test]
fn a_sensor_fault_in_force_stays_in_force_across_a_reload() {
    let mut policy = ThermalPolicy::new(reactive()).unwrap();
    let mut tick = 0;
    feed(&mut policy, &mut tick, &[50.0]);
    for _ in 0..3 {
        tick += 1;
        policy.step(Err(SampleError::Failed), TICK * tick);
    }
    policy
        .reconfigure(PolicyConfig {
            recovery_readings: 2,
            ..reactive()
        })
        .unwrap();
    tick += 1;
    let first = policy.step(Ok(50.0), TICK * tick);
    assert_eq!(first.level, Level::SensorFault, "one sane reading of two");
    assert_eq!(first.fan_duty, 1.0);
    tick += 1;
    let second = policy.step(Ok(50.0), TICK * tick);
    assert_ne!(
        second.level,
        Level::SensorFault,
        "recovered under the new limit"
    );
}

#[test]
fn whether_the_fan_is_proportional_is_kept_from_the_fan() {
    let mut policy = ThermalPolicy::new(PolicyConfig {
        proportional_fan: true,
        ..reactive()
    })
    .unwrap();
    policy.reconfigure(reactive()).unwrap();
    assert!(policy.config().proportional_fan);
    // The curve's first step (50 °C → 0.3) drives the fan, not the on/off stage.
    let decision = policy.step(Ok(52.0), TICK);
    assert_eq!(decision.fan_duty, 0.3);
}
