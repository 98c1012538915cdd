//! A save that fails part-way leaves no temp file behind. The failure is a real one from
//! the kernel: a child process (this test binary run again, on one test) saves under a
//! file size limit (`RLIMIT_FSIZE`) smaller than the state, so the write into the temp
//! file stops short and then fails with `EFBIG`, as a full tmpfs stops a save with
//! `ENOSPC`. The limit is process-wide, hence the child: the other tests keep writing.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{state_path, RestoreEntry, RestoreState, TEMP_FILE_NAME};

/// Names the state directory the child saves into; unset, the child test does nothing.
const CHILD_STATE_DIR: &str = "WARDEN_HW_TEST_SAVE_UNDER_LIMIT_DIR";
/// The child's file size limit: less than the state it saves, more than nothing.
const FILE_SIZE_LIMIT: libc::rlim_t = 64;
/// What the child prints before the save's error.
const SAVE_ERROR: &str = "save failed: ";

/// A state whose text is far longer than [`FILE_SIZE_LIMIT`].
fn long_state() -> RestoreState {
    let mut state = RestoreState::new();
    for policy in 0..4 {
        state.push(RestoreEntry::new(
            format!("/sys/devices/system/cpu/cpufreq/policy{policy}/scaling_max_freq"),
            "1500000",
        ));
    }
    state
}

/// A fresh directory under the system temp dir, removed on drop.
struct StateDir(PathBuf);

impl StateDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("warden-hw-save-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        StateDir(dir)
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The child's half: run by [`a_save_cut_short_by_a_write_error_leaves_no_temp_file`]
/// with [`CHILD_STATE_DIR`] set; run any other way it does nothing.
#[test]
#[ignore = "the child half of a_save_cut_short_by_a_write_error_leaves_no_temp_file"]
fn save_under_a_file_size_limit() {
    let Some(state_dir) = std::env::var_os(CHILD_STATE_DIR) else {
        return;
    };
    let limit = libc::rlimit {
        rlim_cur: FILE_SIZE_LIMIT,
        rlim_max: FILE_SIZE_LIMIT,
    };
    // SAFETY: ignoring SIGXFSZ makes a write over the limit fail with EFBIG instead of
    // killing the process; setrlimit reads a valid rlimit. This process runs this one
    // test, so nothing else depends on either.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let error = long_state()
        .save(Path::new(&state_dir))
        .expect_err("the state is longer than the file size limit");
    println!("{SAVE_ERROR}{error}");
}

#[test]
fn a_save_cut_short_by_a_write_error_leaves_no_temp_file() {
    let dir = StateDir::new("cut-short");
    let child_test = format!(
        "{}::save_under_a_file_size_limit",
        module_path!().split_once("::").unwrap().1
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args([&child_test, "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_STATE_DIR, &dir.0)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tmp = dir.0.join(TEMP_FILE_NAME);
    let error = stdout
        .lines()
        .find_map(|line| Some(line.split_once(SAVE_ERROR)?.1))
        .unwrap_or_else(|| panic!("the child did not save: {stdout}"));
    assert!(
        error.contains(&tmp.display().to_string()),
        "the write into the temp file failed: {error}"
    );
    assert!(!tmp.exists(), "a half-written {} is left", tmp.display());
    assert!(!state_path(&dir.0).exists(), "nothing was saved");
}
