//! Shared helpers: self-removing temp dirs, running a closure without root's powers,
//! FIFOs, and running a call that must not hang.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

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

/// Replaces whatever is at `path` with a FIFO that nobody opens for writing or reading.
pub fn make_fifo(path: &Path) {
    let _ = fs::remove_file(path);
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        io::Error::last_os_error()
    );
}

/// How long [`without_hanging`] waits: a bound against a hang, not a speed check (the
/// calls it guards take microseconds; a blocking open never returns at all).
pub const HANG_LIMIT: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread and returns its result; fails the test if it has not
/// returned within [`HANG_LIMIT`] (the stuck thread is left behind).
pub fn without_hanging<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = done.send(f());
    });
    match result.recv_timeout(HANG_LIMIT) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not return within {HANG_LIMIT:?}: it blocks")
        }
    }
}

/// An error and its whole `source()` chain, joined as anyhow's `{:#}` prints it.
pub fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Keeps every warning (and worse) logged in this test binary, for [`warnings_containing`].
struct WarningLog {
    lines: std::sync::Mutex<Vec<String>>,
}

impl log::Log for WarningLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
            lines.push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static WARNINGS: WarningLog = WarningLog {
    lines: std::sync::Mutex::new(Vec::new()),
};

/// Starts keeping warnings (once per test binary; later calls do nothing). Tests run in
/// parallel, so each looks for text of its own, such as its temp dir's path.
pub fn keep_warnings() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&WARNINGS).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Warn);
    });
}

/// The warnings kept since [`keep_warnings`] that contain `text`.
pub fn warnings_containing(text: &str) -> Vec<String> {
    let lines = WARNINGS.lines.lock().unwrap_or_else(|p| p.into_inner());
    lines.iter().filter(|l| l.contains(text)).cloned().collect()
}
