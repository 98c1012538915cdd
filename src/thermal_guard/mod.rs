//! Builds the hardware backends and the thermal controller from the config,
//! and connects the controller's admission decisions to the event loop.
//!
//! The controller thread owns the hardware. Before it changes anything, the
//! values to put back are written to a state file in `hardware.state_dir`,
//! so `warden restore` can undo a crash (SIGKILL); a clean stop restores the
//! hardware itself and removes the file. At start the file holds the fan's
//! entries alone; at the start of each throttle episode the controller takes the
//! cpufreq originals afresh and the file is saved with them before the throttle
//! is written, and saved without them again once the throttle is released, so a
//! crash restore never undoes a cpufreq change made while warden held no
//! throttle. A stop
//! that could not restore (a failed write, a controller stuck in a sensor read)
//! keeps the file and is an error the daemon exits 1 on. The file names this process as its owner, so
//! `warden restore` refuses while it runs. A state file found at start is an
//! earlier run's crash: it is replayed before the originals are captured, so a
//! throttled clock is never taken for one.
//!
//! Before that, the daemon takes the exclusive lock `<state_dir>/warden.lock`
//! and holds it for its life: a second warden on the same state directory
//! (started at the same moment, or with `/proc` hidden) finds it held and
//! stops there. A simulated board touches no hardware, so it neither locks
//! nor writes a state file.
//!
//! One file per concern: [`startup`] opens the hardware and starts the
//! controller, [`crash_state`] locks the state directory and saves the state
//! file, [`settings`] maps the config onto warden-hw's and warden-thermal's
//! settings, [`reload`] hands a SIGHUP's changes to the running controller,
//! and [`shutdown`] stops it and reports what could not be put back.

mod crash_state;
mod reload;
#[cfg(test)]
mod scratch_dir;
mod settings;
mod shutdown;
mod startup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use warden_hw::StateDirLock;
use warden_thermal::{ControllerHandle, SharedSnapshot};

use crate::simulate::Simulation;
use crash_state::CrashRecord;
use reload::MissingCpufreq;

pub use settings::{controller_config, hardware_spec, policy_config};
pub use startup::start;

/// How long the daemon waits for the controller's first reading before the event
/// loop runs (it reports ready without one after that); the status page says
/// "starting" meanwhile.
pub const FIRST_READING_TIMEOUT: Duration = Duration::from_secs(5);

/// The running thermal controller and what it needs at shutdown.
pub struct ThermalGuard {
    handle: Option<ControllerHandle>,
    snapshot: Arc<SharedSnapshot>,
    state_dir: PathBuf,
    state_saved: bool,
    /// The writes that put the hardware back after a crash: saved in `state_dir` (again
    /// at the start and the end of each throttle episode, and when a reload's strategy
    /// writes more while a throttle is held), and named in the message when they fail and
    /// no state file was saved (the values to put back by hand).
    crash: CrashRecord,
    /// Set when `[cpufreq]` asked for a cpufreq policy and start-up found none: a reload
    /// that changes the cpu strategy has nothing to apply it to, and says where it looked.
    /// Boxed: most machines have cpufreq, and the guard stays small.
    missing_cpufreq: Option<Box<MissingCpufreq>>,
    /// The in-process Pi model when simulating; dropped after the controller.
    simulation: Option<Simulation>,
    /// The state directory's lock, held until after the state file is removed; `None`
    /// when simulating or when the directory could not be locked.
    _state_lock: Option<StateDirLock>,
}

/// What thermal control is doing on this machine.
pub enum ThermalStart {
    /// The controller runs.
    Running(ThermalGuard),
    /// No thermal zone exists and none was named: no thermal control.
    NoSensor {
        /// Why, as the log and the status page say it.
        reason: String,
        /// The state directory's lock: keep it for the whole run, so a second warden on
        /// the same `hardware.state_dir` still refuses to start; `None` when simulating.
        state_lock: Option<StateDirLock>,
    },
}

impl ThermalGuard {
    /// The controller's published state (for status and readiness).
    pub fn snapshot(&self) -> Arc<SharedSnapshot> {
        Arc::clone(&self.snapshot)
    }

    /// The controller's published state, borrowed.
    pub fn shared(&self) -> &SharedSnapshot {
        &self.snapshot
    }
}

impl Drop for ThermalGuard {
    fn drop(&mut self) {
        // Also on unwinding from a panic in the event loop; a failure is logged already.
        let _ = self.shutdown();
    }
}
