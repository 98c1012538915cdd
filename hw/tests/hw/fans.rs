//! File and hwmon fans, and auto discovery.

use std::fs;
use std::path::Path;

use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::{Fan, FileFan, HwError, HwmonFan, RestoreEntry};

use crate::util::{fixture, fixture_with, TestDir};

#[test]
fn the_file_fan_writes_three_decimals() {
    let fx = fixture("fan-file");
    let path = fx.tree.fan_file_path();
    let mut fan = FileFan::open(&path).unwrap();
    assert_eq!((fan.driver(), fan.is_proportional()), ("file", true));
    for (duty, text) in [
        (0.5, "0.500"),
        (1.0, "1.000"),
        (0.0, "0.000"),
        (0.3333, "0.333"),
    ] {
        fan.set_duty(duty).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }
}

#[test]
fn the_file_fan_rejects_bad_duties_and_leaves_the_file() {
    let fx = fixture("fan-file-bad");
    let path = fx.tree.fan_file_path();
    let mut fan = FileFan::open(&path).unwrap();
    fan.set_duty(0.25).unwrap();
    for bad in [1.01, -0.5, f64::NAN] {
        assert!(
            matches!(fan.set_duty(bad), Err(HwError::InvalidDuty { .. })),
            "{bad}"
        );
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), "0.250");
}

#[test]
fn the_file_fan_needs_an_existing_directory_and_names_fan_path() {
    let dir = TestDir::new("fan-file-nodir");
    let missing = dir.path().join("missing");
    let err = FileFan::open(&missing.join("fan")).unwrap_err();
    assert_eq!(err.path(), Some(missing.as_path()), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("fan.path") && !text.contains("sysfs_root"),
        "the file fan's path is the user's own, not a sysfs path: {text}"
    );
}

#[test]
fn the_file_fan_refuses_a_directory_in_place_of_its_file() {
    let dir = TestDir::new("fan-file-isdir");
    let path = dir.path().join("duty");
    fs::create_dir(&path).unwrap();
    let err = FileFan::open(&path).unwrap_err();
    let text = crate::util::chain_text(&err);
    assert!(
        text.contains("is a directory") && text.contains("fan.path"),
        "{text}"
    );
    assert!(text.matches("os error").count() <= 1, "{text}");
}

#[test]
fn the_file_fan_reports_exit_writes_and_none_for_leave() {
    let fx = fixture("fan-file-restore");
    let path = fx.tree.fan_file_path();
    let mut fan = FileFan::open(&path).unwrap();
    fan.set_duty(0.7).unwrap();
    assert_eq!(
        fan.restore_entries(None),
        vec![],
        "\"leave\" leaves the fan as last set: nothing to replay"
    );
    assert_eq!(
        fan.restore_entries(Some(1.0)),
        vec![RestoreEntry::plain_file(&path, "1.000")],
        "created when missing, as the fan does"
    );
}

#[test]
fn hwmon_discovery_finds_the_pwmfan_and_drives_pwm1() {
    let fx = fixture_with(
        "fan-hwmon",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let dir = fx.tree.hwmon_fan_dir();
    let mut fan = HwmonFan::discover(fx.tree.root()).unwrap();
    assert_eq!((fan.dir(), fan.name()), (dir.as_path(), "pwmfan"));
    assert_eq!(
        fs::read_to_string(dir.join("pwm1_enable")).unwrap().trim(),
        "2",
        "opening writes nothing"
    );
    fan.set_duty(0.5).unwrap();
    assert_eq!(fs::read_to_string(dir.join("pwm1_enable")).unwrap(), "1");
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "128");
    fan.set_duty(1.0).unwrap();
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "255");
    fan.set_duty(0.0).unwrap();
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "0");
}

#[test]
fn a_hwmon_fan_whose_mode_file_refuses_writes_still_gets_its_duty() {
    let fx = fixture_with(
        "fan-hwmon-mode-locked",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let dir = fx.tree.hwmon_fan_dir();
    let enable = dir.join("pwm1_enable");
    // Manual already, and locked: the mode write counts as done, every duty goes through.
    fs::write(&enable, "1\n").unwrap();
    fx.tree.make_unwritable(&enable);
    let mut fan = HwmonFan::discover(fx.tree.root()).unwrap();
    fan.set_duty(0.5).unwrap();
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "128");
    fs::write(dir.join("pwm1"), "0\n").unwrap();
    assert_eq!(fan.reassert_duty(0.5).unwrap().as_deref(), Some("pwm1 0"));
    fan.set_duty(0.7).unwrap();
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "179");
    drop(fan);
    drop(fx);

    // Automatic and locked: the mode cannot be taken, and says so, but the duty is still
    // written (the kernel may honour it), and the mode is tried again by the next write.
    let fx = fixture_with(
        "fan-hwmon-mode-locked-auto",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let dir = fx.tree.hwmon_fan_dir();
    fx.tree.make_unwritable(&dir.join("pwm1_enable"));
    let mut fan = HwmonFan::discover(fx.tree.root()).unwrap();
    let refused = fan.set_duty(0.5).unwrap_err();
    assert!(refused.to_string().contains("pwm1_enable"), "{refused}");
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "128");
    assert!(fan.set_duty(0.5).is_err(), "the mode is tried again");
}

#[test]
fn a_hwmon_reassert_puts_back_manual_mode_and_the_duty_and_says_what_it_found() {
    let fx = fixture_with(
        "fan-hwmon-reassert",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let dir = fx.tree.hwmon_fan_dir();
    let mut fan = HwmonFan::discover(fx.tree.root()).unwrap();
    fan.set_duty(0.5).unwrap();
    assert_eq!(fan.reassert_duty(0.5).unwrap(), None, "nothing changed");
    // The kernel's cooling device or another tool takes the fan back and stops it.
    fs::write(dir.join("pwm1_enable"), "2\n").unwrap();
    fs::write(dir.join("pwm1"), "0\n").unwrap();
    fan.set_duty(0.5).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("pwm1_enable")).unwrap().trim(),
        "2",
        "an ordinary duty write leaves the mode alone"
    );
    assert_eq!(
        fan.reassert_duty(0.5).unwrap().as_deref(),
        Some("pwm1_enable 2"),
        "pwm1 holds warden's duty again, only the mode was changed"
    );
    assert_eq!(fs::read_to_string(dir.join("pwm1_enable")).unwrap(), "1");
    fs::write(dir.join("pwm1_enable"), "2\n").unwrap();
    fs::write(dir.join("pwm1"), "0\n").unwrap();
    assert_eq!(
        fan.reassert_duty(0.5).unwrap().as_deref(),
        Some("pwm1_enable 2, pwm1 0")
    );
    assert_eq!(fs::read_to_string(dir.join("pwm1_enable")).unwrap(), "1");
    assert_eq!(fs::read_to_string(dir.join("pwm1")).unwrap(), "128");
    // A chip that keeps fewer bits reads back a rounded value: not a change.
    fs::write(dir.join("pwm1"), "126\n").unwrap();
    assert_eq!(fan.reassert_duty(0.5).unwrap(), None);
    // Whatever is found is quoted, bounded.
    fs::write(dir.join("pwm1"), format!("{}\n", "x\u{1b}".repeat(40))).unwrap();
    let found = fan.reassert_duty(0.5).unwrap().unwrap();
    assert!(
        found.starts_with("pwm1 \"x\\u{1b}") && found.ends_with("\"..."),
        "{found}"
    );
    assert!(!found.contains('\u{1b}'), "{found:?}");
    assert!(matches!(
        fan.reassert_duty(1.5),
        Err(HwError::InvalidDuty { .. })
    ));
}

#[test]
fn a_file_fan_reassert_rewrites_its_file_and_says_what_it_found() {
    let fx = fixture("fan-file-reassert");
    let path = fx.tree.fan_file_path();
    let mut fan = FileFan::open(&path).unwrap();
    fan.set_duty(0.5).unwrap();
    assert_eq!(fan.reassert_duty(0.5).unwrap(), None);
    fs::write(&path, "0").unwrap();
    let found = fan.reassert_duty(0.5).unwrap().unwrap();
    assert_eq!(found, format!("{} holds 0", path.display()));
    assert_eq!(fs::read_to_string(&path).unwrap(), "0.500");
    fs::remove_file(&path).unwrap();
    let found = fan.reassert_duty(0.5).unwrap().unwrap();
    assert_eq!(found, format!("{} is gone", path.display()));
    assert_eq!(fs::read_to_string(&path).unwrap(), "0.500");
}

#[test]
fn hwmon_restore_entries_write_the_exit_duty_and_nothing_for_leave() {
    let fx = fixture_with(
        "fan-hwmon-restore",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let dir = fx.tree.hwmon_fan_dir();
    let fan = HwmonFan::discover(fx.tree.root()).unwrap();
    assert_eq!(
        fan.restore_entries(None),
        vec![],
        "\"leave\" leaves the fan as last set: nothing to replay"
    );
    assert_eq!(
        fan.restore_entries(Some(1.0)),
        vec![
            RestoreEntry::new(dir.join("pwm1_enable"), "1"),
            RestoreEntry::new(dir.join("pwm1"), "255")
        ]
    );
}

#[test]
fn hwmon_discovery_ignores_non_fan_devices() {
    let fx = fixture("fan-hwmon-none");
    let err = HwmonFan::discover(fx.tree.root()).unwrap_err();
    assert!(matches!(err, HwError::NoHwmonFan { .. }), "{err:?}");
}

#[test]
fn an_explicit_hwmon_dir_resolves_under_the_root() {
    let fx = fixture_with(
        "fan-hwmon-explicit",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let fan = HwmonFan::open(fx.tree.root(), Path::new("/sys/class/hwmon/hwmon1")).unwrap();
    assert_eq!(fan.dir(), fx.tree.hwmon_fan_dir());
    let err = HwmonFan::open(fx.tree.root(), Path::new("/sys/class/hwmon/hwmon0")).unwrap_err();
    assert!(
        matches!(err, HwError::NotFound { .. }),
        "hwmon0 has no pwm1: {err:?}"
    );
}

#[test]
fn a_file_fan_whose_directory_was_removed_names_that_directory_not_a_temp_file() {
    let dir = TestDir::new("fan-file-dir-removed");
    let fan_dir = dir.path().join("fan");
    fs::create_dir(&fan_dir).unwrap();
    let mut fan = FileFan::open(&fan_dir.join("fan_duty")).unwrap();
    fan.set_duty(0.5).unwrap();
    fs::remove_dir_all(&fan_dir).unwrap();
    let err = fan.set_duty(1.0).unwrap_err();
    assert!(
        matches!(&err, HwError::MissingDirectory { dir, setting: "fan.path" } if dir == &fan_dir),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        !text.contains("warden-tmp")
            && !text.contains("sysfs_root")
            && !text.contains("kernel driver"),
        "a plain file of the user's: no temp file, no sysfs advice: {text}"
    );
    fs::create_dir(&fan_dir).unwrap();
    fan.set_duty(1.0).unwrap();
    assert_eq!(
        fs::read_to_string(fan_dir.join("fan_duty")).unwrap(),
        "1.000",
        "recreated once the directory is back"
    );
}

#[test]
fn an_unwritable_fan_file_gives_advice_that_fits_who_warden_runs_as() {
    let fx = fixture("fan-file-immutable");
    let path = fx.tree.fan_file_path();
    let mut fan = FileFan::open(&path).unwrap();
    fx.tree.make_unwritable(&path);
    // As root the file is immutable; otherwise the directory is made read-only as well
    // (a rename needs only the directory's write permission).
    let dir = path.parent().unwrap().to_path_buf();
    if !crate::util::is_root() {
        crate::util::chmod(&dir, 0o555);
    }
    let err = fan.set_duty(1.0).unwrap_err();
    if !crate::util::is_root() {
        crate::util::chmod(&dir, 0o755);
    }
    assert!(
        matches!(&err, HwError::PermissionDenied { path: p, .. } if p == &path),
        "names the fan file, not its temp file: {err:?}"
    );
    let text = err.to_string();
    if crate::util::is_root() {
        assert!(
            !text.contains("run warden as root") && text.contains("immutable"),
            "root already: {text}"
        );
    } else {
        assert!(text.contains("run warden as root"), "{text}");
    }
}
