//! Replaying a crash-restore state: a file cut short is refused whole, a cpufreq value
//! that cannot be right is refused, the `file` fan's file is recreated and a sysfs file
//! never is.

use std::fs;

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::restore::{state_path, CREATE_LINE, STATE_FILE_HEADER, STATE_VALUE_MAX_BYTES};
use warden_hw::RestoreTargets;
use warden_hw::{
    restore_from_state, FileFan, HwError, RestoreEntry, RestoreError, RestoreState, SysfsCpuFreq,
};

use crate::util::{fixture, fixture_with, TestDir};

#[test]
fn a_state_file_cut_short_is_refused_as_truncated_and_nothing_is_written() {
    let fx = fixture("replay-truncated");
    let state_dir = fx.dir.path().join("run");
    fs::create_dir_all(&state_dir).unwrap();
    let max = fx.tree.scaling_max_freq_path(0);
    // The writer's "...\t600000\n" cut after "60".
    fs::write(
        state_path(&state_dir),
        format!("{STATE_FILE_HEADER}\n{}\t60", max.display()),
    )
    .unwrap();
    let err = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap_err();
    assert!(
        matches!(&err, RestoreError::Hw(HwError::StateFile { line: 2, .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert!(
        state_path(&state_dir).exists(),
        "kept for warden run to set aside"
    );

    fs::write(state_path(&state_dir), STATE_FILE_HEADER).unwrap();
    assert!(
        matches!(
            RestoreState::load(&state_dir),
            Err(HwError::StateFile { line: 1, .. })
        ),
        "even a header alone needs its newline"
    );

    // Empty: said so, not "expected the header" on a line that is not there.
    fs::write(state_path(&state_dir), "").unwrap();
    let err = RestoreState::load(&state_dir).unwrap_err().to_string();
    assert!(
        err.contains("the file is empty") && !err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn a_max_freq_outside_the_policys_cpuinfo_range_is_refused_naming_file_and_value() {
    let fx = fixture_with(
        "replay-implausible-max",
        &FakeSysfsLayout {
            policies: 3,
            ..Default::default()
        },
    );
    let state_dir = fx.dir.path().join("run");
    let mut state = RestoreState::new();
    for (policy, value) in [(0, "60"), (1, "1000000"), (2, "9000000")] {
        fs::write(fx.tree.scaling_max_freq_path(policy), "1200000\n").unwrap();
        state.push(RestoreEntry::new(
            fx.tree.scaling_max_freq_path(policy),
            value,
        ));
    }
    state.save(&state_dir).unwrap();
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert_eq!(
        report.restored,
        [RestoreEntry::new(
            fx.tree.scaling_max_freq_path(1),
            "1000000"
        )]
    );
    assert_eq!(report.failed.len(), 2, "{report:?}");
    for ((entry, error), (policy, value, bound)) in report
        .failed
        .iter()
        .zip([(0, "60", "600000"), (2, "9000000", "1500000")])
    {
        assert!(matches!(error, HwError::RefusedValue { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains(&entry.path.display().to_string())
                && text.contains(&format!("\"{value}\""))
                && text.contains(bound),
            "{text}"
        );
        assert_eq!(
            fx.tree.scaling_max_freq(policy).unwrap(),
            1_200_000,
            "not written"
        );
    }
    assert!(!report.removed);
}

#[test]
fn a_max_freq_without_readable_cpuinfo_limits_is_written_unless_it_is_no_frequency() {
    let dir = TestDir::new("replay-no-cpuinfo");
    let max = dir.path().join("scaling_max_freq");
    fs::write(&max, "600000\n").unwrap();
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new(&max, "1500000"));
    state.save(dir.path()).unwrap();
    assert!(restore_from_state(dir.path(), &RestoreTargets::default())
        .unwrap()
        .is_complete());
    assert_eq!(fs::read_to_string(&max).unwrap(), "1500000");

    let mut state = RestoreState::new();
    state.push(RestoreEntry::new(&max, "fast"));
    state.save(dir.path()).unwrap();
    let report = restore_from_state(dir.path(), &RestoreTargets::default()).unwrap();
    assert!(
        matches!(report.failed[..], [(_, HwError::RefusedValue { .. })]),
        "{report:?}"
    );
    assert_eq!(fs::read_to_string(&max).unwrap(), "1500000");
}

#[test]
fn the_file_fans_file_is_recreated_by_the_restore_as_the_fan_does() {
    let fx = fixture("replay-fan-recreated");
    let state_dir = fx.dir.path().join("run");
    let fan_file = fx.tree.fan_file_path();
    {
        let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
        let fan = FileFan::open(&fan_file).unwrap();
        RestoreState::capture(&fan, Some(1.0), Some(&cpufreq), CpuFreqFiles::MAX_FREQ)
            .save(&state_dir)
            .unwrap();
    }
    let text = fs::read_to_string(state_path(&state_dir)).unwrap();
    assert!(
        text.ends_with(&format!("{CREATE_LINE}\n{}\t1.000\n", fan_file.display())),
        "{text}"
    );
    fs::remove_file(&fan_file).unwrap();
    let report =
        restore_from_state(&state_dir, &RestoreTargets::new(Some(fan_file.clone()))).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fx.tree.fan_file_duty().unwrap(), 1.0);
}

#[test]
fn a_sysfs_entry_is_never_created() {
    let fx = fixture("replay-sysfs-not-created");
    let state_dir = fx.dir.path().join("run");
    let max = fx.tree.scaling_max_freq_path(0);
    fs::remove_file(&max).unwrap();
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new(&max, "1500000"));
    state.save(&state_dir).unwrap();
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(
        matches!(report.failed[..], [(_, HwError::NotFound { .. })]),
        "{report:?}"
    );
    assert!(!max.exists());
}

#[test]
fn the_create_line_round_trips_and_must_precede_an_entry() {
    let dir = TestDir::new("replay-create-line");
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new("/sys/a", "1"));
    state.push(RestoreEntry::plain_file("/srv/fan", "1.000"));
    state.save(dir.path()).unwrap();
    assert_eq!(
        fs::read_to_string(state_path(dir.path())).unwrap(),
        format!("{STATE_FILE_HEADER}\n/sys/a\t1\n{CREATE_LINE}\n/srv/fan\t1.000\n")
    );
    assert_eq!(RestoreState::load(dir.path()).unwrap(), Some(state));

    fs::write(
        state_path(dir.path()),
        format!("{STATE_FILE_HEADER}\n/sys/a\t1\n{CREATE_LINE}\n"),
    )
    .unwrap();
    assert!(
        matches!(
            RestoreState::load(dir.path()),
            Err(HwError::StateFile { line: 3, .. })
        ),
        "a create line with nothing after it"
    );
}

/// Writes `body` after the header as the state file in `dir`.
fn write_state(dir: &std::path::Path, body: &str) {
    fs::write(state_path(dir), format!("{STATE_FILE_HEADER}\n{body}")).unwrap();
}

#[test]
fn a_create_line_applies_only_to_the_line_right_after_it() {
    let dir = TestDir::new("replay-create-apart");
    for between in ["\n", "# a comment\n", "# owner pid=1 start_time=1\n"] {
        write_state(
            dir.path(),
            &format!("{CREATE_LINE}\n{between}/srv/fan\t1.000\n"),
        );
        assert!(
            matches!(
                RestoreState::load(dir.path()),
                Err(HwError::StateFile { line: 2, .. })
            ),
            "a create line followed by {between:?}"
        );
    }
}

#[test]
fn a_create_line_before_a_sysfs_path_neither_creates_it_nor_skips_the_range_check() {
    let fx = fixture("replay-create-sysfs");
    let state_dir = fx.dir.path().join("run");
    fs::create_dir_all(&state_dir).unwrap();
    let max = fx.tree.scaling_max_freq_path(0);
    write_state(
        &state_dir,
        &format!("{CREATE_LINE}\n{}\t9999999\n", max.display()),
    );
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(
        matches!(report.failed[..], [(_, HwError::RefusedValue { .. })]),
        "{report:?}"
    );
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);

    let missing = fx.tree.policy_dir(0).join("scaling_governor");
    fs::remove_file(&missing).unwrap();
    write_state(
        &state_dir,
        &format!("{CREATE_LINE}\n{}\t1\n", missing.display()),
    );
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(
        matches!(report.failed[..], [(_, HwError::NotFound { .. })]),
        "{report:?}"
    );
    assert!(!missing.exists(), "a sysfs attribute is never created");
}

#[test]
fn two_entries_for_one_path_are_refused_as_corrupt() {
    let dir = TestDir::new("replay-duplicate");
    write_state(dir.path(), "/sys/a\t1\n/sys/b\t2\n/sys/a\t3\n");
    let err = RestoreState::load(dir.path()).unwrap_err();
    assert!(
        matches!(&err, HwError::StateFile { line: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/sys/a"), "{err}");

    let mut state = RestoreState::new();
    state.push(RestoreEntry::new("/sys/a", "1"));
    state.push(RestoreEntry::new("/sys/a", "2"));
    assert_eq!(state.entries(), [RestoreEntry::new("/sys/a", "1")]);
    assert_eq!(
        state.skipped().len(),
        1,
        "the writer never writes a duplicate"
    );
}

#[test]
fn an_overlong_value_is_refused_as_corrupt_and_never_saved() {
    let dir = TestDir::new("replay-long-value");
    let long = "1".repeat(STATE_VALUE_MAX_BYTES + 1);
    write_state(dir.path(), &format!("/sys/a\t{long}\n"));
    assert!(matches!(
        RestoreState::load(dir.path()),
        Err(HwError::StateFile { line: 2, .. })
    ));
    write_state(
        dir.path(),
        &format!("/sys/a\t{}\n", "1".repeat(STATE_VALUE_MAX_BYTES)),
    );
    assert_eq!(
        RestoreState::load(dir.path())
            .unwrap()
            .unwrap()
            .entries()
            .len(),
        1
    );

    let mut state = RestoreState::new();
    state.push(RestoreEntry::new("/sys/a", long));
    assert!(state.is_empty() && state.skipped().len() == 1, "{state:?}");
}
