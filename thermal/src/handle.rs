//! The handle that owns a running controller thread: hands it reloads, and
//! stops it. Stopping disconnects the message channel (which wakes the thread
//! mid-sleep) and waits at most [`STOP_TIMEOUT`] for the thread to restore the
//! hardware. A thread stuck in a hardware call (a sensor read that never
//! returns) is left behind, detached, and reported as
//! [`ControllerError::NotStopped`], so the daemon can still exit.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::actuators::{CpuStrategy, FanOnExit};
use crate::config::PolicyConfig;
use crate::controller::{ControllerConfig, ControllerError};

/// How long [`ControllerHandle::stop`] (and dropping the handle) waits for the thread to
/// put the hardware back before giving up on it: well past a tick and a restore, well
/// short of systemd's stop timeout.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handle tells the running thread; disconnecting the channel stops it.
#[derive(Debug)]
pub(crate) enum Message {
    /// Take this policy from the next tick on.
    Reconfigure(PolicyConfig),
    /// Tick at this interval and throttle with this strategy from now on.
    Retune {
        interval: Duration,
        cpu_strategy: CpuStrategy,
    },
}

/// Owns the running controller thread; stopping or dropping it restores the hardware.
#[derive(Debug)]
pub struct ControllerHandle {
    message_tx: Option<Sender<Message>>,
    /// Disconnects when the thread ends.
    ended_rx: Receiver<()>,
    thread: Option<JoinHandle<Result<(), ControllerError>>>,
}

impl ControllerHandle {
    /// Wraps a spawned controller thread, its message channel and its end signal.
    pub(crate) fn new(
        message_tx: Sender<Message>,
        ended_rx: Receiver<()>,
        thread: JoinHandle<Result<(), ControllerError>>,
    ) -> Self {
        ControllerHandle {
            message_tx: Some(message_tx),
            ended_rx,
            thread: Some(thread),
        }
    }

    /// Stops the thread promptly (mid-sleep) and waits up to [`STOP_TIMEOUT`] for it to set
    /// the fan to its exit duty and restore cpufreq. Errors: [`ControllerError::Panicked`],
    /// [`ControllerError::RestoreFailed`], or [`ControllerError::NotStopped`] when the
    /// thread is stuck (it is then left behind, detached).
    pub fn stop(self) -> Result<(), ControllerError> {
        self.stop_within(STOP_TIMEOUT)
    }

    /// [`ControllerHandle::stop`], waiting at most `timeout` for the thread.
    pub fn stop_within(mut self, timeout: Duration) -> Result<(), ControllerError> {
        self.shutdown(timeout)
    }

    /// Hands the running thread a new policy (a reload), taken before its next tick.
    /// `policy` is validated here, so a bad one is refused and the running one stays.
    pub fn reconfigure(&self, policy: PolicyConfig) -> Result<(), ControllerError> {
        policy.validate()?;
        self.message_tx
            .as_ref()
            .ok_or(ControllerError::Stopped)?
            .send(Message::Reconfigure(policy))
            .map_err(|_| ControllerError::Stopped)
    }

    /// Hands the running thread a new tick interval and cpu strategy (a reload). Both are
    /// validated here; a strategy change puts cpufreq back first and, if the policy is
    /// throttling, applies the new strategy at once. The fan's exit duty stays as spawned.
    pub fn retune(
        &self,
        interval: Duration,
        cpu_strategy: CpuStrategy,
    ) -> Result<(), ControllerError> {
        let checked = ControllerConfig {
            interval,
            cpu_strategy,
            fan_on_exit: FanOnExit::default(),
        };
        checked.validate()?;
        self.message_tx
            .as_ref()
            .ok_or(ControllerError::Stopped)?
            .send(Message::Retune {
                interval,
                cpu_strategy: checked.cpu_strategy,
            })
            .map_err(|_| ControllerError::Stopped)
    }

    /// True once the thread has ended (stopped, or panicked).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().map_or(true, JoinHandle::is_finished)
    }

    fn shutdown(&mut self, timeout: Duration) -> Result<(), ControllerError> {
        // Disconnecting the channel wakes the thread out of its sleep.
        drop(self.message_tx.take());
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        if let Err(RecvTimeoutError::Timeout) = self.ended_rx.recv_timeout(timeout) {
            // Dropping the JoinHandle detaches the thread: should its hardware call ever
            // return, it still restores what it can, but nobody waits for that.
            drop(thread);
            return Err(ControllerError::NotStopped { waited: timeout });
        }
        thread.join().map_err(|_| ControllerError::Panicked)?
    }
}

impl Drop for ControllerHandle {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown(STOP_TIMEOUT) {
            log::error!("{error}");
        }
    }
}
