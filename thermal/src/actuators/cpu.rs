//! The cpufreq side of the actuators: the throttling strategy, and the backend with the
//! cap or governor asked of every policy, held in doubt after a write that may have
//! changed only some of them (see the parent module).
//!
//! The originals are taken afresh at the start of each throttle episode (the step that
//! leaves the unthrottled state, when no write is in doubt): what the strategy's files
//! hold then is what warden steps down from and puts back, so an operator's change made
//! while warden was not throttling is kept. A changed original is logged once. At every
//! episode start the originals are handed to the [`OriginalsRecorder`] (the daemon's
//! crash-restore state) before the throttle is written, and once the episode ends (the
//! step back written whole, nothing in doubt) the recorder is told so: a crash restore
//! then touches cpufreq only while warden may have changed it. A failed re-read or
//! record is logged (rate-limited) and the throttle goes on.

use std::time::Instant;

use warden_hw::cpufreq::{CpuFreqFiles, OriginalChange};
use warden_hw::{CpuFreq, HwError};

use super::OriginalsRecorder;
use crate::policy::CpuStep;
use crate::rate_limit::{LogLimiter, SuppressedNote, SuppressedSummary, TextLimiter};
use crate::snapshot::CpuStatus;

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

/// The cpufreq backend, the strategy, and what was applied.
pub(crate) struct CpuActuator {
    cpu: Box<dyn CpuFreq>,
    strategy: CpuStrategy,
    /// Told the originals at each episode start, and the end of each episode.
    recorder: Option<Box<dyn OriginalsRecorder>>,
    /// The next step that leaves the unthrottled state starts an episode and takes the
    /// originals afresh: set by a step up (and a strategy switch), cleared by a step down.
    retake_due: bool,
    /// The recorder was told an episode started and not yet that it ended: the first
    /// moment nothing warden asked for is in force (nor may be), it is told.
    release_due: bool,
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
    /// Failures of the recorder, limited apart from the writes.
    record_log: TextLimiter,
    pub(crate) status: CpuStatus,
}

impl CpuActuator {
    pub(crate) fn new(
        cpu: Box<dyn CpuFreq>,
        strategy: CpuStrategy,
        recorder: Option<Box<dyn OriginalsRecorder>>,
    ) -> Self {
        let (original_khz, original_governor) = cpu.original();
        let usable_khz = usable_steps(cpu.steps_khz(), original_khz);
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
            recorder,
            retake_due: true,
            release_due: false,
            usable_khz,
            original_khz,
            original_governor,
            cap_khz: original_khz,
            powersave_wanted: false,
            in_doubt: false,
            touched: false,
            read_log: LogLimiter::default(),
            write_log: TextLimiter::default(),
            record_log: TextLimiter::default(),
            status,
        }
    }

    /// The throttling method in use.
    pub(crate) fn strategy(&self) -> &CpuStrategy {
        &self.strategy
    }

    /// Puts cpufreq back to its originals, switches to `strategy`, then applies `step`
    /// under it (a reload while throttling keeps the CPU throttled, the new way). The
    /// recorder is told the episode ended only when `step` does not throttle again: a new
    /// episode's start records the originals again anyway.
    pub(crate) fn switch_strategy(&mut self, strategy: CpuStrategy, step: CpuStep, now: Instant) {
        // A failure is logged, and the originals stay to be put back at exit; the new
        // strategy rewrites its own target next (in doubt, like after a failed write).
        if self.put_back().is_err() {
            self.in_doubt = true;
        }
        // Put back whole, the CPU is unthrottled: a new strategy's throttle is a new episode.
        self.retake_due = true;
        self.status.strategy = strategy.as_str();
        self.strategy = strategy;
        self.apply(step, now);
    }

    /// Applies one policy step under the configured strategy; a step that leaves the
    /// unthrottled state starts an episode first, and the step that reaches it again
    /// (written whole) ends it.
    pub(crate) fn apply(&mut self, step: CpuStep, now: Instant) {
        match step {
            CpuStep::Up => self.retake_due = true,
            CpuStep::Down | CpuStep::ToMinimum => {
                if std::mem::take(&mut self.retake_due) && self.unthrottled() {
                    self.start_episode(now);
                }
            }
            CpuStep::Hold => {}
        }
        match self.strategy {
            CpuStrategy::MaxFreq => self.apply_max_freq(step, now),
            CpuStrategy::Governor { .. } => self.apply_governor(step, now),
            CpuStrategy::Off => {}
        }
        // In doubt, some policy may still hold a throttle: not known to be released.
        self.status.throttled =
            self.cap_khz < self.original_khz || self.powersave_wanted || self.in_doubt;
        if self.unthrottled() {
            self.release_recorded(now);
        }
    }

    /// True when nothing warden asked for is in force, nor may be (no write in doubt).
    fn unthrottled(&self) -> bool {
        self.cap_khz >= self.original_khz && !self.powersave_wanted && !self.in_doubt
    }

    /// A throttle episode starts: takes the originals afresh and hands them to the
    /// recorder, changed or not, before anything is written. A strategy that writes no
    /// file records nothing.
    fn start_episode(&mut self, now: Instant) {
        let files = self.strategy.files();
        if files == CpuFreqFiles::NONE {
            return;
        }
        self.retake_originals(files, now);
        let Some(recorder) = &mut self.recorder else {
            return;
        };
        // Even when the save fails: the record holds them, and the release clears it.
        self.release_due = true;
        if let Err(why) = recorder.throttle_starts(&self.cpu.restore_entries(), files) {
            self.record_failed(
                &format!(
                    "cpufreq: the originals are not in the crash-restore state ({why}); \
                     throttling anyway: after a crash, 'warden restore' may not put this \
                     throttle back"
                ),
                now,
            );
        }
    }

    /// Tells the recorder the episode ended, once: called whenever nothing warden asked
    /// for is in force nor may be. A failed save is logged, not retried before the next
    /// episode (whose start saves again).
    fn release_recorded(&mut self, now: Instant) {
        if !std::mem::take(&mut self.release_due) {
            return;
        }
        let Some(recorder) = &mut self.recorder else {
            return;
        };
        if let Err(why) = recorder.throttle_released() {
            self.record_failed(
                &format!(
                    "cpufreq: the end of the throttle is not in the crash-restore state \
                     ({why}); after a crash, 'warden restore' would put back the originals \
                     this throttle started from"
                ),
                now,
            );
        }
    }

    /// Logs a failure of the recorder: at once when it differs from those logged lately,
    /// else at most once a minute.
    fn record_failed(&mut self, line: &str, now: Instant) {
        if let Some(suppressed) = self.record_log.allow(now, line) {
            log::warn!("{line}{}", SuppressedNote(suppressed));
        }
    }

    /// Re-reads `files` and takes what they hold as the originals: each change is logged
    /// and the usable steps follow a new maximum. A failed re-read keeps the originals.
    fn retake_originals(&mut self, files: CpuFreqFiles, now: Instant) {
        let changes = match self.cpu.retake_originals(files) {
            Ok(changes) => changes,
            Err(error) => {
                self.read_failed("re-read the originals before throttling", &error, now);
                return;
            }
        };
        if changes.is_empty() {
            return;
        }
        for OriginalChange {
            path,
            was,
            now: held,
        } in &changes
        {
            log::info!(
                "cpufreq: {} changed since start (or the last throttle) from {was} to {held}, \
                 which is the original now: throttling starts from it and puts it back",
                path.display()
            );
        }
        let (original_khz, original_governor) = self.cpu.original();
        self.usable_khz = usable_steps(self.cpu.steps_khz(), original_khz);
        self.original_khz = original_khz;
        self.cap_khz = original_khz;
        self.status.original_max_khz = original_khz;
        self.status.max_khz = Some(original_khz);
        if files.scaling_governor {
            self.status.governor = Some(original_governor.clone());
        }
        self.status.original_governor.clone_from(&original_governor);
        self.original_governor = original_governor;
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
                // What the policies hold: each takes the cap within its own range, so one
                // may hold more than the cap. The status read reports a failure to read it.
                self.status.max_khz = Some(self.cpu.max_khz().unwrap_or(target));
            }
            Err(error) => {
                self.in_doubt = true;
                // Some policy may hold the new cap, another the old: report what they hold
                // (a refused write leaves the old cap), or the lower when that read fails.
                self.status.max_khz = match self.cpu.max_khz() {
                    Ok(khz) => Some(khz),
                    Err(_) => self.status.max_khz.map(|khz| khz.min(target)),
                };
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
        self.touched = true;
        self.powersave_wanted = want_powersave;
        // Released, each policy gets its own original back (they may differ), not the first
        // policy's; throttled, every policy gets the one powersave governor.
        let (written, what, shown) = match (&self.strategy, want_powersave) {
            (CpuStrategy::Governor { powersave }, true) => (
                self.cpu.set_governor(powersave),
                format!("scaling_governor -> {powersave}"),
                powersave.clone(),
            ),
            _ => (
                self.cpu.restore(),
                format!(
                    "scaling_governor back to each policy's original ({} on the first)",
                    self.original_governor
                ),
                self.original_governor.clone(),
            ),
        };
        match written {
            Ok(()) => {
                log::info!("cpufreq: {what}");
                self.in_doubt = false;
                self.status.governor = Some(shown);
                if !want_powersave {
                    // The restore put every recorded file back, a max-freq cap that an
                    // earlier strategy could not put back (see switch_strategy) too.
                    self.cap_khz = self.original_khz;
                }
            }
            Err(error) => {
                self.in_doubt = true;
                self.write_failed(&format!("set {what}"), &error, now);
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

    /// Logs a summary of the failed reads, writes and recorder calls held back over a
    /// period that ended without another line of their kind (call it every tick).
    /// All held back are summarised when `stopping`.
    pub(crate) fn flush_logs(&mut self, now: Instant, stopping: bool) {
        let read_count = match stopping {
            true => self.read_log.flush_all(now),
            false => self.read_log.flush(now),
        };
        if let Some(count) = read_count {
            let text = "cpufreq: could not read its status";
            log::warn!("{}", SuppressedSummary { count, text });
        }
        let summarise = |text: &str, count| log::warn!("{}", SuppressedSummary { count, text });
        for limiter in [&mut self.write_log, &mut self.record_log] {
            match stopping {
                true => limiter.flush_all(now, summarise),
                false => limiter.flush(now, summarise),
            }
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

    /// Puts the originals back if anything was written, and then tells the recorder the
    /// episode ended; on failure, logs the error and says what was not put back (and the
    /// recorder keeps the originals).
    pub(super) fn restore(&mut self) -> Result<(), String> {
        self.put_back()?;
        self.release_recorded(Instant::now());
        Ok(())
    }

    /// [`restore`](Self::restore) without telling the recorder.
    fn put_back(&mut self) -> Result<(), String> {
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

/// The steps at or below `original_khz` (ascending, without duplicates), ending with it.
fn usable_steps(steps_khz: &[u64], original_khz: u64) -> Vec<u64> {
    let mut usable: Vec<u64> = steps_khz
        .iter()
        .copied()
        .filter(|&k| k < original_khz)
        .collect();
    usable.sort_unstable();
    usable.dedup();
    usable.push(original_khz);
    usable
}
