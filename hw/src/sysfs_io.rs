//! Small, error-mapping helpers for reading and writing sysfs-style files.
//!
//! Sysfs attributes are short text values in regular files; a write must be a single
//! `write(2)` on a file opened without `O_CREAT` (sysfs cannot create files, and a missing
//! attribute must be reported as missing, not silently created in a fake tree).
//!
//! The thermal thread reads these files every tick, so whatever a path turns out to be it
//! must not block or eat memory: files are opened `O_NONBLOCK` (a FIFO without a writer
//! would otherwise block `open` forever), anything that is not a regular file is refused
//! after opening, and at most one page ([`SYSFS_ATTRIBUTE_MAX_BYTES`]) is read. Files
//! warden replaces whole (the `file` fan, the restore state) are written through a temp
//! file created afresh ([`replace_through_temp`]), so nothing left at the temp path can
//! block the write or redirect it; they are the user's own files, so their errors name
//! the file and the setting, not sysfs ([`replace_plain_file`]).

use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Access, HwError};

/// Longest piece of offending text quoted in a parse error.
const QUOTE_MAX_CHARS: usize = 64;

/// The most a sysfs attribute holds: one page.
pub const SYSFS_ATTRIBUTE_MAX_BYTES: usize = 4096;

/// What [`HwError::NotRegularFile`] says a sysfs path should be.
const SYSFS_ATTRIBUTE: &str = "a sysfs attribute file (those are regular files): \
                               check the configured path and hardware.sysfs_root";

/// Resolves a path under `root` (the filesystem root that stands for `/`).
///
/// The rule, which never escapes `root`:
/// - a relative path is joined to `root` (`sys/class/thermal/...`);
/// - an absolute path that already lies under `root` is used as given;
/// - any other absolute path is re-rooted: `/sys/x` becomes `<root>/sys/x`.
///
/// With the default root `/` every path is used as given.
pub fn resolve_under_root(root: &Path, path: &Path) -> PathBuf {
    if path.is_relative() {
        return root.join(path);
    }
    if path.starts_with(root) {
        return path.to_path_buf();
    }
    let tail: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    root.join(tail)
}

/// Opens a sysfs attribute for `access` without blocking and refuses anything that is
/// not a regular file (a FIFO, a device, a directory, a socket), naming what it is.
///
/// `O_NONBLOCK` makes opening a FIFO return at once (or fail with `ENXIO` for writing
/// without a reader); `O_NOCTTY` keeps a terminal from becoming ours. Neither changes how
/// a regular file or a real sysfs attribute behaves.
pub(crate) fn open_attribute(path: &Path, access: Access) -> Result<File, HwError> {
    open_attribute_with(path, access, 0)
}

/// [`open_attribute`] with `extra_flags` added to the open (`O_NOFOLLOW`).
fn open_attribute_with(path: &Path, access: Access, extra_flags: i32) -> Result<File, HwError> {
    let file = open_nonblocking_with(path, access, extra_flags).map_err(|e| {
        // Writing to a FIFO without a reader: say what the path is, not "no such device".
        if e.raw_os_error() == Some(libc::ENXIO) {
            if let Some(Err(refused)) = fs::metadata(path)
                .ok()
                .map(|m| ensure_regular(path, m.file_type(), SYSFS_ATTRIBUTE))
            {
                return refused;
            }
        }
        HwError::from_io(path, access, e)
    })?;
    let file_type = file
        .metadata()
        .map_err(|e| HwError::from_io(path, access, e))?
        .file_type();
    ensure_regular(path, file_type, SYSFS_ATTRIBUTE)?;
    Ok(file)
}

/// Opens `path` for `access` (writing truncates, never creates) with `O_NONBLOCK |
/// O_NOCTTY`, so whatever the path turns out to be the open returns at once; the caller
/// maps the error and checks the file type ([`ensure_regular`]).
pub(crate) fn open_nonblocking(path: &Path, access: Access) -> io::Result<File> {
    open_nonblocking_with(path, access, 0)
}

/// [`open_nonblocking`] with `extra_flags` added to the open.
fn open_nonblocking_with(path: &Path, access: Access, extra_flags: i32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::Write => options.write(true).truncate(true),
    };
    options
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | extra_flags)
        .open(path)
}

/// Refuses a `file_type` that is not a regular file with [`HwError::NotRegularFile`],
/// naming what `path` is and saying it should be `wanted`.
pub(crate) fn ensure_regular(
    path: &Path,
    file_type: FileType,
    wanted: &'static str,
) -> Result<(), HwError> {
    match special_kind(file_type) {
        Some(kind) => Err(HwError::NotRegularFile {
            path: path.to_path_buf(),
            kind,
            wanted,
        }),
        None => Ok(()),
    }
}

/// What a non-regular file is, for messages ("a FIFO (named pipe)"); `None` for a
/// regular file.
fn special_kind(file_type: FileType) -> Option<&'static str> {
    (!file_type.is_file()).then(|| crate::file_kind::describe_file_kind(file_type))
}

/// Reads `file` to its end, but never more than `limit + 1` bytes: `None` when it holds
/// more than `limit` (the extra byte tells "exactly the limit" from "larger").
pub(crate) fn read_capped(file: impl Read, limit: usize) -> io::Result<Option<Vec<u8>>> {
    // Grown as needed: a sysfs attribute is a few bytes, read every tick.
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

/// Checks that `path` can be opened for reading as a sysfs attribute, without reading it.
pub(crate) fn probe_attribute(path: &Path) -> Result<(), HwError> {
    open_attribute(path, Access::Read).map(drop)
}

/// Reads a whole sysfs attribute as text: at most [`SYSFS_ATTRIBUTE_MAX_BYTES`], never
/// blocking, and only from a regular file (see [`open_attribute`]).
pub(crate) fn read_text(path: &Path) -> Result<String, HwError> {
    let file = open_attribute(path, Access::Read)?;
    let bytes = read_capped(file, SYSFS_ATTRIBUTE_MAX_BYTES)
        .map_err(|e| HwError::from_io(path, Access::Read, e))?
        .ok_or_else(|| HwError::TooLarge {
            path: path.to_path_buf(),
            limit: SYSFS_ATTRIBUTE_MAX_BYTES,
        })?;
    String::from_utf8(bytes).map_err(|_| HwError::Parse {
        path: path.to_path_buf(),
        text: "<not UTF-8>".into(),
        expected: "text",
    })
}

/// Reads a file and trims whitespace; an empty result is [`HwError::Empty`].
pub(crate) fn read_trimmed(path: &Path, expected: &'static str) -> Result<String, HwError> {
    let text = read_text(path)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(HwError::Empty {
            path: path.to_path_buf(),
            expected,
        });
    }
    Ok(trimmed.to_string())
}

/// Builds a parse error quoting (a bounded prefix of) the offending text.
pub(crate) fn parse_error(path: &Path, text: &str, expected: &'static str) -> HwError {
    HwError::Parse {
        path: path.to_path_buf(),
        text: text.chars().take(QUOTE_MAX_CHARS).collect(),
        expected,
    }
}

/// Reads a file holding one unsigned integer.
pub(crate) fn read_u64(path: &Path, expected: &'static str) -> Result<u64, HwError> {
    let text = read_trimmed(path, expected)?;
    text.parse().map_err(|_| parse_error(path, &text, expected))
}

/// Writes `text` to an existing regular file in one `write(2)`, never creating it and
/// never blocking (see [`open_attribute`]).
pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), HwError> {
    let mut file = open_attribute(path, Access::Write)?;
    file.write_all(text.as_bytes())
        .map_err(|e| HwError::from_io(path, Access::Write, e))
}

/// [`write_text`], except that a failed write to a file that already holds `text` (read
/// back, whitespace trimmed) is a success: an immutable or read-only attribute warden
/// never changed holds what is asked of it. The file is read only after a failure.
pub(crate) fn write_or_already_held(path: &Path, text: &str) -> Result<(), HwError> {
    unless_already_held(path, text, write_text(path, text))
}

/// [`write_or_already_held`] for a path a crash-restore state names: never through a
/// symbolic link at its last component (no attribute warden records is one), which is
/// refused with [`HwError::RefusedValue`] and nothing written.
pub(crate) fn write_recorded_attribute(path: &Path, text: &str) -> Result<(), HwError> {
    let written =
        open_attribute_with(path, Access::Write, libc::O_NOFOLLOW).and_then(|mut file| {
            file.write_all(text.as_bytes())
                .map_err(|e| HwError::from_io(path, Access::Write, e))
        });
    // Looked at only after a failure (O_NOFOLLOW refuses a link with ELOOP).
    let is_link = || fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if written.is_err() && is_link() {
        return Err(HwError::RefusedValue {
            path: path.to_path_buf(),
            value: text.to_owned(),
            reason: "it is a symbolic link, and no attribute warden records is one".to_owned(),
        });
    }
    unless_already_held(path, text, written)
}

/// `written`, or success when it failed and the file at `path` already holds `text` (read
/// back, whitespace trimmed): the one judgement every write that may find an immutable
/// file makes.
pub(crate) fn unless_already_held(
    path: &Path,
    text: &str,
    written: Result<(), HwError>,
) -> Result<(), HwError> {
    written.or_else(|error| match read_text(path) {
        Ok(held) if held.trim() == text.trim() => Ok(()),
        _ => Err(error),
    })
}

/// Replaces a plain file of the user's own (not a sysfs attribute: the `file` fan's
/// `fan.path`) with `text`, creating it when missing, through the temp file
/// `<name>.warden-tmp` in the same directory and a rename, so a reader sees the old or the
/// new content, never a torn one; whatever is at the temp path is replaced, never
/// followed or blocked on (see [`replace_through_temp`]).
///
/// Errors name `path`, never the temp file, and carry no sysfs advice: a missing (or
/// non-directory) parent is [`HwError::MissingDirectory`] naming `setting`, the config key
/// that names the file.
pub(crate) fn replace_plain_file(
    path: &Path,
    text: &str,
    setting: &'static str,
) -> Result<(), HwError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".warden-tmp");
    let tmp = path.with_file_name(tmp_name);
    replace_through_temp(path, &tmp, text, false, |_, e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => HwError::MissingDirectory {
            dir: parent_dir(path).to_path_buf(),
            setting,
        },
        _ => HwError::from_io(path, Access::Write, e),
    })
}

/// True when `path` lies under a directory named `sys` (a sysfs attribute, whatever the
/// sysfs root), false for a file elsewhere (the `file` fan's, say).
pub(crate) fn in_sysfs(path: &Path) -> bool {
    let mut directories = path.parent().into_iter().flat_map(Path::components);
    directories.any(|c| c.as_os_str() == std::ffi::OsStr::new("sys"))
}

/// The directory `path` lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` with `text` through the temp file `tmp` (same directory): removes
/// whatever is at `tmp` (a stale temp file, a FIFO, a symlink), creates it afresh with
/// `O_EXCL | O_NOFOLLOW` (mode 0644), writes `text`, `fsync`s it when `sync`, and renames
/// it over `path`. So the write never blocks on a FIFO and never goes through a symlink.
///
/// `error_at(path_that_failed, error)` maps a failure: `tmp` while preparing the temp file,
/// `path` for the rename (after which the temp file is removed, best effort).
pub(crate) fn replace_through_temp(
    path: &Path,
    tmp: &Path,
    text: &str,
    sync: bool,
    error_at: impl Fn(&Path, io::Error) -> HwError,
) -> Result<(), HwError> {
    let write_tmp = || -> io::Result<()> {
        // unlink does not follow a symlink: it removes the link, not its target.
        match fs::remove_file(tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(tmp)?;
        file.write_all(text.as_bytes())?;
        if sync {
            file.sync_all()?;
        }
        Ok(())
    };
    write_tmp().map_err(|e| error_at(tmp, e))?;
    fs::rename(tmp, path).map_err(|e| {
        let _ = fs::remove_file(tmp);
        error_at(path, e)
    })
}

/// Entries of `dir` named `<prefix><number>`, sorted by number; a missing dir gives none,
/// any other failure to list it (EACCES, not a directory, EIO) is an error naming it.
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> Result<Vec<(u32, PathBuf)>, HwError> {
    let read_dir = match fs::read_dir(dir) {
        Ok(read_dir) => read_dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(HwError::from_io(dir, Access::Read, e)),
    };
    let mut found: Vec<(u32, PathBuf)> = read_dir
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let number = name.to_str()?.strip_prefix(prefix)?.parse().ok()?;
            Some((number, entry.path()))
        })
        .collect();
    found.sort_by_key(|(number, _)| *number);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_root() {
        let root = Path::new("/tmp/fake");
        assert_eq!(
            resolve_under_root(root, Path::new("sys/a")),
            Path::new("/tmp/fake/sys/a")
        );
    }

    #[test]
    fn absolute_paths_inside_the_root_are_kept() {
        let root = Path::new("/tmp/fake");
        let inside = Path::new("/tmp/fake/sys/a");
        assert_eq!(resolve_under_root(root, inside), inside);
    }

    #[test]
    fn absolute_paths_outside_the_root_are_rerooted() {
        let root = Path::new("/tmp/fake");
        assert_eq!(
            resolve_under_root(root, Path::new("/sys/class/thermal/thermal_zone1/temp")),
            Path::new("/tmp/fake/sys/class/thermal/thermal_zone1/temp")
        );
    }

    #[test]
    fn the_default_root_keeps_every_path() {
        let root = Path::new("/");
        let real = Path::new("/sys/class/thermal/thermal_zone0/temp");
        assert_eq!(resolve_under_root(root, real), real);
        assert_eq!(
            resolve_under_root(root, Path::new("sys/x")),
            Path::new("/sys/x")
        );
    }
}
