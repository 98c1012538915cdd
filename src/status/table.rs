//! The human form of `warden status`: the `/status` document as a short
//! table, one line per topic. Works from the JSON (not from Rust types) so
//! it shows what any warden speaking schema 1 reports. Every field the
//! table reads must be in the document, or [`render`] names the first one
//! missing (a table of "?" would hide that the answer is not a whole status
//! document); a field that is present but `null` (no reading yet, no fan
//! duty set) shows as "?" or in words, and the thermal details are read
//! only when `thermal.available` is true. The one exception is `simulated`,
//! which wardens before it never sent: absent, it reads as real hardware.

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
    let title = format!(
        "warden {version} · {service} on {listen} · up {} · {}",
        duration(f.get("uptime_s").as_f64()),
        f.text("state")
    );
    lines.push((
        "admission",
        format!(
            "{} ({})",
            f.text("admission.state"),
            f.text("admission.message")
        ),
    ));
    lines.push((
        "event loop",
        format!(
            "{} (heartbeat {} s ago)",
            if f.get("event_loop.alive").as_bool() == Some(true) {
                "alive"
            } else {
                "NOT RESPONDING"
            },
            num(f.get("event_loop.heartbeat_age_s"), 1)
        ),
    ));
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
    lines.push((
        "temperature",
        format!(
            "{} °C (filtered {} °C, trend {} °C/s, predicted {} °C) · level {}",
            num(f.get("thermal.temp_c"), 1),
            num(f.get("thermal.filtered_c"), 1),
            signed(f.get("thermal.trend_c_per_s")),
            num(f.get("thermal.predicted_c"), 1),
            f.text("thermal.level")
        ),
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
        sensor.push_str(&format!(" · last error: {err}"));
    }
    lines.push(("sensor", sensor));
    let duty = f
        .get("thermal.fan.duty")
        .as_f64()
        .map(|d| format!("{:.0} %", d * 100.0))
        .unwrap_or("not set yet".into());
    let kind = if f.get("thermal.fan.proportional").as_bool() == Some(true) {
        "proportional"
    } else {
        "on/off"
    };
    lines.push((
        "fan",
        format!(
            "{duty} ({}, {kind}) · {} switches · {} errors",
            f.text("thermal.fan.driver"),
            f.text("thermal.fan.switches"),
            f.text("thermal.fan.errors")
        ),
    ));
    // `null`: warden controls no cpufreq here.
    if f.section("thermal.cpu").is_null() {
        lines.push(("cpu", "no cpufreq control".into()));
    } else {
        lines.push((
            "cpu",
            format!(
                "max {} of {} · governor {} · {}",
                ghz(f.get("thermal.cpu.max_khz").as_f64()),
                ghz(f.get("thermal.cpu.original_max_khz").as_f64()),
                f.text("thermal.cpu.governor"),
                if f.get("thermal.cpu.throttled").as_bool() == Some(true) {
                    "THROTTLED by warden"
                } else {
                    "not throttled"
                }
            ),
        ));
    }
    // `null`: the firmware's flags cannot be read here (not a Pi).
    if let Some(map) = f.section("thermal.throttle_flags").as_object() {
        let set: Vec<&str> = map
            .iter()
            .filter(|(k, v)| *k != "raw" && v.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
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

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    }
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map(|x| format!("{x:.digits$}"))
        .unwrap_or("?".into())
}

fn signed(v: &Value) -> String {
    v.as_f64().map(|x| format!("{x:+.3}")).unwrap_or("?".into())
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
mod tests {
    use super::*;
    use crate::status::json::status_document;
    use crate::status::snapshot::fixtures;

    #[test]
    fn table_shows_the_key_figures() {
        let out = render(&status_document(&fixtures::with_thermal())).unwrap();
        assert!(
            out.starts_with("warden 0.1.0 · echo on 127.0.0.1:7000 · up 42s · running\n"),
            "{out}"
        );
        for needle in [
            "admission    open (admitting new connections)",
            "55.2 °C (filtered 55.0 °C, trend +0.050 °C/s",
            "fan 60/50 · shed 75/70 · throttle 80/75 · critical 85/80 °C",
            "30 % (pwm, proportional)",
            "max 1.50 GHz of 1.50 GHz · governor ondemand · not throttled",
            "throttled_since_boot",
            "12 active of 10000 · 100 accepted · rejected 3 at capacity, 4 thermal",
            "1.2 kB in · 1.2 kB out",
            "accept: 1 emfile",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
    }

    #[test]
    fn a_simulated_board_is_marked_first_and_real_hardware_not_at_all() {
        let out = render(&status_document(&fixtures::simulated())).unwrap();
        let second = out.lines().nth(1).unwrap();
        assert_eq!(
            second,
            format!("SIMULATED    {SIMULATED_NOTE}"),
            "in\n{out}"
        );
        let real = render(&status_document(&fixtures::with_thermal())).unwrap();
        assert!(!real.contains("SIMULATED"), "{real}");
        assert!(!real.to_lowercase().contains("simulate"), "{real}");
        // A warden older than the field: the table renders, as real hardware.
        let mut old = status_document(&fixtures::with_thermal());
        old.as_object_mut().unwrap().remove("simulated");
        assert_eq!(render(&old).unwrap(), real);
        // Any value but `true` is not a claim of simulation.
        old["simulated"] = Value::Null;
        assert_eq!(render(&old).unwrap(), real);
    }

    #[test]
    fn table_without_a_sensor_says_why() {
        let out = render(&status_document(&fixtures::without_thermal())).unwrap();
        assert!(
            out.contains("thermal      OFF: no thermal zone under"),
            "{out}"
        );
        assert!(!out.contains("temperature"));
    }

    /// Every dotted path of `value`'s object fields, parents before children.
    fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
        let Some(object) = value.as_object() else {
            return;
        };
        for (key, child) in object {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.push(path.clone());
            paths(child, &path, out);
        }
    }

    /// `doc` without the field at `path`.
    fn without(doc: &Value, path: &str) -> Value {
        let mut doc = doc.clone();
        let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
        let mut object = &mut doc;
        for part in parent.split('.').filter(|p| !p.is_empty()) {
            object = &mut object[part];
        }
        object.as_object_mut().unwrap().remove(key);
        doc
    }

    #[test]
    fn a_missing_field_is_named_not_shown_as_a_question_mark() {
        let full = status_document(&fixtures::with_thermal());
        let mut all = Vec::new();
        paths(&full, "", &mut all);
        let mut named = Vec::new();
        for path in &all {
            match render(&without(&full, path)) {
                Ok(out) => assert!(!out.contains('?'), "without {path}:\n{out}"),
                Err(missing) => {
                    assert_eq!(missing.path, *path, "without {path}");
                    assert_eq!(
                        missing.is_section,
                        full.pointer(&format!("/{}", path.replace('.', "/")))
                            .unwrap()
                            .is_object()
                    );
                    named.push(path.as_str());
                }
            }
        }
        for path in [
            "version",
            "listen",
            "admission",
            "admission.message",
            "event_loop",
            "thermal",
            "thermal.available",
            "thermal.thresholds.critical.off_c",
            "thermal.sensor.last_error",
            "thermal.fan",
            "thermal.cpu",
            "thermal.cpu.governor",
            "thermal.throttle_flags",
            "connections",
            "connections.rejected.capacity",
            "traffic.bytes_out",
            "errors.accept",
            "errors.io",
        ] {
            assert!(named.contains(&path), "{path} not required: {named:?}");
        }
        // Fields the table does not show are not required of the document.
        for path in [
            "schema",
            "time_unix_s",
            "simulated",
            "admission.reason",
            "thermal.ticks",
        ] {
            assert!(!named.contains(&path), "{path} required");
        }
    }

    #[test]
    fn the_first_missing_section_or_field_is_named() {
        let err = render(&serde_json::json!({"schema": 1})).unwrap_err();
        assert_eq!(err.to_string(), "the \"version\" field");
        let mut doc = status_document(&fixtures::with_thermal());
        doc.as_object_mut().unwrap().remove("connections");
        doc.as_object_mut().unwrap().remove("traffic");
        assert_eq!(
            render(&doc).unwrap_err().to_string(),
            "the \"connections\" section"
        );
        // A section that is null where the table needs its fields is missing too.
        let mut doc = status_document(&fixtures::with_thermal());
        doc["thermal"]["sensor"] = Value::Null;
        assert_eq!(
            render(&doc).unwrap_err(),
            MissingField {
                path: "thermal.sensor".into(),
                is_section: true
            }
        );
        let err = render(&serde_json::json!([1])).unwrap_err();
        assert_eq!(err.path, "version");
    }

    #[test]
    fn null_values_still_render_in_words_or_as_question_marks() {
        let mut doc = status_document(&fixtures::with_thermal());
        let thermal = &mut doc["thermal"];
        for key in [
            "temp_c",
            "filtered_c",
            "predicted_c",
            "cpu",
            "throttle_flags",
        ] {
            thermal[key] = Value::Null;
        }
        thermal["fan"]["duty"] = Value::Null;
        thermal["sensor"]["last_error"] = Value::Null;
        let out = render(&doc).unwrap();
        for needle in [
            "temperature  ? °C (filtered ? °C, trend +0.050 °C/s, predicted ? °C)",
            "fan          not set yet (pwm, proportional)",
            "cpu          no cpufreq control",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        assert!(!out.contains("firmware"), "{out}");
    }

    #[test]
    fn units_are_readable() {
        assert_eq!(duration(Some(3725.0)), "1h 02m 05s");
        assert_eq!(duration(Some(90_061.0)), "1d 01h 01m");
        assert_eq!(bytes(Some(999)), "999 B");
        assert_eq!(bytes(Some(1_500_000)), "1.5 MB");
        assert_eq!(text(&Value::Null), "?");
    }
}
