//! The human form of `warden status`: the `/status` document as a short
//! table, one line per topic. Works from the JSON (not from Rust types) so
//! it shows what any warden speaking schema 1 reports. Every field the
//! table reads must be in the document, or [`render`] names the first one
//! missing (a table of "?" would hide that the answer is not a whole status
//! document); a field that is present but `null` (no reading yet, no fan
//! duty set) shows as "?" or in words, and the thermal details are read
//! only when `thermal.available` is true. The exceptions are fields that wardens
//! before them never sent: `simulated` (absent, it reads as real hardware),
//! `event_loop.starting` and `thermal.throttle_flags_error`.

use serde_json::Value;

/// A field the table needs is absent from the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    /// Its dotted path, e.g. `connections.rejected.capacity`.
    pub path: String,
    /// True when it is a section (an object holding fields), not a single field.
    pub is_section: bool,
}

impl std::fmt::Display for MissingField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_section { "section" } else { "field" };
        write!(f, "the \"{}\" {kind}", self.path)
    }
}

/// Reads fields of a document by dotted path, remembering the first one absent.
struct Fields<'a> {
    doc: &'a Value,
    first_missing: Option<MissingField>,
}

/// What an absent field reads as, so rendering can go on to the end.
static ABSENT: Value = Value::Null;

impl<'a> Fields<'a> {
    /// The field at `path` (`null` when absent, and then remembered as missing).
    /// A `null` or non-object value on the way there counts as a missing section.
    fn get(&mut self, path: &str) -> &'a Value {
        let mut value = self.doc;
        let mut parent_end = 0;
        for key in path.split('.') {
            let key_end = if parent_end == 0 {
                key.len()
            } else {
                parent_end + 1 + key.len()
            };
            let missing = match value.as_object() {
                Some(object) => match object.get(key) {
                    Some(next) => {
                        value = next;
                        parent_end = key_end;
                        continue;
                    }
                    // The section is there and lacks the key.
                    None => MissingField {
                        path: path[..key_end].to_string(),
                        is_section: key_end < path.len(),
                    },
                },
                // The document itself is no object: it lacks even the first key.
                None if parent_end == 0 => MissingField {
                    path: key.to_string(),
                    is_section: key_end < path.len(),
                },
                // What should hold the key is `null` or not a section.
                None => MissingField {
                    path: path[..parent_end].to_string(),
                    is_section: true,
                },
            };
            self.first_missing.get_or_insert(missing);
            return &ABSENT;
        }
        value
    }

    /// The section at `path`, read whole (`thermal.cpu`): like [`get`](Self::get),
    /// but absent it is named as a section.
    fn section(&mut self, path: &str) -> &'a Value {
        let named_before = self.first_missing.is_some();
        let value = self.get(path);
        if let (false, Some(missing)) = (named_before, &mut self.first_missing) {
            missing.is_section |= missing.path == path;
        }
        value
    }

    /// [`text`] of the field at `path`.
    fn text(&mut self, path: &str) -> String {
        text(self.get(path))
    }
}

/// The first line under the title when the document says `"simulated": true`.
const SIMULATED_NOTE: &str =
    "temperature, fan and cpufreq are a model, not hardware (warden run --simulate or hardware.simulate)";

/// Renders a `/status` document as aligned `label  value` lines, or names
/// the first field the table needs that the document lacks.
pub fn render(doc: &Value) -> Result<String, MissingField> {
    let mut f = Fields {
        doc,
        first_missing: None,
    };
    let mut lines: Vec<(&str, String)> = Vec::new();
    // Not through `f`: a document from a warden older than the field lacks it.
    if doc.get("simulated").and_then(Value::as_bool) == Some(true) {
        lines.push(("SIMULATED", SIMULATED_NOTE.into()));
    }
    let (version, service) = (f.text("version"), f.text("service"));
    let listen = f
        .get("listen")
        .as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let state = f.text("state");
    // `listen` is empty once a drain has closed the listeners.
    let serving = match (listen.is_empty(), state.as_str()) {
        (false, _) => format!("{service} on {listen}"),
        (true, "draining") => format!("{service} (listeners closed, draining)"),
        (true, _) => format!("{service} (no listener open)"),
    };
    let title = format!(
        "warden {version} · {serving} · up {} · {state}",
        duration(f.get("uptime_s").as_f64()),
    );
    lines.push((
        "admission",
        format!(
            "{} ({})",
            f.text("admission.state"),
            f.text("admission.message")
        ),
    ));
    // Not through `f`: a warden older than `starting` lacks it (and was never starting).
    let starting = doc.pointer("/event_loop/starting").and_then(Value::as_bool) == Some(true);
    let event_loop = if starting {
        format!(
            "starting (waiting for the first thermal reading; up {} s)",
            num(f.get("event_loop.heartbeat_age_s"), 1)
        )
    } else {
        format!(
            "{} (heartbeat {} s ago)",
            if f.get("event_loop.alive").as_bool() == Some(true) {
                "alive"
            } else {
                "NOT RESPONDING"
            },
            num(f.get("event_loop.heartbeat_age_s"), 1)
        )
    };
    lines.push(("event loop", event_loop));
    thermal_lines(&mut f, &mut lines);
    lines.push((
        "connections",
        format!(
            "{} active of {} · {} accepted · rejected {} at capacity, {} thermal · {} closed · {} timed out",
            f.text("connections.active"),
            f.text("connections.max"),
            f.text("connections.accepted"),
            f.text("connections.rejected.capacity"),
            f.text("connections.rejected.thermal"),
            f.text("connections.closed"),
            f.text("connections.timed_out")
        ),
    ));
    lines.push((
        "traffic",
        format!(
            "{} in · {} out",
            bytes(f.get("traffic.bytes_in").as_u64()),
            bytes(f.get("traffic.bytes_out").as_u64())
        ),
    ));
    lines.push((
        "errors",
        format!(
            "accept: {} emfile, {} enfile, {} nomem, {} aborted, {} other · {} fd back-offs · {} i/o",
            f.text("errors.accept.emfile"),
            f.text("errors.accept.enfile"),
            f.text("errors.accept.nomem"),
            f.text("errors.accept.aborted"),
            f.text("errors.accept.other"),
            f.text("errors.fd_backoffs"),
            f.text("errors.io")
        ),
    ));
    if let Some(missing) = f.first_missing {
        return Err(missing);
    }
    let width = lines
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    let mut out = title;
    out.push('\n');
    for (label, value) in lines {
        out.push_str(&format!("{label:<width$}  {value}\n"));
    }
    Ok(out)
}

fn thermal_lines(f: &mut Fields<'_>, lines: &mut Vec<(&str, String)>) {
    if f.get("thermal.available").as_bool() != Some(true) {
        lines.push((
            "thermal",
            format!("OFF: {}", f.text("thermal.unavailable_reason")),
        ));
        return;
    }
    let temperature = temperature(f);
    lines.push((
        "temperature",
        format!("{temperature} · level {}", f.text("thermal.level")),
    ));
    let stages: Vec<String> = ["fan", "shed", "throttle", "critical"]
        .iter()
        .map(|s| {
            format!(
                "{s} {}/{}",
                num(f.get(&format!("thermal.thresholds.{s}.on_c")), 0),
                num(f.get(&format!("thermal.thresholds.{s}.off_c")), 0)
            )
        })
        .collect();
    lines.push(("thresholds", format!("{} °C (on/off)", stages.join(" · "))));
    let health = if f.get("thermal.sensor.healthy").as_bool() == Some(true) {
        "healthy".to_string()
    } else {
        format!("FAULT ({})", f.text("thermal.sensor.fault"))
    };
    let mut sensor = format!("{health} · {}", f.text("thermal.sensor.description"));
    if let Some(err) = f.get("thermal.sensor.last_error").as_str() {
        sensor.push_str(&sensor_error(
            err,
            f.get("thermal.sensor.consecutive_errors"),
        ));
    }
    lines.push(("sensor", sensor));
    let duty = fan_duty(f);
    let kind = if f.get("thermal.fan.proportional").as_bool() == Some(true) {
        "proportional"
    } else {
        "on/off"
    };
    lines.push((
        "fan",
        format!(
            "{duty} ({}, {kind}) · {} · {}",
            f.text("thermal.fan.driver"),
            counted(f.get("thermal.fan.switches"), "switch", "switches"),
            counted(f.get("thermal.fan.errors"), "error", "errors")
        ),
    ));
    // `null`: warden controls no cpufreq here.
    if f.section("thermal.cpu").is_null() {
        lines.push(("cpu", "no cpufreq control".into()));
    } else {
        lines.push((
            "cpu",
            format!(
                "max {} of {} · governor {} · {} · {}",
                ghz(f.get("thermal.cpu.max_khz").as_f64()),
                ghz(f.get("thermal.cpu.original_max_khz").as_f64()),
                f.text("thermal.cpu.governor"),
                if f.get("thermal.cpu.throttled").as_bool() == Some(true) {
                    "THROTTLED by warden"
                } else {
                    "not throttled"
                },
                counted(f.get("thermal.cpu.errors"), "error", "errors")
            ),
        ));
    }
    // Not through `f`: a warden older than `throttle_flags_error` lacks it.
    let unreadable = f
        .doc
        .pointer("/thermal/throttle_flags_error")
        .and_then(Value::as_str);
    // `null`: the firmware's flags are unknown; said only when a read failed, since
    // with no such file (not a Pi) there are none to know.
    let flags = f.section("thermal.throttle_flags").as_object();
    if let (None, Some(why)) = (flags, unreadable) {
        lines.push(("firmware", format!("flags unknown: {}", printable(why))));
    }
    if let Some(map) = flags {
        let set: Vec<String> = map
            .iter()
            .filter(|(k, v)| *k != "raw" && v.as_bool() == Some(true))
            .map(|(k, _)| printable(k))
            .collect();
        lines.push((
            "firmware",
            if set.is_empty() {
                "no throttling flags".into()
            } else {
                set.join(", ")
            },
        ));
    }
}

/// The fan duty applied, and the one the policy asks for when it differs (a fail-safe's
/// 100 % that the fan's writes keep failing to apply, say).
fn fan_duty(f: &mut Fields<'_>) -> String {
    let percent = |duty: f64| format!("{:.0} %", duty * 100.0);
    let requested = f.get("thermal.fan.requested_duty").as_f64().map(percent);
    let applied = f.get("thermal.fan.duty").as_f64().map(percent);
    match (applied, requested) {
        (Some(applied), Some(requested)) if applied != requested => {
            format!("{applied}, requested {requested}")
        }
        (Some(applied), _) => applied,
        (None, Some(requested)) => format!("not set yet, requested {requested}"),
        (None, None) => "not set yet".into(),
    }
}

/// The temperature readings in words: each one known is shown, and an
/// unknown reading says why (a sensor fault, a failed read, none yet)
/// rather than printing "?".
fn temperature(f: &mut Fields<'_>) -> String {
    let raw = f.get("thermal.temp_c").as_f64();
    let fault = f.get("thermal.sensor.fault").as_str().map(printable);
    let read_failed = !f.get("thermal.sensor.last_error").is_null();
    let mut notes = Vec::new();
    let reading = match (raw, &fault) {
        (Some(c), None) => format!("{c:.1} °C"),
        (Some(c), Some(cause)) => {
            notes.push(format!("sensor fault: {cause}"));
            format!("{c:.1} °C, not trusted")
        }
        (None, Some(cause)) => {
            notes.push(format!("sensor fault: {cause}"));
            "no reading".to_string()
        }
        (None, None) if read_failed => {
            notes.push("the last read failed".to_string());
            "no reading".to_string()
        }
        (None, None) => "no reading yet".to_string(),
    };
    let mut figures = Vec::new();
    if let Some(c) = f.get("thermal.filtered_c").as_f64() {
        figures.push(format!("filtered {c:.1} °C"));
    }
    if let Some(trend) = f.get("thermal.trend_c_per_s").as_f64() {
        figures.push(format!("trend {trend:+.3} °C/s"));
    }
    if let Some(c) = f.get("thermal.predicted_c").as_f64() {
        figures.push(format!("predicted {c:.1} °C"));
    }
    if !figures.is_empty() {
        notes.push(figures.join(", "));
    }
    if notes.is_empty() {
        reading
    } else {
        format!("{reading} ({})", notes.join("; "))
    }
}

/// `text` as it may reach the terminal ([`crate::text::escape_controls`]): a server's
/// strings must not recolour, retitle, rewrite or reorder it.
pub fn printable(text: &str) -> String {
    crate::text::escape_controls(text).into_owned()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => printable(s),
        Value::Null => "?".into(),
        other => other.to_string(),
    }
}

/// `n` with the noun in the number it takes: "1 switch", "3 switches", "? switches".
/// The sensor's most recent read error, marked as past once a read has
/// succeeded since, so a recovered sensor does not look broken.
fn sensor_error(err: &str, consecutive: &Value) -> String {
    match consecutive.as_u64() {
        Some(0) => format!(" · recovered since its last error: {}", printable(err)),
        _ => format!(" · last error: {}", printable(err)),
    }
}

fn counted(v: &Value, one: &str, many: &str) -> String {
    match v.as_u64() {
        Some(1) => format!("1 {one}"),
        Some(n) => format!("{n} {many}"),
        None => format!("? {many}"),
    }
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.digits$}"))
        .unwrap_or("?".into())
}

fn ghz(khz: Option<f64>) -> String {
    khz.map(|k| format!("{:.2} GHz", k / 1e6))
        .unwrap_or("?".into())
}

fn duration(seconds: Option<f64>) -> String {
    let Some(s) = seconds else { return "?".into() };
    let s = s as u64;
    match (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60) {
        (0, 0, 0, sec) => format!("{sec}s"),
        (0, 0, min, sec) => format!("{min}m {sec:02}s"),
        (0, h, min, sec) => format!("{h}h {min:02}m {sec:02}s"),
        (d, h, min, _) => format!("{d}d {h:02}h {min:02}m"),
    }
}

fn bytes(n: Option<u64>) -> String {
    let Some(n) = n else { return "?".into() };
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests;
