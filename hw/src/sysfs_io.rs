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
//!
//! A crash restore, run as root on paths a state file names, opens those files more
//! warily ([`write_recorded_attribute`], [`replace_recorded_file`]): never through a
//! symbolic link at the last component, and never a regular file with other hard links,
//! whether to write it or to read it back after a refused write. The thermal loop's own
//! writes skip those checks: they go to paths from its configuration, every tick.

use std::fs::{self, File, FileType, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
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
    open_attribute_with(path, access, Opening::Plain).map(|(file, _)| file)
}

/// How a file is opened: as the thermal loop opens its attributes, or as a crash restore
/// opens a file its state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// Following a symbolic link; writing truncates on open.
    Plain,
    /// Never through a symbolic link at the last component (`O_NOFOLLOW`), and never
    /// truncated on open: the caller checks the file's links first ([`open_recorded`]).
    Recorded,
}

/// [`open_attribute`] opening as `opening` says; also returns the metadata it checked, so
/// a caller that looks at more of it costs no second `fstat`.
fn open_attribute_with(
    path: &Path,
    access: Access,
    opening: Opening,
) -> Result<(File, Metadata), HwError> {
    let file = open_nonblocking_with(path, access, opening).map_err(|e| {
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
    let metadata = file
        .metadata()
        .map_err(|e| HwError::from_io(path, access, e))?;
    ensure_regular(path, metadata.file_type(), SYSFS_ATTRIBUTE)?;
    Ok((file, metadata))
}

/// Opens `path` for `access` (writing truncates, never creates) with `O_NONBLOCK |
/// O_NOCTTY`, so whatever the path turns out to be the open returns at once; the caller
/// maps the error and checks the file type ([`ensure_regular`]).
pub(crate) fn open_nonblocking(path: &Path, access: Access) -> io::Result<File> {
    open_nonblocking_with(path, access, Opening::Plain)
}

/// [`open_nonblocking`] opening as `opening` says.
fn open_nonblocking_with(path: &Path, access: Access, opening: Opening) -> io::Result<File> {
    let recorded = opening == Opening::Recorded;
    let mut options = OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::Write => options.write(true).truncate(!recorded),
    };
    let no_follow = if recorded { libc::O_NOFOLLOW } else { 0 };
    options
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | no_follow)
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
    read_opened_text(path, open_attribute(path, Access::Read)?)
}

/// Reads `file`, opened from the attribute `path`, as text: at most
/// [`SYSFS_ATTRIBUTE_MAX_BYTES`], the rest of [`read_text`].
fn read_opened_text(path: &Path, file: File) -> Result<String, HwError> {
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
    unless_read_back_holds(text, write_text(path, text), || read_text(path))
}

/// `written`, or success when it failed and `read_back()` gives `text` (whitespace
/// trimmed); `read_back` runs only after a failure.
fn unless_read_back_holds(
    text: &str,
    written: Result<(), HwError>,
    read_back: impl FnOnce() -> Result<String, HwError>,
) -> Result<(), HwError> {
    written.or_else(|error| match read_back() {
        Ok(held) if held.trim() == text.trim() => Ok(()),
        _ => Err(error),
    })
}

/// Why a crash restore leaves a symbolic link in a recorded file's place alone.
const SYMLINK_REFUSAL: &str = "it is a symbolic link, and no attribute warden records is one";

/// Refuses ([`HwError::RefusedValue`] naming `text`) the file `metadata` describes when it
/// is a regular file with other hard links: no file warden records has any (a sysfs
/// attribute has one link; warden replaces the file fan's file whole, so it has one too),
/// so such a file is another file under a recorded name (`/etc/shadow` linked into a
/// forged policy directory).
fn refuse_other_links(path: &Path, text: &str, metadata: &Metadata) -> Result<(), HwError> {
    let links = metadata.nlink();
    if !metadata.is_file() || links <= 1 {
        return Ok(());
    }
    let others = links - 1;
    let plural = if others == 1 { "" } else { "s" };
    Err(HwError::refused(
        path,
        text,
        format!(
            "it has {others} other hard link{plural}, and no file warden records has any \
             (a sysfs attribute has one link, and warden replaces the file fan's file whole), \
             so it is another file under a recorded name"
        ),
    ))
}

/// Opens a file a crash-restore state names for `access`, as [`open_attribute`] does
/// (without blocking, a regular file only) but never through a symbolic link at its last
/// component and, for writing, without truncating it; a symbolic link there, or a regular
/// file with other hard links, is refused ([`HwError::RefusedValue`] naming `text`, the
/// value meant for it) before anything is written or read.
fn open_recorded(path: &Path, text: &str, access: Access) -> Result<File, HwError> {
    let (file, metadata) = open_attribute_with(path, access, Opening::Recorded).map_err(|e| {
        // Looked at only after a failure (O_NOFOLLOW refuses a link with ELOOP).
        match fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            true => HwError::refused(path, text, SYMLINK_REFUSAL.to_owned()),
            false => e,
        }
    })?;
    refuse_other_links(path, text, &metadata)?;
    Ok(file)
}

/// Writes `text` to an attribute a crash-restore state names, in one `write(2)`, never
/// creating it: opened by [`open_recorded`], so a symbolic link or a file with other hard
/// links there is refused ([`HwError::RefusedValue`]) with nothing written. A failed write
/// to a file that already holds `text` is a success, read back the same way
/// ([`unless_recorded_value_held`]).
pub(crate) fn write_recorded_attribute(path: &Path, text: &str) -> Result<(), HwError> {
    let written = open_recorded(path, text, Access::Write).and_then(|mut file| {
        // Truncated only now the links are checked: O_TRUNC on open would already have
        // emptied a file linked under a recorded name. (Sysfs ignores either.)
        file.set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(|e| HwError::from_io(path, Access::Write, e))
    });
    // A refusal stands: the read-back refuses the same link.
    unless_recorded_value_held(path, text, written)
}

/// [`write_or_already_held`]'s read-back for a file a crash-restore state names: the read-back opens it
/// with [`open_recorded`], so a symbolic link or a file with other hard links found there
/// after the failed write (one swapped in meanwhile) is not read, and the failure stands.
fn unless_recorded_value_held(
    path: &Path,
    text: &str,
    written: Result<(), HwError>,
) -> Result<(), HwError> {
    unless_read_back_holds(text, written, || {
        read_opened_text(path, open_recorded(path, text, Access::Read)?)
    })
}

/// Replaces the file fan's file `path` with `text` for a crash restore, as
/// [`replace_plain_file`] does (errors naming `setting`), unless a regular file with other
/// hard links stands there: that is refused ([`HwError::RefusedValue`]) and left as it is.
/// A failed replace is read back as [`unless_recorded_value_held`] does.
///
/// The rename never writes through a link, so the check (on the path, not following a
/// symbolic link, before the rename) does not guard the linked-to file; it keeps the rule
/// one for every recorded file: a restore leaves a file with other hard links alone and
/// reports it, as it cannot be the file warden wrote.
pub(crate) fn replace_recorded_file(
    path: &Path,
    text: &str,
    setting: &'static str,
) -> Result<(), HwError> {
    // Any failure to look (nothing there yet, a parent missing) is the replace's to report.
    if let Ok(metadata) = fs::symlink_metadata(path) {
        refuse_other_links(path, text, &metadata)?;
    }
    unless_recorded_value_held(path, text, replace_plain_file(path, text, setting))
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

    /// The read-back after a refused write: the race a real restore would lose (a link
    /// swapped in between the write and the read) made certain by calling it directly.
    #[test]
    fn a_failed_write_is_not_read_back_through_a_symbolic_or_hard_link() {
        let dir = std::env::temp_dir().join(format!(
            "warden-hw-restore-read-back-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let failed = |path: &Path| {
            Err(HwError::Io {
                path: path.to_path_buf(),
                access: Access::Write,
                os_error: io::Error::from_raw_os_error(libc::EINVAL),
            })
        };
        let holder = dir.join("holds-the-value");
        fs::write(&holder, "1500000\n").unwrap();
        // The file itself, with its one link, holds the value: that counts as restored.
        unless_recorded_value_held(&holder, "1500000", failed(&holder)).unwrap();

        let symlinked = dir.join("scaling_max_freq");
        std::os::unix::fs::symlink(&holder, &symlinked).unwrap();
        let kept = unless_recorded_value_held(&symlinked, "1500000", failed(&symlinked));
        assert!(matches!(kept, Err(HwError::Io { .. })), "{kept:?}");

        let hard_linked = dir.join("pwm1");
        fs::write(&holder, "255\n").unwrap();
        fs::hard_link(&holder, &hard_linked).unwrap();
        let kept = unless_recorded_value_held(&hard_linked, "255", failed(&hard_linked));
        assert!(matches!(kept, Err(HwError::Io { .. })), "{kept:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

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
