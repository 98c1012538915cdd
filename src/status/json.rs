//! The JSON documents of `GET /status` and `GET /status/history`, schema
//! version [`SCHEMA_VERSION`]. Every field is documented in `docs/STATUS.md`
//! (a test keeps the two in step). Units are in the names (`_c`, `_s`,
//! `_khz`, `bytes_`); a thermal field is `null` when warden runs without
//! thermal control, and `thermal.unavailable_reason` says why. `simulated`
//! tells a demo on the simulated Pi from a real board: every thermal, fan and
//! cpufreq figure then comes from a model.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use warden_thermal::{HistorySample, ThermalSnapshot, Thresholds};

use super::snapshot::{StatusSnapshot, ThermalView};
use crate::engine::GateState;

/// Version of the documents' layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Seconds since the Unix epoch, with milliseconds.
fn unix_s(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}

/// A duration in seconds, with milliseconds.
fn secs(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

/// The `GET /status` document.
pub fn status_document(s: &StatusSnapshot) -> Value {
    let c = &s.counters;
    let (reason, message) = s.admission_reason();
    let shed_mode = match s.gate {
        GateState::ShedPause | GateState::AtCapacityPause => Some("pause"),
        GateState::ShedReject | GateState::AtCapacityReject => Some("reject"),
        _ => None,
    };
    json!({
        "schema": SCHEMA_VERSION,
        "service": s.service,
        "version": s.version,
        "time_unix_s": unix_s(s.taken_at),
        "uptime_s": secs(s.uptime),
        "state": s.state(),
        "simulated": s.simulated,
        "listen": s.listen.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "event_loop": {
            "alive": s.loop_alive(),
            "starting": s.loop_starting,
            "heartbeat_age_s": secs(s.heartbeat_age),
        },
        "admission": {
            "state": s.gate.as_str(),
            "ready": s.ready(),
            "reason": reason,
            "message": message,
            "shed_mode": shed_mode,
        },
        "thermal": thermal_object(s),
        "connections": {
            "active": c.active,
            "max": s.max_connections,
            "accepted": c.accepted,
            "rejected": {
                "capacity": c.rejected_capacity,
                "thermal": c.rejected_thermal,
            },
            "closed": c.closed,
            "timed_out": c.timed_out,
            "drain_closed": c.drain_closed,
            "capacity_pauses": c.capacity_pauses,
        },
        "traffic": {
            "bytes_in": c.bytes_in,
            "bytes_out": c.bytes_out,
            "backpressure_pauses": c.backpressure_pauses,
        },
        "errors": {
            "accept": {
                "emfile": c.accept_emfile,
                "enfile": c.accept_enfile,
                "nomem": c.accept_nomem,
                "aborted": c.accept_aborted,
                "other": c.accept_other,
            },
            "fd_backoffs": c.emfile_backoffs,
            "io": c.io_errors,
        },
    })
}

fn thermal_object(s: &StatusSnapshot) -> Value {
    match &s.thermal {
        ThermalView::Available { current, .. } => thermal_available(current, s.taken_at),
        ThermalView::Unavailable { reason } => json!({
            "available": false,
            "unavailable_reason": reason,
            "temp_c": null,
            "filtered_c": null,
            "trend_c_per_s": null,
            "predicted_c": null,
            "level": null,
            "thresholds": null,
            "sensor": null,
            "fan": null,
            "cpu": null,
            "throttle_flags": null,
            "throttle_flags_error": null,
            "admission": null,
            "admission_reason": null,
            "ticks": null,
            "updated_age_s": null,
        }),
    }
}

fn thermal_available(t: &ThermalSnapshot, now: SystemTime) -> Value {
    let cpu = t.cpu.as_ref().map(|cpu| {
        json!({
            "strategy": cpu.strategy,
            "governor": cpu.governor,
            "max_khz": cpu.max_khz,
            "original_max_khz": cpu.original_max_khz,
            "original_governor": cpu.original_governor,
            "throttled": cpu.throttled,
            "errors": cpu.errors,
        })
    });
    let flags = t.throttle_flags.map(|f| {
        json!({
            "raw": f.raw,
            "under_voltage": f.under_voltage,
            "freq_capped": f.freq_capped,
            "throttled": f.throttled,
            "soft_temp_limit": f.soft_temp_limit,
            "under_voltage_since_boot": f.under_voltage_since_boot,
            "freq_capped_since_boot": f.freq_capped_since_boot,
            "throttled_since_boot": f.throttled_since_boot,
            "soft_temp_limit_since_boot": f.soft_temp_limit_since_boot,
        })
    });
    let updated_age = t
        .updated_at
        .map(|at| secs(now.duration_since(at).unwrap_or(Duration::ZERO)));
    json!({
        "available": true,
        "unavailable_reason": null,
        "temp_c": t.temp_c,
        "filtered_c": t.filtered_c,
        "trend_c_per_s": t.trend_c_per_s,
        "predicted_c": t.predicted_c,
        "level": t.level.as_str(),
        "thresholds": thresholds_object(&t.thresholds),
        "sensor": {
            "description": t.sensor.description,
            "healthy": t.sensor.healthy,
            "fault": t.sensor.fault.map(|f| f.as_str()),
            "consecutive_errors": t.sensor.consecutive_errors,
            "total_errors": t.sensor.total_errors,
            "last_error": t.sensor.last_error,
        },
        "fan": {
            "driver": t.fan.driver,
            "proportional": t.fan.proportional,
            "duty": t.fan.duty,
            "requested_duty": t.fan.requested_duty,
            "switches": t.fan.switches,
            "errors": t.fan.errors,
        },
        "cpu": cpu,
        "throttle_flags": flags,
        "throttle_flags_error": t.throttle_flags_error,
        "admission": if t.admission.is_shed() { "shed" } else { "open" },
        "admission_reason": t.admission_reason.as_str(),
        "ticks": t.ticks,
        "updated_age_s": updated_age,
    })
}

fn thresholds_object(t: &Thresholds) -> Value {
    let mut stages = serde_json::Map::new();
    for (name, stage) in t.named() {
        stages.insert(
            name.to_string(),
            json!({ "on_c": stage.on_c, "off_c": stage.off_c }),
        );
    }
    Value::Object(stages)
}

/// The `GET /status/history` document: the thermal controller's ring, oldest first.
/// `simulated` means what it means in [`status_document`]: a chart drawn from this
/// document alone can tell a model's curve from a real board's.
pub fn history_document(s: &StatusSnapshot) -> Value {
    let (available, reason, thresholds, samples): (bool, Option<&str>, Value, &[HistorySample]) =
        match &s.thermal {
            ThermalView::Available { current, history } => {
                (true, None, thresholds_object(&current.thresholds), history)
            }
            ThermalView::Unavailable { reason } => (false, Some(reason), Value::Null, &[]),
        };
    json!({
        "schema": SCHEMA_VERSION,
        "simulated": s.simulated,
        "available": available,
        "unavailable_reason": reason,
        "period_s": secs(warden_thermal::snapshot::HISTORY_PERIOD),
        "capacity": warden_thermal::snapshot::HISTORY_CAPACITY,
        "time_unix_s": unix_s(s.taken_at),
        "thresholds": thresholds,
        "samples": samples.iter().map(sample_object).collect::<Vec<_>>(),
    })
}

fn sample_object(h: &HistorySample) -> Value {
    json!({
        "time_unix_s": unix_s(h.at),
        "uptime_s": secs(h.uptime),
        "temp_c": h.temp_c,
        "sensor_fault": h.sensor_fault.map(|f| f.as_str()),
        "filtered_c": h.filtered_c,
        "fan_duty": h.fan_duty,
        "level": h.level.as_str(),
        "admission": if h.admission.is_shed() { "shed" } else { "open" },
        "active_connections": h.active_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::snapshot::fixtures;

    #[test]
    fn status_carries_the_counters_and_thermal_readings() {
        let doc = status_document(&fixtures::with_thermal());
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["service"], "echo");
        assert_eq!(doc["state"], "running");
        assert_eq!(doc["uptime_s"], 42.5);
        assert_eq!(doc["connections"]["active"], 12);
        assert_eq!(doc["connections"]["rejected"]["thermal"], 4);
        assert_eq!(doc["errors"]["accept"]["emfile"], 1);
        assert_eq!(doc["admission"]["state"], "open");
        assert_eq!(doc["admission"]["ready"], true);
        assert_eq!(doc["thermal"]["available"], true);
        assert_eq!(doc["thermal"]["temp_c"], 55.25);
        assert_eq!(doc["thermal"]["thresholds"]["shed"]["on_c"], 75.0);
        assert_eq!(doc["thermal"]["fan"]["duty"], 0.3);
        assert_eq!(doc["thermal"]["cpu"]["max_khz"], 1_500_000);
        assert_eq!(
            doc["thermal"]["throttle_flags"]["throttled_since_boot"],
            true
        );
        assert_eq!(doc["thermal"]["throttle_flags"]["throttled"], false);
        assert_eq!(doc["thermal"]["updated_age_s"], 0.3);
        assert_eq!(doc["simulated"], false);
    }

    #[test]
    fn during_a_sensor_fault_every_unknown_reading_is_null_the_trend_too() {
        let doc = status_document(&fixtures::sensor_fault());
        let thermal = &doc["thermal"];
        assert_eq!(thermal["available"], true);
        for key in ["temp_c", "filtered_c", "trend_c_per_s", "predicted_c"] {
            assert!(thermal[key].is_null(), "thermal.{key} is {}", thermal[key]);
        }
        assert_eq!(thermal["sensor"]["fault"], "read_errors");
        let healthy = status_document(&fixtures::with_thermal());
        assert_eq!(healthy["thermal"]["trend_c_per_s"], 0.05);
    }

    #[test]
    fn a_simulated_board_says_so_at_the_top_level() {
        let doc = status_document(&fixtures::simulated());
        assert_eq!(doc["simulated"], true);
        // An addition within schema 1, not a new layout.
        assert_eq!(doc["schema"], 1);
        let without = status_document(&fixtures::without_thermal());
        assert_eq!(without["simulated"], false, "present even without a sensor");
    }

    #[test]
    fn without_thermal_every_thermal_field_is_null_and_the_reason_is_given() {
        let doc = status_document(&fixtures::without_thermal());
        let thermal = doc["thermal"].as_object().unwrap();
        assert_eq!(thermal["available"], false);
        assert!(thermal["unavailable_reason"]
            .as_str()
            .unwrap()
            .contains("no thermal zone"));
        for (key, value) in thermal {
            if key != "available" && key != "unavailable_reason" {
                assert!(value.is_null(), "thermal.{key} should be null, is {value}");
            }
        }
        // The keys are the same with and without a sensor.
        let with = status_document(&fixtures::with_thermal());
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&doc["thermal"]), keys(&with["thermal"]));
    }

    #[test]
    fn history_lists_samples_oldest_first() {
        let doc = history_document(&fixtures::with_thermal());
        let samples = doc["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 5);
        assert_eq!(samples[0]["active_connections"], 10);
        assert_eq!(samples[4]["temp_c"], 55.0);
        assert!(samples[0]["time_unix_s"].as_f64() < samples[1]["time_unix_s"].as_f64());
        assert_eq!(doc["capacity"], 600);
        assert_eq!(doc["thresholds"]["critical"]["on_c"], 85.0);
        let empty = history_document(&fixtures::without_thermal());
        assert_eq!(empty["available"], false);
        assert_eq!(empty["samples"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn history_samples_say_which_readings_were_not_trusted() {
        let mut snapshot = fixtures::with_thermal();
        if let ThermalView::Available { history, .. } = &mut snapshot.thermal {
            history[2].temp_c = Some(-300.0);
            history[2].sensor_fault = Some(warden_thermal::SensorFaultCause::Implausible);
            history[3].sensor_fault = Some(warden_thermal::SensorFaultCause::Stuck);
        }
        let doc = history_document(&snapshot);
        let samples = doc["samples"].as_array().unwrap();
        let faults: Vec<&Value> = samples.iter().map(|s| &s["sensor_fault"]).collect();
        assert_eq!(
            faults,
            [
                &Value::Null,
                &Value::Null,
                &json!("implausible"),
                &json!("stuck"),
                &Value::Null
            ],
            "{doc:#}"
        );
        // The distrusted reading is still reported as read, with the reason beside it.
        assert_eq!(samples[2]["temp_c"], -300.0);
        // Present (as null) on a trusted sample, so a reader can tell an older warden.
        assert!(samples[0].as_object().unwrap().contains_key("sensor_fault"));
        assert_eq!(doc["schema"], 1, "an addition within schema 1");
    }

    #[test]
    fn history_says_simulated_as_status_does() {
        for snapshot in [
            fixtures::with_thermal(),
            fixtures::simulated(),
            fixtures::without_thermal(),
        ] {
            let status = status_document(&snapshot);
            let history = history_document(&snapshot);
            assert_eq!(history["simulated"], status["simulated"], "{history}");
            assert_eq!(history["simulated"], snapshot.simulated);
        }
        assert_eq!(history_document(&fixtures::simulated())["simulated"], true);
        assert_eq!(
            history_document(&fixtures::with_thermal())["simulated"],
            false
        );
    }
}
