//! A SIGHUP's thermal changes handed to the running controller: a new policy, a new
//! tick interval or cpu strategy. The controller refuses what cannot work and logs what
//! it takes; this side adds the one thing only the daemon knows: a cpu strategy change
//! on a machine where start-up found no cpufreq policy has nothing to apply to, and the
//! warning names where it looked.

use std::path::{Path, PathBuf};

use warden_thermal::{ControllerConfig, ControllerError, CpuStrategy, PolicyConfig};

use super::ThermalGuard;

/// Where start-up looked for cpufreq and found no policy, and the cpu strategy asked for
/// since (at start, then by each reload).
pub(super) struct MissingCpufreq {
    dir: PathBuf,
    strategy: CpuStrategy,
}

impl MissingCpufreq {
    /// No policy under `dir`; `strategy` is the one the controller started with.
    pub(super) fn new(dir: PathBuf, strategy: CpuStrategy) -> Self {
        MissingCpufreq { dir, strategy }
    }
}

impl ThermalGuard {
    /// Hands the running controller a new policy (a SIGHUP); a bad one is refused
    /// and the running one stays.
    pub fn reconfigure(&self, policy: PolicyConfig) -> Result<(), ControllerError> {
        self.handle
            .as_ref()
            .ok_or(ControllerError::Stopped)?
            .reconfigure(policy)
    }

    /// Records in the crash-restore state the cpufreq file `strategy` writes, before a
    /// reload hands that strategy over. While warden holds a throttle (the new strategy
    /// throttles at once) the state is saved with it: a file it cannot record would be
    /// left changed by a crash with nothing to put it back, so the caller keeps the
    /// running strategy. While warden holds none, nothing is recorded: the next throttle
    /// episode records the files of the strategy it throttles with. Without a saved state
    /// (none could be written at start) the files are only noted, for the
    /// values-to-put-back-by-hand message of a failed exit.
    pub fn record_strategy(&mut self, strategy: &CpuStrategy) -> Result<(), String> {
        // Also without a saved state: the message at a failed exit lists it by hand.
        let save_in = self.state_saved.then_some(self.state_dir.as_path());
        self.crash
            .switch_strategy(strategy.files(), save_in)
            .map_err(|e| {
                format!(
                    "its cpufreq file cannot be recorded in the crash-restore state ({e}), so \
                     a crash would leave it changed with nothing to put it back"
                )
            })
    }

    /// Hands the running controller a new tick interval and cpu strategy (a SIGHUP; a
    /// new strategy went through [`record_strategy`](Self::record_strategy) first). A
    /// changed strategy with no cpufreq to apply it to is logged as one warning.
    pub fn retune(&mut self, settings: &ControllerConfig) -> Result<(), ControllerError> {
        self.handle
            .as_ref()
            .ok_or(ControllerError::Stopped)?
            .retune(settings.interval, settings.cpu_strategy.clone())?;
        if let Some(missing) = &mut self.missing_cpufreq {
            let previous = std::mem::replace(&mut missing.strategy, settings.cpu_strategy.clone());
            if let Some(warning) =
                no_cpufreq_warning(&previous, &settings.cpu_strategy, &missing.dir)
            {
                log::warn!("{warning}");
            }
        }
        Ok(())
    }
}

/// The warning for a reload that moves the cpu strategy from `previous` to `next` when
/// start-up found no cpufreq policy in `dir`; `None` when the strategy did not change, or
/// changed to `off` (nothing to apply, as asked).
fn no_cpufreq_warning(previous: &CpuStrategy, next: &CpuStrategy, dir: &Path) -> Option<String> {
    if previous == next || *next == CpuStrategy::Off {
        return None;
    }
    let governor = match next {
        CpuStrategy::Governor { powersave } => format!(" (powersave_governor \"{powersave}\")"),
        _ => String::new(),
    };
    Some(format!(
        "SIGHUP: [cpufreq] strategy is now \"{}\"{governor}, but there is no cpufreq to apply \
         it to: start-up found no policy* directory under {}, so warden cannot slow the CPU",
        next.as_str(),
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governor(name: &str) -> CpuStrategy {
        CpuStrategy::Governor {
            powersave: name.into(),
        }
    }

    #[test]
    fn a_strategy_change_without_cpufreq_names_the_directory_looked_at() {
        let dir = Path::new("/fake/sys/devices/system/cpu/cpufreq");
        let warning = no_cpufreq_warning(&CpuStrategy::MaxFreq, &governor("powersave"), dir)
            .expect("a change with no cpufreq is warned about");
        assert!(
            warning.contains("\"governor\"")
                && warning.contains("no cpufreq to apply it to")
                && warning.contains("/fake/sys/devices/system/cpu/cpufreq"),
            "{warning}"
        );
        let other_governor =
            no_cpufreq_warning(&governor("powersave"), &governor("conservative"), dir);
        assert!(
            other_governor.is_some_and(|w| w.contains("\"conservative\"")),
            "a new powersave governor is a change too"
        );
    }

    #[test]
    fn no_warning_without_a_change_or_for_off() {
        let dir = Path::new("/fake/cpufreq");
        let max_freq = CpuStrategy::MaxFreq;
        assert_eq!(no_cpufreq_warning(&max_freq, &max_freq, dir), None);
        assert_eq!(no_cpufreq_warning(&max_freq, &CpuStrategy::Off, dir), None);
    }
}
