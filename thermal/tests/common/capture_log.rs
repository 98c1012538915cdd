//! A `log` logger that keeps every record in memory, so a test can assert what the
//! controller logged. The logger and the level are process-wide: a test takes
//! [`capture_at`]'s guard for its whole run, which serialises the capturing tests of
//! one test binary and starts each with an empty record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// One kept log record.
#[derive(Debug, Clone)]
pub struct Captured {
    pub level: Level,
    pub target: String,
    pub message: String,
}

struct CaptureLogger {
    records: Mutex<Vec<Captured>>,
}

impl Log for CaptureLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        lock(&self.records).push(Captured {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
        });
    }

    fn flush(&self) {}
}

static LOGGER: CaptureLogger = CaptureLogger {
    records: Mutex::new(Vec::new()),
};
static INSTALLED: AtomicBool = AtomicBool::new(false);
static ONE_TEST_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the capturing logger (first call), sets the maximum level, and forgets
/// what was kept; hold the guard until the test has stopped everything that logs.
pub fn capture_at(level: LevelFilter) -> MutexGuard<'static, ()> {
    let guard = lock(&ONE_TEST_AT_A_TIME);
    if !INSTALLED.swap(true, Ordering::SeqCst) {
        log::set_logger(&LOGGER).expect("no other logger is installed in this test binary");
    }
    log::set_max_level(level);
    lock(&LOGGER.records).clear();
    guard
}

/// Everything kept since [`capture_at`], oldest first.
pub fn captured() -> Vec<Captured> {
    lock(&LOGGER.records).clone()
}

/// The messages kept from `target` that start with `prefix`, oldest first.
pub fn messages(target: &str, prefix: &str) -> Vec<String> {
    lock(&LOGGER.records)
        .iter()
        .filter(|record| record.target == target && record.message.starts_with(prefix))
        .map(|record| record.message.clone())
        .collect()
}
