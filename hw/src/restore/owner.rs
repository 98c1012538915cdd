//! Who wrote a crash-restore state file, and whether that process still runs.
//!
//! Replaying a state file puts the fan and cpufreq back; done while the warden that wrote it
//! still runs, it would undo that warden's settings underneath it and delete its file. So the
//! file records its owner, and a restore first asks whether the owner is alive. A pid alone
//! cannot tell: after a crash the kernel may give the same pid to an unrelated process. The
//! owner is therefore the pid *and* the process start time (`/proc/<pid>/stat` field 22,
//! clock ticks after boot), which differs for any later process with that pid; and, when the
//! kernel has one, the boot id, so a `state_dir` that survives a reboot is not mistaken for
//! the state of a process that started at the same tick of an earlier boot. A zombie (killed,
//! not yet reaped) counts as gone: it cannot touch the hardware any more.
//!
//! All of that is copied easily: an owner line forged to name a live process (pid 1 with its
//! real start time and boot id) would make `warden restore` refuse for good and advise
//! killing that process. So the owner is believed to run only when the process is also a
//! warden: its command name (`/proc/<pid>/comm`) is [`WARDEN_COMM`] or the same as this
//! process's (a warden run under another file name is checked by a restore from the same
//! binary). [`is_warden_pid`] is that check alone, for the pid a lock file names.

use std::path::{Path, PathBuf};

use crate::error::HwError;
use crate::sysfs_io::{parse_error, read_text, read_trimmed};

/// Where the kernel describes processes.
pub const PROC_DIR: &str = "/proc";
/// The kernel's id of the current boot (a UUID), new at every boot.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";
/// The command name of a warden process (`/proc/<pid>/comm`), as its binary is named.
pub const WARDEN_COMM: &str = "warden";

/// What a `/proc/<pid>/stat` line must look like, for parse errors.
const STAT_LINE: &str =
    "a /proc/<pid>/stat line: pid (comm) state ... with the start time as field 22";
/// What a `/proc/<pid>/comm` file must hold, for errors.
const COMM: &str = "a process's command name";
/// What the boot id file must hold, for errors.
const BOOT_ID: &str = "the kernel's boot id (a UUID)";
/// Index of field 22 (start time) among the fields after `(comm)`, which begin at field 3.
const START_TIME_INDEX: usize = 22 - 3;

/// The process that wrote a state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateOwner {
    /// Its process id.
    pub pid: u32,
    /// Its start time in clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`), when the kernel has one.
    pub boot_id: Option<String>,
}

impl StateOwner {
    /// The calling process, to record in the state file it is about to save.
    pub fn current() -> Result<Self, HwError> {
        let pid = std::process::id();
        Self::of_pid(pid)?.ok_or_else(|| HwError::NotFound {
            path: stat_path(pid),
        })
    }

    /// The process running as `pid` now, with its start time and the current boot id;
    /// `Ok(None)` when there is none, or only its zombie.
    pub fn of_pid(pid: u32) -> Result<Option<Self>, HwError> {
        let path = stat_path(pid);
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(HwError::NotFound { .. }) => return Ok(None),
            // The process ended between open and read.
            Err(HwError::Io { os_error, .. }) if os_error.raw_os_error() == Some(libc::ESRCH) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let (state, start_time) = parse_stat(&path, &text)?;
        if matches!(state, "Z" | "X" | "x") {
            return Ok(None);
        }
        Ok(Some(StateOwner {
            pid,
            start_time,
            boot_id: current_boot_id(),
        }))
    }

    /// True when the warden that wrote the state still runs: `pid` exists, is not a zombie,
    /// started at `start_time`, (when both are known) in the same boot, and is a warden
    /// ([`is_warden_pid`]); any other process with those numbers is not the owner. Errors
    /// only when `/proc/<pid>/stat` exists but cannot be read or parsed.
    pub fn is_running(&self) -> Result<bool, HwError> {
        let Some(now) = Self::of_pid(self.pid)? else {
            return Ok(false);
        };
        let same_boot = match (&self.boot_id, &now.boot_id) {
            (Some(recorded), Some(current)) => recorded == current,
            _ => true,
        };
        Ok(same_boot && now.start_time == self.start_time && is_warden_pid(self.pid))
    }
}

/// True when `pid` runs a warden: its `/proc/<pid>/comm` is [`WARDEN_COMM`] or this
/// process's own command name. False when it cannot be read (no such process, `/proc`
/// mounted `hidepid`): a process not known to be a warden is never named as one.
pub fn is_warden_pid(pid: u32) -> bool {
    let Some(comm) = command_name(&Path::new(PROC_DIR).join(pid.to_string())) else {
        return false;
    };
    comm == WARDEN_COMM
        || command_name(&Path::new(PROC_DIR).join("self")).is_some_and(|own| own == comm)
}

/// The command name in `<proc_entry>/comm`, `None` when it cannot be read.
fn command_name(proc_entry: &Path) -> Option<String> {
    read_trimmed(&proc_entry.join("comm"), COMM)
        .map_err(|e| log::debug!("no command name: {e}"))
        .ok()
}

/// `/proc/<pid>/stat`.
fn stat_path(pid: u32) -> PathBuf {
    Path::new(PROC_DIR).join(pid.to_string()).join("stat")
}

/// The state (field 3) and start time (field 22) of a `/proc/<pid>/stat` line. The command
/// name (field 2) may hold spaces and parentheses, so the fields after it are counted from
/// its last `)`.
fn parse_stat<'a>(path: &Path, text: &'a str) -> Result<(&'a str, u64), HwError> {
    let after_comm = text
        .rfind(')')
        .map(|end| &text[end + 1..])
        .ok_or_else(|| parse_error(path, text, STAT_LINE))?;
    let mut fields = after_comm.split_whitespace();
    let state = fields
        .next()
        .ok_or_else(|| parse_error(path, text, STAT_LINE))?;
    // `nth` counts from after the state, which was field index 0.
    let start_time = fields
        .nth(START_TIME_INDEX - 1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| parse_error(path, text, STAT_LINE))?;
    Ok((state, start_time))
}

/// The current boot id, or `None` when the kernel does not expose one.
fn current_boot_id() -> Option<String> {
    let id = read_trimmed(Path::new(BOOT_ID_PATH), BOOT_ID)
        .map_err(|e| log::debug!("no boot id: {e}"))
        .ok()?;
    (!id.contains(char::is_whitespace)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_found_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (evil) name (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000000 100 18446744073709551615\n";
        let (state, start) = parse_stat(Path::new("/proc/4242/stat"), line).unwrap();
        assert_eq!((state, start), ("S", 987_654));
    }

    #[test]
    fn a_truncated_stat_line_is_a_parse_error_naming_the_file() {
        let err = parse_stat(Path::new("/proc/1/stat"), "1 (init) S 0 1").unwrap_err();
        assert!(matches!(err, HwError::Parse { .. }), "{err:?}");
        assert!(err.to_string().contains("/proc/1/stat"), "{err}");
    }
}
