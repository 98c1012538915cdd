//! Reading the config file without trusting it: a FIFO, a device or a huge
//! file must not block or bloat the process (a SIGHUP reads it on the event
//! loop's thread). warden-hw's [`user_file`] does the reading; this module
//! words its refusals for an operator.

use std::path::Path;

use warden_hw::user_file::{self, UserFileError, MIB};

/// Largest config file read; the full commented default is under 16 KiB.
pub const MAX_CONFIG_BYTES: u64 = MIB;

/// The text of the regular file at `path`, or why it cannot be a config file.
pub(super) fn read_text(path: &Path) -> Result<String, String> {
    user_file::read_text(path, MAX_CONFIG_BYTES).map_err(|error| describe(&error))
}

/// `error` as the config loader has always worded it.
fn describe(error: &UserFileError) -> String {
    match error {
        UserFileError::EmptyPath => "the config file path is empty".to_string(),
        UserFileError::TooLarge { cap } => format!(
            "the config file is larger than {cap} bytes, far more than any warden config \
             (check that the path names the right file)"
        ),
        UserFileError::NotUtf8 { offset } => {
            format!("the config file is not UTF-8 text (bad byte at offset {offset})")
        }
        UserFileError::Open(_)
        | UserFileError::NotRegular { .. }
        | UserFileError::Read(_)
        | UserFileError::Write(_) => format!("cannot read the config file: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // How each refusal reads; that none of them blocks is warden-hw's to test.
    #[test]
    fn refusals_are_worded_for_the_config_file() {
        let error = read_text(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            error,
            "cannot read the config file: it is a character device, not a regular file"
        );
        let dir = std::env::temp_dir().join(format!("warden-config-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        assert_eq!(
            read_text(&big).unwrap_err(),
            "the config file is larger than 1048576 bytes, far more than any warden config \
             (check that the path names the right file)"
        );
        std::fs::write(&big, b"[server]\n\xff").unwrap();
        assert_eq!(
            read_text(&big).unwrap_err(),
            "the config file is not UTF-8 text (bad byte at offset 9)"
        );
        std::fs::write(&big, "[server]\n").unwrap();
        assert_eq!(read_text(&big).unwrap(), "[server]\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
