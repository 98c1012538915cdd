//! Scenario parsing: the bundled files, schedules, and errors that name the key.

use super::*;

/// Every bundled scenario file, by name.
pub(crate) const BUNDLED: [(&str, &str); 6] = [
    (
        "steady-full-load",
        include_str!("../scenarios/steady-full-load.toml"),
    ),
    ("heatwave", include_str!("../scenarios/heatwave.toml")),
    ("bursty-load", include_str!("../scenarios/bursty-load.toml")),
    ("fan-failure", include_str!("../scenarios/fan-failure.toml")),
    (
        "sensor-fault",
        include_str!("../scenarios/sensor-fault.toml"),
    ),
    (
        "noisy-sensor",
        include_str!("../scenarios/noisy-sensor.toml"),
    ),
];

#[test]
fn bundled_scenarios_parse_and_mean_what_they_say() {
    for (name, text) in BUNDLED {
        let scenario = Scenario::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(scenario.name, name);
        assert!(!scenario.description.is_empty(), "{name}");
        crate::compare::check_scenario(&scenario).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
    let heatwave = Scenario::from_toml(BUNDLED[1].1).unwrap();
    assert_eq!(heatwave.ambient.at(0.0), 22.0);
    assert_eq!(heatwave.ambient.at(600.0), 31.0);
    assert_eq!(heatwave.ambient.at(900.0), 40.0);
    assert_eq!(heatwave.ambient.at(2000.0), 40.0);

    let fan = Scenario::from_toml(BUNDLED[3].1).unwrap();
    assert!(!fan.fan_failed_at(Duration::from_secs(599)));
    assert!(fan.fan_failed_at(Duration::from_secs(600)));

    let sensor = Scenario::from_toml(BUNDLED[4].1).unwrap();
    assert_eq!(sensor.sensor_fault_at(Duration::from_secs(1199)), None);
    assert_eq!(
        sensor.sensor_fault_at(Duration::from_secs(1200)),
        Some(SensorFault::ReadError)
    );
    assert_eq!(
        sensor.sensor_fault_at(Duration::from_secs(2150)),
        Some(SensorFault::Reads(0.0))
    );
    assert_eq!(
        sensor.sensor_fault_at(Duration::from_secs(3000)),
        Some(SensorFault::Stuck)
    );

    let noisy = Scenario::from_toml(BUNDLED[5].1).unwrap();
    assert_eq!(noisy.params.sensor_noise_c, 1.0);
    assert_eq!(noisy.params.noise_seed, 6);
}

#[test]
fn bursty_load_is_a_square_wave() {
    let bursty = Scenario::from_toml(BUNDLED[2].1).unwrap();
    assert_eq!(bursty.load.at(0.0), 1.0);
    assert_eq!(bursty.load.at(89.9), 1.0);
    assert_eq!(bursty.load.at(90.0), 0.1);
    assert_eq!(bursty.load.at(300.0), 1.0);
}

#[test]
fn model_overrides_apply_and_are_validated() {
    let base = "name = \"x\"\nduration_s = 10.0\n[ambient]\npoints = [[0.0, 22.0]]\n\
                [load]\nkind = \"constant\"\nlevel = 0.5\n";
    let scenario = Scenario::from_toml(&format!(
        "{base}[model]\nboard_resistance_no_fan_c_per_w = 4.3\n[connections]\nlifetime_s = 5.0\n"
    ))
    .unwrap();
    assert_eq!(scenario.params.board_resistance_no_fan_c_per_w, 4.3);
    assert_eq!(scenario.connection_lifetime_s, 5.0);
    let error =
        Scenario::from_toml(&format!("{base}[model]\ndie_capacity_j_per_c = -1.0\n")).unwrap_err();
    assert!(
        format!("{error:#}").contains("model.die_capacity_j_per_c = -1"),
        "{error:#}"
    );
}

#[test]
fn bad_scenarios_are_refused_naming_the_key() {
    let base = "name = \"x\"\nduration_s = 10.0\n[ambient]\npoints = [[0.0, 22.0]]\n";
    let cases = [
        (
            format!("{base}[load]\nkind = \"constant\"\nlevel = 1.5\n"),
            "load.level",
        ),
        (
            format!("{base}[load]\nkind = \"wobbly\"\n"),
            "wobbly",
        ),
        (
            format!("{base}[load]\nkind = \"bursty\"\nlow = 0.1\nhigh = 1.0\nperiod_s = 60.0\nhigh_s = 90.0\n"),
            "high_s",
        ),
        (
            format!("{base}[load]\nkind = \"constant\"\nlevel = 1.0\nspeed = 3\n"),
            "speed",
        ),
        (
            format!(
                "{base}[load]\nkind = \"constant\"\nlevel = 1.0\n[sensor]\n\
                 faults = [{{ from_s = 5.0, to_s = 9.0, kind = \"reads\" }}]\n"
            ),
            "value_c",
        ),
        (
            format!(
                "{base}[load]\nkind = \"constant\"\nlevel = 1.0\n[sensor]\n\
                 faults = [{{ from_s = 5.0, to_s = 1.0, kind = \"stuck\" }}]\n"
            ),
            "sensor.faults[0]",
        ),
        (
            "name = \"x\"\nduration_s = 10.0\n[ambient]\npoints = [[10.0, 22.0], [5.0, 30.0]]\n\
             [load]\nkind = \"constant\"\nlevel = 1.0\n"
                .to_string(),
            "ambient.points",
        ),
        (
            "name = \"a b\"\nduration_s = 10.0\n[ambient]\npoints = [[0.0, 22.0]]\n\
             [load]\nkind = \"constant\"\nlevel = 1.0\n"
                .to_string(),
            "name",
        ),
    ];
    for (text, key) in cases {
        let error = Scenario::from_toml(&text).expect_err(key);
        let message = format!("{error:#}");
        assert!(message.contains(key), "{message:?} does not name {key}");
    }
}

const BASE_LOAD: &str = "[load]\nkind = \"constant\"\nlevel = 1.0\n";

fn scenario_with(duration_s: &str, ambient: &str, rest: &str) -> Result<Scenario> {
    Scenario::from_toml(&format!(
        "name = \"x\"\nduration_s = {duration_s}\n[ambient]\npoints = {ambient}\n{rest}"
    ))
}

fn refusal(duration_s: &str, ambient: &str, rest: &str) -> String {
    match scenario_with(duration_s, ambient, rest) {
        Ok(scenario) => panic!("accepted {duration_s} {ambient} {rest}: {scenario:?}"),
        Err(error) => format!("{error:#}"),
    }
}

fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn huge_times_are_refused_naming_the_key_and_the_30_day_limit() {
    let ok = "[[0.0, 22.0]]";
    let cases = [
        ("1e20", ok, BASE_LOAD.to_owned(), "duration_s = 1e20"),
        ("600", ok, format!("{BASE_LOAD}[fan]\nfails_at_s = 1e30\n"), "fan.fails_at_s"),
        (
            "600",
            ok,
            format!(
                "{BASE_LOAD}[sensor]\nfaults = [{{ from_s = 5.0, to_s = 1e25, kind = \"stuck\" }}]\n"
            ),
            "sensor.faults[0].to_s",
        ),
        (
            "600",
            ok,
            "[load]\nkind = \"bursty\"\nlow = 0.1\nhigh = 1.0\nperiod_s = 1e30\nhigh_s = 9.0\n"
                .to_owned(),
            "load.period_s",
        ),
        ("600", "[[0.0, 22.0], [1e21, 30.0]]", BASE_LOAD.to_owned(), "ambient.points[1] time"),
        (
            "600",
            ok,
            format!("{BASE_LOAD}[connections]\nlifetime_s = 1e300\n"),
            "connections.lifetime_s",
        ),
    ];
    for (duration_s, ambient, rest, key) in cases {
        assert_names(&refusal(duration_s, ambient, &rest), &[key, "2592000"]);
    }
    // The limit itself is accepted.
    let longest = scenario_with("2592000", ok, BASE_LOAD).unwrap();
    assert_eq!(longest.duration, Duration::from_secs(2_592_000));
}

#[test]
fn ambient_and_load_values_are_range_checked_by_index() {
    let cases = [
        (
            "[[0.0, -500.0]]",
            BASE_LOAD,
            &["ambient.points[0]", "-500", "-40 to 85 °C"][..],
        ),
        (
            "[[0.0, 22.0], [60.0, 1e300]]",
            BASE_LOAD,
            &["ambient.points[1]", "-40 to 85"],
        ),
        (
            "[[0.0, 40.0, 22.0]]",
            BASE_LOAD,
            &["ambient.points[0] has 3 numbers", "exactly two"],
        ),
        ("[[0.0]]", BASE_LOAD, &["ambient.points[0] has 1 numbers"]),
        (
            "[[0.0, 22.0]]",
            "[load]\nkind = \"schedule\"\npoints = [[0.0, 0.5], [60.0, 1.5]]\n",
            &["load.points[1]", "1.5", "0 to 1"],
        ),
        (
            "[[0.0, 22.0]]",
            "[load]\nkind = \"schedule\"\npoints = [[0.0, 0.5, 9.0]]\n",
            &["load.points[0] has 3 numbers"],
        ),
        (
            "[[0.0, 22.0]]",
            "[load]\nkind = \"bursty\"\nlow = -0.1\nhigh = 1.0\nperiod_s = 60.0\nhigh_s = 9.0\n",
            &["load.low", "0 to 1"],
        ),
        (
            "[[0.0, 22.0]]",
            "[load]\nkind = \"constant\"\nlevel = 1.0\n[sensor]\nnoise_c = 1e9\n",
            &["sensor.noise_c", "0 to 10"],
        ),
        (
            "[[0.0, 22.0]]",
            "[load]\nkind = \"constant\"\nlevel = 1.0\n[sensor]\n\
             faults = [{ from_s = 5.0, to_s = 9.0, kind = \"reads\", value_c = 1e300 }]\n",
            &["sensor.faults[0].value_c", "-1000 to 1000"],
        ),
    ];
    for (ambient, rest, parts) in cases {
        assert_names(&refusal("600", ambient, rest), parts);
    }
    let edges = scenario_with("600", "[[0.0, -40.0], [60.0, 85.0]]", BASE_LOAD).unwrap();
    assert_eq!(
        (edges.ambient.at(0.0), edges.ambient.at(60.0)),
        (-40.0, 85.0)
    );
}

#[test]
fn model_overrides_are_range_checked_naming_the_model_key() {
    let cases = [
        (
            "idle_power_w = 1e300",
            &["model.idle_power_w", "0.01 to 100 W"][..],
        ),
        (
            "full_load_power_w = 2.0",
            &["model.full_load_power_w", "model.idle_power_w"],
        ),
        (
            "die_resistance_c_per_w = 0.0",
            &["model.die_resistance_c_per_w", "0.01 to 100"],
        ),
        (
            "die_capacity_j_per_c = 0.01",
            &["die's time constant", "at least 1 s"],
        ),
        (
            "board_capacity_j_per_c = 0.5",
            &["board's time constant", "at least 1 s"],
        ),
        (
            "fan_airflow_exponent = 50.0",
            &["model.fan_airflow_exponent", "0.05 to 5"],
        ),
        ("steps_khz = []", &["model.steps_khz has 0 entries"]),
        (
            "steps_khz = [600000, 1]",
            &["model.steps_khz[1] = 1", "1000 to 10000000 kHz"],
        ),
        (
            "steps_khz = [900000, 600000]",
            &["model.steps_khz[1]", "ascending"],
        ),
        (
            "firmware_cap_full_c = 1e9",
            &["model.firmware_cap_full_c", "0 to 150 °C"],
        ),
        (
            "firmware_cap_start_c = 90.0",
            &["model.firmware_cap_full_c", "above"],
        ),
        (
            "board_resistance_full_fan_c_per_w = 9.0",
            &["model.board_resistance_full_fan_c_per_w", "cannot insulate"],
        ),
    ];
    for (line, parts) in cases {
        assert_names(
            &refusal(
                "600",
                "[[0.0, 22.0]]",
                &format!("{BASE_LOAD}[model]\n{line}\n"),
            ),
            parts,
        );
    }
}
