//! Applying decisions to the fan and cpufreq backends, and putting them back.
//!
//! Writes happen only when the wanted value differs from the applied one, or
//! when the previous write failed; the fan also writes an unchanged duty again
//! every [`fan::FAN_REASSERT_PERIOD`], in case something else changed it. A failed write is counted, logged at most
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
//!
//! The fan side is [`fan`], the cpufreq side [`cpu`]; what the cpufreq side tells the
//! daemon's crash-restore state is [`recorder`].

mod cpu;
mod fan;
mod recorder;

pub(crate) use cpu::CpuActuator;
pub use cpu::CpuStrategy;
pub(crate) use fan::FanActuator;
pub use fan::FanOnExit;
pub use recorder::OriginalsRecorder;

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
