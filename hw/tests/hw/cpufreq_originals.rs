//! The originals SysfsCpuFreq puts back: one outside its policy's limits is taken as the
//! limit (so a clean exit and a crash restore put back the same value), policies of their
//! own frequencies are each written a value within their own range, and the originals are
//! taken afresh on demand, so an operator's change made between throttles is kept.

use std::fs;
use std::path::PathBuf;

use warden_hw::cpufreq::{CpuFreqFiles, OriginalChange};
use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::{restore_from_state, CpuFreq, NoFan, RestoreState, RestoreTargets, SysfsCpuFreq};

use crate::util::{fixture, fixture_with, keep_warnings, warnings_containing, Fixture};

/// The `scaling_max_freq` recorded for a crash restore, per file.
fn recorded_max(cpufreq: &SysfsCpuFreq) -> Vec<(PathBuf, String)> {
    cpufreq
        .restore_entries()
        .into_iter()
        .filter(|e| CpuFreqFiles::MAX_FREQ.covers(&e.path))
        .map(|e| (e.path, e.value))
        .collect()
}

#[test]
fn an_original_above_cpuinfo_max_is_taken_as_the_max_with_one_warning() {
    keep_warnings();
    let fx = fixture("cpufreq-original-above-max");
    let max = fx.tree.scaling_max_freq_path(0);
    fs::write(&max, "1600000\n").unwrap();
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.original().0, 1_500_000);
    assert_eq!(recorded_max(&cpufreq), [(max.clone(), "1500000".into())]);
    let warnings = warnings_containing(&max.display().to_string());
    let limit = fx.tree.policy_dir(0).join("cpuinfo_max_freq");
    assert!(
        warnings.len() == 1
            && warnings[0].contains("1600000 kHz")
            && warnings[0].contains(&format!("1500000 kHz in {}", limit.display())),
        "{warnings:?}"
    );
    cpufreq.set_max_khz(600_000).unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
}

#[test]
fn a_crash_after_an_original_above_the_limit_is_undone_by_warden_restore() {
    let fx = fixture("cpufreq-original-above-max-crash");
    fs::write(fx.tree.scaling_max_freq_path(0), "1600000\n").unwrap();
    let state_dir = fx.dir.path().join("run");
    {
        let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
        RestoreState::capture(&NoFan, None, Some(&cpufreq), CpuFreqFiles::MAX_FREQ)
            .save(&state_dir)
            .unwrap();
        cpufreq.set_max_khz(600_000).unwrap();
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(
        fx.tree.scaling_max_freq(0).unwrap(),
        1_500_000,
        "the same value a clean exit puts back"
    );
}

#[test]
fn an_original_below_cpuinfo_min_is_taken_as_the_min() {
    let fx = fixture("cpufreq-original-below-min");
    fs::write(fx.tree.scaling_max_freq_path(0), "500000\n").unwrap();
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.original().0, 600_000);
}

/// policy0 at 600/1000/1500 MHz and a policy4 of its own at 800/1200/1800 MHz, each at
/// its highest frequency.
fn two_clusters(name: &str) -> (Fixture, PathBuf) {
    let layout = FakeSysfsLayout {
        policies: 2,
        ..Default::default()
    };
    let fx = fixture_with(name, &layout);
    let policy4 = fx.tree.policy_dir(1).with_file_name("policy4");
    fs::rename(fx.tree.policy_dir(1), &policy4).unwrap();
    for (file, text) in [
        ("scaling_available_frequencies", "800000 1200000 1800000\n"),
        ("cpuinfo_min_freq", "800000\n"),
        ("cpuinfo_max_freq", "1800000\n"),
        ("scaling_min_freq", "800000\n"),
        ("scaling_max_freq", "1800000\n"),
    ] {
        fs::write(policy4.join(file), text).unwrap();
    }
    (fx, policy4.join("scaling_max_freq"))
}

fn read_khz(path: &std::path::Path) -> u64 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[test]
fn every_policy_gets_a_value_within_its_own_range() {
    let (fx, policy4_max) = two_clusters("cpufreq-two-clusters");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(
        cpufreq.steps_khz(),
        &[600_000, 800_000, 1_000_000, 1_200_000, 1_500_000, 1_800_000],
        "the steps of both policies"
    );
    assert_eq!(cpufreq.original().0, 1_800_000);
    for (cap, policy0, policy4, lowest_cap) in [
        (1_500_000, 1_500_000, 1_500_000, 1_500_000),
        (1_000_000, 1_000_000, 1_000_000, 1_000_000),
        (600_000, 600_000, 800_000, 600_000),
        (1_800_000, 1_500_000, 1_800_000, 1_800_000),
    ] {
        cpufreq.set_max_khz(cap).unwrap();
        assert_eq!(
            (fx.tree.scaling_max_freq(0).unwrap(), read_khz(&policy4_max)),
            (policy0, policy4),
            "after a cap of {cap} kHz"
        );
        assert_eq!(
            cpufreq.max_khz().unwrap(),
            lowest_cap,
            "what the policies hold, after a cap of {cap} kHz"
        );
    }
}

#[test]
fn a_policy_whose_minimum_is_above_the_cap_reports_its_minimum() {
    // policy0 starts capped at its 1000 MHz: uncapped there, so only policy4 counts.
    let (fx, policy4_max) = two_clusters("cpufreq-two-clusters-floor");
    fs::write(fx.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(600_000).unwrap();
    assert_eq!(
        (fx.tree.scaling_max_freq(0).unwrap(), read_khz(&policy4_max)),
        (600_000, 800_000)
    );
    cpufreq.set_max_khz(1_000_000).unwrap();
    assert_eq!(
        (fx.tree.scaling_max_freq(0).unwrap(), read_khz(&policy4_max)),
        (1_000_000, 1_000_000)
    );
    assert_eq!(cpufreq.max_khz().unwrap(), 1_000_000, "policy4 is capped");
}

#[test]
fn originals_taken_afresh_follow_an_operators_change() {
    let fx = fixture_with(
        "cpufreq-retake-max",
        &FakeSysfsLayout {
            policies: 2,
            ..Default::default()
        },
    );
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let max = fx.tree.scaling_max_freq_path(0);
    fs::write(&max, "1000000\n").unwrap();
    fs::write(
        fx.tree.policy_dir(0).join("scaling_governor"),
        "performance\n",
    )
    .unwrap();
    let changes = cpufreq.retake_originals(CpuFreqFiles::MAX_FREQ).unwrap();
    assert_eq!(
        changes,
        [OriginalChange {
            path: max.clone(),
            was: "1500000".into(),
            now: "1000000".into(),
        }],
        "the governor is not the strategy's file"
    );
    assert_eq!(cpufreq.original().1, "ondemand");
    assert_eq!(
        recorded_max(&cpufreq)[0],
        (max.clone(), "1000000".to_string())
    );
    assert!(cpufreq
        .retake_originals(CpuFreqFiles::MAX_FREQ)
        .unwrap()
        .is_empty());
    cpufreq.set_max_khz(600_000).unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(
        (
            fx.tree.scaling_max_freq(0).unwrap(),
            fx.tree.scaling_max_freq(1).unwrap()
        ),
        (1_000_000, 1_500_000)
    );
    let changes = cpufreq.retake_originals(CpuFreqFiles::GOVERNOR).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(cpufreq.original().1, "performance");
}

#[test]
fn a_failed_re_read_changes_no_original() {
    let fx = fixture_with(
        "cpufreq-retake-fails",
        &FakeSysfsLayout {
            policies: 2,
            ..Default::default()
        },
    );
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    fs::write(fx.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    fs::write(fx.tree.scaling_max_freq_path(1), "fast\n").unwrap();
    assert!(cpufreq.retake_originals(CpuFreqFiles::MAX_FREQ).is_err());
    assert_eq!(cpufreq.original().0, 1_500_000);
    assert_eq!(recorded_max(&cpufreq)[0].1, "1500000");
}

#[test]
fn an_original_retaken_outside_the_limits_is_taken_as_the_limit() {
    keep_warnings();
    let fx = fixture("cpufreq-retake-above-max");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let max = fx.tree.scaling_max_freq_path(0);
    fs::write(&max, "1000000\n").unwrap();
    cpufreq.retake_originals(CpuFreqFiles::MAX_FREQ).unwrap();
    fs::write(&max, "1700000\n").unwrap();
    let changes = cpufreq.retake_originals(CpuFreqFiles::MAX_FREQ).unwrap();
    assert_eq!(changes[0].now, "1500000");
    assert_eq!(
        warnings_containing(&max.display().to_string()).len(),
        1,
        "one warning"
    );
}

#[test]
fn a_change_made_after_a_throttle_ended_is_not_overwritten_at_exit() {
    let fx = fixture("cpufreq-change-after-throttle");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(600_000).unwrap();
    cpufreq.set_max_khz(cpufreq.original().0).unwrap();
    cpufreq.set_governor("powersave").unwrap();
    cpufreq.set_governor("ondemand").unwrap();
    // Both back at their originals: the operator changes them, then warden exits.
    fs::write(fx.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    fs::write(
        fx.tree.policy_dir(0).join("scaling_governor"),
        "performance\n",
    )
    .unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_000_000);
    assert_eq!(fx.tree.governor(0).unwrap(), "performance");
}
