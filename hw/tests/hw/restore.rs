//! The crash-restore state file: round trip, format, and restoring after a "SIGKILL".

use std::fs;

use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::restore::{state_path, STATE_FILE_HEADER};
use warden_hw::{
    restore_from_state, CpuFreq, Fan, FileFan, HwError, RestoreEntry, RestoreState, SysfsCpuFreq,
};

use crate::util::{fixture, fixture_with, TestDir};

#[test]
fn save_and_load_round_trip_in_the_line_format() {
    let dir = TestDir::new("state-roundtrip");
    let state_dir = dir.path().join("run/warden");
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new(
        "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor",
        "ondemand",
    ));
    state.push(RestoreEntry::new("/tmp/with space/fan", "1.000"));
    let path = state.save(&state_dir).unwrap();
    assert_eq!(path, state_path(&state_dir));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!(
            "{STATE_FILE_HEADER}\n/sys/devices/system/cpu/cpufreq/policy0/scaling_governor\tondemand\n/tmp/with space/fan\t1.000\n"
        )
    );
    assert_eq!(RestoreState::load(&state_dir).unwrap(), Some(state));
    let leftovers: Vec<_> = fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec!["restore.state"], "no temp file left behind");
}

#[test]
fn an_entry_the_file_cannot_hold_is_skipped_and_the_rest_saved() {
    let dir = TestDir::new("state-newline");
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new("/sys/a", "1"));
    state.push(RestoreEntry::new("/sys/x", "a\nb"));
    state.push(RestoreEntry::new("/sys/empty", ""));
    state.push(RestoreEntry::new("/sys/b", "2"));
    let reasons: Vec<_> = state.skipped().iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        ["the value holds a tab or newline", "the value is empty"]
    );
    assert_eq!(
        state.skipped()[1].entry,
        RestoreEntry::new("/sys/empty", "")
    );
    state.save(dir.path()).unwrap();
    assert_eq!(
        RestoreState::load(dir.path()).unwrap().unwrap().entries(),
        [
            RestoreEntry::new("/sys/a", "1"),
            RestoreEntry::new("/sys/b", "2")
        ]
    );
}

#[test]
fn a_malformed_state_file_names_the_line() {
    let dir = TestDir::new("state-malformed");
    fs::write(
        state_path(dir.path()),
        format!("{STATE_FILE_HEADER}\n/sys/ok\t1\nrelative\t2\n"),
    )
    .unwrap();
    let err = RestoreState::load(dir.path()).unwrap_err();
    assert!(matches!(err, HwError::StateFile { line: 3, .. }), "{err:?}");
    fs::write(state_path(dir.path()), "not a state file\n").unwrap();
    assert!(matches!(
        RestoreState::load(dir.path()),
        Err(HwError::StateFile { line: 1, .. })
    ));
}

#[test]
fn no_state_file_means_nothing_to_restore() {
    let dir = TestDir::new("state-none");
    let report = restore_from_state(dir.path()).unwrap();
    assert!(!report.found && report.restored.is_empty() && report.is_complete());
}

#[test]
fn restore_after_a_crash_puts_originals_back_and_removes_the_file() {
    let fx = fixture_with(
        "state-crash",
        &FakeSysfsLayout {
            policies: 2,
            ..Default::default()
        },
    );
    let state_dir = fx.dir.path().join("run");
    {
        let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
        let mut fan = FileFan::open(&fx.tree.fan_file_path()).unwrap();
        RestoreState::capture(&fan, Some(1.0), Some(&cpufreq))
            .save(&state_dir)
            .unwrap();
        cpufreq.set_governor("powersave").unwrap();
        cpufreq.set_max_khz(600_000).unwrap();
        fan.set_duty(0.4).unwrap();
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    assert_eq!(fx.tree.scaling_max_freq(1).unwrap(), 600_000);

    let report = restore_from_state(&state_dir).unwrap();
    assert!(
        report.found && report.is_complete() && report.removed,
        "{report:?}"
    );
    assert_eq!(
        report.restored.len(),
        5,
        "2 policies x (governor, max) + fan"
    );
    for policy in 0..2 {
        assert_eq!(fx.tree.scaling_max_freq(policy).unwrap(), 1_500_000);
        assert_eq!(fx.tree.governor(policy).unwrap(), "ondemand");
    }
    assert_eq!(fx.tree.fan_file_duty().unwrap(), 1.0, "the on_exit duty");
    assert!(!state_path(&state_dir).exists());
}

#[test]
fn a_failed_write_is_reported_and_the_file_kept_for_a_retry() {
    let fx = fixture("state-partial");
    let state_dir = fx.dir.path().join("run");
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new(
        fx.tree.root().join("sys/nonexistent"),
        "1",
    ));
    state.push(RestoreEntry::new(
        fx.tree.scaling_max_freq_path(0),
        "1000000",
    ));
    state.save(&state_dir).unwrap();
    let report = restore_from_state(&state_dir).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(matches!(report.failed[0].1, HwError::NotFound { .. }));
    assert_eq!(report.restored.len(), 1, "went on past the failure");
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_000_000);
    assert!(!report.removed && state_path(&state_dir).exists());
}

#[test]
fn capture_without_cpufreq_or_file_writes_is_empty() {
    let state = RestoreState::capture(&warden_hw::NoFan, Some(1.0), None);
    assert!(state.is_empty());
}

#[test]
fn cpufreq_restore_entries_list_each_policy() {
    let fx = fixture("state-entries");
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let policy = fx.tree.policy_dir(0);
    assert_eq!(
        cpufreq.restore_entries(),
        vec![
            RestoreEntry::new(policy.join("scaling_governor"), "ondemand"),
            RestoreEntry::new(policy.join("scaling_max_freq"), "1500000"),
        ]
    );
    let _: &dyn Fan = &warden_hw::NoFan;
}

#[test]
fn a_crash_with_fan_on_exit_leave_keeps_the_fan_as_last_set() {
    let fx = fixture("state-leave");
    let state_dir = fx.dir.path().join("run");
    {
        let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
        let mut fan = FileFan::open(&fx.tree.fan_file_path()).unwrap();
        RestoreState::capture(&fan, None, Some(&cpufreq))
            .save(&state_dir)
            .unwrap();
        cpufreq.set_max_khz(600_000).unwrap();
        fan.set_duty(0.7).unwrap();
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    let report = restore_from_state(&state_dir).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert_eq!(
        fx.tree.fan_file_duty().unwrap(),
        0.7,
        "\"leave\": the fan stays as warden last set it"
    );
}

#[test]
fn an_empty_fan_file_at_start_keeps_the_cpufreq_entries() {
    let fx = fixture("state-empty-fan");
    let state_dir = fx.dir.path().join("run");
    fs::write(fx.tree.fan_file_path(), "").unwrap();
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let fan = FileFan::open(&fx.tree.fan_file_path()).unwrap();
    for exit_duty in [None, Some(1.0)] {
        RestoreState::capture(&fan, exit_duty, Some(&cpufreq))
            .save(&state_dir)
            .unwrap();
        let loaded = RestoreState::load(&state_dir).unwrap().unwrap();
        assert_eq!(
            &loaded.entries()[..2],
            cpufreq.restore_entries().as_slice(),
            "{exit_duty:?}"
        );
    }
}
