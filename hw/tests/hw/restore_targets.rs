//! A crash restore writes only what warden records: a forged state file naming any other
//! file, a symbolic link in an attribute's place, or a file to create that is not the
//! configured `file` fan's, has that entry refused and the file left as it was.

use std::fs;
use std::os::unix::fs::symlink;

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
