//! What SysfsCpuFreq puts back: only the files it wrote, every failure named, and the
//! crash-restore entries of the files a strategy writes.

use std::fs;

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::restore::state_path;
use warden_hw::RestoreTargets;
use warden_hw::{restore_from_state, CpuFreq, HwError, NoFan, RestoreEntry, RestoreState};
use warden_hw::{FileFan, SysfsCpuFreq};

use crate::util::fixture_with;

fn two_policies() -> FakeSysfsLayout {
    FakeSysfsLayout {
        policies: 2,
        ..Default::default()
    }
}

#[test]
fn max_freq_throttling_restores_no_governor_so_an_operators_change_stays() {
    let fx = fixture_with("cpufreq-restore-max-only", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(600_000).unwrap();
    // The operator switches the governor while warden throttles through scaling_max_freq.
    for policy in 0..2 {
        fs::write(
            fx.tree.policy_dir(policy).join("scaling_governor"),
            "performance\n",
        )
        .unwrap();
    }
    cpufreq.restore().unwrap();
    for policy in 0..2 {
        assert_eq!(fx.tree.scaling_max_freq(policy).unwrap(), 1_500_000);
        assert_eq!(
            fx.tree.governor(policy).unwrap(),
            "performance",
            "warden never wrote scaling_governor, so it does not put it back"
        );
    }
}

#[test]
fn governor_throttling_restores_no_max_freq() {
    let fx = fixture_with("cpufreq-restore-governor-only", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_governor("powersave").unwrap();
    fs::write(fx.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(fx.tree.governor(0).unwrap(), "ondemand");
    assert_eq!(
        fx.tree.scaling_max_freq(0).unwrap(),
        1_000_000,
        "warden never wrote scaling_max_freq, so it does not put it back"
    );
}

#[test]
fn an_unwritable_governor_does_not_fail_a_max_freq_restore() {
    let fx = fixture_with("cpufreq-restore-ro-governor", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    fx.tree
        .make_unwritable(&fx.tree.policy_dir(1).join("scaling_governor"));
    cpufreq.set_max_khz(600_000).unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(fx.tree.scaling_max_freq(1).unwrap(), 1_500_000);
    assert!(
        cpufreq.restore().is_ok(),
        "nothing left to put back writes nothing"
    );
}

#[test]
fn a_restore_that_fails_on_both_files_names_both() {
    let fx = fixture_with("cpufreq-restore-both-fail", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_governor("powersave").unwrap();
    cpufreq.set_max_khz(600_000).unwrap();
    let governor = fx.tree.policy_dir(0).join("scaling_governor");
    let max = fx.tree.scaling_max_freq_path(0);
    fx.tree.make_unwritable(&governor);
    fx.tree.make_unwritable(&max);
    let err = cpufreq.restore().unwrap_err();
    let failed: Vec<_> = err.failures().iter().filter_map(HwError::path).collect();
    assert_eq!(failed, [governor.as_path(), max.as_path()], "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&governor.display().to_string()) && text.contains(&max.display().to_string()),
        "{text}"
    );
    assert_eq!(
        (
            fx.tree.governor(1).unwrap(),
            fx.tree.scaling_max_freq(1).unwrap()
        ),
        ("ondemand".into(), 1_500_000),
        "policy1 put back despite policy0"
    );
    // Fixed: the next restore tries the failed files again.
    fx.tree.make_writable(&governor).unwrap();
    fx.tree.make_writable(&max).unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert_eq!(fx.tree.governor(0).unwrap(), "ondemand");
}

#[test]
fn a_write_that_fails_on_two_policies_names_both() {
    let fx = fixture_with("cpufreq-write-two-fail", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let paths = [
        fx.tree.scaling_max_freq_path(0),
        fx.tree.scaling_max_freq_path(1),
    ];
    for path in &paths {
        fx.tree.make_unwritable(path);
    }
    let err = cpufreq.set_max_khz(600_000).unwrap_err();
    assert!(
        matches!(&err, HwError::Several { errors } if errors.len() == 2),
        "{err:?}"
    );
    let failed: Vec<_> = err.failures().iter().filter_map(HwError::path).collect();
    assert_eq!(failed, [paths[0].as_path(), paths[1].as_path()]);
}

#[test]
fn crash_restore_entries_are_those_of_the_strategys_files() {
    let fx = fixture_with("cpufreq-entries-by-strategy", &two_policies());
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let file_names = |files| {
        RestoreState::capture(&NoFan, None, Some(&cpufreq), files)
            .entries()
            .iter()
            .map(|e| e.path.file_name().unwrap().to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        file_names(CpuFreqFiles::MAX_FREQ),
        ["scaling_max_freq", "scaling_max_freq"]
    );
    assert_eq!(
        file_names(CpuFreqFiles::GOVERNOR),
        ["scaling_governor", "scaling_governor"]
    );
    assert_eq!(file_names(CpuFreqFiles::ALL).len(), 4);
    assert!(file_names(CpuFreqFiles::NONE).is_empty());
    assert_eq!(
        CpuFreqFiles::MAX_FREQ.union(CpuFreqFiles::GOVERNOR),
        CpuFreqFiles::ALL
    );
}

#[test]
fn a_crash_under_max_freq_is_cleared_by_restore_despite_an_immutable_governor() {
    let fx = fixture_with("cpufreq-crash-ro-governor", &two_policies());
    let state_dir = fx.dir.path().join("run");
    fx.tree
        .make_unwritable(&fx.tree.policy_dir(0).join("scaling_governor"));
    {
        let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
        let fan = FileFan::open(&fx.tree.fan_file_path()).unwrap();
        RestoreState::capture(&fan, Some(1.0), Some(&cpufreq), CpuFreqFiles::MAX_FREQ)
            .save(&state_dir)
            .unwrap();
        cpufreq.set_max_khz(600_000).unwrap();
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    let report = restore_from_state(
        &state_dir,
        &RestoreTargets::new(Some(fx.tree.fan_file_path())),
    )
    .unwrap();
    assert!(
        report.is_complete() && report.removed,
        "the governor warden never wrote is not in the state: {report:?}"
    );
    assert!(!state_path(&state_dir).exists());
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert_eq!(
        report.restored,
        [
            RestoreEntry::new(fx.tree.scaling_max_freq_path(0), "1500000"),
            RestoreEntry::new(fx.tree.scaling_max_freq_path(1), "1500000"),
            RestoreEntry::plain_file(fx.tree.fan_file_path(), "1.000"),
        ]
    );
}
