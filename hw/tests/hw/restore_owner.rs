//! Whom a restore believes is still running: only a warden. An owner line or lock file
//! naming some other live process (forged, or a recycled pid) is not taken for one, so
//! nothing advises killing it and its state is replayed.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use warden_hw::fake_sysfs::throttled_restore_state;
use warden_hw::restore::lock::lock_path;
use warden_hw::RestoreTargets;
use warden_hw::{restore_from_state, LockError, StateDirLock, StateOwner};

use crate::util::TestDir;

/// A `sleep 60` started through `name` in `dir` (a symlink to sleep when `name` is not
/// "sleep"): the kernel names the process after the path it was started by, so it runs
/// as `name`. Killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn named(dir: &Path, name: &str) -> Sleeper {
        let sleep = ["/usr/bin/sleep", "/bin/sleep"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.exists())
            .expect("sleep in /usr/bin or /bin");
        let program = if name == "sleep" {
            sleep
        } else {
            let link = dir.join(name);
            symlink(&sleep, &link).unwrap();
            link
        };
        Sleeper(Command::new(program).arg("60").spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn owner(&self) -> StateOwner {
        StateOwner::of_pid(self.pid()).unwrap().expect("it runs")
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_live_process_that_is_no_warden_is_not_the_owner() {
    let dir = TestDir::new("owner-not-warden");
    let other = Sleeper::named(dir.path(), "sleep");
    // Its real pid, start time and boot id: all a forged owner line can copy.
    let forged = other.owner();
    assert!(
        !forged.is_running().unwrap(),
        "sleep is not a warden: {forged:?}"
    );
    let (state_dir, max_freq) = throttled_restore_state(dir.path(), Some(forged)).unwrap();
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fs::read_to_string(max_freq).unwrap(), "1500000");
}

#[test]
fn a_live_process_named_warden_is_the_owner() {
    let dir = TestDir::new("owner-warden");
    let warden = Sleeper::named(dir.path(), "warden");
    let owner = warden.owner();
    assert!(owner.is_running().unwrap());
    let (state_dir, max_freq) = throttled_restore_state(dir.path(), Some(owner.clone())).unwrap();
    assert!(
        restore_from_state(&state_dir, &RestoreTargets::default()).is_err(),
        "not while it runs"
    );
    drop(warden);
    assert!(!owner.is_running().unwrap(), "gone once reaped");
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert_eq!(fs::read_to_string(max_freq).unwrap(), "1500000");
}

#[test]
fn a_lock_holder_pid_that_is_no_warden_is_not_named() {
    let dir = TestDir::new("lock-holder-not-warden");
    let other = Sleeper::named(dir.path(), "sleep");
    let (state_dir, _) = throttled_restore_state(dir.path(), Some(other.owner())).unwrap();
    let _held = StateDirLock::acquire(&state_dir).unwrap();
    // The holder's pid overwritten with another live process's.
    fs::write(lock_path(&state_dir), format!("{}\n", other.pid())).unwrap();
    let holder_named = || match StateDirLock::acquire(&state_dir) {
        Err(LockError::Held { holder, .. }) => holder,
        other => panic!("expected Held, got {other:?}"),
    };
    assert_eq!(holder_named(), None, "sleep is not a warden");
    // No pid in the lock file: the state file's owner line is not believed either.
    fs::write(lock_path(&state_dir), "").unwrap();
    assert_eq!(holder_named(), None);
    let err = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap_err();
    assert!(
        !err.to_string().contains(&other.pid().to_string()),
        "never advises killing a process that is no warden: {err}"
    );
}
