//! A stop or reload signal that arrives while warden is still starting waits for the
//! event loop: it never kills a half-started warden by the signal's default action.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{config_with, wait_until, warden_bin, TempDir};

/// A pipe whose buffer is already full, so the first write to its write end blocks.
fn full_pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let w = std::os::fd::AsRawFd::as_raw_fd(&write);
    // SAFETY: fcntl and write on a descriptor this function owns.
    unsafe {
        libc::fcntl(w, libc::F_SETPIPE_SZ, 4096);
        libc::fcntl(w, libc::F_SETFL, libc::O_NONBLOCK);
        let filler = [b'#'; 512];
        while libc::write(w, filler.as_ptr().cast(), filler.len()) > 0 {}
        // The warden that inherits it must block, not see EAGAIN.
        libc::fcntl(w, libc::F_SETFL, 0);
    }
    (std::fs::File::from(read), write)
}

/// True while `pid` sits in write(2) on its stderr.
fn blocked_writing_stderr(pid: u32) -> bool {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    syscall.starts_with(&format!("{} 0x2 ", libc::SYS_write))
}

#[test]
fn sigterm_and_sighup_during_start_up_wait_for_the_loop_and_drain_cleanly() {
    let dir = TempDir::new("start-signals");
    let config = config_with("", "").replace("@DIR@", &dir.path().display().to_string());
    let config = dir.write("warden.toml", &config);
    let (mut read, write) = full_pipe();
    // Its first log line cannot be written: warden is held inside its start-up.
    let mut child = Command::new(warden_bin())
        .args(["run", "--config"])
        .arg(&config)
        .env("WARDEN_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(write))
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until(
        "warden blocked on its first log line",
        Duration::from_secs(10),
        || blocked_writing_stderr(pid),
    );
    for signal in [libc::SIGHUP, libc::SIGTERM] {
        // SAFETY: plain kill(2) on our own, not yet reaped child.
        assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    }
    // Let it write: the rest of the start-up runs, then the loop takes both signals.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        read.read_to_string(&mut text).unwrap();
        text
    });
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    let log = log.trim_start_matches('#');
    assert!(status.success(), "{status:?}\n{log}");
    // Both came in one batch: the stop is taken first, so the reload is not run.
    assert!(
        log.contains("SIGHUP while draining: ignored")
            && log.contains("stopped: drained, every connection finished"),
        "{log}"
    );
}
