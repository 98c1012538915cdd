//! Reading and writing the files the user names without trusting what they are.
//!
//! A scenario, the `--update-doc` document and a chart are paths typed on a command line:
//! one may name a FIFO (an open would wait forever for a writer), a device such as
//! `/dev/zero` (a read would never end) or a huge file. Every such file is opened
//! `O_NONBLOCK | O_NOCTTY`, so the open returns at once whatever the path is, then refused
//! unless it is a regular file, and read up to a cap named in the error. This mirrors
//! warden-hw's private sysfs readers and the daemon's config reader.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use warden_hw::describe_file_kind;

/// Bytes in a mebibyte, for caps and their messages.
pub const MIB: u64 = 1 << 20;

/// Flags for every open here: a FIFO without a writer opens at once instead of waiting,
/// and a terminal never becomes the controlling one.
const OPEN_FLAGS: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// `bytes` for a message: "1 MiB (1048576 bytes)", or plain bytes below a mebibyte.
pub fn describe_cap(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB ({bytes} bytes)", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The UTF-8 text of the regular file at `path`, at most `cap` bytes. Errors read
/// "unreadable {what} {path}: ..." and say what was wrong: a missing file, a special file
/// (named by kind), more than `cap` (named), text that is not UTF-8.
pub fn read_text(path: &Path, what: &str, cap: u64) -> Result<String> {
    read_text_unlabelled(path, cap).with_context(|| format!("unreadable {what} {}", path.display()))
}

fn read_text_unlabelled(path: &Path, cap: u64) -> Result<String> {
    // open("") fails with ENOENT, which would blame a file nobody named.
    ensure!(!path.as_os_str().is_empty(), "the path is empty");
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|error| open_error(path, error))?;
    ensure_regular(&file)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    ensure!(
        bytes.len() as u64 <= cap,
        "it holds more than {}, the most this tool reads; check that the path names the \
         right file",
        describe_cap(cap)
    );
    String::from_utf8(bytes).map_err(|error| {
        anyhow::anyhow!(
            "it is not UTF-8 text (bad byte at offset {})",
            error.utf8_error().valid_up_to()
        )
    })
}

/// Replaces the contents of the regular file at `path` with `bytes`, creating it if
/// missing; a FIFO, a device or a directory there is refused, never opened for a blocking
/// write. The error names the path.
pub fn write_regular(path: &Path, bytes: &[u8]) -> Result<()> {
    write_unlabelled(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn write_unlabelled(path: &Path, bytes: &[u8]) -> Result<()> {
    // Not truncated at open: only once the file is known to be a regular one.
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|error| open_error(path, error))?;
    ensure_regular(&file)?;
    file.set_len(0)?;
    file.write_all(bytes)?;
    Ok(())
}

/// Why opening `path` failed: a special file that refuses a non-blocking open (a FIFO
/// without a reader for writing, a socket) is named by kind rather than by the bare
/// "No such device or address".
fn open_error(path: &Path, error: std::io::Error) -> anyhow::Error {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => anyhow::anyhow!(
            "it is {}, not a regular file",
            describe_file_kind(metadata.file_type())
        ),
        _ => error.into(),
    }
}

/// Refuses an open file that is not a regular one, naming what it is.
fn ensure_regular(file: &File) -> Result<()> {
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        bail!("it is {}, not a regular file", describe_file_kind(kind));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("thermal-sim-bounded-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn error_text(result: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", result.unwrap_err())
    }

    #[test]
    fn special_files_are_refused_by_kind_without_blocking() {
        let dir = scratch("special");
        let fifo = dir.join("scenario.toml");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let error = error_text(read_text(&fifo, "scenario", MIB));
        assert!(
            error.contains(&format!("unreadable scenario {}", fifo.display()))
                && error.contains("a FIFO (named pipe), not a regular file"),
            "{error}"
        );
        let error = error_text(write_regular(&fifo, b"x"));
        assert!(
            error.contains("a FIFO (named pipe), not a regular file"),
            "{error}"
        );
        for device in ["/dev/zero", "/dev/null"] {
            let error = error_text(read_text(Path::new(device), "scenario", MIB));
            assert!(error.contains("a character device"), "{device}: {error}");
        }
        let error = error_text(read_text(&dir, "scenario", MIB));
        assert!(error.contains("a directory"), "{error}");
        let error = error_text(read_text(Path::new(""), "scenario", MIB));
        assert!(error.contains("the path is empty"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_cap_is_exact_and_named() {
        let dir = scratch("cap");
        let path = dir.join("big.toml");
        std::fs::write(&path, vec![b'#'; MIB as usize]).unwrap();
        assert_eq!(
            read_text(&path, "scenario", MIB).unwrap().len(),
            MIB as usize
        );
        std::fs::write(&path, vec![b'#'; MIB as usize + 1]).unwrap();
        let error = error_text(read_text(&path, "scenario", MIB));
        assert!(error.contains("more than 1 MiB (1048576 bytes)"), "{error}");
        std::fs::write(&path, b"ok \xff").unwrap();
        let error = error_text(read_text(&path, "scenario", MIB));
        assert!(
            error.contains("not UTF-8 text (bad byte at offset 3)"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writing_replaces_the_whole_file() {
        let dir = scratch("write");
        let path = dir.join("doc.md");
        write_regular(&path, b"a long first text").unwrap();
        write_regular(&path, b"short").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
        let error = error_text(write_regular(&dir, b"x"));
        assert!(
            error.contains(&format!("cannot write {}", dir.display())),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
