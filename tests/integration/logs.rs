//! Log lines: `log.format = "json"` (one JSON object per line, for Logstash or
//! Loki, the fatal one included), under journald the `<N>` priority prefix on every
//! line, the fatal one included, but only when `JOURNAL_STREAM` names stderr itself,
//! and one record per line whatever text from outside a message quotes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use warden_hw::fake_sysfs::{FakeSysfsLayout, FakeSysfsTree};
use warden_hw::{RestoreEntry, RestoreState};

use crate::util::{config_with, echo, run_warden, wait_until, warden_bin, Launch, TempDir, Warden};

/// A warden whose stderr is a file that `JOURNAL_STREAM` names (device:inode), as
/// systemd sets it up for a unit logging to the journal; killed on drop.
struct JournalRun {
    child: Child,
    log: PathBuf,
}

impl JournalRun {
    /// Runs `warden args...` with stderr into `<dir>/stderr` and JOURNAL_STREAM naming it.
    fn spawn(dir: &Path, args: &[&str]) -> JournalRun {
        let log = dir.join("stderr");
        let file = std::fs::File::create(&log).unwrap();
        let meta = file.metadata().unwrap();
        let child = Command::new(warden_bin())
            .args(args)
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
            .env_remove("WARDEN_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn warden");
        JournalRun { child, log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Waits for the exit; returns its code and everything written to stderr.
    fn finish(&mut self) -> (Option<i32>, String) {
        let mut code = None;
        wait_until("warden exits", Duration::from_secs(15), || {
            code = self.child.try_wait().unwrap().map(|s| s.code());
            code.is_some()
        });
        (code.flatten(), self.text())
    }
}

impl Drop for JournalRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn json_log_lines_are_one_object_each_with_the_documented_fields() {
    let mut w = Warden::start(&config_with("", "[log]\nformat = \"json\"\n"));
    let mut s = echo::connect(w.addr());
    echo::roundtrip(&mut s, b"x");
    drop(s);
    w.signal(libc::SIGTERM);
    w.wait_exit(Duration::from_secs(10)).expect("exit");
    w.wait_log("final counters", Duration::from_secs(2));
    let lines = w.log();
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["time", "level", "target", "message", "fields"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(
            ["error", "warn", "info", "debug", "trace"].contains(&v["level"].as_str().unwrap()),
            "{line}"
        );
    }
    assert!(lines.iter().any(|l| l.contains("listening on")));
}

#[test]
fn a_bad_warden_log_is_named_and_the_configured_level_kept() {
    let w = Warden::start_with(
        &config_with("", "[log]\nlevel = \"debug\"\n"),
        crate::util::Launch {
            env: vec![("WARDEN_LOG".into(), "bogus".into())],
            ..Default::default()
        },
    );
    let line = w.wait_log("WARDEN_LOG", Duration::from_secs(5));
    assert!(
        line.contains("WARDEN_LOG=\"bogus\" is not a log level")
            && line.contains("log.level = debug"),
        "{line}"
    );
}

#[test]
fn the_fatal_line_carries_the_err_priority_under_journald() {
    let dir = TempDir::new("journal-fatal");
    let config = dir.write("warden.toml", "[server]\nbacklog = 0\n");
    let (code, text) =
        JournalRun::spawn(dir.path(), &["run", "--config", config.to_str().unwrap()]).finish();
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.starts_with("<3>warden: ") && text.contains("server.backlog"),
        "journalctl -p err must show why the unit failed: {text:?}"
    );
    assert!(text.lines().all(|l| l.starts_with("<3>")), "{text:?}");
}

#[test]
fn warden_restore_failures_carry_the_err_priority_under_journald() {
    let dir = TempDir::new("journal-restore");
    let state_dir = dir.path().join("run");
    let mut state = RestoreState::new();
    // A file in a directory that does not exist: the write fails.
    state.push(RestoreEntry::new(
        dir.path().join("gone/scaling_max_freq"),
        "1500000",
    ));
    state.save(&state_dir).unwrap();
    let config = dir.write(
        "warden.toml",
        &format!("[hardware]\nstate_dir = \"{}\"\n", state_dir.display()),
    );
    let (code, text) = JournalRun::spawn(
        dir.path(),
        &["restore", "--config", config.to_str().unwrap()],
    )
    .finish();
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<3>warden: could not restore") && l.contains("gone")),
        "{text}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("<3>warden: 1 of 1 settings not restored")),
        "{text}"
    );
}

#[test]
fn json_lines_carry_the_priority_prefix_under_journald() {
    let dir = TempDir::new("journal-json");
    let config = config_with("", "[log]\nformat = \"json\"\n")
        .replace("@DIR@", &dir.path().display().to_string());
    let config = dir.write("warden.toml", &config);
    let mut run = JournalRun::spawn(dir.path(), &["run", "--config", config.to_str().unwrap()]);
    wait_until("listening", Duration::from_secs(10), || {
        run.text().contains("\"ready\"")
    });
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(run.child.id() as i32, libc::SIGTERM) },
        0
    );
    let (code, text) = run.finish();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.lines().count() >= 3, "{text}");
    for line in text.lines() {
        let (priority, object) = line
            .strip_prefix('<')
            .and_then(|rest| rest.split_once('>'))
            .unwrap_or_else(|| panic!("no <N> prefix: {line}"));
        let v: serde_json::Value =
            serde_json::from_str(object).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let want = match v["level"].as_str().unwrap() {
            "error" => "3",
            "warn" => "4",
            "info" => "6",
            _ => "7",
        };
        assert_eq!(priority, want, "{line}");
    }
}

#[test]
fn a_journal_stream_that_names_another_file_is_not_trusted() {
    // What a child of a journald-logged shell sees after `2>file`: the variable
    // inherited, stderr elsewhere (here a pipe).
    let w = Warden::start_with(
        &config_with("", ""),
        Launch {
            env: vec![("JOURNAL_STREAM".into(), "8:1".into())],
            ..Launch::default()
        },
    );
    let line = w.wait_log("listening on", Duration::from_secs(5));
    assert!(
        !line.starts_with('<') && line.contains('Z') && line.contains(" INFO "),
        "a timestamped text line, no journald prefix: {line}"
    );
}

/// A fake sysfs tree whose thermal zone `type` and `scaling_governor` hold a newline and
/// an escape sequence, in `dir`, laid out before warden starts.
fn hostile_sysfs(dir: &TempDir) -> FakeSysfsTree {
    let layout = FakeSysfsLayout {
        zone_types: vec!["cpu-thermal\nFORGED zone\u{1b}[2J".into()],
        governor: "ondemand\rFORGED governor".into(),
        ..FakeSysfsLayout::default()
    };
    FakeSysfsTree::create_with(&dir.path().join("sysfs"), &layout).unwrap()
}

/// A `[cpufreq]` that reads the governor, so its sysfs text reaches the log.
const GOVERNOR_STRATEGY: &str = "[cpufreq]\nstrategy = \"governor\"\n";

#[test]
fn text_read_from_sysfs_cannot_split_a_text_log_line() {
    let dir = TempDir::new("log-forge-text");
    let _tree = hostile_sysfs(&dir);
    let mut w = Warden::start_in(dir, &config_with("", GOVERNOR_STRATEGY), Launch::default());
    w.wait_ready(Duration::from_secs(10));
    w.signal(libc::SIGTERM);
    w.wait_exit(Duration::from_secs(10)).expect("exit");
    w.wait_log("final counters", Duration::from_secs(2));
    let lines = w.log();
    // The zone's type and the governor reached their lines, escaped, on those lines.
    for escaped in [
        "sensor: thermal_zone0 (cpu-thermal\\nFORGED zone\\u{1b}[2J)",
        "governor ondemand\\rFORGED governor",
    ] {
        assert!(lines.iter().any(|l| l.contains(escaped)), "{lines:#?}");
    }
    for line in &lines {
        let (time, rest) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("not a record: {line:?} in {lines:#?}"));
        assert!(
            time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "a line that does not start with a timestamp: {line:?} in {lines:#?}"
        );
        let level = rest.split_whitespace().next().unwrap_or("");
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level),
            "{line:?}"
        );
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
}

#[test]
fn json_records_carry_text_read_from_sysfs_exactly_once_escaped() {
    // JSON escapes control characters itself: each record stays on its line, and a
    // collector decodes the message to the text sysfs held, not to a second escaping.
    let dir = TempDir::new("log-forge-json");
    let _tree = hostile_sysfs(&dir);
    let rest = format!("{GOVERNOR_STRATEGY}[log]\nformat = \"json\"\n");
    let w = Warden::start_in(dir, &config_with("", &rest), Launch::default());
    w.wait_log("\"message\":\"ready\"", Duration::from_secs(10));
    let messages: Vec<String> = w
        .log()
        .iter()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            v["message"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("(cpu-thermal\nFORGED zone\u{1b}[2J)")),
        "{messages:#?}"
    );
}

#[test]
fn text_read_from_sysfs_cannot_split_a_journald_record() {
    let dir = TempDir::new("log-forge-journal");
    let _tree = hostile_sysfs(&dir);
    let config =
        config_with("", GOVERNOR_STRATEGY).replace("@DIR@", &dir.path().display().to_string());
    let config = dir.write("warden.toml", &config);
    let mut run = JournalRun::spawn(dir.path(), &["run", "--config", config.to_str().unwrap()]);
    wait_until("ready", Duration::from_secs(10), || {
        run.text().lines().any(|l| l.ends_with(">ready"))
    });
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(run.child.id() as i32, libc::SIGTERM) },
        0
    );
    let (code, text) = run.finish();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cpu-thermal\\nFORGED zone"), "{text}");
    for line in text.lines() {
        let priority = line
            .strip_prefix('<')
            .and_then(|rest| rest.split_once('>'))
            .map(|(priority, _)| priority);
        assert!(
            matches!(priority, Some("3" | "4" | "6" | "7")),
            "a record without its priority: {line:?} in {text}"
        );
    }
}

#[test]
fn the_fatal_line_is_a_json_record_once_the_format_is_json() {
    let dir = TempDir::new("json-fatal");
    let config = config_with(
        "",
        "[log]\nformat = \"json\"\n[thermal]\nsensor = \"/nonexistent/temp\"\n",
    )
    .replace("@DIR@", &dir.path().display().to_string());
    let config = dir.write("warden.toml", &config);
    let out = run_warden(&["run", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let records: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let fatal = records.last().expect("a fatal record");
    assert_eq!(fatal["level"], "error", "{stderr}");
    assert_eq!(fatal["target"], "warden", "{stderr}");
    assert!(fatal["time"].as_str().unwrap().ends_with('Z'), "{stderr}");
    assert!(fatal["fields"].is_object(), "{stderr}");
    let message = fatal["message"].as_str().unwrap();
    assert!(
        message.starts_with("hardware: thermal.sensor: ") && message.contains("does not exist"),
        "the missing sensor file is named by its key: {stderr}"
    );
}

#[test]
fn a_fatal_line_before_the_config_is_read_stays_plain() {
    // No format is known before the file loads: the error about it is plain text.
    let dir = TempDir::new("json-fatal-early");
    let config = dir.write(
        "warden.toml",
        "[log]\nformat = \"json\"\nlevel = \"loud\"\n",
    );
    let out = run_warden(&["run", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("warden: ") && stderr.contains("log.level"),
        "{stderr}"
    );
}
