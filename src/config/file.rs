//! Reading the config file without trusting it: a FIFO, a device or a huge
//! file must not block or bloat the process (a SIGHUP reads it on the event
//! loop's thread).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use warden_hw::describe_file_kind;

/// Largest config file read; the full commented default is under 16 KiB.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The text of the regular file at `path`, or why it cannot be a config file.
pub(super) fn read_text(path: &Path) -> Result<String, String> {
    // open("") fails with ENOENT, which would blame a file that was never named.
    if path.as_os_str().is_empty() {
        return Err("the config file path is empty".to_string());
    }
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read the config file: {e}"))?;
    let kind = file
        .metadata()
        .map_err(|e| format!("cannot read the config file: {e}"))?
        .file_type();
    if !kind.is_file() {
        return Err(format!(
            "cannot read the config file: it is {}, not a regular file",
            describe_file_kind(kind)
        ));
    }
    read_capped(file)
}

fn read_capped(file: File) -> Result<String, String> {
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the config file: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "the config file is larger than {MAX_CONFIG_BYTES} bytes, far more than any \
             warden config (check that the path names the right file)"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "the config file is not UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("warden-config-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_fifo_with_no_writer_is_refused_at_once() {
        let dir = temp_dir("fifo");
        let fifo = dir.join("warden.toml");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let error = read_text(&fifo).unwrap_err();
        assert!(
            error.contains("a FIFO (named pipe), not a regular file"),
            "{error}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn devices_directories_and_oversized_files_are_refused() {
        let error = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(error.contains("a character device"), "{error}");
        let dir = temp_dir("big");
        assert!(read_text(&dir).unwrap_err().contains("a directory"));
        let big = dir.join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        let error = read_text(&big).unwrap_err();
        assert!(
            error.ends_with(
                "larger than 1048576 bytes, far more than any warden config (check that the \
                 path names the right file)"
            ),
            "{error}"
        );
        std::fs::write(&big, "[server]\n").unwrap();
        assert_eq!(read_text(&big).unwrap(), "[server]\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
