//! Applying decisions to the fan and cpufreq backends, and putting them back.
//!
//! Writes happen only when the wanted value differs from the applied one, or
//! when the previous write failed. A failed write is counted, logged at most
//! once a minute with a count of the lines held back, and retried next tick;
//! it is never fatal. cpufreq reads and writes are limited apart, so failing
//! status reads never hide a failing throttle.
//!
//! A cpufreq write goes to every policy, and one that fails may have changed
//! some of them: the actuator then holds what was asked for as the target but
//! in doubt, and every later step writes its target to every policy until a
//! write succeeds whole. So a partly applied throttle is never taken for the
//! original (and left in place), nor a partly applied release for a throttle.
//! The status tells the truth meanwhile: throttled while anything was asked
//! below the originals or a write is in doubt (a policy may still hold a
//! throttle), and `max_khz` the lowest cap any policy may hold: lowered by
//! each failed write to the cap it asked for, raised only by a write that
//! succeeds whole or by the periodic status read, which reads every policy in
//! doubt ([`CpuFreq::max_khz`]).
//!
//! [`Actuators`] restores the fan's exit duty and the original cpufreq
//! settings when dropped, so a panic that unwinds the controller thread
//! restores them too; a restore that fails is reported, never taken for a
//! success.

use std::time::Instant;

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::{CpuFreq, Fan, HwError};

use crate::policy::CpuStep;
use crate::rate_limit::{LogLimiter, SuppressedNote, TextLimiter};
use crate::snapshot::{CpuStatus, FanStatus};

/// How the controller slows the CPU while throttling.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CpuStrategy {
    /// Step `scaling_max_freq` through the available frequencies, never above the original.
    #[default]
    MaxFreq,
    /// Switch `scaling_governor` to `powersave` while throttled, back to the original after.
    Governor {
        /// Governor used while throttled (normally "powersave").
        powersave: String,
    },
    /// Never touch cpufreq.
    Off,
}

impl CpuStrategy {
    /// The config spelling: "max-freq", "governor" or "off".
    pub fn as_str(&self) -> &'static str {
        match self {
            CpuStrategy::MaxFreq => "max-freq",
            CpuStrategy::Governor { .. } => "governor",
            CpuStrategy::Off => "off",
        }
    }

    /// The cpufreq files this strategy writes: what the crash-restore state must record
    /// and put back, and nothing else.
    pub fn files(&self) -> CpuFreqFiles {
        match self {
            CpuStrategy::MaxFreq => CpuFreqFiles::MAX_FREQ,
            CpuStrategy::Governor { .. } => CpuFreqFiles::GOVERNOR,
            CpuStrategy::Off => CpuFreqFiles::NONE,
        }
    }
}

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
    last_write_failed: bool,
    log: LogLimiter,
    pub(crate) status: FanStatus,
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
            last_write_failed: false,
            log: LogLimiter::default(),
            status,
        }
    }

    /// Writes `duty` if it differs from the applied duty or the last write failed.
    pub(crate) fn apply(&mut self, duty: f64, now: Instant) {
        self.status.requested_duty = duty;
        if self.applied == Some(duty) && !self.last_write_failed {
            return;
        }
        match self.fan.set_duty(duty) {
            Ok(()) => {
                if self.applied.unwrap_or(0.0) != duty {
                    self.status.switches += 1;
                }
                self.applied = Some(duty);
                self.status.duty = Some(duty);
                self.last_write_failed = false;
            }
            Err(error) => {
                self.last_write_failed = true;
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

    /// Sets the exit duty; on failure, logs the error and says what was not put back.
    fn restore(&mut self, on_exit: FanOnExit) -> Result<(), String> {
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

/// The cpufreq backend, the strategy, and what was applied.
pub(crate) struct CpuActuator {
    cpu: Box<dyn CpuFreq>,
    strategy: CpuStrategy,
    /// Steps at or below the original maximum, ascending.
    usable_khz: Vec<u64>,
    original_khz: u64,
    original_governor: String,
    /// The `scaling_max_freq` asked of every policy (held by all unless `in_doubt`).
    cap_khz: u64,
    /// Whether powersave was asked of every policy (held by all unless `in_doubt`).
    powersave_wanted: bool,
    /// The last write failed, maybe partway: the policies may not hold `cap_khz` /
    /// `powersave_wanted`, so the next step writes its target whatever it is.
    in_doubt: bool,
    touched: bool,
    read_log: LogLimiter,
    write_log: TextLimiter,
    pub(crate) status: CpuStatus,
}

impl CpuActuator {
    pub(crate) fn new(cpu: Box<dyn CpuFreq>, strategy: CpuStrategy) -> Self {
        let (original_khz, original_governor) = cpu.original();
        let mut usable_khz: Vec<u64> = cpu
            .steps_khz()
            .iter()
            .copied()
            .filter(|&k| k < original_khz)
            .collect();
        usable_khz.sort_unstable();
        usable_khz.dedup();
        usable_khz.push(original_khz);
        let status = CpuStatus {
            strategy: strategy.as_str(),
            governor: Some(original_governor.clone()),
            max_khz: Some(original_khz),
            original_max_khz: original_khz,
            original_governor: original_governor.clone(),
            throttled: false,
            errors: 0,
        };
        CpuActuator {
            cpu,
            strategy,
            usable_khz,
            original_khz,
            original_governor,
            cap_khz: original_khz,
            powersave_wanted: false,
            in_doubt: false,
            touched: false,
            read_log: LogLimiter::default(),
            write_log: TextLimiter::default(),
            status,
        }
    }

    /// The throttling method in use.
    pub(crate) fn strategy(&self) -> &CpuStrategy {
        &self.strategy
    }

    /// Puts cpufreq back to its originals, switches to `strategy`, then applies `step`
    /// under it (a reload while throttling keeps the CPU throttled, the new way).
    pub(crate) fn switch_strategy(&mut self, strategy: CpuStrategy, step: CpuStep, now: Instant) {
        // A failure is logged, and the originals stay to be put back at exit; the new
        // strategy rewrites its own target next (in doubt, like after a failed write).
        if self.restore().is_err() {
            self.in_doubt = true;
        }
        self.status.strategy = strategy.as_str();
        self.strategy = strategy;
        self.apply(step, now);
    }

    /// Applies one policy step under the configured strategy.
    pub(crate) fn apply(&mut self, step: CpuStep, now: Instant) {
        match self.strategy {
            CpuStrategy::MaxFreq => self.apply_max_freq(step, now),
            CpuStrategy::Governor { .. } => self.apply_governor(step, now),
            CpuStrategy::Off => {}
        }
        // In doubt, some policy may still hold a throttle: not known to be released.
        self.status.throttled =
            self.cap_khz < self.original_khz || self.powersave_wanted || self.in_doubt;
    }

    /// Steps the cap from the one asked for last; writes it when it moves, or whatever it
    /// is while in doubt.
    fn apply_max_freq(&mut self, step: CpuStep, now: Instant) {
        let from = self.cap_khz;
        let target = match step {
            CpuStep::Hold => None,
            CpuStep::Down => self.usable_khz.iter().rev().copied().find(|&k| k < from),
            CpuStep::Up => self.usable_khz.iter().copied().find(|&k| k > from),
            CpuStep::ToMinimum => self.usable_khz.first().copied(),
        }
        .unwrap_or(from);
        if target == from && !self.in_doubt {
            return;
        }
        self.touched = true;
        // Asked for from now on, whatever the write does: the next step starts from it.
        self.cap_khz = target;
        match self.cpu.set_max_khz(target) {
            Ok(()) => {
                if self.in_doubt && target == from {
                    log::info!("cpufreq: scaling_max_freq {target} kHz now on every policy");
                } else {
                    log::info!(
                        "cpufreq: scaling_max_freq {from} -> {target} kHz ({})",
                        step.describe()
                    );
                }
                self.in_doubt = false;
                self.status.max_khz = Some(target);
            }
            Err(error) => {
                self.in_doubt = true;
                // Some policy may hold the new cap, another the old: report the lower.
                self.status.max_khz = self.status.max_khz.map(|khz| khz.min(target));
                self.write_failed(
                    &format!("set scaling_max_freq to {target} kHz"),
                    &error,
                    now,
                );
            }
        }
    }

    /// Switches to powersave or back when the step asks for a change; writes the wanted
    /// governor whatever it is while in doubt.
    fn apply_governor(&mut self, step: CpuStep, now: Instant) {
        let want_powersave = match step {
            CpuStep::Hold => self.powersave_wanted,
            CpuStep::Down | CpuStep::ToMinimum => true,
            CpuStep::Up => false,
        };
        if want_powersave == self.powersave_wanted && !self.in_doubt {
            return;
        }
        let governor = match (&self.strategy, want_powersave) {
            (CpuStrategy::Governor { powersave }, true) => powersave.clone(),
            _ => self.original_governor.clone(),
        };
        self.touched = true;
        self.powersave_wanted = want_powersave;
        match self.cpu.set_governor(&governor) {
            Ok(()) => {
                log::info!("cpufreq: scaling_governor -> {governor}");
                self.in_doubt = false;
                self.status.governor = Some(governor);
            }
            Err(error) => {
                self.in_doubt = true;
                self.write_failed(&format!("set scaling_governor to {governor}"), &error, now);
            }
        }
    }

    /// Re-reads the current governor and maximum for the snapshot.
    pub(crate) fn refresh_status(&mut self, now: Instant) {
        match self.cpu.max_khz() {
            Ok(khz) => self.status.max_khz = Some(khz),
            Err(error) => self.read_failed("read scaling_max_freq", &error, now),
        }
        match self.cpu.governor() {
            Ok(governor) => self.status.governor = Some(governor),
            Err(error) => self.read_failed("read scaling_governor", &error, now),
        }
    }

    /// Counts a failed status read and logs it, at most once a minute.
    fn read_failed(&mut self, what: &str, error: &HwError, now: Instant) {
        self.status.errors += 1;
        if let Some(suppressed) = self.read_log.allow(now) {
            log::warn!(
                "cpufreq: could not {what}: {error}{}",
                SuppressedNote(suppressed)
            );
        }
    }

    /// Counts a failed write and logs it: at once when it differs from the write failures
    /// logged lately, else at most once a minute (see [`TextLimiter`]).
    fn write_failed(&mut self, what: &str, error: &HwError, now: Instant) {
        self.status.errors += 1;
        let line = format!("cpufreq: could not {what}: {error}; retrying every tick");
        if let Some(suppressed) = self.write_log.allow(now, &line) {
            log::warn!("{line}{}", SuppressedNote(suppressed));
        }
    }

    /// Puts the originals back if anything was written; on failure, logs the error and
    /// says what was not put back.
    fn restore(&mut self) -> Result<(), String> {
        if !self.touched {
            return Ok(());
        }
        match self.cpu.restore() {
            Ok(()) => {
                self.cap_khz = self.original_khz;
                self.powersave_wanted = false;
                self.in_doubt = false;
                self.status.max_khz = Some(self.original_khz);
                self.status.governor = Some(self.original_governor.clone());
                self.status.throttled = false;
                self.touched = false;
                Ok(())
            }
            Err(error) => {
                let (logged, reported) = self.describe_unrestored(&error);
                log::error!("cpufreq: could not put back {logged}: {error}");
                Err(reported)
            }
        }
    }

    /// The settings `error` kept from being put back, twice: for the log line next to the
    /// error (which names each file itself, so only the file's name) and for
    /// [`Actuators::restore`]'s caller (`PATH = VALUE`), one per failure, joined by
    /// " and ". The value is the one the crash-restore state holds for that file, else this
    /// actuator's original for a `scaling_max_freq` or `scaling_governor`; a failure
    /// naming neither falls back on the originals as a whole.
    fn describe_unrestored(&self, error: &HwError) -> (String, String) {
        let whole = format!(
            "cpufreq (scaling_max_freq {} kHz, governor {})",
            self.original_khz, self.original_governor
        );
        let entries = self.cpu.restore_entries();
        let described: Option<Vec<(String, String)>> = error
            .failures()
            .iter()
            .map(|failure| {
                let path = failure.path()?;
                let file_name = path.file_name().and_then(|name| name.to_str());
                let value = match entries.iter().find(|e| e.path == path) {
                    Some(entry) => entry.value.clone(),
                    None => match file_name {
                        Some("scaling_max_freq") => self.original_khz.to_string(),
                        Some("scaling_governor") => self.original_governor.clone(),
                        _ => return None,
                    },
                };
                Some((
                    format!("{} = {value}", file_name.unwrap_or("the file")),
                    format!("{} = {value}", path.display()),
                ))
            })
            .collect();
        match described {
            Some(described) => {
                let (logged, reported): (Vec<String>, Vec<String>) = described.into_iter().unzip();
                (logged.join(" and "), reported.join(" and "))
            }
            None => (whole.clone(), whole),
        }
    }
}

/// Fan and cpufreq together, restored on [`Actuators::restore`] or drop.
pub(crate) struct Actuators {
    pub(crate) fan: FanActuator,
    pub(crate) cpu: Option<CpuActuator>,
    fan_on_exit: FanOnExit,
    /// The one restore ran; a later call (the drop after `run`'s) does nothing.
    restored: bool,
}

impl Actuators {
    pub(crate) fn new(fan: FanActuator, cpu: Option<CpuActuator>, fan_on_exit: FanOnExit) -> Self {
        Actuators {
            fan,
            cpu,
            fan_on_exit,
            restored: false,
        }
    }

    /// Sets the fan to its exit duty and cpufreq back to its originals, once; a later call
    /// does nothing and returns `Ok(())`, as the first call's caller had the outcome. The
    /// error names what could not be put back (each failure is also logged with its cause).
    pub(crate) fn restore(&mut self) -> Result<(), String> {
        if self.restored {
            return Ok(());
        }
        let fan = self.fan.restore(self.fan_on_exit);
        let cpu = self.cpu.as_mut().map_or(Ok(()), CpuActuator::restore);
        self.restored = true;
        let failed: Vec<String> = [fan, cpu].into_iter().filter_map(Result::err).collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join(" and "))
        }
    }
}

impl Drop for Actuators {
    fn drop(&mut self) {
        if !self.restored && std::thread::panicking() {
            log::error!("thermal controller panicked: restoring fan and cpufreq before unwinding");
        }
        // Failures are logged; a panicking thread has no one to report them to.
        let _ = self.restore();
    }
}
