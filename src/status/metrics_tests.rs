//! Tests of the Prometheus exposition: names, types, labels and values.

use super::*;
use crate::status::snapshot::fixtures;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Sample lines keyed by `name{labels}`.
fn samples(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn every_family_has_help_and_type_and_the_prefix() {
    let text = render(&fixtures::with_thermal());
    let mut helped = HashSet::new();
    let mut typed = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap().to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            typed.insert(
                parts.next().unwrap().to_string(),
                parts.next().unwrap().to_string(),
            );
        }
    }
    for key in samples(&text).keys() {
        let name = key.split('{').next().unwrap();
        assert!(name.starts_with("warden_"), "{name}");
        assert!(helped.contains(name), "{name} has no HELP");
        let kind = &typed[name];
        assert_eq!(
            name.ends_with("_total"),
            kind == "counter",
            "{name} is a {kind}"
        );
    }
}

#[test]
fn values_and_state_sets() {
    let text = render(&fixtures::with_thermal());
    let s = samples(&text);
    assert_eq!(s["warden_temperature_celsius"], "55.25");
    assert_eq!(s["warden_fan_duty_ratio"], "0.3");
    assert_eq!(s["warden_connections_active"], "12");
    assert_eq!(
        s["warden_connections_rejected_total{reason=\"thermal\"}"],
        "4"
    );
    assert_eq!(s["warden_cpu_max_frequency_hertz"], "1500000000");
    assert_eq!(s["warden_thermal_level{level=\"normal\"}"], "1");
    assert_eq!(s["warden_thermal_level{level=\"critical\"}"], "0");
    assert_eq!(s["warden_admission_state{state=\"open\"}"], "1");
    assert_eq!(s["warden_admission_state{state=\"draining\"}"], "0");
    assert_eq!(
        s["warden_thermal_threshold_celsius{stage=\"shed\",edge=\"off\"}"],
        "70"
    );
    assert_eq!(
        s["warden_firmware_throttle_flag{flag=\"throttled_since_boot\"}"],
        "1"
    );
    assert_eq!(
        s["warden_build_info{version=\"0.1.0\",service=\"echo\"}"],
        "1"
    );
    let levels = s
        .keys()
        .filter(|k| k.starts_with("warden_thermal_level{"))
        .count();
    assert_eq!(levels, LEVELS.len());
}

#[test]
fn the_simulated_gauge_tells_a_model_from_hardware() {
    let real = samples(&render(&fixtures::with_thermal()));
    assert_eq!(real["warden_simulated"], "0");
    let text = render(&fixtures::simulated());
    assert_eq!(samples(&text)["warden_simulated"], "1");
    assert!(text.contains("# TYPE warden_simulated gauge\n"), "{text}");
    assert!(text.contains("# HELP warden_simulated 1 when"), "{text}");
    let without = samples(&render(&fixtures::without_thermal()));
    assert_eq!(
        without["warden_simulated"], "0",
        "exported even without a sensor"
    );
}

#[test]
fn a_starting_warden_is_alive_starting_and_not_ready() {
    let starting = samples(&render(&fixtures::starting()));
    assert_eq!(starting["warden_event_loop_alive"], "1");
    assert_eq!(starting["warden_event_loop_starting"], "1");
    assert_eq!(starting["warden_ready"], "0");
    let running = samples(&render(&fixtures::with_thermal()));
    assert_eq!(running["warden_event_loop_starting"], "0");
    assert_eq!(running["warden_ready"], "1");
}

#[test]
fn without_thermal_only_the_availability_is_exported() {
    let text = render(&fixtures::without_thermal());
    let s = samples(&text);
    assert_eq!(s["warden_thermal_available"], "0");
    assert!(!text.contains("warden_temperature_celsius"));
    assert!(!text.contains("warden_fan_duty_ratio"));
    assert_eq!(s["warden_connections_accepted_total"], "100");
}

#[test]
fn unknown_readings_are_left_out_the_trend_too() {
    let text = render(&fixtures::sensor_fault());
    for family in [
        "warden_temperature_celsius",
        "warden_temperature_filtered_celsius",
        "warden_temperature_predicted_celsius",
        "warden_temperature_trend_celsius_per_second",
    ] {
        assert!(!text.contains(&format!("{family} ")), "{family} in\n{text}");
    }
    assert_eq!(samples(&text)["warden_sensor_healthy"], "0");
    let healthy = samples(&render(&fixtures::with_thermal()));
    assert_eq!(
        healthy["warden_temperature_trend_celsius_per_second"],
        "0.05"
    );
}

const STATUS_DOC: &str = include_str!("../../docs/STATUS.md");

/// The families listed in the table of docs/STATUS.md's "GET /metrics" section.
fn documented_metric_families() -> BTreeSet<String> {
    let (_, section) = STATUS_DOC
        .split_once("## GET /metrics")
        .expect("docs/STATUS.md lacks its GET /metrics section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `warden_"))
        .map(|cell| format!("warden_{}", cell.split('`').next().unwrap()))
        .collect()
}

#[test]
fn every_exported_metric_family_is_documented_and_every_documented_one_exported() {
    let documented = documented_metric_families();
    for snapshot in [fixtures::with_thermal(), fixtures::simulated()] {
        let exposition = render(&snapshot);
        let exported: BTreeSet<String> = exposition
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
            .map(str::to_string)
            .collect();
        let undocumented: Vec<_> = exported.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "/metrics exports families docs/STATUS.md does not list: {undocumented:?}"
        );
        let missing: Vec<_> = documented.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "docs/STATUS.md lists families /metrics does not export: {missing:?}"
        );
    }
}

#[test]
fn values_and_labels_are_escaped() {
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(-3.0), "-3");
    assert_eq!(format_value(0.125), "0.125");
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}
