//! The human form of `warden status`: the `/status` document as a short
//! table, one line per topic. Works from the JSON (not from Rust types) so
//! it shows what any warden speaking schema 1 reports; a missing field shows
//! as "?" rather than failing.

use serde_json::Value;

/// Renders a `/status` document as aligned `label  value` lines.
pub fn render(doc: &Value) -> String {
    let mut lines: Vec<(&str, String)> = Vec::new();
    let listen = doc["listen"]
        .as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let title = format!(
        "warden {} · {} on {} · up {} · {}",
        text(&doc["version"]),
        text(&doc["service"]),
        listen,
        duration(doc["uptime_s"].as_f64()),
        text(&doc["state"])
    );
    let admission = &doc["admission"];
    lines.push((
        "admission",
        format!(
            "{} ({})",
            text(&admission["state"]),
            text(&admission["message"])
        ),
    ));
    let event_loop = &doc["event_loop"];
    lines.push((
        "event loop",
        format!(
            "{} (heartbeat {} s ago)",
            if event_loop["alive"].as_bool() == Some(true) {
                "alive"
            } else {
                "NOT RESPONDING"
            },
            num(&event_loop["heartbeat_age_s"], 1)
        ),
    ));
    thermal_lines(&doc["thermal"], &mut lines);
    let c = &doc["connections"];
    lines.push((
        "connections",
        format!(
            "{} active of {} · {} accepted · rejected {} at capacity, {} thermal · {} closed · {} timed out",
            text(&c["active"]),
            text(&c["max"]),
            text(&c["accepted"]),
            text(&c["rejected"]["capacity"]),
            text(&c["rejected"]["thermal"]),
            text(&c["closed"]),
            text(&c["timed_out"])
        ),
    ));
    let t = &doc["traffic"];
    lines.push((
        "traffic",
        format!(
            "{} in · {} out",
            bytes(t["bytes_in"].as_u64()),
            bytes(t["bytes_out"].as_u64())
        ),
    ));
    let e = &doc["errors"];
    let a = &e["accept"];
    lines.push((
        "errors",
        format!(
            "accept: {} emfile, {} enfile, {} nomem, {} aborted, {} other · {} fd back-offs · {} i/o",
            text(&a["emfile"]),
            text(&a["enfile"]),
            text(&a["nomem"]),
            text(&a["aborted"]),
            text(&a["other"]),
            text(&e["fd_backoffs"]),
            text(&e["io"])
        ),
    ));
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
    out
}

fn thermal_lines(t: &Value, lines: &mut Vec<(&str, String)>) {
    if t["available"].as_bool() != Some(true) {
        lines.push((
            "thermal",
            format!("OFF: {}", text(&t["unavailable_reason"])),
        ));
        return;
    }
    lines.push((
        "temperature",
        format!(
            "{} °C (filtered {} °C, trend {} °C/s, predicted {} °C) · level {}",
            num(&t["temp_c"], 1),
            num(&t["filtered_c"], 1),
            signed(&t["trend_c_per_s"]),
            num(&t["predicted_c"], 1),
            text(&t["level"])
        ),
    ));
    let th = &t["thresholds"];
    let stages: Vec<String> = ["fan", "shed", "throttle", "critical"]
        .iter()
        .map(|s| {
            format!(
                "{s} {}/{}",
                num(&th[*s]["on_c"], 0),
                num(&th[*s]["off_c"], 0)
            )
        })
        .collect();
    lines.push(("thresholds", format!("{} °C (on/off)", stages.join(" · "))));
    let s = &t["sensor"];
    let health = if s["healthy"].as_bool() == Some(true) {
        "healthy".to_string()
    } else {
        format!("FAULT ({})", text(&s["fault"]))
    };
    let mut sensor = format!("{health} · {}", text(&s["description"]));
    if let Some(err) = s["last_error"].as_str() {
        sensor.push_str(&format!(" · last error: {err}"));
    }
    lines.push(("sensor", sensor));
    let f = &t["fan"];
    let duty = f["duty"]
        .as_f64()
        .map(|d| format!("{:.0} %", d * 100.0))
        .unwrap_or("not set yet".into());
    let kind = if f["proportional"].as_bool() == Some(true) {
        "proportional"
    } else {
        "on/off"
    };
    lines.push((
        "fan",
        format!(
            "{duty} ({}, {kind}) · {} switches · {} errors",
            text(&f["driver"]),
            text(&f["switches"]),
            text(&f["errors"])
        ),
    ));
    let cpu = &t["cpu"];
    if cpu.is_null() {
        lines.push(("cpu", "no cpufreq control".into()));
    } else {
        lines.push((
            "cpu",
            format!(
                "max {} of {} · governor {} · {}",
                ghz(cpu["max_khz"].as_f64()),
                ghz(cpu["original_max_khz"].as_f64()),
                text(&cpu["governor"]),
                if cpu["throttled"].as_bool() == Some(true) {
                    "THROTTLED by warden"
                } else {
                    "not throttled"
                }
            ),
        ));
    }
    let flags = &t["throttle_flags"];
    if let Some(map) = flags.as_object() {
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
        let out = render(&status_document(&fixtures::with_thermal()));
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
    fn table_without_a_sensor_says_why() {
        let out = render(&status_document(&fixtures::without_thermal()));
        assert!(
            out.contains("thermal      OFF: no thermal zone under"),
            "{out}"
        );
        assert!(!out.contains("temperature"));
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
