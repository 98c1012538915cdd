//! Helpers for the systemd tests: finding real tools, a stand-in for
//! systemd's notify socket, and a child process whose stderr is collected.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::stderr_lines::StderrLines;
pub use crate::util::{repo_root, tool};

/// Runs a command to completion and returns (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One datagram received by [`NotifySocket`], with its arrival time.
#[derive(Debug, Clone)]
pub struct Notice {
    /// When it arrived.
    pub at: Instant,
    /// Its text (`KEY=VALUE` lines).
    pub text: String,
}

/// A bound datagram socket standing in for systemd's `NOTIFY_SOCKET`; a
/// thread records every datagram until drop.
pub struct NotifySocket {
    path: PathBuf,
    notices: Arc<Mutex<Vec<Notice>>>,
    stop: Arc<AtomicBool>,
}

impl NotifySocket {
    /// Binds `notify.sock` in `dir`.
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let notices = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, stopped) = (Arc::clone(&notices), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock().unwrap().push(Notice {
                        at: Instant::now(),
                        text,
                    });
                }
            }
        });
        NotifySocket {
            path,
            notices,
            stop,
        }
    }

    /// The value for `NOTIFY_SOCKET`.
    pub fn env_value(&self) -> String {
        self.path.display().to_string()
    }

    /// Every notice so far.
    pub fn notices(&self) -> Vec<Notice> {
        self.notices.lock().unwrap().clone()
    }

    /// Number of notices so far.
    pub fn len(&self) -> usize {
        self.notices.lock().unwrap().len()
    }

    /// Waits for a notice at index `from` or later with a line starting with
    /// `line`; returns its index and text.
    pub fn wait_for(&self, from: usize, line: &str, timeout: Duration) -> (usize, String) {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .notices()
                .into_iter()
                .enumerate()
                .skip(from)
                .find(|(_, n)| has_line(&n.text, line));
            if let Some((index, notice)) = found {
                return (index, notice.text);
            }
            assert!(
                Instant::now() < deadline,
                "no {line:?} within {timeout:?}; got {:#?}",
                self.notices()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Notices at index `from` or later with a line starting with `line`.
    pub fn count(&self, from: usize, line: &str) -> usize {
        self.notices()
            .iter()
            .skip(from)
            .filter(|n| has_line(&n.text, line))
            .count()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// True when a line of `text` starts with `line`.
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.starts_with(line))
}

/// A child process whose stderr lines are collected; killed on drop.
pub struct Logged {
    /// The process.
    pub child: Child,
    lines: StderrLines,
}

impl Logged {
    /// Spawns `cmd` with stdin and stdout closed and stderr collected.
    pub fn spawn(mut cmd: Command) -> Logged {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let lines = StderrLines::collect(child.stderr.take().unwrap(), None);
        Logged { child, lines }
    }

    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.all()
    }

    /// Waits for a line containing `needle`.
    pub fn wait_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no line containing {needle:?} within {timeout:?}:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, signal) },
            0,
            "kill failed"
        );
    }

    /// Waits up to `timeout` for the exit status; after it, [`Logged::lines`] holds
    /// every line the process wrote (the collector has read to the end).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.lines.wait_for_end(deadline);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
