//! Sorting `accept()` failures into what the loop should do about them.

use std::io;

use super::stats::AcceptErrorKind;

/// Classifies an accept() error.
pub fn classify(err: &io::Error) -> AcceptErrorKind {
    match err.raw_os_error() {
        Some(libc::EMFILE) => AcceptErrorKind::Emfile,
        Some(libc::ENFILE) => AcceptErrorKind::Enfile,
        Some(libc::ENOBUFS) | Some(libc::ENOMEM) => AcceptErrorKind::NoMemory,
        Some(libc::ECONNABORTED) | Some(libc::EPROTO) | Some(libc::ECONNRESET) => {
            AcceptErrorKind::Aborted
        }
        _ => AcceptErrorKind::Other,
    }
}

/// True for errors that retrying at once cannot fix: the loop backs off.
pub fn needs_backoff(kind: AcceptErrorKind) -> bool {
    matches!(
        kind,
        AcceptErrorKind::Emfile | AcceptErrorKind::Enfile | AcceptErrorKind::NoMemory
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_backs_off_and_aborts_do_not() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(classify(&emfile), AcceptErrorKind::Emfile);
        assert!(needs_backoff(classify(&emfile)));
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert!(!needs_backoff(classify(&aborted)));
        assert!(needs_backoff(classify(&io::Error::from_raw_os_error(
            libc::ENOBUFS
        ))));
    }
}
