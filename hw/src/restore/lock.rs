//! The exclusive lock that makes one warden the only one on a state directory.
//!
//! Two wardens on the same `hardware.state_dir` would fight over the same fan, cpufreq and
//! state file; asking whether the state file's owner still runs is check-then-act (two
//! starts at the same moment both see no owner) and depends on `/proc` (mounted `hidepid`,
//! a live owner looks dead). So `warden run` holds `flock(LOCK_EX)` on
//! `<state_dir>/warden.lock` for its whole life, and `warden restore` takes the same lock
//! before it replays anything. The kernel drops the lock when the holder exits or crashes,
//! so a stale lock file never blocks anyone; the pid written into it only serves messages.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::owner::is_warden_pid;
use crate::error::{Access, HwError};
use crate::sysfs_io::ensure_regular;

/// Name of the lock file inside the state directory.
pub const LOCK_FILE_NAME: &str = "warden.lock";

/// What [`HwError::NotRegularFile`] says the lock file should be.
const LOCK_FILE_KIND: &str = "warden's lock file (a regular file): remove it, or set \
                              hardware.state_dir to a directory of warden's own";

/// The most of a lock file read for the holder's pid.
const LOCK_FILE_MAX_BYTES: u64 = 64;

/// Why [`StateDirLock::acquire`] did not take the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (another warden) holds the lock.
    #[error("{} is locked by another warden{}", lock_file.display(), holder_text(*holder))]
    Held {
        /// The lock file.
        lock_file: PathBuf,
        /// The holder's pid: as it wrote it into the lock file, else from the state file's
        /// owner line, when either is readable and names a running warden.
        holder: Option<u32>,
    },
    /// The lock file could not be created, opened or locked (read-only filesystem, not a
    /// directory, a FIFO or symlink at the lock path).
    #[error(transparent)]
    Unavailable(#[from] HwError),
}

/// ` (pid N)` for a known holder, nothing otherwise: the holder as messages name it.
pub(crate) fn holder_text(holder: Option<u32>) -> String {
    holder.map_or_else(String::new, |pid| format!(" (pid {pid})"))
}

/// The held lock on a state directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StateDirLock {
    state_dir: PathBuf,
    // Held open for the lock's life: closing the last fd of it releases the flock.
    _file: File,
}

impl StateDirLock {
    /// Takes the exclusive lock on `state_dir` without blocking, creating the directory and
    /// `warden.lock` (mode 0644) as needed, and writes this process's pid into the file.
    /// A symlink, FIFO or any other non-regular file at the lock path is refused
    /// (without blocking), never followed.
    pub fn acquire(state_dir: &Path) -> Result<Self, LockError> {
        let path = lock_path(state_dir);
        super::create_state_dir(state_dir)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
            .map_err(|e| HwError::from_state_io(&path, Access::Write, e))?;
        let metadata = file
            .metadata()
            .map_err(|e| HwError::from_state_io(&path, Access::Read, e))?;
        ensure_regular(&path, metadata.file_type(), LOCK_FILE_KIND)?;
        // SAFETY: flock on an fd this function owns; LOCK_NB makes it return at once.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                // The holder writes its pid just after locking, so it may not be there
                // yet: the owner line of the state file it saved then names it. Either can
                // be stale or forged, so only a running warden is named (and so advised to
                // be killed), never another process.
                let holder = read_pid(&mut file)
                    .filter(|pid| is_warden_pid(*pid))
                    .or_else(|| {
                        let state = super::RestoreState::load(state_dir).ok().flatten()?;
                        let owner = state.owner()?;
                        owner.is_running().unwrap_or(false).then_some(owner.pid)
                    });
                return Err(LockError::Held {
                    holder,
                    lock_file: path,
                });
            }
            return Err(HwError::from_state_io(&path, Access::Write, error).into());
        }
        // Only a message aid: a failure to record the pid does not cost the lock.
        let record = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(format!("{}\n", std::process::id()).as_bytes())
        };
        if let Err(e) = record(&mut file) {
            log::debug!("cannot write this pid into {}: {e}", path.display());
        }
        Ok(StateDirLock {
            state_dir: state_dir.to_path_buf(),
            _file: file,
        })
    }

    /// [`StateDirLock::acquire`] for a reader such as `warden restore`, which must not
    /// create a state directory: `Ok(None)` when `state_dir` does not exist (so there is
    /// nothing to restore and no warden to collide with).
    pub fn acquire_existing(state_dir: &Path) -> Result<Option<Self>, LockError> {
        match fs::metadata(state_dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => Self::acquire(state_dir).map(Some),
        }
    }

    /// The locked state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

/// Path of the lock file inside `state_dir`.
pub fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join(LOCK_FILE_NAME)
}

/// The pid the lock's holder wrote into the lock file, if it is there and readable.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(LOCK_FILE_MAX_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok().filter(|pid| *pid > 0)
}
