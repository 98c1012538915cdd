//! build(): backends and notes from a HardwareSpec.

use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::{build, FanSpec, HwError, SensorSpec};

use crate::util::{fixture, fixture_with};

#[test]
fn a_pi4_tree_with_a_file_fan_builds_everything() {
    let fx = fixture("build-full");
    let mut backends = build(&fx.tree.spec(FanSpec::File {
        path: fx.tree.fan_file_path(),
    }))
    .unwrap();
    assert_eq!(backends.sensor.read_celsius().unwrap(), 45.0);
    backends.fan.set_duty(0.6).unwrap();
    assert_eq!(fx.tree.fan_file_duty().unwrap(), 0.6);
    let cpufreq = backends.cpufreq.as_mut().unwrap();
    assert_eq!(cpufreq.steps_khz(), &[600_000, 1_000_000, 1_500_000]);
    assert!(backends
        .throttle
        .as_mut()
        .unwrap()
        .read()
        .unwrap()
        .is_some());
    assert!(
        backends
            .notes
            .iter()
            .any(|n| n.starts_with("sensor: thermal_zone0 (cpu-thermal)")),
        "{:?}",
        backends.notes
    );
}

#[test]
fn auto_without_a_hwmon_fan_runs_with_none_and_says_so() {
    let fx = fixture("build-auto-none");
    let backends = build(&fx.tree.spec(FanSpec::Auto)).unwrap();
    assert_eq!(backends.fan.driver(), "none");
    let fan_notes: Vec<_> = backends
        .notes
        .iter()
        .filter(|n| n.starts_with("fan:"))
        .collect();
    assert_eq!(fan_notes.len(), 1, "{fan_notes:?}");
    assert!(
        fan_notes[0].contains("running without a fan"),
        "{}",
        fan_notes[0]
    );
}

#[test]
fn auto_picks_the_hwmon_fan_when_present() {
    let fx = fixture_with(
        "build-auto-hwmon",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let mut backends = build(&fx.tree.spec(FanSpec::Auto)).unwrap();
    assert_eq!(backends.fan.driver(), "hwmon");
    backends.fan.set_duty(1.0).unwrap();
    assert_eq!(
        std::fs::read_to_string(fx.tree.hwmon_fan_dir().join("pwm1")).unwrap(),
        "255"
    );
}

#[test]
fn missing_cpufreq_and_throttle_file_are_notes_not_errors() {
    let layout = FakeSysfsLayout {
        policies: 0,
        throttle_raw: None,
        ..Default::default()
    };
    let fx = fixture_with("build-no-cpufreq", &layout);
    let mut backends = build(&fx.tree.spec(FanSpec::None)).unwrap();
    assert!(backends.cpufreq.is_none());
    assert!(
        backends
            .notes
            .iter()
            .any(|n| n.starts_with("cpufreq: no cpufreq policy")),
        "{:?}",
        backends.notes
    );
    assert!(
        backends
            .notes
            .iter()
            .any(|n| n.starts_with("throttle flags:")),
        "{:?}",
        backends.notes
    );
    assert_eq!(backends.throttle.as_mut().unwrap().read().unwrap(), None);
}

#[test]
fn disabled_parts_are_not_opened() {
    let fx = fixture("build-disabled");
    let mut spec = fx.tree.spec(FanSpec::None);
    spec.cpufreq_enabled = false;
    spec.throttle_flags_enabled = false;
    let backends = build(&spec).unwrap();
    assert!(backends.cpufreq.is_none() && backends.throttle.is_none());
}

#[test]
fn a_missing_sensor_is_an_error() {
    let fx = fixture_with(
        "build-no-zone",
        &FakeSysfsLayout {
            zone_types: vec![],
            ..Default::default()
        },
    );
    assert!(matches!(
        build(&fx.tree.spec(FanSpec::None)),
        Err(HwError::NoThermalZone { .. })
    ));
    let mut spec = fx.tree.spec(FanSpec::None);
    spec.sensor = SensorSpec::Path("/sys/class/thermal/thermal_zone3/temp".into());
    assert!(matches!(build(&spec), Err(HwError::NotFound { .. })));
}

#[test]
fn an_explicit_hwmon_driver_without_a_fan_is_an_error() {
    let fx = fixture("build-hwmon-missing");
    let err = build(&fx.tree.spec(FanSpec::Hwmon { path: None })).unwrap_err();
    assert!(matches!(err, HwError::NoHwmonFan { .. }), "{err:?}");
}

#[test]
fn a_zone_auto_passed_over_is_a_note_saying_why() {
    let layout = FakeSysfsLayout {
        zone_types: vec!["wifi".into(), "soc".into()],
        ..Default::default()
    };
    let fx = fixture_with("build-passed-over", &layout);
    std::fs::write(fx.tree.zone_dir(0).join("temp"), "n/a\n").unwrap();
    let backends = build(&fx.tree.spec(FanSpec::None)).unwrap();
    assert_eq!(backends.sensor.describe(), "thermal_zone1 (soc)");
    assert!(
        backends.notes.iter().any(
            |n| n.starts_with("sensor: thermal_zone0 (wifi) passed over: ") && n.contains("n/a")
        ),
        "{:?}",
        backends.notes
    );
}
