//! Basic invariants of compare runs on short scenarios.

use super::*;

fn scenario(extra: &str, ambient_c: f64, minutes: u32) -> Scenario {
    Scenario::from_toml(&format!(
        "name = \"t\"\nduration_s = {}\nseed = 9\n[ambient]\npoints = [[0.0, {ambient_c}]]\n\
         [load]\nkind = \"constant\"\nlevel = 1.0\n{extra}",
        minutes * 60
    ))
    .unwrap()
}

#[test]
fn short_full_load_run_obeys_basic_invariants() {
    let scenario = scenario("", 22.0, 15);
    assert!(fan_alone_suffices(&scenario));
    let results = run_all(&scenario).unwrap();
    assert_eq!(results.len(), RegimeKind::ALL.len());
    for result in &results {
        let m = &result.metrics;
        assert!((0.0..=1.0).contains(&m.refused_share), "{m:?}");
        assert!(m.served_work_s <= m.offered_work_s + 1e-9, "{m:?}");
        assert!(m.served_work_s > 0.0, "{m:?}");
        assert!((m.offered_work_s - 900.0).abs() < 1e-6, "{m:?}");
        assert!(m.peak_c >= result.trace.die_c.iter().copied().fold(f64::MIN, f64::max));
        assert_eq!(result.trace.t_s.len(), 180, "one point per 5 s");
    }
    let [pwm, on_off, overlay, bare] = [0, 1, 2, 3].map(|i| &results[i].metrics);
    // Without a fan the board heads for 72 °C; every fan regime stays far cooler.
    assert!(bare.peak_c > 65.0, "{bare:?}");
    assert_eq!(bare.fan_switches, 0);
    for fan in [pwm, on_off, overlay] {
        assert!(fan.peak_c < bare.peak_c - 5.0, "{fan:?}");
        assert!(fan.fan_switches >= 1, "{fan:?}");
    }
    // The fan suffices: warden refuses nothing and never throttles.
    for warden in [pwm, on_off] {
        assert_eq!(warden.refused_share, 0.0, "{warden:?}");
        assert_eq!(warden.cpufreq_capped_seconds, 0.0, "{warden:?}");
        assert!((warden.served_share() - 1.0).abs() < 1e-9, "{warden:?}");
    }
    // Deterministic: the same scenario gives the same figures.
    assert_eq!(run(&scenario, RegimeKind::WardenPwm).unwrap().metrics, *pwm);
}

#[test]
fn a_dead_fan_in_a_warm_room_makes_warden_shed_and_throttle_but_not_the_others() {
    let scenario = scenario("[fan]\nfails_at_s = 60.0\n", 34.0, 30);
    assert!(!fan_alone_suffices(&scenario));
    let warden = run(&scenario, RegimeKind::WardenPwm).unwrap().metrics;
    let bare = run(&scenario, RegimeKind::FirmwareOnly).unwrap().metrics;
    assert!(
        bare.peak_c > HOT_C && bare.firmware_cap_seconds > 60.0,
        "{bare:?}"
    );
    assert_eq!(bare.refused_share, 0.0);
    assert!(warden.refused_share > 0.0, "{warden:?}");
    assert!(warden.peak_c < bare.peak_c, "{warden:?} vs {bare:?}");
    assert!(
        warden.seconds_above_hot < bare.seconds_above_hot,
        "{warden:?} vs {bare:?}"
    );
}

#[test]
fn shedding_lowers_the_admitted_load_with_the_connection_lifetime() {
    // A room so hot that warden sheds almost at once; short-lived connections drain fast.
    let short = scenario("[connections]\nlifetime_s = 5.0\n", 60.0, 10);
    let long = scenario("[connections]\nlifetime_s = 120.0\n", 60.0, 10);
    let drained = run(&short, RegimeKind::WardenPwm).unwrap();
    let lingering = run(&long, RegimeKind::WardenPwm).unwrap();
    assert!(drained.metrics.refused_share > 0.5, "{:?}", drained.metrics);
    let mean = |trace: &Trace| trace.admitted.iter().sum::<f64>() / trace.admitted.len() as f64;
    assert!(
        mean(&drained.trace) < mean(&lingering.trace),
        "long-lived connections keep the load up while shedding"
    );
}

#[test]
fn a_sensor_reading_zero_keeps_warden_fan_full_while_the_overlay_stops_its_fan() {
    // Warm enough that both fans run; from minute 5 to 7 the sensor reads 0 °C.
    let scenario = scenario(
        "[sensor]\nfaults = [{ from_s = 300.0, to_s = 420.0, kind = \"reads\", value_c = 0.0 }]\n",
        30.0,
        10,
    );
    let window = |trace: &Trace| -> Vec<f64> {
        trace
            .t_s
            .iter()
            .zip(&trace.fan_duty)
            .filter(|(t, _)| (305.0..420.0).contains(*t))
            .map(|(_, duty)| *duty)
            .collect()
    };
    let warden = run(&scenario, RegimeKind::WardenPwm).unwrap();
    let duties = window(&warden.trace);
    assert!(!duties.is_empty());
    assert!(
        duties.iter().all(|d| *d == 1.0),
        "warden distrusts the 0 °C readings: {duties:?}"
    );
    let overlay = run(&scenario, RegimeKind::Overlay).unwrap();
    assert!(
        window(&overlay.trace).iter().all(|d| *d == 0.0),
        "the overlay believes them and stops its fan"
    );
}

#[test]
fn compare_refuses_scenarios_too_short_or_without_load_to_judge() {
    let with = |duration_s: &str, load: &str| {
        Scenario::from_toml(&format!(
            "name = \"t\"\nduration_s = {duration_s}\n[ambient]\npoints = [[0.0, 22.0]]\n{load}"
        ))
        .unwrap()
    };
    let full = "[load]\nkind = \"constant\"\nlevel = 1.0\n";
    for short in ["1e-9", "59.9"] {
        let scenario = with(short, full);
        let message = format!("{:#}", check_scenario(&scenario).unwrap_err());
        assert!(
            message.contains("duration_s") && message.contains("at least 60"),
            "{message}"
        );
    }
    check_scenario(&with("60", full)).unwrap();
    let idle = with("600", "[load]\nkind = \"constant\"\nlevel = 0.0\n");
    let message = format!("{:#}", check_scenario(&idle).unwrap_err());
    assert!(
        message.contains("[load]") && message.contains("no load"),
        "{message}"
    );
    // Load that only starts later still counts.
    let late = with(
        "600",
        "[load]\nkind = \"schedule\"\npoints = [[0.0, 0.0], [500.0, 0.0], [550.0, 0.5]]\n",
    );
    assert!(
        run(&late, RegimeKind::WardenPwm)
            .unwrap()
            .metrics
            .offered_work_s
            > 0.0
    );
}

#[test]
fn two_scenarios_of_one_name_are_refused_naming_the_name_and_both_files() {
    let named = |name: &str| {
        Scenario::from_toml(&format!(
            "name = \"{name}\"\nduration_s = 600\n[ambient]\npoints = [[0.0, 22.0]]\n\
             [load]\nkind = \"constant\"\nlevel = 1.0\n"
        ))
        .unwrap()
    };
    let (a, b, c) = ("a/one.toml", "b/other.toml", "c.toml");
    let distinct = [(a.into(), named("x")), (c.into(), named("y"))];
    check_distinct_names(&distinct).unwrap();
    let clash = [
        (a.into(), named("x")),
        (c.into(), named("y")),
        (b.into(), named("x")),
    ];
    let error = check_distinct_names(&clash).unwrap_err().to_string();
    assert!(
        error.contains(&format!("scenarios {a} and {b} are both named \"x\":")),
        "{error}"
    );
    let twice = [(a.into(), named("x")), (a.into(), named("x"))];
    let error = check_distinct_names(&twice).unwrap_err().to_string();
    assert!(error.contains("(the same file, given twice)"), "{error}");
}
