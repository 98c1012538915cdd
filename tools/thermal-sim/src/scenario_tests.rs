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
        format!("{error:#}").contains("sim.die_capacity_j_per_c"),
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
