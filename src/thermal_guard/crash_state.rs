//! The crash-restore state at start: the state directory's lock, the replay of a state
//! file a crashed run left behind, and saving this run's own state before the
//! controller changes anything. A simulated board touches no hardware, so it does none
//! of this.

use std::path::Path;

use warden_hw::{RestoreState, StateDirLock, StateOwner};

use crate::exit::Failure;

/// The state directory once it is this run's: its lock (held for the run's life), and
/// whether this run may save its state there.
pub(super) struct StateDirClaim {
    /// `None` when simulating or when the directory could not be locked.
    pub(super) lock: Option<StateDirLock>,
    /// True once locked, unless an earlier run's state that could not be replayed could
    /// not be moved out of the way either (saving would overwrite it).
    pub(super) may_save: bool,
}

/// Locks `state_dir` and replays what a crashed run left there, before the backends read
/// the "originals" (an earlier run killed while throttling left its changes in place).
/// Another warden holding the lock stops the start (exit 1).
pub(super) fn claim_state_dir(state_dir: &Path, simulated: bool) -> Result<StateDirClaim, Failure> {
    // Before the leftover replay, so no other warden replays or saves meanwhile.
    let lock = if simulated {
        log::info!(
            "simulated board: no crash-restore state is written and {} is not locked",
            state_dir.display()
        );
        None
    } else {
        crate::restore_cmd::lock_state_dir(state_dir)?
    };
    let may_save = match &lock {
        Some(lock) => crate::restore_cmd::replay_leftover_state(lock)?,
        None => false,
    };
    Ok(StateDirClaim { lock, may_save })
}

/// Names this process as the owner of `restore` and saves it in `state_dir`; true when
/// saved. Failures are logged: warden runs on without crash-restore state.
pub(super) fn save_state(restore: &mut RestoreState, state_dir: &Path) -> bool {
    match StateOwner::current() {
        Ok(owner) => restore.set_owner(owner),
        Err(e) => log::warn!(
            "crash-restore state: cannot name this process as its owner ({e}); \
             'warden restore' will not know whether this warden still runs"
        ),
    }
    for skipped in restore.skipped() {
        log::warn!(
            "crash-restore state: {} left out ({}); 'warden restore' will not put it back",
            skipped.entry.path.display(),
            skipped.reason
        );
    }
    match restore.save(state_dir) {
        Ok(path) => {
            log::debug!("crash-restore state in {}", path.display());
            true
        }
        Err(e) => {
            log::warn!("cannot write the crash-restore state ({e}); 'warden restore' will have nothing to undo after a crash");
            false
        }
    }
}
