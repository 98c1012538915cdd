use super::*;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("warden-hw-user-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn make_fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Runs `work` on its own thread and fails the test if it has not returned after a
/// generous while: a reader that blocks on a FIFO or reads a device forever must fail the
/// test, not hang the suite. Not a performance bound; the work is one open and one fstat.
fn without_blocking<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

fn refused_reading(path: &Path) -> UserFileError {
    let owned = path.to_path_buf();
    without_blocking(&format!("reading {}", path.display()), move || {
        read_text(&owned, MIB).unwrap_err()
    })
}

fn refused_writing(path: &Path) -> UserFileError {
    let owned = path.to_path_buf();
    without_blocking(&format!("writing {}", path.display()), move || {
        write_regular(&owned, b"x").unwrap_err()
    })
}

fn assert_not_regular(error: UserFileError, kind: &str) {
    let message = error.to_string();
    assert!(
        matches!(error, UserFileError::NotRegular { .. }),
        "{message}"
    );
    assert_eq!(message, format!("it is {kind}, not a regular file"));
}

#[test]
fn special_files_are_refused_by_kind_without_blocking() {
    let dir = scratch("special");
    let fifo = dir.join("scenario.toml");
    make_fifo(&fifo);
    // No writer: a blocking open for reading would wait forever.
    assert_not_regular(refused_reading(&fifo), "a FIFO (named pipe)");
    // No reader: the non-blocking open for writing fails (ENXIO), named by kind.
    assert_not_regular(refused_writing(&fifo), "a FIFO (named pipe)");
    // With a reader the open succeeds and the check after it refuses the FIFO.
    let _reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    assert_not_regular(refused_writing(&fifo), "a FIFO (named pipe)");

    for device in ["/dev/zero", "/dev/null"] {
        assert_not_regular(refused_reading(Path::new(device)), "a character device");
    }
    assert_not_regular(
        refused_writing(Path::new("/dev/null")),
        "a character device",
    );
    assert_not_regular(refused_reading(&dir), "a directory");
    assert_not_regular(refused_writing(&dir), "a directory");

    for error in [
        refused_reading(Path::new("")),
        refused_writing(Path::new("")),
    ] {
        assert!(matches!(error, UserFileError::EmptyPath), "{error}");
        assert_eq!(error.to_string(), "the path is empty");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_reports_the_os_error_once() {
    let dir = scratch("missing");
    let error = read_text(&dir.join("missing.toml"), MIB).unwrap_err();
    let UserFileError::Open(ref os_error) = error else {
        panic!("not an open error: {error}");
    };
    assert_eq!(os_error.kind(), io::ErrorKind::NotFound);
    assert!(
        error.to_string().contains("No such file or directory"),
        "{error}"
    );
    // Transparent: a chain printed with `{:#}` must not show the OS error twice.
    assert!(std::error::Error::source(&error).is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cap_is_exact_and_named() {
    let dir = scratch("cap");
    let path = dir.join("big.toml");
    std::fs::write(&path, vec![b'#'; MIB as usize]).unwrap();
    assert_eq!(read_text(&path, MIB).unwrap().len(), MIB as usize);
    std::fs::write(&path, vec![b'#'; MIB as usize + 1]).unwrap();
    let error = read_text(&path, MIB).unwrap_err();
    assert!(
        matches!(error, UserFileError::TooLarge { cap: MIB }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "it holds more than 1 MiB (1048576 bytes), the most this tool reads; check that the \
         path names the right file"
    );

    std::fs::write(&path, "0123456789").unwrap();
    assert_eq!(read_text(&path, 10).unwrap(), "0123456789");
    let error = read_text(&path, 9).unwrap_err();
    assert!(error.to_string().contains("more than 9 bytes,"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_that_is_not_utf8_is_refused_at_its_offset() {
    let dir = scratch("utf8");
    let path = dir.join("latin1.toml");
    std::fs::write(&path, b"ok \xff").unwrap();
    let error = read_text(&path, MIB).unwrap_err();
    assert!(
        matches!(error, UserFileError::NotUtf8 { offset: 3 }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "it is not UTF-8 text (bad byte at offset 3)"
    );
    std::fs::write(&path, "é ok".as_bytes()).unwrap();
    assert_eq!(read_text(&path, MIB).unwrap(), "é ok");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writing_creates_or_replaces_the_whole_file() {
    let dir = scratch("write");
    let path = dir.join("doc.md");
    write_regular(&path, b"a long first text").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a long first text");
    write_regular(&path, b"short").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn caps_are_described_in_mebibytes_when_whole() {
    assert_eq!(describe_cap(MIB), "1 MiB (1048576 bytes)");
    assert_eq!(describe_cap(16 * MIB), "16 MiB (16777216 bytes)");
    assert_eq!(describe_cap(MIB + 1), "1048577 bytes");
    assert_eq!(describe_cap(1000), "1000 bytes");
    assert_eq!(describe_cap(0), "0 bytes");
}
