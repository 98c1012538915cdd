//! Running the real warden-loadgen binary and reading its report.

use std::process::{Command, Output};

use serde_json::Value;

/// The outcome of one loadgen run.
pub struct Run {
    /// Exit status.
    pub code: i32,
    /// The JSON report (when --json was given and it printed one).
    pub json: Value,
    /// Everything written to stderr.
    pub stderr: String,
    /// Everything written to stdout.
    pub stdout: String,
}

/// Runs warden-loadgen with `args` (the binary bounds its own run time).
pub fn loadgen(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_warden-loadgen"))
        .args(args)
        .output()
        .expect("run warden-loadgen");
    finished(output)
}

fn finished(output: Output) -> Run {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    Run {
        code: output.status.code().expect("exited normally"),
        json,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout,
    }
}

/// Runs warden-loadgen with `args` under the shell resource limits in
/// `ulimits` (e.g. "ulimit -n 256"), which lower both soft and hard limits.
pub fn loadgen_with_limits(ulimits: &str, args: &[&str]) -> Run {
    let script = format!("{ulimits} && exec \"$0\" \"$@\"");
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_warden-loadgen"))
        .args(args)
        .output()
        .expect("run warden-loadgen through sh");
    finished(output)
}

/// The pid of this test process, whose threads are the test servers.
pub fn own_pid() -> String {
    std::process::id().to_string()
}

/// Reads an unsigned integer field, failing the test with the report if absent.
pub fn count(run: &Run, key: &str) -> u64 {
    run.json[key].as_u64().unwrap_or_else(|| {
        panic!(
            "{key} missing or not a count in {}\nstderr:\n{}",
            run.json, run.stderr
        )
    })
}

/// Asserts that every key in `keys` is present in the report.
pub fn assert_keys(run: &Run, keys: &[&str]) {
    let object = run
        .json
        .as_object()
        .unwrap_or_else(|| panic!("no JSON report; stderr:\n{}", run.stderr));
    for key in keys {
        assert!(
            object.contains_key(*key),
            "key {key} missing in {}",
            run.json
        );
    }
}

/// Keys every mode reports.
pub const COMMON_KEYS: [&str; 6] = [
    "mode",
    "addr",
    "duration_s",
    "errors",
    "error_kinds",
    "loadgen_cpu_s",
];
