//! `warden restore` and the printing commands at their edges: a state file that lists
//! nothing, one that cannot be removed after every value was put back, and standard
//! output that cannot be written (a full disk, `>/dev/full`): each says what happened
//! and exits with a documented code, never a panic (101).

use std::fs;
use std::process::{Command, Stdio};

use warden_hw::fake_sysfs::FakeSysfsTree;
use warden_hw::restore::{state_path, STATE_FILE_HEADER};

use crate::util::{run_warden, warden_bin, TempDir};

/// A configuration file in `dir` whose state directory is `dir/run`; returns its path.
fn config_in(dir: &TempDir) -> String {
    let path = dir.path().join("warden.toml");
    let run = dir.path().join("run");
    fs::create_dir_all(&run).unwrap();
    fs::write(
        &path,
        format!("[hardware]\nstate_dir = \"{}\"\n", run.display()),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_state_file_that_lists_nothing_is_named_and_removed() {
    let dir = TempDir::new("restore-empty");
    let config = config_in(&dir);
    let state = state_path(&dir.path().join("run"));
    fs::write(&state, format!("{STATE_FILE_HEADER}\n")).unwrap();
    let out = run_warden(&["restore", "--config", &config]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "nothing to restore: the state file {} lists no settings",
            state.display()
        )),
        "{stdout}"
    );
    assert!(!state.exists());
}

#[test]
fn a_state_file_that_cannot_be_removed_is_not_called_unreadable() {
    let dir = TempDir::new("restore-kept");
    let config = config_in(&dir);
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let max = tree.scaling_max_freq_path(0);
    fs::write(&max, "600000\n").unwrap();
    let state = state_path(&dir.path().join("run"));
    fs::write(
        &state,
        format!("{STATE_FILE_HEADER}\n{}\t1500000\n", max.display()),
    )
    .unwrap();
    // An immutable file cannot be unlinked, even by root: a read-only state directory.
    tree.make_unwritable(&state);
    let out = run_warden(&["restore", "--config", &config]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("restored "), "{stdout}");
    assert!(
        stderr.contains("every setting was put back, but the state file")
            && !stderr.contains("cannot read"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&max).unwrap().trim(), "1500000");
    tree.make_writable(&state).unwrap();
}

#[test]
fn standard_output_that_cannot_be_written_exits_1_saying_so() {
    let dir = TempDir::new("stdout-full");
    let config = config_in(&dir);
    let cases: [&[&str]; 4] = [
        &["--version"],
        &["--help"],
        &["check-config", &config],
        &["restore", "--config", &config],
    ];
    for args in cases {
        let out = Command::new(warden_bin())
            .args(args)
            .env_remove("WARDEN_LOG")
            .stdout(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to standard output") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}
