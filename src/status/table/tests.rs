//! Tests of the `warden status` table: the key figures, unknown readings in
//! words, missing fields named, and nothing a server sends reaching the
//! terminal as a control character.

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
        "max 1.50 GHz of 1.50 GHz · governor ondemand · not throttled · 0 errors",
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
fn a_starting_warden_is_starting_not_unresponsive() {
    let out = render(&status_document(&fixtures::starting())).unwrap();
    assert!(
        out.contains("event loop   starting (waiting for the first thermal reading; up 2.1 s)"),
        "{out}"
    );
    assert!(!out.contains("NOT RESPONDING"), "{out}");
    // Once it beats, a loop that stops beating is reported as before.
    let mut stalled = fixtures::with_thermal();
    stalled.heartbeat_age = std::time::Duration::from_secs(3);
    let out = render(&status_document(&stalled)).unwrap();
    assert!(
        out.contains("event loop   NOT RESPONDING (heartbeat 3.0 s ago)"),
        "{out}"
    );
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
        "thermal.fan.requested_duty",
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
        "temperature  no reading yet (trend +0.050 °C/s) · level normal",
        "fan          not set yet, requested 30 % (pwm, proportional)",
        "cpu          no cpufreq control",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(!out.contains("firmware"), "{out}");
}

#[test]
fn firmware_flags_that_cannot_be_read_say_why_and_a_missing_file_says_nothing() {
    let mut doc = status_document(&fixtures::with_thermal());
    doc["thermal"]["throttle_flags"] = Value::Null;
    doc["thermal"]["throttle_flags_error"] =
        Value::from("get_throttled: not a hex word: \"garbage\"\u{1b}[2J");
    let out = render(&doc).unwrap();
    assert!(
        out.contains(
            "firmware     flags unknown: get_throttled: not a hex word: \"garbage\"\\u{1b}[2J"
        ),
        "{out}"
    );
    // No file (not a Pi): no error, no line, as from a warden older than the field.
    doc["thermal"]["throttle_flags_error"] = Value::Null;
    assert!(!render(&doc).unwrap().contains("firmware"));
    doc["thermal"]
        .as_object_mut()
        .unwrap()
        .remove("throttle_flags_error");
    assert!(!render(&doc).unwrap().contains("firmware"));
}

#[test]
fn a_sensor_fault_is_said_in_words_not_question_marks() {
    let out = render(&status_document(&fixtures::sensor_fault())).unwrap();
    let line = out.lines().find(|l| l.starts_with("temperature")).unwrap();
    assert_eq!(
        line,
        "temperature  no reading (sensor fault: read_errors) · level sensor_fault"
    );
    assert!(!out.contains('?'), "{out}");
    // An implausible reading is shown, marked untrusted.
    let mut doc = status_document(&fixtures::sensor_fault());
    doc["thermal"]["temp_c"] = serde_json::json!(412.0);
    doc["thermal"]["sensor"]["fault"] = "implausible".into();
    let out = render(&doc).unwrap();
    assert!(
        out.contains("temperature  412.0 °C, not trusted (sensor fault: implausible) · level"),
        "{out}"
    );
    // A failed read the policy rides out: the filtered figures stay.
    let mut doc = status_document(&fixtures::with_thermal());
    doc["thermal"]["temp_c"] = Value::Null;
    doc["thermal"]["sensor"]["last_error"] = "EIO".into();
    let out = render(&doc).unwrap();
    assert!(
        out.contains(
            "temperature  no reading (the last read failed; filtered 55.0 °C, \
             trend +0.050 °C/s, predicted 55.5 °C) · level normal"
        ),
        "{out}"
    );
}

#[test]
fn a_sensor_that_read_again_shows_its_last_error_as_past() {
    let sensor_line = |consecutive: u64| {
        let mut doc = status_document(&fixtures::with_thermal());
        doc["thermal"]["sensor"]["last_error"] = "EIO".into();
        doc["thermal"]["sensor"]["consecutive_errors"] = consecutive.into();
        let out = render(&doc).unwrap();
        out.lines()
            .find(|l| l.starts_with("sensor"))
            .unwrap()
            .to_string()
    };
    let failing = sensor_line(3);
    assert!(failing.ends_with(" · last error: EIO"), "{failing}");
    let recovered = sensor_line(0);
    assert!(
        recovered.ends_with(" · recovered since its last error: EIO"),
        "{recovered}"
    );
}

#[test]
fn a_requested_duty_the_fan_does_not_have_is_shown_beside_the_applied_one() {
    // A sensor fault asks for full duty, and every write to the fan fails.
    let mut doc = status_document(&fixtures::sensor_fault());
    doc["thermal"]["fan"]["duty"] = serde_json::json!(0.0);
    doc["thermal"]["fan"]["requested_duty"] = serde_json::json!(1.0);
    doc["thermal"]["fan"]["errors"] = serde_json::json!(9);
    let out = render(&doc).unwrap();
    let line = out.lines().find(|l| l.starts_with("fan ")).unwrap();
    assert_eq!(
        line,
        "fan          0 %, requested 100 % (pwm, proportional) · 2 switches · 9 errors"
    );
    // One of each is said in the singular.
    doc["thermal"]["fan"]["switches"] = serde_json::json!(1);
    doc["thermal"]["fan"]["errors"] = serde_json::json!(1);
    let out = render(&doc).unwrap();
    assert!(
        out.contains("(pwm, proportional) · 1 switch · 1 error\n"),
        "{out}"
    );
    // Applied as requested (to the percent shown): one figure.
    doc["thermal"]["fan"]["duty"] = serde_json::json!(0.999);
    let out = render(&doc).unwrap();
    assert!(
        out.contains("fan          100 % (pwm, proportional)"),
        "{out}"
    );
}

#[test]
fn a_throttle_whose_writes_fail_shows_the_cpufreq_errors() {
    let mut doc = status_document(&fixtures::with_thermal());
    doc["thermal"]["cpu"]["throttled"] = serde_json::json!(true);
    doc["thermal"]["cpu"]["errors"] = serde_json::json!(37);
    let out = render(&doc).unwrap();
    assert!(
        out.contains(
            "max 1.50 GHz of 1.50 GHz · governor ondemand · THROTTLED by warden · 37 errors"
        ),
        "{out}"
    );
}

#[test]
fn control_characters_from_the_server_are_escaped() {
    let mut doc = status_document(&fixtures::sensor_fault());
    doc["service"] = "echo\u{1b}]0;owned\u{7}".into();
    doc["admission"]["message"] = "\u{1b}[2J\u{9b}31m".into();
    doc["thermal"]["sensor"]["last_error"] = "bad\r\nline".into();
    doc["thermal"]["sensor"]["fault"] = "\u{1b}[31mred".into();
    let out = render(&doc).unwrap();
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reach the terminal: {out:?}"
    );
    for needle in [
        "echo\\u{1b}]0;owned\\u{7}",
        "\\u{1b}[2J\\u{9b}31m",
        "last error: bad\\r\\nline",
        "sensor fault: \\u{1b}[31mred",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert_eq!(printable("55 °C · ok"), "55 °C · ok");
    // A bidirectional override would show the rest of the line reversed.
    assert_eq!(printable("ok\u{202e}kcatta"), "ok\\u{202e}kcatta");
}

#[test]
fn a_draining_warden_says_its_listeners_are_closed() {
    let mut doc = status_document(&fixtures::with_thermal());
    doc["state"] = "draining".into();
    doc["listen"] = serde_json::json!([]);
    let out = render(&doc).unwrap();
    assert!(
        out.starts_with("warden 0.1.0 · echo (listeners closed, draining) · up 42s · draining\n"),
        "{out}"
    );
    doc["state"] = "running".into();
    let out = render(&doc).unwrap();
    assert!(
        out.starts_with("warden 0.1.0 · echo (no listener open) · up"),
        "{out}"
    );
}

#[test]
fn units_are_readable() {
    assert_eq!(duration(Some(3725.0)), "1h 02m 05s");
    assert_eq!(duration(Some(90_061.0)), "1d 01h 01m");
    assert_eq!(bytes(Some(999)), "999 B");
    assert_eq!(bytes(Some(1_500_000)), "1.5 MB");
    assert_eq!(text(&Value::Null), "?");
}
