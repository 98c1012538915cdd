//! Shared helpers: self-removing temp dirs and running a closure without root's powers.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use warden_hw::fake_sysfs::{FakeSysfsLayout, FakeSysfsTree};

/// A temp directory removed on drop.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join("warden-hw-tests")
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A temp dir holding a fake tree (the tree is dropped first, clearing immutable flags).
pub struct Fixture {
    pub tree: FakeSysfsTree,
    pub dir: TestDir,
}

pub fn fixture(name: &str) -> Fixture {
    fixture_with(name, &FakeSysfsLayout::default())
}

pub fn fixture_with(name: &str, layout: &FakeSysfsLayout) -> Fixture {
    let dir = TestDir::new(name);
    let tree = FakeSysfsTree::create_with(&dir.path().join("root"), layout).unwrap();
    Fixture { tree, dir }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `f` with file access checked as user `nobody` on this thread only.
///
/// Root bypasses mode bits, so `chmod 000` alone proves nothing as root. `setfsuid` is a
/// per-thread credential on Linux; changing it from 0 also drops CAP_DAC_OVERRIDE for the
/// thread, so the kernel's real EACCES comes back. Other test threads are unaffected.
pub fn as_nobody<T>(f: impl FnOnce() -> T) -> T {
    if !is_root() {
        return f();
    }
    const NOBODY: libc::uid_t = 65534;
    // SAFETY: setfsuid only changes this thread's filesystem uid; it is restored below
    // even if `f` panics.
    unsafe { libc::setfsuid(NOBODY) };
    // SAFETY: as above; -1 (invalid) only queries the current fsuid.
    assert_eq!(
        unsafe { libc::setfsuid(u32::MAX) },
        NOBODY as i32,
        "setfsuid did not take effect"
    );
    let result = catch_unwind(AssertUnwindSafe(f));
    // SAFETY: restores this thread's filesystem uid to root.
    unsafe { libc::setfsuid(0) };
    result.unwrap_or_else(|panic| resume_unwind(panic))
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}
