//! The cpufreq originals the controller throttles from and puts back, on the real sysfs
//! backend over fake trees: taken afresh at the start of each throttle episode (so an
//! operator's change made between throttles is kept, and recorded before the throttle is
//! written), and, with policies of their own frequencies, each policy held within its own
//! range with the status reporting what they hold. Waits are bounded by a generous
//! deadline; nothing asserts how fast anything is. Every test holds the log capture, so
//! no other test's lines mix with the ones a test asserts.

use std::fs;
use std::path::Path;
use std::time::Duration;

use log::LevelFilter;
use warden_hw::fake::FakeSensor;
use warden_hw::fake_sysfs::{read_settled, FakeSysfsLayout};
use warden_thermal::CpuStrategy;

mod common;

use common::capture_log::{capture_at, messages};
use common::fake_tree::{accept, recording, value_for, watching, Call, Tree};
use common::wait_until;

/// The target of the cpu actuator's log lines.
const CPU_TARGET: &str = "warden_thermal::actuators::cpu";

/// The episode starts among `calls`.
fn starts(calls: Vec<Call>) -> Vec<Call> {
    calls.into_iter().filter(Call::is_start).collect()
}

#[test]
fn a_max_freq_set_by_hand_between_throttles_is_the_original_of_the_next() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new("originals-max-freq", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    let (recorder, calls) = recording(watching(max.clone()), accept);
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, Some(recorder));
    fs::write(&max, "1000000\n").unwrap();
    sensor.set_celsius(82.0);
    wait_until("at the lowest step", || fx.max_freq() == 600_000);
    sensor.set_celsius(50.0);
    wait_until("released", || {
        !snapshot.current().cpu.unwrap().throttled && fx.max_freq() == 1_000_000
    });
    let cpu = snapshot.current().cpu.unwrap();
    assert_eq!(
        (cpu.original_max_khz, cpu.max_khz),
        (1_000_000, Some(1_000_000))
    );
    handle.stop().unwrap();
    assert_eq!(fx.max_freq(), 1_000_000, "the operator's value is put back");

    assert_eq!(calls.letters(), "SR", "one episode, started and released");
    let Call::Starts { originals, held } = &calls.all()[0] else {
        unreachable!("a start first");
    };
    assert_eq!(value_for(originals, &max).as_deref(), Some("1000000"));
    assert_eq!(held, "1000000", "recorded before the throttle was written");
    let changed = messages(CPU_TARGET, "cpufreq: ");
    assert!(
        changed
            .iter()
            .any(|l| l.contains(&max.display().to_string())
                && l.contains("changed since start")
                && l.contains("from 1500000 to 1000000")),
        "{changed:?}"
    );
    assert!(
        changed.iter().any(|l| l.contains("1000000 -> 600000 kHz"))
            && !changed.iter().any(|l| l.contains("1500000 -> ")),
        "steps start from the new original: {changed:?}"
    );
}

#[test]
fn a_governor_set_by_hand_between_throttles_is_put_back_after_the_next() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new("originals-governor", &FakeSysfsLayout::default());
    let governor = fx.tree().policy_dir(0).join("scaling_governor");
    let (recorder, calls) = recording(watching(governor.clone()), accept);
    let sensor = FakeSensor::new(50.0);
    let strategy = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    let (handle, snapshot) = fx.spawn(strategy, &sensor, Some(recorder));
    fs::write(&governor, "performance\n").unwrap();
    sensor.set_celsius(82.0);
    wait_until("powersave", || fx.governor() == "powersave");
    sensor.set_celsius(50.0);
    wait_until("released", || {
        !snapshot.current().cpu.unwrap().throttled && fx.governor() == "performance"
    });
    assert_eq!(
        snapshot.current().cpu.unwrap().original_governor,
        "performance"
    );
    handle.stop().unwrap();
    assert_eq!(fx.governor(), "performance", "and kept at exit");
    assert_eq!(calls.letters(), "SR");
    let Call::Starts { originals, held } = &calls.all()[0] else {
        unreachable!("a start first");
    };
    assert_eq!(
        value_for(originals, &governor).as_deref(),
        Some("performance")
    );
    assert_eq!(held, "performance", "recorded before powersave");
    assert_eq!(calls.all()[1].held(), "performance", "released after");
}

#[test]
fn a_failed_record_is_logged_and_the_throttle_goes_on() {
    let _log = capture_at(LevelFilter::Warn);
    let fx = Tree::new("originals-record-fails", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    let (recorder, _calls) = recording(watching(max.clone()), |call, _| match call {
        Call::Starts { .. } => Err("disk full".into()),
        Call::Released { .. } => Ok(()),
    });
    let sensor = FakeSensor::new(50.0);
    let (handle, _snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, Some(recorder));
    fs::write(&max, "1000000\n").unwrap();
    sensor.set_celsius(82.0);
    wait_until("at the lowest step", || fx.max_freq() == 600_000);
    handle.stop().unwrap();
    assert_eq!(fx.max_freq(), 1_000_000);
    let warned = messages(CPU_TARGET, "cpufreq: the originals are not in");
    assert!(
        warned.len() == 1 && warned[0].contains("disk full"),
        "{warned:?}"
    );
}

#[test]
fn a_failed_record_is_tried_again_at_the_next_episode() {
    let _log = capture_at(LevelFilter::Warn);
    let fx = Tree::new("originals-record-retried", &FakeSysfsLayout::default());
    let max = fx.tree().scaling_max_freq_path(0);
    // The first save fails (a full /run), every later one works.
    let (recorder, calls) = recording(watching(max.clone()), |_, before| match before {
        [] => Err("disk full".to_string()),
        _ => Ok(()),
    });
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, Some(recorder));
    fs::write(&max, "1000000\n").unwrap();
    for _ in 0..2 {
        sensor.set_celsius(82.0);
        wait_until("at the lowest step", || fx.max_freq() == 600_000);
        sensor.set_celsius(50.0);
        wait_until("released", || {
            !snapshot.current().cpu.unwrap().throttled && fx.max_freq() == 1_000_000
        });
    }
    handle.stop().unwrap();
    // The second episode found nothing changed, but handed over the originals again.
    let starts = starts(calls.all());
    assert_eq!(starts.len(), 2, "{starts:?}");
    let Call::Starts { originals, .. } = &starts[1] else {
        unreachable!("only starts");
    };
    assert_eq!(value_for(originals, &max).as_deref(), Some("1000000"));
}

#[test]
fn each_policy_gets_its_own_governor_back_after_an_episode() {
    let _log = capture_at(LevelFilter::Info);
    let fx = Tree::new(
        "originals-governors-differ",
        &FakeSysfsLayout {
            policies: 3,
            ..Default::default()
        },
    );
    let governors = ["ondemand", "performance", "schedutil"];
    for (i, name) in governors.iter().enumerate() {
        rewrite(
            &fx.tree().policy_dir(i),
            &[("scaling_governor", &format!("{name}\n"))],
        );
    }
    let held = || -> Vec<String> { (0..3).map(|i| fx.tree().governor(i).unwrap()).collect() };
    let sensor = FakeSensor::new(50.0);
    let strategy = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    let (handle, snapshot) = fx.spawn(strategy, &sensor, None);
    for _ in 0..2 {
        sensor.set_celsius(82.0);
        wait_until("powersave everywhere", || {
            held().iter().all(|g| g == "powersave")
        });
        sensor.set_celsius(50.0);
        // Not the first policy's governor on every policy: each its own.
        wait_until("each policy back to its own governor", || {
            held() == governors
        });
        wait_until("released", || !snapshot.current().cpu.unwrap().throttled);
    }
    handle.stop().unwrap();
    assert_eq!(held(), governors, "at exit");
    let blamed = messages(CPU_TARGET, "changed since start");
    assert!(blamed.is_empty(), "no operator change was made: {blamed:?}");
}

/// Rewrites `file`s of `policy_dir` with `text`.
fn rewrite(policy_dir: &Path, files: &[(&str, &str)]) {
    for (file, text) in files {
        fs::write(policy_dir.join(file), text).unwrap();
    }
}

#[test]
fn each_policy_is_held_within_its_own_range_and_the_status_says_what_they_hold() {
    let _log = capture_at(LevelFilter::Info);
    // policy0 at 600/1000/1500 MHz and a policy4 of 800/1200/1800 MHz.
    let fx = Tree::new(
        "originals-two-clusters",
        &FakeSysfsLayout {
            policies: 2,
            ..Default::default()
        },
    );
    let policy4 = fx.tree().policy_dir(1).with_file_name("policy4");
    fs::rename(fx.tree().policy_dir(1), &policy4).unwrap();
    rewrite(
        &policy4,
        &[
            ("scaling_available_frequencies", "800000 1200000 1800000\n"),
            ("cpuinfo_min_freq", "800000\n"),
            ("cpuinfo_max_freq", "1800000\n"),
            ("scaling_max_freq", "1800000\n"),
        ],
    );
    let policy4_max = || -> u64 {
        read_settled(&policy4.join("scaling_max_freq"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, None);
    sensor.set_celsius(82.0);
    let mut policy4_lowest = u64::MAX;
    wait_until("policy0 at its lowest step", || {
        policy4_lowest = policy4_lowest.min(policy4_max());
        fx.max_freq() == 600_000
    });
    wait_until("throttled to the end", || {
        snapshot.current().cpu.unwrap().max_khz == Some(600_000)
    });
    assert_eq!(policy4_max(), 800_000, "policy4's own minimum");
    assert!(
        policy4_lowest >= 800_000,
        "never below it: {policy4_lowest}"
    );
    sensor.set_celsius(50.0);
    wait_until("both back", || {
        fx.max_freq() == 1_500_000 && policy4_max() == 1_800_000
    });
    wait_until("reported released", || {
        let cpu = snapshot.current().cpu.unwrap();
        !cpu.throttled && cpu.max_khz == Some(1_800_000)
    });
    handle.stop().unwrap();
}

#[test]
fn a_cap_below_a_policys_minimum_is_reported_at_that_minimum() {
    let _log = capture_at(LevelFilter::Info);
    // An odd tree: a step below cpuinfo_min_freq, which the policy cannot be capped at.
    let fx = Tree::new("originals-step-below-min", &FakeSysfsLayout::default());
    rewrite(
        &fx.tree().policy_dir(0),
        &[("cpuinfo_min_freq", "800000\n")],
    );
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor, None);
    sensor.set_celsius(86.0);
    wait_until("at the minimum", || fx.max_freq() == 800_000);
    wait_until("reported", || snapshot.current().cpu.unwrap().throttled);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(fx.max_freq(), 800_000, "never below cpuinfo_min_freq");
    assert_eq!(snapshot.current().cpu.unwrap().max_khz, Some(800_000));
    handle.stop().unwrap();
    assert_eq!(fx.max_freq(), 1_500_000);
}
