//! The crash-restore state file: round trip, format, restoring after a "SIGKILL", the
//! owner and the lock holder that must not be restored underneath, a state path that is not
//! a state file, and an unreplayable leftover set aside.

use std::fs;
use std::path::{Path, PathBuf};

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::fake_sysfs::{throttled_restore_state, FakeSysfsLayout};
use warden_hw::restore::lock::lock_path;
use warden_hw::restore::{
    state_path, STATE_FILE_HEADER, STATE_FILE_MAX_BYTES, TEMP_FILE_NAME, UNREPLAYED_FILE_NAME,
};
use warden_hw::RestoreTargets;
use warden_hw::{
    restore_from_state, restore_from_state_locked, set_aside_unreplayed, CpuFreq, Fan, FileFan,
    HwError, LockError, RestoreEntry, RestoreError, RestoreState, StateDirLock, StateOwner,
    SysfsCpuFreq,
};

use crate::util::{fixture, fixture_with, make_fifo, without_hanging, TestDir};

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
    let report = restore_from_state(dir.path(), &RestoreTargets::default()).unwrap();
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
        RestoreState::capture(&fan, Some(1.0), Some(&cpufreq), CpuFreqFiles::ALL)
            .save(&state_dir)
            .unwrap();
        cpufreq.set_governor("powersave").unwrap();
        cpufreq.set_max_khz(600_000).unwrap();
        fan.set_duty(0.4).unwrap();
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    assert_eq!(fx.tree.scaling_max_freq(1).unwrap(), 600_000);

    let report = restore_from_state(
        &state_dir,
        &RestoreTargets::new(Some(fx.tree.fan_file_path())),
    )
    .unwrap();
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
        fx.tree.policy_dir(0).join("../policy9/scaling_max_freq"),
        "1",
    ));
    state.push(RestoreEntry::new(
        fx.tree.scaling_max_freq_path(0),
        "1000000",
    ));
    state.save(&state_dir).unwrap();
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(matches!(report.failed[0].1, HwError::NotFound { .. }));
    assert_eq!(report.restored.len(), 1, "went on past the failure");
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_000_000);
    assert!(!report.removed && state_path(&state_dir).exists());
}

#[test]
fn capture_without_cpufreq_or_file_writes_is_empty() {
    let state = RestoreState::capture(&warden_hw::NoFan, Some(1.0), None, CpuFreqFiles::ALL);
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
        RestoreState::capture(&fan, None, Some(&cpufreq), CpuFreqFiles::MAX_FREQ)
            .save(&state_dir)
            .unwrap();
        cpufreq.set_max_khz(600_000).unwrap();
        fan.set_duty(0.7).unwrap();
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert_eq!(
        fx.tree.fan_file_duty().unwrap(),
        0.7,
        "\"leave\": the fan stays as warden last set it"
    );
}

/// [`throttled_restore_state`] in the test's directory.
fn state_owned_by(dir: &TestDir, owner: Option<StateOwner>) -> (PathBuf, PathBuf) {
    throttled_restore_state(dir.path(), owner).unwrap()
}

fn assert_replayed(state_dir: &Path, max_freq: &Path) {
    let report = restore_from_state(state_dir, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fs::read_to_string(max_freq).unwrap(), "1500000");
}

#[test]
fn the_owner_is_saved_and_loaded_and_older_parsers_see_a_comment() {
    let dir = TestDir::new("state-owner");
    let owner = StateOwner::current().unwrap();
    assert_eq!(owner.pid, std::process::id());
    let (state_dir, _) = state_owned_by(&dir, Some(owner.clone()));
    let text = fs::read_to_string(state_path(&state_dir)).unwrap();
    let second = text.lines().nth(1).unwrap();
    assert!(
        second.starts_with(&format!(
            "# owner pid={} start_time={}",
            owner.pid, owner.start_time
        )),
        "{text}"
    );
    let loaded = RestoreState::load(&state_dir).unwrap().unwrap();
    assert_eq!(loaded.owner(), Some(&owner));
    assert_eq!(loaded.entries().len(), 1);
}

#[test]
fn a_restore_while_the_owner_runs_touches_nothing_and_keeps_the_file() {
    let dir = TestDir::new("state-live-owner");
    let owner = StateOwner::current().unwrap();
    let (state_dir, max_freq) = state_owned_by(&dir, Some(owner.clone()));
    let err = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap_err();
    assert!(
        matches!(&err, RestoreError::OwnerRunning { owner: o, .. } if *o == owner),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("pid {}", owner.pid)) && text.contains("stop that warden"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&max_freq).unwrap(), "600000\n");
    assert!(
        state_path(&state_dir).exists(),
        "the live warden's file is kept"
    );
}

#[test]
fn a_recycled_pid_or_another_boot_is_not_the_owner() {
    let me = StateOwner::current().unwrap();
    let recycled = StateOwner {
        start_time: me.start_time + 1,
        ..me.clone()
    };
    assert!(
        !recycled.is_running().unwrap(),
        "same pid, other start time"
    );
    if me.boot_id.is_some() {
        let earlier_boot = StateOwner {
            boot_id: Some("00000000-0000-0000-0000-000000000000".into()),
            ..me.clone()
        };
        assert!(
            !earlier_boot.is_running().unwrap(),
            "same pid and tick, other boot"
        );
    }
    let dir = TestDir::new("state-recycled-owner");
    let (state_dir, max_freq) = state_owned_by(&dir, Some(recycled));
    assert_replayed(&state_dir, &max_freq);
}

#[test]
fn a_state_file_without_an_owner_from_an_older_version_is_replayed() {
    let dir = TestDir::new("state-no-owner");
    let (state_dir, max_freq) = state_owned_by(&dir, None);
    let text = fs::read_to_string(state_path(&state_dir)).unwrap();
    assert!(!text.contains("# owner"), "{text}");
    assert_replayed(&state_dir, &max_freq);
}

#[test]
fn a_malformed_owner_line_names_the_line() {
    let dir = TestDir::new("state-bad-owner");
    fs::write(
        state_path(dir.path()),
        format!("{STATE_FILE_HEADER}\n# owner pid=twelve start_time=5\n/sys/ok\t1\n"),
    )
    .unwrap();
    let err = RestoreState::load(dir.path()).unwrap_err();
    assert!(matches!(err, HwError::StateFile { line: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("pid="), "{err}");
}

#[test]
fn a_fifo_at_the_state_path_is_refused_without_hanging() {
    let dir = TestDir::new("state-fifo");
    let state_dir = dir.path().to_path_buf();
    make_fifo(&state_path(&state_dir));
    let err = without_hanging("loading a FIFO state file", move || {
        restore_from_state(&state_dir, &RestoreTargets::default()).unwrap_err()
    });
    assert!(
        matches!(
            &err,
            RestoreError::Hw(HwError::NotRegularFile {
                kind: "a FIFO (named pipe)",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("restore state file"),
        "says what the path should be: {err}"
    );
    assert!(state_path(dir.path()).exists(), "not removed");
}

#[test]
fn a_directory_at_the_state_path_is_refused() {
    let dir = TestDir::new("state-dir");
    fs::create_dir(state_path(dir.path())).unwrap();
    let err = RestoreState::load(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            HwError::NotRegularFile {
                kind: "a directory",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_oversized_state_file_is_refused_naming_the_file() {
    let dir = TestDir::new("state-huge");
    let path = state_path(dir.path());
    let mut text = format!("{STATE_FILE_HEADER}\n");
    while text.len() <= STATE_FILE_MAX_BYTES {
        text.push_str("/sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq\t1500000\n");
    }
    fs::write(&path, &text).unwrap();
    let err = RestoreState::load(dir.path()).unwrap_err();
    assert!(matches!(err, HwError::StateFile { line: 0, .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string())
            && message.contains(&STATE_FILE_MAX_BYTES.to_string()),
        "{message}"
    );

    // Exactly at the cap is still read.
    let entry =
        |n: usize| format!("/sys/devices/system/cpu/cpufreq/policy{n}/scaling_max_freq\t1500000\n");
    let mut text = format!("{STATE_FILE_HEADER}\n");
    // One entry per policy: a state file never puts one path back twice.
    for n in 0.. {
        if text.len() + entry(n).len() > STATE_FILE_MAX_BYTES {
            break;
        }
        text.push_str(&entry(n));
    }
    text.push_str(&"#".repeat(STATE_FILE_MAX_BYTES - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len(), STATE_FILE_MAX_BYTES);
    fs::write(&path, &text).unwrap();
    assert!(RestoreState::load(dir.path()).unwrap().is_some());
}

#[test]
fn a_second_lock_on_the_state_dir_is_refused_naming_the_holder_until_the_first_is_dropped() {
    let dir = TestDir::new("lock-twice");
    let state_dir = dir.path().join("run");
    let first = StateDirLock::acquire(&state_dir).unwrap();
    assert_eq!(
        fs::read_to_string(lock_path(&state_dir)).unwrap(),
        format!("{}\n", std::process::id())
    );
    // flock is per open file: a second open in the same process conflicts like another
    // process would.
    match StateDirLock::acquire(&state_dir) {
        Err(LockError::Held { lock_file, holder }) => {
            assert_eq!(lock_file, lock_path(&state_dir));
            assert_eq!(holder, Some(std::process::id()));
        }
        other => panic!("expected Held, got {other:?}"),
    }
    drop(first);
    StateDirLock::acquire(&state_dir).expect("released on drop");
}

#[test]
fn a_restore_while_the_lock_is_held_touches_nothing_even_if_the_owner_looks_dead() {
    // /proc mounted hidepid: the owner's pid looks gone, but its lock is held.
    let dir = TestDir::new("lock-held-restore");
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    let ghost = StateOwner {
        pid,
        start_time: 1,
        boot_id: None,
    };
    assert!(!ghost.is_running().unwrap());
    let (state_dir, max_freq) = state_owned_by(&dir, Some(ghost));
    let _held = StateDirLock::acquire(&state_dir).unwrap();
    let saved = fs::read_to_string(state_path(&state_dir)).unwrap();
    let err = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap_err();
    assert!(
        matches!(&err, RestoreError::LockHeld { holder: Some(p), .. } if *p == std::process::id()),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("stop that warden instead"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&max_freq).unwrap(), "600000\n");
    assert_eq!(fs::read_to_string(state_path(&state_dir)).unwrap(), saved);
}

#[test]
fn the_lock_holder_replays_a_dead_owners_state() {
    let dir = TestDir::new("lock-holder-replays");
    let (state_dir, max_freq) = state_owned_by(&dir, None);
    let lock = StateDirLock::acquire(&state_dir).unwrap();
    let report = restore_from_state_locked(&lock, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fs::read_to_string(&max_freq).unwrap(), "1500000");
}

#[test]
fn a_fifo_or_symlink_at_the_lock_path_is_refused_without_hanging_or_following() {
    let dir = TestDir::new("lock-special");
    let state_dir = dir.path().to_path_buf();
    make_fifo(&lock_path(&state_dir));
    let fifo_dir = state_dir.clone();
    let err = without_hanging("locking at a FIFO", move || {
        StateDirLock::acquire(&fifo_dir).unwrap_err()
    });
    assert!(
        matches!(
            &err,
            LockError::Unavailable(HwError::NotRegularFile {
                kind: "a FIFO (named pipe)",
                ..
            })
        ),
        "{err:?}"
    );
    fs::remove_file(lock_path(&state_dir)).unwrap();
    let target = dir.path().join("target");
    fs::write(&target, "precious\n").unwrap();
    std::os::unix::fs::symlink(&target, lock_path(&state_dir)).unwrap();
    let err = StateDirLock::acquire(&state_dir).unwrap_err();
    assert!(matches!(err, LockError::Unavailable(_)), "{err:?}");
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
}

#[test]
fn save_replaces_a_fifo_at_the_temp_path_without_hanging() {
    let dir = TestDir::new("save-tmp-fifo");
    let state_dir = dir.path().to_path_buf();
    make_fifo(&state_dir.join(TEMP_FILE_NAME));
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new("/sys/a", "1"));
    let saving = state.clone();
    let save_dir = state_dir.clone();
    without_hanging("saving over a FIFO temp file", move || {
        saving.save(&save_dir).unwrap()
    });
    assert_eq!(RestoreState::load(&state_dir).unwrap(), Some(state));
    assert!(!state_dir.join(TEMP_FILE_NAME).exists());
}

#[test]
fn save_does_not_write_through_a_symlink_at_the_temp_path() {
    let dir = TestDir::new("save-tmp-symlink");
    let state_dir = dir.path().join("run");
    fs::create_dir_all(&state_dir).unwrap();
    let target = dir.path().join("victim");
    fs::write(&target, "precious\n").unwrap();
    std::os::unix::fs::symlink(&target, state_dir.join(TEMP_FILE_NAME)).unwrap();
    let mut state = RestoreState::new();
    state.push(RestoreEntry::new("/sys/a", "1"));
    state.save(&state_dir).unwrap();
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(fs::symlink_metadata(state_path(&state_dir))
        .unwrap()
        .is_file());
    assert_eq!(RestoreState::load(&state_dir).unwrap(), Some(state));
}

#[test]
fn a_state_dir_that_is_a_file_is_named_as_not_a_directory_without_a_sysfs_hint() {
    let dir = TestDir::new("state-dir-file");
    let state_dir = dir.path().join("state");
    fs::write(&state_dir, "").unwrap();
    let load = RestoreState::load(&state_dir).unwrap_err();
    let save = RestoreState::new().save(&state_dir).unwrap_err();
    let lock = match StateDirLock::acquire(&state_dir).unwrap_err() {
        LockError::Unavailable(e) => e,
        held => panic!("{held:?}"),
    };
    for err in [load, save, lock] {
        assert!(matches!(err, HwError::NotADirectory { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("is not a directory")
                && text.contains("hardware.state_dir")
                && !text.contains("sysfs_root")
                && !text.contains("does not exist"),
            "{text}"
        );
    }
}

#[test]
fn an_unreplayed_leftover_is_set_aside_replacing_an_older_one_and_never_restored() {
    let dir = TestDir::new("set-aside");
    let state_dir = dir.path().to_path_buf();
    let unreplayed = state_dir.join(UNREPLAYED_FILE_NAME);
    fs::write(&unreplayed, "older\n").unwrap();
    let broken = format!("{STATE_FILE_HEADER}\nrelative\t1500000\n");
    fs::write(state_path(&state_dir), &broken).unwrap();
    assert_eq!(
        set_aside_unreplayed(&state_dir).unwrap(),
        Some(unreplayed.clone())
    );
    assert_eq!(fs::read_to_string(&unreplayed).unwrap(), broken);
    assert!(!state_path(&state_dir).exists());
    assert_eq!(set_aside_unreplayed(&state_dir).unwrap(), None);
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(!report.found, "the set-aside file is not replayed");
    assert_eq!(fs::read_to_string(&unreplayed).unwrap(), broken);
}
