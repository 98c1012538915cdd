//! The sysfs boundary under hostile files: FIFOs, devices, oversized files, unreadable
//! directories, and how their errors read.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::{
    CpuFreq, Fan, FileFan, HwError, HwmonFan, SysfsCpuFreq, SysfsThermalZone, SysfsThrottleReader,
    TempSensor, ThrottleReader,
};

use crate::util::{
    as_nobody, chain_text, chmod, fixture, fixture_with, make_fifo, without_hanging,
};

/// Asserts `err` says `path` is a FIFO and not a sysfs attribute, and is not retried as a glitch.
fn assert_refused_fifo(err: &HwError, path: &Path) {
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string())
            && text.contains("is a FIFO (named pipe), not a sysfs attribute file"),
        "{text}"
    );
    assert!(!err.is_transient(), "a FIFO does not fix itself: {err:?}");
}

#[test]
fn a_fifo_in_place_of_temp_is_refused_instead_of_blocking_the_thermal_thread() {
    let fx = fixture("boundary-temp-fifo");
    let mut zone = SysfsThermalZone::auto(fx.tree.root()).unwrap();
    let temp = fx.tree.temp_path();
    make_fifo(&temp);
    let err = without_hanging("reading a FIFO temp", move || zone.read_celsius()).unwrap_err();
    assert_refused_fifo(&err, &temp);
}

#[test]
fn an_explicit_sensor_path_that_is_a_fifo_says_so() {
    let fx = fixture("boundary-explicit-fifo");
    let fifo = fx.tree.root().join("sensor");
    make_fifo(&fifo);
    let root = fx.tree.root().to_path_buf();
    let given = fifo.clone();
    let err = without_hanging("opening a FIFO sensor", move || {
        SysfsThermalZone::from_path(&root, &given)
    })
    .unwrap_err();
    assert_refused_fifo(&err, &fifo);
    assert!(!err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn cpufreq_reads_and_writes_refuse_a_fifo() {
    let fx = fixture("boundary-cpufreq-fifo");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let max = fx.tree.scaling_max_freq_path(0);
    make_fifo(&max);
    let (read, write, cpufreq) = without_hanging("cpufreq on a FIFO", move || {
        let read = cpufreq.max_khz();
        let write = cpufreq.set_max_khz(600_000);
        (read, write, cpufreq)
    });
    assert_refused_fifo(&read.unwrap_err(), &max);
    assert_refused_fifo(&write.unwrap_err(), &max);
    drop(cpufreq);

    let governor = fx.tree.policy_dir(0).join("scaling_governor");
    make_fifo(&governor);
    let root = fx.tree.root().to_path_buf();
    let err = without_hanging("opening cpufreq with a FIFO governor", move || {
        SysfsCpuFreq::open(&root)
    })
    .unwrap_err();
    assert_refused_fifo(&err, &governor);
}

#[test]
fn throttle_flags_and_hwmon_fans_refuse_a_fifo() {
    let fx = fixture_with(
        "boundary-misc-fifo",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let throttle = fx.tree.throttle_path();
    make_fifo(&throttle);
    let mut reader = SysfsThrottleReader::new(fx.tree.root());
    let err = without_hanging("reading FIFO throttle flags", move || reader.read()).unwrap_err();
    assert_refused_fifo(&err, &throttle);

    let enable = fx.tree.hwmon_fan_dir().join("pwm1_enable");
    make_fifo(&enable);
    let root = fx.tree.root().to_path_buf();
    let err = without_hanging("opening a hwmon fan with a FIFO", move || {
        HwmonFan::discover(&root)
    })
    .unwrap_err();
    assert_refused_fifo(&err, &enable);
}

#[test]
fn a_hwmon_pwm1_replaced_by_a_fifo_is_refused_on_write() {
    let fx = fixture_with(
        "boundary-hwmon-write-fifo",
        &FakeSysfsLayout {
            hwmon_fan: true,
            ..Default::default()
        },
    );
    let mut fan = HwmonFan::discover(fx.tree.root()).unwrap();
    let pwm = fx.tree.hwmon_fan_dir().join("pwm1");
    make_fifo(&pwm);
    let err = without_hanging("writing a FIFO pwm1", move || fan.set_duty(1.0)).unwrap_err();
    assert_refused_fifo(&err, &pwm);
}

/// The `file` fan's temp path (`<fan.path>.warden-tmp`).
fn fan_temp_path(fan_file: &Path) -> PathBuf {
    let mut name = fan_file.file_name().unwrap().to_os_string();
    name.push(".warden-tmp");
    fan_file.with_file_name(name)
}

#[test]
fn a_fifo_at_the_file_fans_temp_path_is_replaced_without_blocking() {
    let fx = fixture("boundary-file-fan-temp-fifo");
    let fan_file = fx.tree.fan_file_path();
    let mut fan = FileFan::open(&fan_file).unwrap();
    make_fifo(&fan_temp_path(&fan_file));
    without_hanging("a file fan write with a FIFO at its temp path", move || {
        fan.set_duty(0.5)
    })
    .unwrap();
    assert_eq!(fx.tree.fan_file_duty().unwrap(), 0.5);
    assert!(fs::symlink_metadata(&fan_file).unwrap().is_file());
}

#[test]
fn a_symlink_at_the_file_fans_temp_path_is_not_followed() {
    let fx = fixture("boundary-file-fan-temp-symlink");
    let fan_file = fx.tree.fan_file_path();
    let target = fx.dir.path().join("bystander");
    fs::write(&target, "untouched\n").unwrap();
    let mut fan = FileFan::open(&fan_file).unwrap();
    symlink(&target, fan_temp_path(&fan_file)).unwrap();
    fan.set_duty(0.25).unwrap();
    assert_eq!(fs::read_to_string(&target).unwrap(), "untouched\n");
    assert!(
        fs::symlink_metadata(&fan_file).unwrap().is_file(),
        "the fan file is a file of its own, not the link renamed into place"
    );
    assert_eq!(fx.tree.fan_file_duty().unwrap(), 0.25);
}

#[test]
fn a_character_device_in_place_of_temp_is_refused() {
    let fx = fixture("boundary-temp-chardev");
    let temp = fx.tree.temp_path();
    fs::remove_file(&temp).unwrap();
    symlink("/dev/null", &temp).unwrap();
    let err = SysfsThermalZone::at(temp.clone())
        .read_celsius()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is a character device, not a sysfs attribute file"),
        "{err}"
    );
    assert!(!err.is_transient());
}

#[test]
fn a_file_larger_than_a_sysfs_page_is_refused() {
    let fx = fixture("boundary-temp-big");
    let temp = fx.tree.temp_path();
    fs::write(&temp, "4".repeat(10 * 1024)).unwrap();
    let mut zone = SysfsThermalZone::at(temp.clone());
    let err = zone.read_celsius().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&temp.display().to_string())
            && text.contains("larger than a sysfs attribute (4096 bytes)"),
        "{text}"
    );
    assert!(!err.is_transient());

    // A full page is still a sysfs attribute.
    fs::write(&temp, format!("{:<4096}", "45000\n")).unwrap();
    assert_eq!(zone.read_celsius().unwrap(), 45.0);
}

#[test]
fn an_unreadable_thermal_class_directory_is_named_not_reported_as_no_zone() {
    let fx = fixture("boundary-thermal-eacces");
    let dir = fx.tree.root().join("sys/class/thermal");
    chmod(&dir, 0o000);
    let result = as_nobody(|| SysfsThermalZone::auto(fx.tree.root()));
    chmod(&dir, 0o755);
    let err = result.unwrap_err();
    assert!(
        !matches!(err, HwError::NoThermalZone { .. }),
        "an unreadable directory is not an absent one: {err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&dir.display().to_string()) && text.contains("permission denied"),
        "{text}"
    );
}

#[test]
fn a_zone_without_temp_is_named_in_the_no_zone_error() {
    let fx = fixture("boundary-zone-no-temp");
    fx.tree.remove_temp().unwrap();
    let err = SysfsThermalZone::auto(fx.tree.root()).unwrap_err();
    assert!(matches!(err, HwError::NoThermalZone { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("thermal_zone0") && text.contains("temp"),
        "the operator must see which zone and why: {text}"
    );
}

#[test]
fn the_os_error_appears_once_in_the_printed_chain() {
    let fx = fixture("boundary-chain");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let path = fx.tree.scaling_max_freq_path(0);
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let err = cpufreq.set_max_khz(600_000).unwrap_err();
    let text = chain_text(&err);
    assert_eq!(text.matches("os error 21").count(), 1, "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
}
