//! Shared helpers for the integration tests: start the real `warden` binary
//! on loopback with a config, learn its port from its log, talk to it.

#![allow(dead_code)]

pub mod echo;
pub mod proc;
pub mod stderr_lines;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use stderr_lines::StderrLines;

/// The repository root (where `init/` and `tools/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Finds `name` on PATH or in the sbin directories; fails the test, naming
/// the Debian package, when it is missing.
pub fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs =
        std::env::split_paths(&path).chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{name} is not installed: apt-get install {package} (tools/test.sh does)");
}

/// The warden binary under test.
pub fn warden_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warden"))
}

/// The load generator, built beside warden by `cargo build --workspace`.
pub fn loadgen_bin() -> PathBuf {
    let path = warden_bin().with_file_name("warden-loadgen");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --workspace` (the README's test command does)",
        path.display()
    );
    path
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("warden-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` inside it and returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for starting warden.
#[derive(Default)]
pub struct Launch {
    /// Soft and hard RLIMIT_NOFILE to set in the child before exec.
    pub nofile: Option<u64>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Do not wait for "listening on" (the test expects a start-up failure).
    pub expect_exit: bool,
    /// Extra arguments after `run --config FILE`.
    pub args: Vec<String>,
}

/// A running warden, killed on drop.
pub struct Warden {
    pub child: Child,
    pub dir: TempDir,
    pub config: PathBuf,
    log: StderrLines,
}

/// A config with test-friendly defaults: `server_extra` goes into
/// `[server]` (which listens on 127.0.0.1:0 unless it sets `listen`), `rest`
/// adds whole sections. State and sysfs live in the test's own directory
/// (`@DIR@`), and the status server takes a free port unless `rest` has a
/// `[status]` table.
pub fn config_with(server_extra: &str, rest: &str) -> String {
    let listen = if server_extra.contains("listen") {
        ""
    } else {
        "listen = [\"127.0.0.1:0\"]\n"
    };
    let status = if rest.contains("[status]") {
        ""
    } else {
        "[status]\nlisten = \"127.0.0.1:0\"\n"
    };
    format!(
        "[server]\n{listen}{server_extra}\n\n[hardware]\nstate_dir = \"@DIR@/run\"\nsysfs_root = \"@DIR@/sysfs\"\n\n{status}{rest}\n"
    )
}

impl Warden {
    /// Starts warden with `config` (TOML text) and waits until it listens.
    pub fn start(config: &str) -> Warden {
        Self::start_with(config, Launch::default())
    }

    /// Starts warden with launch options.
    pub fn start_with(config: &str, launch: Launch) -> Warden {
        Self::start_in(TempDir::new("warden"), config, launch)
    }

    /// Starts warden in a directory the test prepared (e.g. a fake sysfs tree).
    pub fn start_in(dir: TempDir, config: &str, launch: Launch) -> Warden {
        let config = config.replace("@DIR@", &dir.path().display().to_string());
        let path = dir.write("warden.toml", &config);
        let mut cmd = Command::new(warden_bin());
        cmd.arg("run").arg("--config").arg(&path).args(&launch.args);
        cmd.env("WARDEN_LOG", "info").env_remove("JOURNAL_STREAM");
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(limit) = launch.nofile {
            // SAFETY: setrlimit is async-signal-safe; nothing else runs in the
            // child between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let rl = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn warden");
        let echo = std::env::var_os("WARDEN_TEST_ECHO_LOG").map(|_| "[warden]");
        let log = StderrLines::collect(child.stderr.take().unwrap(), echo);
        let warden = Warden {
            child,
            dir,
            config: path,
            log,
        };
        if !launch.expect_exit {
            warden.wait_log("listening on", Duration::from_secs(10));
        }
        warden
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.all()
    }

    /// Waits until a log line contains `needle`; returns it.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_log_after(0, needle, timeout)
    }

    /// Like [`wait_log`](Self::wait_log), looking only at lines from index `from` on.
    pub fn wait_log_after(&self, from: usize, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log.find_after(from, needle) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line containing {needle:?} within {timeout:?}; log:\n{}",
                self.log().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until warden logs "ready": listeners bound, the restore lock and state
    /// taken, the first thermal reading in (or given up on).
    pub fn wait_ready(&self, timeout: Duration) {
        wait_until("the \"ready\" log line", timeout, || self.is_ready());
    }

    /// True once warden has logged "ready".
    pub fn is_ready(&self) -> bool {
        // The message is exactly "ready"; "reporting ready anyway" comes before it.
        self.log.any(|l| l.ends_with(" ready"))
    }

    /// Number of log lines so far.
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// Panics, showing those lines, if a log line from index `from` on contains `needle`.
    pub fn assert_not_logged_after(&self, from: usize, needle: &str) {
        let lines = self.log();
        let since = &lines[from.min(lines.len())..];
        assert!(
            !since.iter().any(|l| l.contains(needle)),
            "{needle:?} logged: {since:?}"
        );
    }

    /// The addresses warden logged it listens on, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.log()
            .iter()
            .filter_map(|l| l.split("listening on ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .filter_map(|a| a.parse().ok())
            .collect()
    }

    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs()[0]
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for exit up to `timeout`; after it, [`Warden::log`] holds the last lines too.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.log.wait_for_end(deadline);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Rewrites the config file (for SIGHUP tests).
    pub fn rewrite_config(&self, text: &str) {
        let text = text.replace("@DIR@", &self.dir.path().display().to_string());
        std::fs::write(&self.config, text).unwrap();
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `ok` every 20 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    wait_for(timeout, || match ok() {
        true => Ok(()),
        false => Err(format!("timed out waiting for {what}")),
    });
}

/// Polls `check` every 20 ms until it returns `Ok`, and returns that value; after
/// `timeout`, panics with the last `Err`, which says what was seen instead.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(why) => assert!(Instant::now() < deadline, "after {timeout:?}: {why}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs warden with arguments to completion (for check-config and friends).
pub fn run_warden(args: &[&str]) -> std::process::Output {
    Command::new(warden_bin())
        .args(args)
        .env_remove("WARDEN_LOG")
        .output()
        .expect("run warden")
}

/// Runs the load generator with `args` plus `--json`, returning its exit
/// status and parsed JSON report.
pub fn loadgen(args: &[&str]) -> (ExitStatus, serde_json::Value) {
    let out = Command::new(loadgen_bin())
        .args(args)
        .arg("--json")
        .output()
        .expect("run warden-loadgen");
    let text = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "loadgen printed no JSON ({e}): stdout {text:?} stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status, json)
}

/// Stops warden with SIGTERM and returns the counters from its final log
/// line (`final counters: key=value ...`).
pub fn counters(w: &mut Warden) -> std::collections::HashMap<String, u64> {
    w.signal(libc::SIGTERM);
    let status = w
        .wait_exit(Duration::from_secs(15))
        .expect("warden exits after SIGTERM");
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        w.log().join("\n")
    );
    let line = w.wait_log("final counters:", Duration::from_secs(2));
    line.split("final counters:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// Starts a second warden with `rest` on `first`'s directory (so the same
/// `hardware.state_dir`) and asserts it refuses to start: exit 1, naming the running
/// warden's pid and the state dir. Returns the second one's log.
pub fn assert_second_warden_refused(first: &Warden, rest: &str) -> String {
    let state_dir = first.dir.path().join("run");
    let config = config_with("", rest).replace("@DIR@", &first.dir.path().display().to_string());
    let launch = Launch {
        expect_exit: true,
        ..Launch::default()
    };
    let mut second = Warden::start_in(TempDir::new("second"), &config, launch);
    let status = second.wait_exit(Duration::from_secs(10)).expect("exits");
    let log = second.log().join("\n");
    assert_eq!(status.code(), Some(1), "a runtime conflict:\n{log}");
    assert!(
        log.contains("another warden")
            && log.contains(&format!("pid {}", first.pid()))
            && log.contains(&state_dir.display().to_string()),
        "names the running warden and the state dir:\n{log}"
    );
    log
}
