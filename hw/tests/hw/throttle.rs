//! SysfsThrottleReader over a fake tree: parsing, caching, absence.

use std::time::{Duration, Instant};

use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::throttle::THROTTLE_MIN_INTERVAL;
use warden_hw::{HwError, SysfsThrottleReader, ThrottleReader};

use crate::util::{fixture, fixture_with};

#[test]
fn reads_and_decodes_the_firmware_word() {
    let fx = fixture("throttle-read");
    fx.tree.set_throttle_raw(0x50005).unwrap();
    let flags = SysfsThrottleReader::new(fx.tree.root())
        .read()
        .unwrap()
        .unwrap();
    assert_eq!(flags.raw, 0x50005);
    assert!(
        flags.under_voltage
            && flags.throttled
            && flags.throttled_since_boot
            && !flags.soft_temp_limit
    );
}

#[test]
fn reads_at_most_every_two_seconds() {
    let fx = fixture("throttle-cache");
    let mut reader = SysfsThrottleReader::new(fx.tree.root());
    let t0 = Instant::now();
    assert_eq!(reader.read_at(t0).unwrap().unwrap().raw, 0);
    fx.tree.set_throttle_raw(0x8).unwrap();
    assert_eq!(
        reader
            .read_at(t0 + Duration::from_millis(1999))
            .unwrap()
            .unwrap()
            .raw,
        0,
        "cached"
    );
    assert_eq!(
        reader
            .read_at(t0 + THROTTLE_MIN_INTERVAL)
            .unwrap()
            .unwrap()
            .raw,
        0x8,
        "re-read"
    );
}

#[test]
fn an_absent_file_is_none() {
    let fx = fixture_with(
        "throttle-absent",
        &FakeSysfsLayout {
            throttle_raw: None,
            ..Default::default()
        },
    );
    assert_eq!(
        SysfsThrottleReader::new(fx.tree.root()).read().unwrap(),
        None
    );
}

#[test]
fn garbage_is_an_error_naming_the_file() {
    let fx = fixture("throttle-garbage");
    std::fs::write(fx.tree.throttle_path(), "zz\n").unwrap();
    let err = SysfsThrottleReader::new(fx.tree.root()).read().unwrap_err();
    assert!(
        matches!(&err, HwError::Parse { path, .. } if path == &fx.tree.throttle_path()),
        "{err:?}"
    );
}
