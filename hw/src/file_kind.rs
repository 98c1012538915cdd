//! Naming what a path is when it is not the regular file that was expected.
//!
//! Every reader in warden that refuses a FIFO, a device or a directory says which one it
//! found; this is the one wording they share, so the config loader and the hardware layer
//! describe the same thing the same way.

use std::fs::FileType;
use std::os::unix::fs::FileTypeExt;

/// "a directory", "a FIFO (named pipe)", "a character device"…: what `kind` is, with its article.
pub fn describe_file_kind(kind: FileType) -> &'static str {
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn kind_of(path: &Path) -> FileType {
        std::fs::symlink_metadata(path).unwrap().file_type()
    }

    #[test]
    fn each_kind_of_file_is_named_with_its_article() {
        let dir = std::env::temp_dir().join(format!("warden-hw-file-kind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        std::fs::write(&file, "x").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let fifo = dir.join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let socket_path = dir.join("socket");
        let _socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();

        assert_eq!(describe_file_kind(kind_of(&file)), "a regular file");
        assert_eq!(describe_file_kind(kind_of(&dir)), "a directory");
        assert_eq!(describe_file_kind(kind_of(&link)), "a symbolic link");
        assert_eq!(describe_file_kind(kind_of(&fifo)), "a FIFO (named pipe)");
        assert_eq!(describe_file_kind(kind_of(&socket_path)), "a socket");
        assert_eq!(
            describe_file_kind(kind_of(Path::new("/dev/null"))),
            "a character device"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
