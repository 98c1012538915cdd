//! A crash restore writes only what warden records: a forged state file naming any other
//! file, a symbolic link in an attribute's place, a hard link to another file under a
//! recorded name, or a file to create that is not the configured `file` fan's, has that
//! entry refused and the file left as it was. A write that fails is not counted as done
//! by reading the value back through a link.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use warden_hw::restore::{state_path, CREATE_LINE, STATE_FILE_HEADER};
use warden_hw::{restore_from_state, HwError, RestoreTargets};

use crate::util::fixture;

/// Writes a state file holding `body` after the header.
fn forge(dir: &std::path::Path, body: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(state_path(dir), format!("{STATE_FILE_HEADER}\n{body}")).unwrap();
}

#[test]
fn a_file_warden_never_records_is_refused_and_left_as_it_was() {
    let fx = fixture("targets-victim");
    let state_dir = fx.dir.path().join("run");
    let victim = fx.dir.path().join("victim");
    fs::write(&victim, "original\n").unwrap();
    forge(&state_dir, &format!("{}\tpwned\n", victim.display()));
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(
        matches!(report.failed[..], [(_, HwError::RefusedValue { .. })]),
        "{report:?}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "original\n");
    assert!(state_path(&state_dir).exists(), "kept, nothing lost");
}

#[test]
fn a_symbolic_link_in_an_attributes_place_is_not_written_through() {
    let fx = fixture("targets-link");
    let state_dir = fx.dir.path().join("run");
    let victim = fx.dir.path().join("victim");
    fs::write(&victim, "original\n").unwrap();
    let max = fx.tree.scaling_max_freq_path(0);
    fs::remove_file(&max).unwrap();
    symlink(&victim, &max).unwrap();
    forge(&state_dir, &format!("{}\t1500000\n", max.display()));
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    let refused = match &report.failed[..] {
        [(_, e @ HwError::RefusedValue { .. })] => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(refused.contains("symbolic link"), "{refused}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "original\n");
}

#[test]
fn only_the_configured_file_fan_is_created() {
    let fx = fixture("targets-create");
    let state_dir = fx.dir.path().join("run");
    let planted = fx.dir.path().join("cron-job");
    let fan = fx.tree.fan_file_path();
    fs::remove_file(&fan).unwrap();
    let body = format!(
        "{CREATE_LINE}\n{}\t* * * * * root sh\n{CREATE_LINE}\n{}\t1.000\n",
        planted.display(),
        fan.display()
    );
    forge(&state_dir, &body);
    let report = restore_from_state(&state_dir, &RestoreTargets::new(Some(fan.clone()))).unwrap();
    assert!(
        matches!(report.failed[..], [(_, HwError::RefusedValue { .. })]),
        "{report:?}"
    );
    assert!(!planted.exists(), "never created");
    assert_eq!(
        fx.tree.fan_file_duty().unwrap(),
        1.0,
        "the fan's own file is"
    );
}

/// Text of the one refusal in `report`, or a panic showing what happened instead.
fn the_one_refusal(report: &warden_hw::restore::RestoreReport) -> String {
    match &report.failed[..] {
        [(_, e @ HwError::RefusedValue { .. })] if report.restored.is_empty() => e.to_string(),
        _ => panic!("expected one refused entry and nothing restored: {report:?}"),
    }
}

/// Puts a hard link to `victim` (holding `text`) at `at`, in place of what was there.
fn hard_link_victim(victim: &Path, text: &str, at: &Path) {
    fs::write(victim, text).unwrap();
    let _ = fs::remove_file(at);
    fs::hard_link(victim, at).unwrap();
}

#[test]
fn a_hard_link_under_an_attributes_name_is_refused_and_its_file_left_as_it_was() {
    let fx = fixture("targets-hard-link");
    let state_dir = fx.dir.path().join("run");
    let victim = fx.dir.path().join("victim");
    let max = fx.tree.scaling_max_freq_path(0);
    hard_link_victim(&victim, "original\n", &max);
    forge(&state_dir, &format!("{}\t1500000\n", max.display()));
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    let refused = the_one_refusal(&report);
    assert!(
        refused.contains(&max.display().to_string()) && refused.contains("1 other hard link"),
        "{refused}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "original\n");
    assert!(state_path(&state_dir).exists(), "kept, nothing lost");
}

#[test]
fn a_hard_link_holding_the_value_already_is_refused_not_counted_as_restored() {
    let fx = fixture("targets-hard-link-same");
    let state_dir = fx.dir.path().join("run");
    let victim = fx.dir.path().join("victim");
    let governor = fx.tree.policy_dir(0).join("scaling_governor");
    hard_link_victim(&victim, "ondemand\n", &governor);
    forge(&state_dir, &format!("{}\tondemand\n", governor.display()));
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(the_one_refusal(&report).contains("hard link"));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "ondemand\n");
    assert!(state_path(&state_dir).exists(), "kept, nothing lost");
}

/// The `file` fan's path and the temp file its replace goes through.
fn fan_and_temp(fx: &crate::util::Fixture) -> (PathBuf, PathBuf) {
    let fan = fx.tree.fan_file_path();
    let mut temp = fan.file_name().unwrap().to_os_string();
    temp.push(".warden-tmp");
    let temp = fan.with_file_name(temp);
    (fan, temp)
}

#[test]
fn a_hard_link_at_the_file_fans_path_is_refused_and_left_as_it_was() {
    let fx = fixture("targets-fan-hard-link");
    let state_dir = fx.dir.path().join("run");
    let victim = fx.dir.path().join("victim");
    let (fan, temp) = fan_and_temp(&fx);
    hard_link_victim(&victim, "original\n", &fan);
    forge(
        &state_dir,
        &format!("{CREATE_LINE}\n{}\t1.000\n", fan.display()),
    );
    let report = restore_from_state(&state_dir, &RestoreTargets::new(Some(fan.clone()))).unwrap();
    let refused = the_one_refusal(&report);
    assert!(
        refused.contains(&fan.display().to_string()) && refused.contains("1 other hard link"),
        "{refused}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "original\n");
    assert_eq!(
        fs::metadata(&fan).unwrap().ino(),
        fs::metadata(&victim).unwrap().ino(),
        "the link itself is left in place, not replaced"
    );
    assert!(!temp.exists(), "no temp file was made");
    assert!(state_path(&state_dir).exists(), "kept, nothing lost");
}

#[test]
fn a_failed_fan_replace_is_not_read_back_through_a_symlink_holding_the_value() {
    let fx = fixture("targets-fan-read-back");
    let state_dir = fx.dir.path().join("run");
    let elsewhere = fx.dir.path().join("elsewhere");
    fs::write(&elsewhere, "1.000\n").unwrap();
    let (fan, temp) = fan_and_temp(&fx);
    fs::remove_file(&fan).unwrap();
    symlink(&elsewhere, &fan).unwrap();
    // A directory at the temp path makes the replace fail (it cannot be unlinked).
    fs::create_dir(&temp).unwrap();
    forge(
        &state_dir,
        &format!("{CREATE_LINE}\n{}\t1.000\n", fan.display()),
    );
    let report = restore_from_state(&state_dir, &RestoreTargets::new(Some(fan.clone()))).unwrap();
    assert!(
        report.restored.is_empty() && report.failed.len() == 1,
        "the value behind the link does not make the failed replace a restore: {report:?}"
    );
    assert!(fs::symlink_metadata(&fan).unwrap().file_type().is_symlink());
    assert!(state_path(&state_dir).exists(), "kept for a retry");
}
