//! SysfsThermalZone: parsing, error kinds, zone selection and explicit paths.

use std::io;
use std::path::Path;

use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::{Access, HwError, SysfsThermalZone, TempSensor};

use crate::util::{
    as_nobody, chmod, fixture, fixture_with, keep_warnings, warnings_containing, TestDir,
};

#[test]
fn auto_reads_the_cpu_thermal_zone_in_degrees() {
    let fx = fixture("sensor-good");
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    assert_eq!(zone.read_celsius().unwrap(), 45.0);
    fx.tree.set_temp_celsius(71.234).unwrap();
    assert_eq!(zone.read_celsius().unwrap(), 71.234);
    assert_eq!(zone.describe(), "thermal_zone0 (cpu-thermal)");
}

#[test]
fn negative_temperatures_parse() {
    let fx = fixture("sensor-negative");
    fx.tree.set_temp_celsius(-12.5).unwrap();
    assert_eq!(
        SysfsThermalZone::auto(fx.tree.root())
            .unwrap()
            .read_celsius()
            .unwrap(),
        -12.5
    );
}

#[test]
fn garbage_is_a_parse_error_naming_the_path() {
    let fx = fixture("sensor-garbage");
    fx.tree.write_temp_raw("hot!\n").unwrap();
    let err = SysfsThermalZone::auto(fx.tree.root())
        .unwrap()
        .read_celsius()
        .unwrap_err();
    assert!(
        matches!(&err, HwError::Parse { text, .. } if text == "hot!"),
        "{err:?}"
    );
    assert_eq!(err.path(), Some(fx.tree.temp_path().as_path()));
    assert!(err.to_string().contains("millidegrees"), "{err}");
}

#[test]
fn an_empty_file_is_its_own_error() {
    let fx = fixture("sensor-empty");
    fx.tree.write_temp_raw("").unwrap();
    let err = SysfsThermalZone::auto(fx.tree.root())
        .unwrap()
        .read_celsius()
        .unwrap_err();
    assert!(matches!(err, HwError::Empty { .. }), "{err:?}");
    assert!(err
        .to_string()
        .contains(&fx.tree.temp_path().display().to_string()));
}

#[test]
fn a_vanished_file_is_not_found_naming_the_path() {
    let fx = fixture("sensor-missing");
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    fx.tree.remove_temp().unwrap();
    let err = zone.read_celsius().unwrap_err();
    assert!(
        matches!(&err, HwError::NotFound { path } if path == &fx.tree.temp_path()),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[test]
fn a_path_through_a_regular_file_is_not_found() {
    let dir = TestDir::new("sensor-enotdir");
    let file = dir.path().join("plain");
    std::fs::write(&file, "1").unwrap();
    let mut zone = SysfsThermalZone::at(file.join("temp"));
    assert!(matches!(zone.read_celsius(), Err(HwError::NotFound { .. })));
}

#[test]
fn permission_denied_is_its_own_error() {
    let fx = fixture("sensor-denied");
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    chmod(&fx.tree.temp_path(), 0o000);
    let err = as_nobody(|| zone.read_celsius()).unwrap_err();
    assert!(
        matches!(
            err,
            HwError::PermissionDenied {
                access: Access::Read,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("run warden as root"), "{err}");
    assert!(err
        .to_string()
        .contains(&fx.tree.temp_path().display().to_string()));
}

#[test]
fn auto_reports_a_temp_it_may_not_read_as_permission_denied_naming_it() {
    let fx = fixture("sensor-auto-denied");
    let temp = fx.tree.temp_path();
    chmod(&temp, 0o000);
    // Real EACCES: as root, only this thread's fsuid drops to nobody (mode bits bind again).
    let err = as_nobody(|| SysfsThermalZone::auto(fx.tree.root())).unwrap_err();
    assert!(
        matches!(
            &err,
            HwError::PermissionDenied { path, access: Access::Read, .. } if path == &temp
        ),
        "a sensor warden may not read is a misconfiguration, not a missing zone: {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&temp.display().to_string()), "{text}");
    assert!(text.contains("run warden as root"), "{text}");
    assert!(text.contains("sandboxing"), "{text}");
}

#[test]
fn auto_reports_a_temp_that_is_not_a_file_as_no_thermal_zone() {
    let fx = fixture("sensor-auto-not-a-file");
    let temp = fx.tree.temp_path();
    std::fs::remove_file(&temp).unwrap();
    std::fs::create_dir(&temp).unwrap();
    let err = SysfsThermalZone::auto(fx.tree.root()).unwrap_err();
    assert!(
        matches!(
            &err,
            HwError::NoThermalZone { reason, .. }
                if reason.contains("thermal_zone0 (cpu-thermal)") && reason.contains("a directory")
        ),
        "no other zone to fall back on, so the reason names cpu-thermal's problem: {err:?}"
    );
}

/// Zones `acpitz` (reading 30 °C) and `cpu-thermal`, whose `temp` `spoil` then changes.
fn acpitz_and_broken_cpu_thermal(name: &str, spoil: impl Fn(&Path)) -> crate::util::Fixture {
    let layout = FakeSysfsLayout {
        zone_types: vec!["acpitz".into(), "cpu-thermal".into()],
        ..Default::default()
    };
    let fx = fixture_with(name, &layout);
    std::fs::write(fx.tree.zone_dir(0).join("temp"), "30000\n").unwrap();
    spoil(&fx.tree.temp_path());
    fx
}

#[test]
fn auto_passes_over_a_cpu_thermal_zone_without_a_temp_file_and_says_why() {
    type Spoiler = fn(&Path);
    let spoilers: [(&str, Spoiler); 2] = [
        ("does not exist", |temp| std::fs::remove_file(temp).unwrap()),
        ("a directory", |temp| {
            std::fs::remove_file(temp).unwrap();
            std::fs::create_dir(temp).unwrap();
        }),
    ];
    keep_warnings();
    for (why, spoil) in spoilers {
        let fx = acpitz_and_broken_cpu_thermal("sensor-auto-cpu-missing", spoil);
        let mut zone = SysfsThermalZone::auto(fx.tree.root())
            .unwrap_or_else(|e| panic!("temp that {why}: {e}"));
        assert_eq!(zone.describe(), "thermal_zone0 (acpitz)");
        assert_eq!(zone.read_celsius().unwrap(), 30.0);
        assert!(zone.passed_over().is_empty(), "{:?}", zone.passed_over());
        let warned = warnings_containing(&fx.tree.temp_path().display().to_string());
        assert!(
            warned.len() == 1
                && warned[0].contains("passed over the \"cpu-thermal\" zone")
                && warned[0].contains("thermal_zone1 (cpu-thermal): ")
                && warned[0].contains(why)
                && warned[0].contains("reading thermal_zone0 (acpitz) instead"),
            "{warned:?}"
        );
    }
}

#[test]
fn a_cpu_thermal_zone_whose_temp_reads_garbage_stays_chosen() {
    let fx = acpitz_and_broken_cpu_thermal("sensor-auto-cpu-garbage", |temp| {
        std::fs::write(temp, "n/a\n").unwrap()
    });
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    assert_eq!(zone.describe(), "thermal_zone1 (cpu-thermal)");
    assert!(
        matches!(zone.read_celsius(), Err(HwError::Parse { .. })),
        "a sensor fault for the controller's fail-safe"
    );
    assert!(zone.passed_over().is_empty());
}

#[test]
fn long_zone_types_are_cut_short_in_descriptions_and_errors() {
    let layout = FakeSysfsLayout {
        zone_types: vec!["x".repeat(3000); 10],
        ..Default::default()
    };
    let fx = fixture_with("sensor-long-types", &layout);
    for zone in 0..10 {
        std::fs::write(fx.tree.zone_dir(zone).join("temp"), "n/a\n").unwrap();
    }
    let err = SysfsThermalZone::auto(fx.tree.root()).unwrap_err();
    let text = err.to_string();
    assert!(text.len() < 2000, "{} bytes: {text}", text.len());
    assert!(text.contains("…"), "{text}");
    let zone = SysfsThermalZone::at(fx.tree.zone_dir(0).join("temp"));
    assert!(zone.describe().chars().count() < 64, "{}", zone.describe());
}

#[test]
fn a_sensor_directory_without_temp_or_temp1_input_names_the_inputs_it_has() {
    let dir = TestDir::new("sensor-hwmon-temp2");
    let hwmon = dir.path().join("sys/class/hwmon/hwmon5");
    std::fs::create_dir_all(&hwmon).unwrap();
    for input in ["temp2_input", "temp3_input"] {
        std::fs::write(hwmon.join(input), "50000\n").unwrap();
    }
    std::fs::write(hwmon.join("name"), "nvme\n").unwrap();
    let err = SysfsThermalZone::from_path(dir.path(), &hwmon).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("neither temp nor temp1_input")
            && text.contains("temp2_input, temp3_input")
            && text.contains("thermal.sensor")
            && text.contains(&hwmon.display().to_string()),
        "{text}"
    );
}

#[test]
fn enodata_and_eagain_are_transient() {
    let path = Path::new("/sys/class/thermal/thermal_zone0/temp");
    for errno in [libc::ENODATA, libc::EAGAIN] {
        let err = HwError::from_io(path, Access::Read, io::Error::from_raw_os_error(errno));
        assert!(err.is_transient(), "{errno}: {err:?}");
    }
    let err = HwError::from_io(path, Access::Read, io::Error::from_raw_os_error(libc::EIO));
    assert!(matches!(err, HwError::Io { .. }) && !err.is_transient());
}

#[test]
fn auto_prefers_cpu_thermal_over_zone_zero() {
    let layout = FakeSysfsLayout {
        zone_types: vec!["acpitz".into(), "cpu-thermal".into()],
        ..Default::default()
    };
    let fx = fixture_with("sensor-prefer", &layout);
    std::fs::write(fx.tree.zone_dir(0).join("temp"), "30000\n").unwrap();
    fx.tree.set_temp_celsius(55.0).unwrap();
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    assert_eq!(zone.describe(), "thermal_zone1 (cpu-thermal)");
    assert_eq!(zone.read_celsius().unwrap(), 55.0);
}

#[test]
fn auto_falls_back_to_zone_zero() {
    let layout = FakeSysfsLayout {
        zone_types: vec!["soc-thermal".into(), "gpu-thermal".into()],
        ..Default::default()
    };
    let fx = fixture_with("sensor-zone0", &layout);
    std::fs::write(fx.tree.zone_dir(1).join("temp"), "99000\n").unwrap();
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    assert_eq!(zone.describe(), "thermal_zone0 (soc-thermal)");
    assert_eq!(zone.read_celsius().unwrap(), 45.0);
}

#[test]
fn auto_without_zones_is_a_clear_error() {
    let layout = FakeSysfsLayout {
        zone_types: vec![],
        ..Default::default()
    };
    let fx = fixture_with("sensor-none", &layout);
    let err = SysfsThermalZone::auto(fx.tree.root()).unwrap_err();
    assert!(matches!(err, HwError::NoThermalZone { .. }), "{err:?}");
    assert!(err.to_string().contains("thermal.sensor"), "{err}");
}

#[test]
fn explicit_paths_resolve_under_the_root() {
    let fx = fixture("sensor-explicit");
    let root = fx.tree.root();
    let expected = fx.tree.temp_path();
    for given in [
        Path::new("/sys/class/thermal/thermal_zone0/temp").to_path_buf(),
        Path::new("sys/class/thermal/thermal_zone0/temp").to_path_buf(),
        expected.clone(),
        Path::new("/sys/class/thermal/thermal_zone0").to_path_buf(),
    ] {
        let zone = SysfsThermalZone::from_path(root, &given).unwrap();
        assert_eq!(zone.path(), expected, "given {}", given.display());
    }
    let err = SysfsThermalZone::from_path(root, Path::new("/sys/class/thermal/thermal_zone7/temp"))
        .unwrap_err();
    assert!(
        matches!(&err, HwError::NotFound { path } if path.starts_with(root)),
        "{err:?}"
    );
}

#[test]
fn hwmon_temp_inputs_read_like_zones() {
    let fx = fixture("sensor-hwmon");
    let mut sensor = SysfsThermalZone::from_path(
        fx.tree.root(),
        Path::new("/sys/class/hwmon/hwmon0/temp1_input"),
    )
    .unwrap();
    assert_eq!(sensor.describe(), "hwmon0/temp1_input (cpu_thermal)");
    assert_eq!(sensor.read_celsius().unwrap(), 45.0);
}

#[test]
fn a_ramp_moves_in_small_steps_and_ends_on_the_target() {
    use warden_hw::fake_sysfs::{ramp_steps, RAMP_STEP_C};
    let up = ramp_steps(45.0, 82.0);
    assert_eq!(up, [50.0, 55.0, 60.0, 65.0, 70.0, 75.0, 80.0, 82.0]);
    assert_eq!(ramp_steps(62.0, 40.0), [57.0, 52.0, 47.0, 42.0, 40.0]);
    assert_eq!(ramp_steps(45.0, 48.0), [48.0], "a small move is one write");
    for (from, to) in [(45.0, 82.0), (90.0, -10.0), (0.0, 0.0)] {
        let mut previous = from;
        for value in ramp_steps(from, to) {
            assert!((value - previous).abs() <= RAMP_STEP_C, "{from} -> {to}");
            previous = value;
        }
        assert_eq!(previous, to);
    }
    let fx = fixture("sensor-ramp");
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    fx.tree.ramp_temp_celsius(82.0).unwrap();
    assert_eq!(zone.read_celsius().unwrap(), 82.0);
    assert_eq!(fx.tree.temp_celsius().unwrap(), 82.0);
}
