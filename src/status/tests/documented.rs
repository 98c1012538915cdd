//! The documents against their docs: every field of `/status` and `/status/history`,
//! the schema version, the common headers and the limits as docs/STATUS.md states them,
//! and the Grafana dashboard's queries against the metrics `/metrics` exports.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::status::json::{history_document, status_document};
use crate::status::snapshot::fixtures;
use crate::status::{io_loop, metrics};

const STATUS_DOC: &str = include_str!("../../../docs/STATUS.md");

/// The field paths listed in the table between `<!-- fields:NAME -->` and `<!-- end fields -->`.
fn documented_fields(name: &str) -> BTreeSet<String> {
    let start_marker = format!("<!-- fields:{name} -->");
    let start = STATUS_DOC
        .find(&start_marker)
        .unwrap_or_else(|| panic!("docs/STATUS.md lacks {start_marker}"));
    let rest = &STATUS_DOC[start + start_marker.len()..];
    let end = rest
        .find("<!-- end fields -->")
        .expect("unterminated field table in docs/STATUS.md");
    rest[..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .map(|cell| cell.split('`').next().unwrap().to_string())
        .collect()
}

/// Every node of a document as a dotted path; array items as `name[]`.
fn paths(value: &Value, prefix: &str, all: &mut BTreeSet<String>, leaves: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if !prefix.is_empty() {
                all.insert(prefix.to_string());
            }
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                paths(child, &path, all, leaves);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            all.insert(prefix.to_string());
            for item in items {
                paths(item, &format!("{prefix}[]"), all, leaves);
            }
        }
        _ => {
            all.insert(prefix.to_string());
            leaves.insert(prefix.to_string());
        }
    }
}

fn check_documented(name: &str, doc: &Value) {
    let documented = documented_fields(name);
    assert!(
        documented.len() > 5,
        "docs/STATUS.md lists too few {name} fields: {documented:?}"
    );
    let (mut all, mut leaves) = (BTreeSet::new(), BTreeSet::new());
    paths(doc, "", &mut all, &mut leaves);
    let missing: Vec<_> = documented.difference(&all).collect();
    assert!(
        missing.is_empty(),
        "documented in docs/STATUS.md but absent from {name}: {missing:?}"
    );
    let undocumented: Vec<_> = leaves.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "{name} has fields docs/STATUS.md does not document: {undocumented:?}"
    );
}

#[test]
fn every_documented_status_field_is_present_and_every_field_documented() {
    check_documented("/status", &status_document(&fixtures::with_thermal()));
}

#[test]
fn every_documented_history_field_is_present_and_every_field_documented() {
    check_documented(
        "/status/history",
        &history_document(&fixtures::with_thermal()),
    );
}

#[test]
fn the_documented_schema_version_is_the_served_one() {
    let line = format!("\"schema\": {}", crate::status::json::SCHEMA_VERSION);
    assert!(
        STATUS_DOC.contains(&line),
        "docs/STATUS.md should show {line}"
    );
}

#[test]
fn the_documented_common_headers_are_the_sent_ones() {
    let (_, rest) = STATUS_DOC
        .split_once("Every answer, errors included,")
        .expect("docs/STATUS.md should say what every answer carries");
    let promise = rest.split("\n- ").next().unwrap().replace('\n', " ");
    for (name, value) in crate::status::http::COMMON_HEADERS {
        let header = format!("`{name}: {value}`");
        assert!(
            promise.contains(&header),
            "docs/STATUS.md should promise {header} on every answer"
        );
    }
}

#[test]
fn the_documented_limits_are_the_enforced_ones() {
    for claim in [
        format!("At most {} status connections", io_loop::MAX_CONNECTIONS),
        format!(
            "At most {} complete requests per worker",
            crate::status::server::QUEUED_PER_WORKER
        ),
        format!(
            "request head over {} KiB",
            crate::status::http::MAX_HEAD_BYTES / 1024
        ),
        format!("over {} header lines", crate::status::http::MAX_HEADERS),
    ] {
        assert!(
            STATUS_DOC.contains(&claim),
            "docs/STATUS.md should say {claim:?}"
        );
    }
}

// ---- the Grafana dashboard ----

const DASHBOARD: &str = include_str!("../../../tools/grafana/warden.json");

/// Every PromQL expression of the dashboard's panels.
fn dashboard_queries() -> Vec<String> {
    let dashboard: Value =
        serde_json::from_str(DASHBOARD).expect("tools/grafana/warden.json is not JSON");
    dashboard["panels"]
        .as_array()
        .expect("no panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_dashboard_only_queries_exported_metrics() {
    let exposition = metrics::render(&fixtures::with_thermal());
    let families: BTreeSet<&str> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    let mut used = BTreeSet::new();
    for query in dashboard_queries() {
        for (start, _) in query.match_indices("warden_") {
            let name: String = query[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                families.contains(name.as_str()),
                "the dashboard queries {name}, which /metrics does not export"
            );
            used.insert(name);
        }
    }
    for needed in [
        "warden_temperature_celsius",
        "warden_thermal_threshold_celsius",
        "warden_fan_duty_ratio",
        "warden_connections_active",
        "warden_connections_rejected_total",
        "warden_cpu_max_frequency_hertz",
    ] {
        assert!(
            used.contains(needed),
            "the dashboard has no panel on {needed}"
        );
    }
}
