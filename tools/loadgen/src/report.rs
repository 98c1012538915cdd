//! Reports: one JSON object on stdout (`--json`) and a human summary on stderr.
//!
//! Every mode builds its object from [`common_fields`] plus its own keys.
//! Key names are an interface (tools/bench/run.sh and the integration tests
//! read them) and are documented in tools/loadgen/README.md. Server figures
//! are present only when `--server-pid` was given; a figure that could not be
//! read is `null`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;

use serde_json::{json, Map, Value};

use crate::error_kind::ErrorCounts;
use crate::window::WindowFigures;

/// A JSON object under construction.
pub type JsonObject = Map<String, Value>;

/// What every mode reports.
pub struct CommonFigures {
    /// "pingpong", "churn" or "hold".
    pub mode: &'static str,
    /// The server address the load went to.
    pub addr: SocketAddr,
    /// The measured window.
    pub window: WindowFigures,
    /// Failures by kind.
    pub errors: ErrorCounts,
}

/// The keys shared by all modes: mode, addr, duration_s, errors, error_kinds,
/// loadgen_cpu_s, and with a server pid server_cpu_s and server_rss_bytes.
pub fn common_fields(common: &CommonFigures) -> JsonObject {
    let mut object = JsonObject::new();
    object.insert("mode".into(), json!(common.mode));
    object.insert("addr".into(), json!(common.addr.to_string()));
    object.insert(
        "duration_s".into(),
        json!(rounded(common.window.duration_s, 3)),
    );
    object.insert("errors".into(), json!(common.errors.total()));
    let kinds: JsonObject = common
        .errors
        .iter()
        .map(|(kind, count)| (kind.name().to_string(), json!(count)))
        .collect();
    object.insert("error_kinds".into(), Value::Object(kinds));
    object.insert(
        "loadgen_cpu_s".into(),
        json!(rounded(common.window.loadgen_cpu_s, 3)),
    );
    if let Some(server) = common.window.server {
        object.insert(
            "server_cpu_s".into(),
            json!(server.cpu_s.map(|cpu| rounded(cpu, 3))),
        );
        object.insert("server_rss_bytes".into(), json!(server.rss_bytes));
    }
    object
}

/// Server CPU seconds per million operations; `None` without figures or operations.
pub fn cpu_per_million(server_cpu_s: Option<f64>, operations: u64) -> Option<f64> {
    let cpu = server_cpu_s?;
    (operations > 0).then(|| rounded(cpu * 1e6 / operations as f64, 3))
}

/// `value` rounded to `decimals` places, for readable JSON.
pub fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Per-second rate of `count` over `seconds`.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        rounded(count as f64 / seconds, 1)
    } else {
        0.0
    }
}

/// Human lines shared by every mode: errors by kind and CPU/memory figures.
pub fn human_common(common: &CommonFigures) -> String {
    let mut text = String::new();
    let _ = write!(text, "  errors: {}", common.errors.total());
    let nonzero: Vec<String> = common
        .errors
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| format!("{} {count}", kind.name()))
        .collect();
    if !nonzero.is_empty() {
        let _ = write!(text, " ({})", nonzero.join(", "));
    }
    let _ = write!(
        text,
        "\n  loadgen cpu: {:.2} s over {:.2} s",
        common.window.loadgen_cpu_s, common.window.duration_s
    );
    if let Some(server) = common.window.server {
        let cpu = server
            .cpu_s
            .map_or("unavailable".to_string(), |cpu| format!("{cpu:.2} s"));
        let rss = server.rss_bytes.map_or("unavailable".to_string(), |rss| {
            format!("{:.1} MiB", rss as f64 / 1048576.0)
        });
        let _ = write!(text, "\n  server cpu: {cpu}, server rss: {rss}");
    }
    text
}

/// Formats an optional latency in microseconds.
pub fn micros(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |us| format!("{us:.1}"))
}

/// Prints the human summary to stderr and, with `json`, the object to stdout.
pub fn emit(json: bool, object: JsonObject, human: &str) {
    eprintln!("{human}");
    if json {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", Value::Object(object));
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_kind::ErrorKind;
    use crate::window::ServerFigures;

    fn common(server: Option<ServerFigures>) -> CommonFigures {
        let mut errors = ErrorCounts::default();
        errors.add(ErrorKind::Mismatch);
        CommonFigures {
            mode: "pingpong",
            addr: "127.0.0.1:7000".parse().unwrap(),
            window: WindowFigures {
                duration_s: 5.0004,
                loadgen_cpu_s: 1.23456,
                server,
            },
            errors,
        }
    }

    #[test]
    fn common_keys_without_server_pid_omit_server_figures() {
        let object = common_fields(&common(None));
        assert_eq!(object["mode"], "pingpong");
        assert_eq!(object["addr"], "127.0.0.1:7000");
        assert_eq!(object["duration_s"], 5.0);
        assert_eq!(object["errors"], 1);
        assert_eq!(object["error_kinds"]["mismatch"], 1);
        assert_eq!(object["error_kinds"]["closed_early"], 0);
        assert_eq!(object["loadgen_cpu_s"], 1.235);
        assert!(!object.contains_key("server_cpu_s"));
        assert!(!object.contains_key("server_rss_bytes"));
    }

    #[test]
    fn server_figures_present_with_pid_and_null_when_unreadable() {
        let object = common_fields(&common(Some(ServerFigures {
            cpu_s: Some(2.5),
            rss_bytes: None,
        })));
        assert_eq!(object["server_cpu_s"], 2.5);
        assert!(object["server_rss_bytes"].is_null());
    }

    #[test]
    fn per_million_needs_figures_and_operations() {
        assert_eq!(cpu_per_million(Some(3.0), 2_000_000), Some(1.5));
        assert_eq!(cpu_per_million(Some(3.0), 0), None);
        assert_eq!(cpu_per_million(None, 10), None);
    }
}
