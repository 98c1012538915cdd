//! The model against the stressberry checks and its own physics.

use std::time::Duration;

use super::*;

/// Tolerance on the settled temperature of the stressberry check (°C).
const SETTLE_TOLERANCE_C: f64 = 1.5;
/// Tolerance on the initial slope of the stressberry check (°C/s).
const SLOPE_TOLERANCE_C_PER_S: f64 = 0.1;
/// The initial slope is the mean rate of rise over this long after the load starts (s).
const SLOPE_WINDOW_S: u64 = 30;

fn bare_pi() -> PiThermalModel {
    PiThermalModel::new(PiThermalParams::default(), 22.0).expect("defaults are valid")
}

fn run(model: &mut PiThermalModel, seconds: u64) {
    for _ in 0..seconds * 10 {
        model.step(Duration::from_millis(100));
    }
}

#[test]
fn bare_board_at_full_load_settles_near_72_c_in_22_c_ambient() {
    let mut model = bare_pi();
    model.set_utilisation(1.0);
    run(&mut model, 3600);
    let settled = model.die_c();
    assert!(
        (settled - 72.0).abs() <= SETTLE_TOLERANCE_C,
        "settled at {settled:.2} °C, want 72 ± {SETTLE_TOLERANCE_C}"
    );
    let before = model.die_c();
    run(&mut model, 60);
    assert!((model.die_c() - before).abs() < 0.05, "still drifting");
    assert!(!model.firmware_capping(), "72 °C is below the firmware cap");
}

#[test]
fn initial_slope_from_idle_is_near_0_3_c_per_s() {
    let mut model = bare_pi();
    let start = model.die_c();
    model.set_utilisation(1.0);
    run(&mut model, SLOPE_WINDOW_S);
    let slope = (model.die_c() - start) / SLOPE_WINDOW_S as f64;
    assert!(
        (slope - 0.3).abs() <= SLOPE_TOLERANCE_C_PER_S,
        "mean slope over the first {SLOPE_WINDOW_S} s is {slope:.3} °C/s, want 0.3 ± {SLOPE_TOLERANCE_C_PER_S}"
    );
}

#[test]
fn idle_start_is_a_steady_state() {
    let mut model = bare_pi();
    let start = model.die_c();
    assert!((start - (22.0 + 2.7 * (2.4 + 5.4))).abs() < 1e-9, "{start}");
    run(&mut model, 600);
    assert!((model.die_c() - start).abs() < 1e-6);
}

#[test]
fn full_fan_holds_full_load_far_lower_and_matches_the_steady_formula() {
    let mut model = bare_pi();
    model.set_utilisation(1.0);
    model.set_fan_duty(1.0);
    run(&mut model, 1800);
    let expected = model.params().steady_die_c(6.4, 1.0, 22.0);
    assert!((expected - 41.84).abs() < 0.01, "{expected}");
    assert!((model.die_c() - expected).abs() < 0.05, "{}", model.die_c());
}

#[test]
fn a_failed_fan_moves_no_air() {
    let mut model = bare_pi();
    model.set_utilisation(1.0);
    model.set_fan_duty(1.0);
    model.set_fan_failed(true);
    assert_eq!(model.airflow_duty(), 0.0);
    run(&mut model, 3600);
    assert!(model.die_c() > 70.0, "{}", model.die_c());
}

#[test]
fn power_scales_with_utilisation_and_the_cpufreq_cap() {
    let mut model = bare_pi();
    assert_eq!(model.power_w(), 2.7);
    model.set_utilisation(1.0);
    assert!((model.power_w() - 6.4).abs() < 1e-12);
    model.set_cpufreq_cap_khz(600_000);
    assert!((model.power_w() - (2.7 + 3.7 * 0.4)).abs() < 1e-12);
    model.set_utilisation(0.5);
    model.set_cpufreq_cap_khz(1_000_000);
    assert!((model.power_w() - (2.7 + 3.7 * 0.5 * 2.0 / 3.0)).abs() < 1e-12);
    model.set_cpufreq_cap_khz(5);
    assert_eq!(
        model.cpufreq_cap_khz(),
        600_000,
        "clamped to the lowest step"
    );
}

#[test]
fn firmware_caps_a_hot_board_between_80_and_85_c_and_flags_it() {
    let mut model = PiThermalModel::new(PiThermalParams::default(), 40.0).unwrap();
    model.set_utilisation(1.0);
    run(&mut model, 3600);
    let die = model.die_c();
    // Uncapped it would settle at 40 + 50 = 90 °C.
    assert!((80.0..85.0).contains(&die), "{die}");
    assert!(model.firmware_capping());
    assert!(model.frequency_ratio() < 1.0 && model.frequency_ratio() > 0.4);
    let flags = model.throttle_flags();
    assert_eq!(
        flags & 0b110,
        0b010,
        "capped now, not throttled: {flags:#x}"
    );
    assert_ne!(flags & (1 << 17), 0, "capped since boot: {flags:#x}");

    model.set_utilisation(0.0);
    run(&mut model, 1800);
    let flags = model.throttle_flags();
    assert_eq!(flags & 0xF, 0, "not capped now: {flags:#x}");
    assert_ne!(flags & (1 << 17), 0, "the since-boot bit stays: {flags:#x}");
}

#[test]
fn step_size_does_not_change_the_result() {
    let mut coarse = bare_pi();
    let mut fine = bare_pi();
    for model in [&mut coarse, &mut fine] {
        model.set_utilisation(1.0);
    }
    coarse.step(Duration::from_secs(120));
    for _ in 0..2400 {
        fine.step(Duration::from_millis(50));
    }
    assert!((coarse.die_c() - fine.die_c()).abs() < 1e-6);
    assert_eq!(coarse.elapsed(), Duration::from_secs(120));
}

#[test]
fn readings_are_quantised_noisy_bounded_and_reproducible() {
    let mut model = bare_pi();
    let die_millic = model.die_c() * 1000.0;
    let readings: Vec<i64> = (0..1000)
        .map(|_| model.read_sensor_millic().unwrap())
        .collect();
    assert!(readings
        .iter()
        .all(|&r| (r as f64 - die_millic).abs() <= 300.5));
    let distinct = readings
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(distinct > 100, "noise varies the reading: {distinct}");
    let mut again = bare_pi();
    let replay: Vec<i64> = (0..1000)
        .map(|_| again.read_sensor_millic().unwrap())
        .collect();
    assert_eq!(readings, replay);
}

#[test]
fn injected_sensor_faults() {
    let mut model = bare_pi();
    let good = model.read_sensor_millic().unwrap();
    model.set_sensor_fault(Some(SensorFault::ReadError));
    assert_eq!(model.read_sensor_millic(), None);
    model.set_sensor_fault(Some(SensorFault::Stuck));
    model.set_utilisation(1.0);
    run(&mut model, 60);
    assert_eq!(model.read_sensor_millic(), Some(good));
    assert_eq!(model.read_sensor_millic(), Some(good));
    model.set_sensor_fault(Some(SensorFault::Reads(255.0)));
    assert_eq!(model.read_sensor_millic(), Some(255_000));
    model.set_sensor_fault(None);
    let live = model.read_sensor_millic().unwrap();
    assert!((live as f64 / 1000.0 - model.die_c()).abs() <= 0.31);
}

#[test]
fn invalid_params_and_ambient_are_refused() {
    let params = PiThermalParams {
        die_capacity_j_per_c: 0.0,
        ..PiThermalParams::default()
    };
    assert!(PiThermalModel::new(params, 22.0).is_err());
    let error = PiThermalModel::new(PiThermalParams::default(), f64::NAN).unwrap_err();
    assert!(error.to_string().contains("sim.ambient_c"), "{error}");
}
