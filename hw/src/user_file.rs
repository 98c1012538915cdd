//! Reading and writing the files a user names, without trusting what they are.
//!
//! A config file, a scenario or a chart is a path typed by a person: it may name a FIFO
//! (an open would wait forever for a writer), a device such as `/dev/zero` (a read would
//! never end), a directory or a huge file. Every such file is opened
//! `O_NONBLOCK | O_NOCTTY`, so the open returns at once whatever the path is, then refused
//! unless it is a regular file, and read up to a cap that the error names. This is the one
//! copy of that logic: the daemon's config loader and `tools/thermal-sim` both call it and
//! word the [`UserFileError`] for their own users.

use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::file_kind::describe_file_kind;

/// Bytes in a mebibyte, for caps and their messages.
pub const MIB: u64 = 1 << 20;

/// Flags for every open here: a FIFO without a writer opens at once instead of waiting,
/// and a terminal never becomes the controlling one.
const OPEN_FLAGS: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// Why a user-named file could not be read or written. The messages read as the tail of a
/// sentence about the file ("unreadable scenario x.toml: it is a directory, ..."), so the
/// caller prefixes the path and what the file is for.
#[derive(Debug, thiserror::Error)]
pub enum UserFileError {
    /// The path is empty; `open("")` would fail with ENOENT and blame a file nobody named.
    #[error("the path is empty")]
    EmptyPath,
    /// The path could not be opened or inspected (missing, permissions...).
    #[error(transparent)]
    Open(io::Error),
    /// The path names something other than a regular file: a FIFO, a device, a directory.
    #[error("it is {}, not a regular file", describe_file_kind(*kind))]
    NotRegular {
        /// What the path names instead.
        kind: FileType,
    },
    /// The file holds more than `cap` bytes, the most the caller reads.
    #[error(
        "it holds more than {}, the most this tool reads; check that the path names the right file",
        describe_cap(*cap)
    )]
    TooLarge {
        /// The cap in bytes.
        cap: u64,
    },
    /// The file is not UTF-8 text.
    #[error("it is not UTF-8 text (bad byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// Reading the open regular file failed.
    #[error(transparent)]
    Read(io::Error),
    /// Truncating or writing the open regular file failed.
    #[error(transparent)]
    Write(io::Error),
}

/// `bytes` for a message: "1 MiB (1048576 bytes)", or plain "1000 bytes" when not a whole
/// number of mebibytes.
pub fn describe_cap(bytes: u64) -> String {
    let (mebibytes, rest) = (bytes / MIB, bytes % MIB);
    if mebibytes > 0 && rest == 0 {
        format!("{mebibytes} MiB ({bytes} bytes)")
    } else {
        format!("{bytes} bytes")
    }
}

/// The UTF-8 text of the regular file at `path`, at most `cap` bytes; never blocks on a
/// FIFO and never reads a device.
pub fn read_text(path: &Path, cap: u64) -> Result<String, UserFileError> {
    let file = open_regular(path, OpenOptions::new().read(true))?;
    let mut bytes = Vec::new();
    // One byte past the cap tells "exactly the cap" from "over it".
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(UserFileError::Read)?;
    if bytes.len() as u64 > cap {
        return Err(UserFileError::TooLarge { cap });
    }
    String::from_utf8(bytes).map_err(|error| UserFileError::NotUtf8 {
        offset: error.utf8_error().valid_up_to(),
    })
}

/// Replaces the contents of the regular file at `path` with `bytes`, creating it if
/// missing; a FIFO, a device or a directory there is refused, never opened for a blocking
/// write nor truncated.
pub fn write_regular(path: &Path, bytes: &[u8]) -> Result<(), UserFileError> {
    // Not truncated at open: only once the file is known to be a regular one.
    let mut file = open_regular(
        path,
        OpenOptions::new().write(true).create(true).truncate(false),
    )?;
    file.set_len(0).map_err(UserFileError::Write)?;
    file.write_all(bytes).map_err(UserFileError::Write)
}

/// Opens `path` with `options` plus [`OPEN_FLAGS`] and refuses anything but a regular file.
fn open_regular(path: &Path, options: &OpenOptions) -> Result<File, UserFileError> {
    if path.as_os_str().is_empty() {
        return Err(UserFileError::EmptyPath);
    }
    let file = options
        .clone()
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|error| open_error(path, error))?;
    let kind = file.metadata().map_err(UserFileError::Open)?.file_type();
    if !kind.is_file() {
        return Err(UserFileError::NotRegular { kind });
    }
    Ok(file)
}

/// Why opening `path` failed: a special file that refuses a non-blocking open (a FIFO
/// without a reader for writing, a socket, a directory for writing) is named by kind
/// rather than by the bare "No such device or address".
fn open_error(path: &Path, error: io::Error) -> UserFileError {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => UserFileError::NotRegular {
            kind: metadata.file_type(),
        },
        _ => UserFileError::Open(error),
    }
}

#[cfg(test)]
#[path = "user_file_tests.rs"]
mod tests;
