//! What the controller tells the crash-restore recorder about each throttle episode:
//! nothing before the first; at every episode start the originals, changed or not,
//! before the throttle is written; at its end, once the step back was written whole,
//! that it was released, and not while the release write failed or is in doubt. A
//! failed save is logged and never stops the controller; strategy `off` records nothing.
//! Waits are bounded by a generous deadline; nothing asserts how fast anything is.

use std::time::Duration;

use log::LevelFilter;
use warden_hw::fake::{FakeCpuFreq, FakeFailure, FakeFan, FakeSensor};
use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_thermal::{Controller, ControllerConfig, CpuStrategy, Level};

mod common;

use common::capture_log::{capture_at, messages};
use common::fake_tree::{accept, recording, value_for, watching, Call, Tree};
use common::{reactive_policy, spawn_until_first_reading, wait_until};

/// The target of the cpu actuator's log lines.
const CPU_TARGET: &str = "warden_thermal::actuators::cpu";

fn powersave() -> CpuStrategy {
    CpuStrategy::Governor {
        powersave: "powersave".into(),
    }
}

#[test]
fn every_episode_records_the_originals_changed_or_not_and_every_release_drops_them() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new("episodes-max-freq", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    let (recorder, calls) = recording(watching(max.clone()), accept);
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, Some(recorder));
    wait_until("some ticks", || snapshot.current().ticks >= 5);
    assert_eq!(calls.letters(), "", "no throttle before the first episode");
    for episode in 1..=2 {
        sensor.set_celsius(82.0);
        wait_until("at the lowest step", || fx.max_freq() == 600_000);
        sensor.set_celsius(50.0);
        wait_until("released and told", || calls.letters().len() == 2 * episode);
    }
    handle.stop().unwrap();
    assert_eq!(calls.letters(), "SRSR", "nothing more at exit");
    for call in calls.all() {
        assert_eq!(
            call.held(),
            "1500000",
            "a start before the throttle is written, a release after it is undone: {call:?}"
        );
        if let Call::Starts { originals, .. } = &call {
            assert_eq!(value_for(originals, &max).as_deref(), Some("1500000"));
        }
    }
}

#[test]
fn the_governor_strategy_records_its_episodes_the_same_way() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new("episodes-governor", &FakeSysfsLayout::default());
    let governor = fx.tree().policy_dir(0).join("scaling_governor");
    let original = fx.governor();
    let (recorder, calls) = recording(watching(governor.clone()), accept);
    let sensor = FakeSensor::new(50.0);
    let (handle, _snapshot) = fx.spawn(powersave(), &sensor, Some(recorder));
    for episode in 1..=2 {
        sensor.set_celsius(82.0);
        wait_until("powersave", || fx.governor() == "powersave");
        sensor.set_celsius(50.0);
        wait_until("released and told", || calls.letters().len() == 2 * episode);
    }
    handle.stop().unwrap();
    assert_eq!(calls.letters(), "SRSR");
    for call in calls.all() {
        assert_eq!(call.held(), original, "{call:?}");
        if let Call::Starts { originals, .. } = &call {
            assert_eq!(
                value_for(originals, &governor).as_deref(),
                Some(original.as_str())
            );
        }
    }
}

#[test]
fn a_release_whose_write_fails_keeps_the_originals_recorded_until_one_succeeds_whole() {
    let _log = capture_at(LevelFilter::Info);
    let cpu = FakeCpuFreq::pi4();
    let observed = cpu.clone();
    let (recorder, calls) = recording(move || observed.current_max_khz().to_string(), accept);
    let sensor = FakeSensor::new(82.0);
    let config = ControllerConfig {
        interval: Duration::from_millis(10),
        ..ControllerConfig::default()
    };
    let controller = Controller::new(
        reactive_policy(),
        Box::new(sensor.clone()),
        Box::new(FakeFan::on_off()),
    )
    .unwrap()
    .with_cpufreq(Box::new(cpu.clone()))
    .with_originals_recorder(recorder);
    let (handle, snapshot) = spawn_until_first_reading(controller, config);
    wait_until("at the lowest step", || cpu.current_max_khz() == 600_000);
    cpu.fail_writes_always(FakeFailure::PermissionDenied);
    let errors = snapshot.current().cpu.unwrap().errors;
    sensor.set_celsius(45.0);
    wait_until("several release writes failed", || {
        let cpu = snapshot.current().cpu.unwrap();
        cpu.errors >= errors + 3 && snapshot.current().level == Level::Normal
    });
    assert_eq!(calls.letters(), "S", "in doubt: still recorded");
    assert!(snapshot.current().cpu.unwrap().throttled);
    cpu.stop_failing();
    wait_until("released and told", || calls.letters() == "SR");
    assert_eq!(calls.all()[1].held(), "1500000", "told once written whole");
    handle.stop().unwrap();
    assert_eq!(calls.letters(), "SR");
}

#[test]
fn a_failed_release_save_is_logged_and_the_next_episode_records_again() {
    let _log = capture_at(LevelFilter::Warn);
    let fx = Tree::new("episodes-release-fails", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    // The first release cannot be saved (a full /run), every later call can.
    let (recorder, calls) = recording(watching(max), |call, before| match (call, before) {
        (Call::Released { .. }, [_]) => Err("disk full".to_string()),
        _ => Ok(()),
    });
    let sensor = FakeSensor::new(50.0);
    let (handle, _snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, Some(recorder));
    for episode in 1..=2 {
        sensor.set_celsius(82.0);
        wait_until("at the lowest step", || fx.max_freq() == 600_000);
        sensor.set_celsius(50.0);
        wait_until("released and told", || calls.letters().len() == 2 * episode);
    }
    handle.stop().unwrap();
    assert_eq!(
        calls.letters(),
        "SRSR",
        "told once each, never retried per tick"
    );
    let warned = messages(CPU_TARGET, "cpufreq: the end of the throttle");
    assert!(
        warned.len() == 1
            && warned[0].contains("disk full")
            && warned[0].contains("'warden restore' would put back"),
        "{warned:?}"
    );
}

#[test]
fn a_reload_while_throttled_records_the_new_episode_without_a_release_between() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new("episodes-reload", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    let (recorder, calls) = recording(watching(max), accept);
    let sensor = FakeSensor::new(50.0);
    let (handle, _snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, Some(recorder));
    sensor.set_celsius(82.0);
    wait_until("throttled", || fx.max_freq() < 1_500_000);
    handle
        .retune(Duration::from_millis(10), powersave())
        .unwrap();
    wait_until("throttled the new way", || fx.governor() == "powersave");
    assert_eq!(fx.max_freq(), 1_500_000, "the cap was put back first");
    assert_eq!(calls.letters(), "SS", "the throttle never went unrecorded");
    sensor.set_celsius(50.0);
    wait_until("released and told", || calls.letters() == "SSR");
    handle.stop().unwrap();
}

#[test]
fn strategy_off_records_nothing() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new("episodes-off", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    let (recorder, calls) = recording(watching(max), accept);
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::Off, &sensor, Some(recorder));
    sensor.set_celsius(82.0);
    wait_until("throttle level", || {
        snapshot.current().level == Level::Throttle
    });
    sensor.set_celsius(45.0);
    wait_until("normal again", || snapshot.current().level == Level::Normal);
    // A reload to a strategy that writes, while unthrottled, records nothing either.
    handle
        .retune(Duration::from_millis(10), CpuStrategy::MaxFreq)
        .unwrap();
    let ticks = snapshot.current().ticks;
    wait_until("some ticks", || snapshot.current().ticks >= ticks + 5);
    handle.stop().unwrap();
    assert_eq!(calls.letters(), "");
    assert_eq!(fx.max_freq(), 1_500_000);
}
