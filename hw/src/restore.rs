//! The crash-restore state file: the sysfs writes that undo warden's changes.
//!
//! Before changing anything the daemon saves a [`RestoreState`] — each file warden may
//! have changed and the value to put back (the fan's `on_exit` value, nothing for
//! `on_exit = "leave"`; the cpufreq originals only while it holds a throttle, saved again
//! at each throttle's start and release) — to `<state_dir>/restore.state`. On a clean
//! exit it restores in-process and removes the file; after a SIGKILL, `warden restore`
//! (systemd `ExecStopPost`) calls [`restore_from_state`]. Only plain file writes are
//! recorded: a GPIO or hardware-PWM fan keeps its last level anyway.
//!
//! Format, one entry per line after a header and the owner, applied in order:
//! ```text
//! # warden restore state v1
//! # owner pid=812 start_time=4711 boot_id=0f3c…
//! /sys/devices/system/cpu/cpufreq/policy0/scaling_governor<TAB>ondemand
//! /sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq<TAB>1500000
//! ```
//! Paths are absolute (already resolved under the sysfs root when saved), so restoring
//! needs no configuration beyond the state directory. An entry the format cannot hold (an
//! empty value, a tab or newline, a non-UTF-8 path) is left out and listed by
//! [`RestoreState::skipped`]; it never costs the other entries their place in the file.
//!
//! Only the cpufreq files the throttling strategy writes are recorded
//! ([`crate::cpufreq::CpuFreqFiles`]): a file warden never writes is never put back. A
//! sysfs entry is written like an attribute, never created; the `file` fan's entry is
//! preceded by [`CREATE_LINE`] and replaces the file whole, creating it when missing, as
//! the fan does (older parsers take that line for a comment). The create line counts only
//! for the entry on the very next line, and only for a path with no `sys` directory in it:
//! before a sysfs path it creates nothing.
//!
//! A restore writes only the files warden records ([`targets`]): a state file naming any
//! other file, or a file to create that is not the configured `file` fan's, has that entry
//! refused, nothing written to it. Nor does it reach another file under a recorded name:
//! an attribute is opened with `O_NOFOLLOW` (a symbolic link there is refused), and a
//! regular file with other hard links in an attribute's or the file fan's place is refused
//! ([`HwError::RefusedValue`]) and left as it is, since none that warden writes has any. A
//! restore run as root on a state directory another account can write therefore cannot be
//! steered to other files.
//!
//! Every line the writer puts out ends in a newline, so a file whose last line does not
//! was cut short (a full disk, a crash mid-write): it is refused whole, never replayed in
//! part, and so is a file holding what the writer never writes (two entries for one path,
//! a value over [`STATE_VALUE_MAX_BYTES`], a create line apart from its entry). A
//! `scaling_max_freq` value outside its policy's `cpuinfo_min_freq` .. `cpuinfo_max_freq`
//! is refused, not written ([`HwError::RefusedValue`]), create line or not. A write the
//! kernel refuses to a file that already holds the value (an immutable policy warden never
//! changed) counts as restored; that read-back obeys the same rules as the write (no
//! symbolic link, no file with other hard links), so a link swapped in after the failed
//! write to a file holding the value does not pass for a restored one.
//!
//! The owner line names the warden that wrote the file ([`StateOwner`]): a restore refuses
//! while it still runs ([`RestoreError::OwnerRunning`]); a live process that is not a
//! warden is not taken for it (see [`owner`]). It is a comment to the parser of
//! older versions, so their `warden restore` still replays the file, and a file without it
//! (from an older version) is replayed as before.
//!
//! The owner check depends on `/proc` and is check-then-act, so the state directory is also
//! guarded by an exclusive lock ([`lock::StateDirLock`] on `warden.lock`): `warden run`
//! holds it for its life, [`restore_from_state`] takes it before replaying and refuses
//! while another process holds it ([`RestoreError::LockHeld`]).
//!
//! A leftover file that cannot be replayed is moved aside to
//! [`UNREPLAYED_FILE_NAME`] ([`set_aside_unreplayed`]) before a new state is saved, so its
//! values are not lost; a restore never reads that file.
//!
//! The file is read like a sysfs attribute is: opened without blocking, only when it is a
//! regular file, and at most [`STATE_FILE_MAX_BYTES`] of it. It is written through a fresh
//! temp file created with `O_EXCL | O_NOFOLLOW`, so a FIFO or symlink left at the temp path
//! neither hangs the save nor redirects it.

mod format;
pub mod lock;
pub mod owner;
pub mod targets;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cpufreq::{check_restore_value, CpuFreqFiles};
use crate::error::{Access, HwError};
use crate::fan::FileFan;
use crate::sysfs_io::{
    ensure_regular, in_sysfs, open_nonblocking, read_capped, replace_recorded_file,
    replace_through_temp, write_recorded_attribute,
};
use crate::{CpuFreq, Fan};

pub use lock::{LockError, StateDirLock};
pub use owner::StateOwner;
pub use targets::RestoreTargets;

/// Default directory of the state file (systemd `RuntimeDirectory=warden`).
pub const DEFAULT_STATE_DIR: &str = "/run/warden";
/// Name of the state file inside the state directory.
pub const STATE_FILE_NAME: &str = "restore.state";
/// Name a leftover state file that could not be replayed is moved to (see
/// [`set_aside_unreplayed`]); `warden restore` does not read it.
pub const UNREPLAYED_FILE_NAME: &str = "restore.state.unreplayed";
/// Name of the temp file a state is written to before it is renamed into place.
pub const TEMP_FILE_NAME: &str = "restore.state.tmp";
/// First line of every state file.
pub const STATE_FILE_HEADER: &str = "# warden restore state v1";
/// Start of the line naming the owner: `# owner pid=<pid> start_time=<ticks> [boot_id=<id>]`.
pub const OWNER_LINE_PREFIX: &str = "# owner ";
/// The line before an entry whose file is created when missing (the `file` fan's): a
/// comment to older parsers.
pub const CREATE_LINE: &str = "# create-if-missing";
/// The most of a state file that is read: far more than any real one (a few lines per
/// cpufreq policy), little enough that a wrong file cannot eat memory.
pub const STATE_FILE_MAX_BYTES: usize = 64 * 1024;
/// The longest value an entry may hold: warden's are a frequency, a governor name or a fan
/// duty; a longer one is not recorded, and a file holding one is refused as not warden's.
pub const STATE_VALUE_MAX_BYTES: usize = 256;

/// What [`HwError::NotRegularFile`] says the state file should be.
const STATE_FILE_KIND: &str = "a warden restore state file (a regular file): \
                               remove it, or set hardware.state_dir to a directory of warden's own";

/// One write to replay: put `value` into `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreEntry {
    /// The file to write (absolute in a saved state).
    pub path: PathBuf,
    /// The text to write.
    pub value: String,
    /// True for a plain file replaced whole and created when missing (the `file` fan's);
    /// false for a sysfs attribute, written in place and never created.
    pub creates_file: bool,
}

impl RestoreEntry {
    /// An entry writing `value` to the sysfs attribute `path` (never created).
    pub fn new(path: impl Into<PathBuf>, value: impl Into<String>) -> Self {
        RestoreEntry {
            path: path.into(),
            value: value.into(),
            creates_file: false,
        }
    }

    /// An entry replacing the plain file `path` with `value`, creating it when missing, as
    /// the `file` fan writes it.
    pub fn plain_file(path: impl Into<PathBuf>, value: impl Into<String>) -> Self {
        RestoreEntry {
            creates_file: true,
            ..RestoreEntry::new(path, value)
        }
    }

    /// Writes the value once [`check_restore_value`] found it plausible: a plain file
    /// outside sysfs replaced (created when missing), anything else written in place as a
    /// sysfs attribute, even when marked [`RestoreEntry::creates_file`]. A symbolic link in
    /// an attribute's place, or a regular file with other hard links in either's, is
    /// refused. A refused write to a file that already holds the value is a success, when
    /// the file read back is neither.
    fn write(&self) -> Result<(), HwError> {
        check_restore_value(&self.path, &self.value)?;
        if self.creates_file && !in_sysfs(&self.path) {
            return replace_recorded_file(&self.path, &self.value, FileFan::PATH_SETTING);
        }
        write_recorded_attribute(&self.path, &self.value)
    }
}

/// `PATH = VALUE`, as messages name an entry.
impl fmt::Display for RestoreEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.path.display(), self.value)
    }
}

/// The entries as `PATH = VALUE, PATH = VALUE`, for messages.
pub fn list_entries(entries: &[RestoreEntry]) -> String {
    entries
        .iter()
        .map(RestoreEntry::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An entry left out of a [`RestoreState`] because the state file cannot hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry as given.
    pub entry: RestoreEntry,
    /// Why it cannot be recorded.
    pub reason: &'static str,
}

/// The ordered writes that undo warden's hardware changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreState {
    owner: Option<StateOwner>,
    entries: Vec<RestoreEntry>,
    skipped: Vec<SkippedEntry>,
}

/// Why a restore failed as a whole (a single failed write is in [`RestoreReport::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The state file or its owner's `/proc` entry could not be read (nothing was written),
    /// or the file could not be removed after every write succeeded.
    #[error(transparent)]
    Hw(#[from] HwError),
    /// The warden that wrote the state file still runs: restoring now would undo its fan and
    /// cpufreq settings underneath it.
    #[error(
        "{state_file} belongs to a warden that is still running (pid {pid}); putting the fan and \
         cpufreq back now would undo its settings underneath it: stop that warden instead \
         (systemctl stop warden, or kill -TERM {pid}), which restores them and removes the file itself",
        pid = owner.pid
    )]
    OwnerRunning {
        /// The state file, kept untouched.
        state_file: PathBuf,
        /// The running warden that wrote it.
        owner: StateOwner,
    },
    /// Another process (a running warden) holds the state directory's lock: restoring now
    /// would undo its settings underneath it.
    #[error(
        "{} is locked by a warden that is still running{}; putting the fan and cpufreq back now \
         would undo its settings underneath it: stop that warden instead (systemctl stop warden{}), \
         which restores them and removes {} itself",
        lock_file.display(),
        lock::holder_text(*holder),
        holder.map_or_else(String::new, |pid| format!(", or kill -TERM {pid}")),
        state_file.display()
    )]
    LockHeld {
        /// The state file, kept untouched.
        state_file: PathBuf,
        /// The lock file (`<state_dir>/warden.lock`).
        lock_file: PathBuf,
        /// The holder's pid: from the lock file, else from the state file's owner line.
        holder: Option<u32>,
    },
}

/// What a restore did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// The state file consulted.
    pub state_file: PathBuf,
    /// False when there was no state file (a clean exit already restored everything).
    pub found: bool,
    /// Entries written back.
    pub restored: Vec<RestoreEntry>,
    /// Entries that could not be written, with why.
    pub failed: Vec<(RestoreEntry, HwError)>,
    /// True when the state file was removed (everything restored).
    pub removed: bool,
    /// Why the state file is still there although everything was restored (a read-only
    /// state directory): replaying it again writes the same values.
    pub not_removed: Option<HwError>,
}

impl RestoreReport {
    /// True when nothing failed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Path of the state file inside `state_dir`.
pub fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE_NAME)
}

impl RestoreState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cpufreq originals of the files the throttling strategy writes (`cpufreq_files`,
    /// see [`CpuFreqFiles`]), then the fan's writes: `fan_exit_duty` `Some(d)` records the
    /// writes setting duty `d` (the `on_exit` action), `None` ("leave") records none. Entries
    /// the file cannot hold go to [`RestoreState::skipped`].
    pub fn capture(
        fan: &dyn Fan,
        fan_exit_duty: Option<f64>,
        cpufreq: Option<&dyn CpuFreq>,
        cpufreq_files: CpuFreqFiles,
    ) -> Self {
        let mut state = RestoreState::new();
        let cpufreq_entries = cpufreq.map(|c| c.restore_entries()).unwrap_or_default();
        for entry in cpufreq_entries
            .into_iter()
            .filter(|entry| cpufreq_files.covers(&entry.path))
            .chain(fan.restore_entries(fan_exit_duty))
        {
            state.push(entry);
        }
        state
    }

    /// Appends one entry, its path made absolute; one the state file cannot hold (see
    /// [`SkippedEntry`]), or a second one for the same path, is set aside in
    /// [`RestoreState::skipped`] instead.
    pub fn push(&mut self, entry: RestoreEntry) {
        let entry = RestoreEntry {
            path: absolute(&entry.path),
            ..entry
        };
        let duplicate = self.entries.iter().any(|e| e.path == entry.path);
        let reason = match duplicate {
            true => Some("an earlier entry already puts back this path"),
            false => unrecordable(&entry),
        };
        match reason {
            Some(reason) => self.skipped.push(SkippedEntry { entry, reason }),
            None => self.entries.push(entry),
        }
    }

    /// Records `owner` as the process that saved this state (see [`StateOwner::current`]).
    pub fn set_owner(&mut self, owner: StateOwner) {
        self.owner = Some(owner);
    }

    /// The process that saved this state; `None` in a file from an older version.
    pub fn owner(&self) -> Option<&StateOwner> {
        self.owner.as_ref()
    }

    /// The entries, in the order they are replayed.
    pub fn entries(&self) -> &[RestoreEntry] {
        &self.entries
    }

    /// Entries left out because the state file cannot hold them, with why: worth a warning,
    /// the other entries are saved regardless.
    pub fn skipped(&self) -> &[SkippedEntry] {
        &self.skipped
    }

    /// True when there is nothing to restore.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes `<state_dir>/restore.state` atomically (temp file, fsync, rename), creating
    /// the directory if needed; returns the file's path. Skipped entries are not in it.
    ///
    /// Whatever is at the temp path (a stale temp file, a FIFO, a symlink) is removed first
    /// and the temp file created afresh with `O_EXCL | O_NOFOLLOW`: the save never blocks on
    /// a FIFO and never writes through a symlink. A save that fails part-way (a full disk
    /// mid-write, a failed fsync or rename) removes the temp file again, so no empty or
    /// half-written one is left in the state directory.
    pub fn save(&self, state_dir: &Path) -> Result<PathBuf, HwError> {
        let path = state_path(state_dir);
        let text = format::to_text(self);
        create_state_dir(state_dir)?;
        let tmp = state_dir.join(TEMP_FILE_NAME);
        replace_through_temp(&path, &tmp, &text, true, |failed, e| {
            HwError::from_state_io(failed, Access::Write, e)
        })
        .inspect_err(|_| remove_failed_temp(&tmp))?;
        Ok(path)
    }

    /// Reads `<state_dir>/restore.state`; `Ok(None)` when there is none. Anything but a
    /// regular file there (a FIFO, a directory) is [`HwError::NotRegularFile`], without
    /// blocking; a file over [`STATE_FILE_MAX_BYTES`] is [`HwError::StateFile`].
    pub fn load(state_dir: &Path) -> Result<Option<Self>, HwError> {
        let path = state_path(state_dir);
        match read_state_text(&path)? {
            Some(text) => format::parse(&path, &text).map(Some),
            None => Ok(None),
        }
    }

    /// Writes every entry back, in order, continuing past failures; a sysfs value that
    /// cannot be right, or a file not among `targets`, is refused, not written
    /// ([`HwError::RefusedValue`] in the report).
    pub fn apply(&self, targets: &RestoreTargets) -> RestoreReport {
        let mut report = RestoreReport {
            found: true,
            ..RestoreReport::default()
        };
        for entry in &self.entries {
            match targets.check(entry).and_then(|()| entry.write()) {
                Ok(()) => report.restored.push(entry.clone()),
                Err(e) => report.failed.push((entry.clone(), e)),
            }
        }
        report
    }

    /// Removes `<state_dir>/restore.state`; `Ok(false)` when there was none.
    pub fn remove(state_dir: &Path) -> Result<bool, HwError> {
        let path = state_path(state_dir);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(HwError::from_state_io(&path, Access::Write, e)),
        }
    }
}

/// Replays `<state_dir>/restore.state` (for `warden restore` after a crash) and removes it
/// when every write succeeded; a missing file is a successful no-op (`found == false`).
/// A failed write is reported, and the file kept so a later run can retry.
///
/// First takes the state directory's lock without blocking: while another process holds
/// it, nothing is read or written ([`RestoreError::LockHeld`]). When the lock cannot be
/// taken for another reason (no state directory, a read-only filesystem) it goes on with
/// the owner check alone. While the warden that wrote the file still runs, nothing is
/// written and the file is kept ([`RestoreError::OwnerRunning`]); a file without an owner
/// is replayed.
pub fn restore_from_state(
    state_dir: &Path,
    targets: &RestoreTargets,
) -> Result<RestoreReport, RestoreError> {
    match StateDirLock::acquire_existing(state_dir) {
        Ok(Some(lock)) => restore_from_state_locked(&lock, targets),
        Ok(None) => replay(state_dir, targets),
        Err(LockError::Held { lock_file, holder }) => Err(RestoreError::LockHeld {
            state_file: state_path(state_dir),
            lock_file,
            holder,
        }),
        Err(LockError::Unavailable(e)) => {
            log::warn!("cannot lock the state directory ({e}); replaying on the owner check alone");
            replay(state_dir, targets)
        }
    }
}

/// [`restore_from_state`] for a caller that already holds the state directory's lock (a
/// starting `warden run` replaying an earlier run's leftover).
pub fn restore_from_state_locked(
    lock: &StateDirLock,
    targets: &RestoreTargets,
) -> Result<RestoreReport, RestoreError> {
    replay(lock.state_dir(), targets)
}

/// Moves a leftover `<state_dir>/restore.state` that could not be replayed to
/// `<state_dir>/restore.state.unreplayed` (replacing an older one), so saving a new state
/// does not overwrite its values; returns the new path, `None` when there was no file.
pub fn set_aside_unreplayed(state_dir: &Path) -> Result<Option<PathBuf>, HwError> {
    let from = state_path(state_dir);
    let to = state_dir.join(UNREPLAYED_FILE_NAME);
    match fs::rename(&from, &to) {
        Ok(()) => Ok(Some(to)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HwError::from_state_io(&to, Access::Write, e)),
    }
}

/// Creates `state_dir` if needed; a file standing where it should be is
/// [`HwError::NotADirectory`].
pub(crate) fn create_state_dir(state_dir: &Path) -> Result<(), HwError> {
    fs::create_dir_all(state_dir).map_err(|e| {
        let file_in_the_way = e.kind() == std::io::ErrorKind::AlreadyExists && !state_dir.is_dir();
        if file_in_the_way {
            HwError::NotADirectory {
                path: state_dir.to_path_buf(),
            }
        } else {
            HwError::from_state_io(state_dir, Access::Write, e)
        }
    })
}

/// Removes the temp file of a save that failed; the save's error is what matters, so a
/// failure here (nothing there, or what stood there from the start) is only logged.
fn remove_failed_temp(tmp: &Path) {
    match fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::debug!("cannot remove {} after a failed save: {e}", tmp.display()),
    }
}

/// The replay itself, the lock question settled.
fn replay(state_dir: &Path, targets: &RestoreTargets) -> Result<RestoreReport, RestoreError> {
    let state_file = state_path(state_dir);
    let Some(state) = RestoreState::load(state_dir)? else {
        return Ok(RestoreReport {
            state_file,
            ..RestoreReport::default()
        });
    };
    if let Some(owner) = state.owner() {
        if owner.is_running()? {
            return Err(RestoreError::OwnerRunning {
                state_file,
                owner: owner.clone(),
            });
        }
    }
    let mut report = state.apply(targets);
    report.state_file = state_file;
    if report.is_complete() {
        match RestoreState::remove(state_dir) {
            Ok(removed) => report.removed = removed,
            Err(e) => report.not_removed = Some(e),
        }
    }
    Ok(report)
}

/// The text of the state file at `path`, `None` when there is none: opened without blocking
/// (a FIFO there must not hang a restore), refused unless a regular file, read up to
/// [`STATE_FILE_MAX_BYTES`].
fn read_state_text(path: &Path) -> Result<Option<String>, HwError> {
    let file = match open_nonblocking(path, Access::Read) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HwError::from_state_io(path, Access::Read, e)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| HwError::from_state_io(path, Access::Read, e))?;
    ensure_regular(path, metadata.file_type(), STATE_FILE_KIND)?;
    let whole_file = |reason: String| HwError::StateFile {
        path: path.to_path_buf(),
        line: 0,
        reason,
    };
    let bytes = read_capped(file, STATE_FILE_MAX_BYTES)
        .map_err(|e| HwError::from_state_io(path, Access::Read, e))?
        .ok_or_else(|| {
            whole_file(format!(
                "larger than {STATE_FILE_MAX_BYTES} bytes, so not a state file warden wrote"
            ))
        })?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| whole_file("not UTF-8 text, so not a state file warden wrote".into()))
}

/// `path` made absolute against the current directory (paths from a relative sysfs root).
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
}

/// Why the line format cannot hold `entry` (its path already absolute), if it cannot.
fn unrecordable(entry: &RestoreEntry) -> Option<&'static str> {
    let Some(path) = entry.path.to_str() else {
        return Some("the path is not UTF-8");
    };
    if path.contains(['\t', '\n']) {
        Some("the path holds a tab or newline")
    } else if entry.value.is_empty() {
        Some("the value is empty")
    } else if entry.value.contains(['\t', '\n']) {
        Some("the value holds a tab or newline")
    } else if entry.value.len() > STATE_VALUE_MAX_BYTES {
        Some("the value is longer than 256 bytes")
    } else {
        None
    }
}

#[cfg(test)]
mod save_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overlong_value_reason_quotes_the_limit_in_force() {
        let entry = RestoreEntry::new("/sys/a", "1".repeat(STATE_VALUE_MAX_BYTES + 1));
        let reason = unrecordable(&entry).expect("refused");
        assert!(
            reason.ends_with(&format!("longer than {STATE_VALUE_MAX_BYTES} bytes")),
            "{reason}"
        );
    }
}
