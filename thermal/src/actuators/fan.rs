//! The fan side of the actuators: the exit action, and the backend with what was applied
//! to it. A new duty is written at once; an unchanged one is written again every
//! [`FAN_REASSERT_PERIOD`] ([`Fan::reassert_duty`], which for hwmon also puts back manual
//! mode), so a fan that the kernel's cooling device or another tool stopped behind
//! warden's back runs again within that period, and what was found changed is logged. A
//! failed write is retried every tick (failures rate-limited), and the first write that
//! succeeds after failures says so once.

use std::time::{Duration, Instant};

use warden_hw::Fan;

use crate::rate_limit::{LogLimiter, SuppressedNote, SuppressedSummary};
use crate::snapshot::FanStatus;

/// An unchanged duty is written again this often (wall time). Not every tick: the `file`
/// fan replaces its file with each write, and a hwmon re-assert reads two attributes and
/// writes two. Ten seconds is short next to how fast a Pi heats with its fan stopped.
pub const FAN_REASSERT_PERIOD: Duration = Duration::from_secs(10);

/// What the fan does when the controller stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanOnExit {
    /// Full duty: safest when nothing watches the temperature any more.
    #[default]
    Full,
    /// Off.
    Off,
    /// Leave it as it is.
    Leave,
}

impl FanOnExit {
    /// The duty to write on exit, if any.
    pub fn duty(self) -> Option<f64> {
        match self {
            FanOnExit::Full => Some(1.0),
            FanOnExit::Off => Some(0.0),
            FanOnExit::Leave => None,
        }
    }
}

/// The fan backend with what was applied to it.
pub(crate) struct FanActuator {
    fan: Box<dyn Fan>,
    applied: Option<f64>,
    /// When a write last succeeded: the re-assert period counts from it.
    written_at: Option<Instant>,
    /// Writes failed since the last one that succeeded.
    failed_writes: u64,
    log: LogLimiter,
    changed_log: LogLimiter,
    pub(crate) status: FanStatus,
}

/// Why the actuator writes this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    /// A new duty.
    Change,
    /// The same duty again after a failed write.
    Retry,
    /// The same duty again, [`FAN_REASSERT_PERIOD`] after the last write.
    Reassert,
}

impl FanActuator {
    pub(crate) fn new(fan: Box<dyn Fan>, proportional: bool) -> Self {
        let status = FanStatus {
            driver: fan.driver(),
            proportional,
            ..FanStatus::default()
        };
        FanActuator {
            fan,
            applied: None,
            written_at: None,
            failed_writes: 0,
            log: LogLimiter::default(),
            changed_log: LogLimiter::default(),
            status,
        }
    }

    /// Writes `duty` when it differs from the applied duty, after a failed write, or when
    /// [`FAN_REASSERT_PERIOD`] has passed since the last write.
    pub(crate) fn apply(&mut self, duty: f64, now: Instant) {
        self.status.requested_duty = duty;
        let Some(kind) = self.write_needed(duty, now) else {
            return;
        };
        // A retry is a plain write: the driver writes again whatever of its set-up failed
        // (hwmon's manual mode), and reads nothing while the fan keeps failing.
        let result = match kind {
            WriteKind::Change | WriteKind::Retry => self.fan.set_duty(duty).map(|()| None),
            WriteKind::Reassert => self.fan.reassert_duty(duty),
        };
        match result {
            Ok(found) => {
                if let (WriteKind::Reassert, Some(found)) = (kind, found) {
                    if let Some(suppressed) = self.changed_log.allow(now) {
                        log::warn!(
                            "fan ({}): changed behind warden's back ({found}); duty {duty:.2} \
                             written again{}",
                            self.fan.driver(),
                            SuppressedNote(suppressed)
                        );
                    }
                }
                if self.failed_writes > 0 {
                    let n = self.failed_writes;
                    log::info!(
                        "fan ({}): duty {duty:.2} written again after {n} failed write{}",
                        self.fan.driver(),
                        if n == 1 { "" } else { "s" }
                    );
                }
                if self.applied.unwrap_or(0.0) != duty {
                    self.status.switches += 1;
                }
                self.applied = Some(duty);
                self.status.duty = Some(duty);
                self.written_at = Some(now);
                self.failed_writes = 0;
            }
            Err(error) => {
                self.failed_writes += 1;
                self.status.errors += 1;
                if let Some(suppressed) = self.log.allow(now) {
                    log::warn!(
                        "fan ({}): could not set duty {duty:.2}: {error}; retrying every tick{}",
                        self.fan.driver(),
                        SuppressedNote(suppressed)
                    );
                }
            }
        }
    }

    /// Logs a summary of the failed writes and outside changes held back over a period
    /// that ended without another line of their kind (call it every tick), or of all
    /// held back when `stopping`.
    pub(crate) fn flush_logs(&mut self, now: Instant, stopping: bool) {
        let driver = self.fan.driver();
        let flush = |limiter: &mut LogLimiter| match stopping {
            true => limiter.flush_all(now),
            false => limiter.flush(now),
        };
        if let Some(count) = flush(&mut self.log) {
            let text = format!("fan ({driver}): could not set duty");
            log::warn!("{}", SuppressedSummary { count, text: &text });
        }
        if let Some(count) = flush(&mut self.changed_log) {
            let text = format!("fan ({driver}): changed behind warden's back");
            log::warn!("{}", SuppressedSummary { count, text: &text });
        }
    }

    /// Why `duty` is to be written at `now`, if it is.
    fn write_needed(&self, duty: f64, now: Instant) -> Option<WriteKind> {
        if self.applied != Some(duty) {
            Some(WriteKind::Change)
        } else if self.failed_writes > 0 {
            Some(WriteKind::Retry)
        } else if self
            .written_at
            .is_some_and(|at| now.saturating_duration_since(at) >= FAN_REASSERT_PERIOD)
        {
            Some(WriteKind::Reassert)
        } else {
            None
        }
    }

    /// Sets the exit duty; on failure, logs the error and says what was not put back.
    pub(super) fn restore(&mut self, on_exit: FanOnExit) -> Result<(), String> {
        let Some(duty) = on_exit.duty() else {
            return Ok(());
        };
        match self.fan.set_duty(duty) {
            Ok(()) => {
                self.status.duty = Some(duty);
                Ok(())
            }
            Err(error) => {
                log::error!(
                    "fan ({}): could not set the exit duty {duty:.2}: {error}",
                    self.fan.driver()
                );
                Err(format!("the fan's exit duty {duty:.2}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use warden_hw::fake::{FakeFailure, FakeFan};
    use warden_hw::fake_sysfs::{FakeSysfsLayout, FakeSysfsTree};
    use warden_hw::{FileFan, HwmonFan};

    use super::*;

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("warden-thermal-fan-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn after(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap().trim().to_string()
    }

    #[test]
    fn an_unchanged_duty_is_written_again_each_period_and_not_every_tick() {
        let fan = FakeFan::proportional();
        let mut actuator = FanActuator::new(Box::new(fan.clone()), true);
        let t0 = Instant::now();
        let period_ms = FAN_REASSERT_PERIOD.as_millis() as u64;
        let ticks = |from_ms: u64, to_ms: u64| (from_ms..to_ms).step_by(500);
        for ms in ticks(0, period_ms) {
            actuator.apply(0.5, after(t0, ms));
        }
        assert_eq!(fan.applied(), vec![0.5], "written once within the period");
        for ms in ticks(period_ms, 2 * period_ms + 500) {
            actuator.apply(0.5, after(t0, ms));
        }
        assert_eq!(
            fan.applied(),
            vec![0.5, 0.5, 0.5],
            "and once per period after"
        );
        assert_eq!(actuator.status.switches, 1, "a re-assert is no switch");
        // A change is written at once and restarts the period.
        let changed_at = 2 * period_ms + 600;
        actuator.apply(0.7, after(t0, changed_at));
        actuator.apply(0.7, after(t0, changed_at + period_ms - 1));
        assert_eq!(fan.applied(), vec![0.5, 0.5, 0.5, 0.7]);
        actuator.apply(0.7, after(t0, changed_at + period_ms));
        assert_eq!(fan.applied(), vec![0.5, 0.5, 0.5, 0.7, 0.7]);
    }

    #[test]
    fn a_hwmon_fan_reset_behind_wardens_back_gets_manual_mode_and_its_duty_back() {
        let dir = TempDir::new("hwmon");
        let layout = FakeSysfsLayout {
            hwmon_fan: true,
            ..FakeSysfsLayout::default()
        };
        let tree = FakeSysfsTree::create_with(dir.path(), &layout).unwrap();
        let hwmon = tree.hwmon_fan_dir();
        let fan = HwmonFan::discover(tree.root()).unwrap();
        let mut actuator = FanActuator::new(Box::new(fan), true);
        let t0 = Instant::now();
        actuator.apply(0.5, t0);
        assert_eq!(read(&hwmon.join("pwm1_enable")), "1");
        assert_eq!(read(&hwmon.join("pwm1")), "128");
        // The kernel's cooling device, or another tool, stops the fan.
        fs::write(hwmon.join("pwm1"), "0\n").unwrap();
        fs::write(hwmon.join("pwm1_enable"), "2\n").unwrap();
        actuator.apply(0.5, after(t0, 500));
        assert_eq!(read(&hwmon.join("pwm1")), "0", "not every tick");
        actuator.apply(0.5, t0 + FAN_REASSERT_PERIOD);
        assert_eq!(read(&hwmon.join("pwm1_enable")), "1");
        assert_eq!(read(&hwmon.join("pwm1")), "128");
        assert_eq!(
            (actuator.status.duty, actuator.status.errors),
            (Some(0.5), 0)
        );
    }

    #[test]
    fn an_overwritten_file_fan_gets_its_duty_back() {
        let dir = TempDir::new("file");
        let path = dir.path().join("fan_duty");
        let mut actuator = FanActuator::new(Box::new(FileFan::open(&path).unwrap()), true);
        let t0 = Instant::now();
        actuator.apply(0.5, t0);
        assert_eq!(read(&path), "0.500");
        fs::write(&path, "0").unwrap();
        actuator.apply(0.5, t0 + FAN_REASSERT_PERIOD);
        assert_eq!(read(&path), "0.500");
        fs::remove_file(&path).unwrap();
        actuator.apply(0.5, t0 + 2 * FAN_REASSERT_PERIOD);
        assert_eq!(read(&path), "0.500");
    }

    #[test]
    fn a_failed_write_is_retried_every_tick_and_counted() {
        let fan = FakeFan::proportional();
        fan.fail_next(3, FakeFailure::Io);
        let mut actuator = FanActuator::new(Box::new(fan.clone()), true);
        let t0 = Instant::now();
        for tick in 0..5 {
            actuator.apply(1.0, after(t0, tick * 500));
        }
        let oks: Vec<bool> = fan.calls().iter().map(|call| call.ok).collect();
        assert_eq!(oks, vec![false, false, false, true]);
        assert_eq!(actuator.status.errors, 3);
        assert_eq!(actuator.status.duty, Some(1.0));
        assert_eq!(actuator.failed_writes, 0);
        // A failed re-assert is retried the next tick, not a period later.
        fan.fail_next(1, FakeFailure::Io);
        actuator.apply(1.0, after(t0, 1500) + FAN_REASSERT_PERIOD);
        actuator.apply(1.0, after(t0, 2000) + FAN_REASSERT_PERIOD);
        let oks: Vec<bool> = fan.calls().iter().map(|call| call.ok).collect();
        assert_eq!(oks, vec![false, false, false, true, false, true]);
    }
}
