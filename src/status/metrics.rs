//! `GET /metrics`: the Prometheus text exposition format, version 0.0.4.
//!
//! Every family has the `warden_` prefix, base units in its name
//! (`_celsius`, `_seconds`, `_bytes`, `_hertz`, `_ratio`), `_total` on
//! counters, and a HELP and TYPE line. Enumerations are state sets: one
//! 0/1 gauge sample per possible value (`warden_thermal_level{level="fan"} 1`).
//! A family whose value is unknown right now (no sensor, no reading yet) is
//! left out rather than exported as NaN, so absent() alerts work.

use std::fmt::Write;

use warden_thermal::{Level, ThermalSnapshot};

use super::snapshot::StatusSnapshot;

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every admission state, in the order exported.
const GATE_STATES: [&str; 5] = ["open", "shedding", "at_capacity", "fd_backoff", "draining"];
/// Every thermal level, coolest first.
const LEVELS: [Level; 6] = [
    Level::Normal,
    Level::Fan,
    Level::Shed,
    Level::Throttle,
    Level::Critical,
    Level::SensorFault,
];

#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

/// One label set and its value.
type Sample<'a> = (Vec<(&'static str, &'a str)>, f64);

/// Builds the exposition text family by family.
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str, samples: &[Sample<'_>]) {
        if samples.is_empty() {
            return;
        }
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.out.push_str(name);
            if !labels.is_empty() {
                self.out.push('{');
                for (i, (label, text)) in labels.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let _ = write!(self.out, "{label}=\"{}\"", escape_label(text));
                }
                self.out.push('}');
            }
            let _ = writeln!(self.out, " {}", format_value(*value));
        }
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help, &[(vec![], value)]);
    }

    /// A family with one unlabelled sample, or none when the value is unknown.
    fn maybe(&mut self, name: &str, help: &str, value: Option<f64>) {
        let samples: Vec<Sample<'_>> = value.map(|v| (vec![], v)).into_iter().collect();
        self.family(name, Kind::Gauge, help, &samples);
    }
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// A sample value: integers without a fraction, and Prometheus' spellings of NaN and infinities.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The whole exposition for one snapshot.
pub fn render(s: &StatusSnapshot) -> String {
    let mut e = Exposition {
        out: String::with_capacity(8 * 1024),
    };
    let c = &s.counters;
    e.family(
        "warden_build_info",
        Kind::Gauge,
        "Always 1; the labels name the warden version and the service it runs.",
        &[(
            vec![
                ("version", s.version.as_str()),
                ("service", s.service.as_str()),
            ],
            1.0,
        )],
    );
    e.single(
        "warden_simulated",
        Kind::Gauge,
        "1 when warden drives the simulated Pi (warden run --simulate or hardware.simulate): every temperature, \
         fan, cpufreq and firmware series is then a model, not hardware; 0 on real hardware.",
        bool_value(s.simulated),
    );
    e.single(
        "warden_uptime_seconds",
        Kind::Gauge,
        "Time since the event loop started.",
        s.uptime.as_secs_f64(),
    );
    e.single(
        "warden_event_loop_heartbeat_age_seconds",
        Kind::Gauge,
        "Time since the event loop last beat (it beats at least every 0.5 s).",
        s.heartbeat_age.as_secs_f64(),
    );
    e.single(
        "warden_event_loop_alive",
        Kind::Gauge,
        "1 while starting or while the event loop's heartbeat is younger than three ticks (what /healthz reports).",
        bool_value(s.loop_alive()),
    );
    e.single(
        "warden_event_loop_starting",
        Kind::Gauge,
        "1 while starting: the event loop waits for the first thermal reading and has not beaten yet.",
        bool_value(s.loop_starting),
    );
    e.single(
        "warden_ready",
        Kind::Gauge,
        "1 while new connections are admitted (what /ready reports).",
        bool_value(s.ready()),
    );
    let gate = s.gate.as_str();
    let states: Vec<Sample<'_>> = GATE_STATES
        .iter()
        .map(|st| (vec![("state", *st)], bool_value(*st == gate)))
        .collect();
    e.family(
        "warden_admission_state",
        Kind::Gauge,
        "Admission of new connections as a state set: 1 for the current state, 0 for the others.",
        &states,
    );
    e.single(
        "warden_connections_active",
        Kind::Gauge,
        "Connections open now.",
        c.active as f64,
    );
    e.single(
        "warden_connections_max",
        Kind::Gauge,
        "server.max_connections in force.",
        s.max_connections as f64,
    );
    e.single(
        "warden_connections_accepted_total",
        Kind::Counter,
        "Connections accepted and served.",
        c.accepted as f64,
    );
    e.family(
        "warden_connections_rejected_total",
        Kind::Counter,
        "Connections accepted and closed at once, by reason (capacity: server.max_connections in reject mode; \
         thermal: shedding in reject mode).",
        &[(vec![("reason", "capacity")], c.rejected_capacity as f64), (vec![("reason", "thermal")], c.rejected_thermal as f64)],
    );
    e.single(
        "warden_connections_closed_total",
        Kind::Counter,
        "Connections closed, for any reason.",
        c.closed as f64,
    );
    e.single(
        "warden_connections_timed_out_total",
        Kind::Counter,
        "Connections closed by the idle timeout.",
        c.timed_out as f64,
    );
    e.single(
        "warden_connections_drain_closed_total",
        Kind::Counter,
        "Connections cut when the drain ended (deadline or a second stop signal) or refused while draining.",
        c.drain_closed as f64,
    );
    e.single(
        "warden_connections_capacity_pauses_total",
        Kind::Counter,
        "Times accepting paused because server.max_connections was reached.",
        c.capacity_pauses as f64,
    );
    e.single(
        "warden_received_bytes_total",
        Kind::Counter,
        "Bytes read from clients.",
        c.bytes_in as f64,
    );
    e.single(
        "warden_sent_bytes_total",
        Kind::Counter,
        "Bytes written to clients.",
        c.bytes_out as f64,
    );
    e.single(
        "warden_backpressure_pauses_total",
        Kind::Counter,
        "Times a connection stopped being read because its write backlog reached server.max_pending_bytes.",
        c.backpressure_pauses as f64,
    );
    e.family(
        "warden_accept_errors_total",
        Kind::Counter,
        "accept() failures by kind (emfile, enfile, nomem, aborted, other).",
        &[
            (vec![("kind", "emfile")], c.accept_emfile as f64),
            (vec![("kind", "enfile")], c.accept_enfile as f64),
            (vec![("kind", "nomem")], c.accept_nomem as f64),
            (vec![("kind", "aborted")], c.accept_aborted as f64),
            (vec![("kind", "other")], c.accept_other as f64),
        ],
    );
    e.single(
        "warden_fd_backoffs_total",
        Kind::Counter,
        "Times accepting paused for a back-off because descriptors ran out.",
        c.emfile_backoffs as f64,
    );
    e.single(
        "warden_io_errors_total",
        Kind::Counter,
        "Connections closed on a read or write error.",
        c.io_errors as f64,
    );
    let thermal = s.thermal_current();
    e.single(
        "warden_thermal_available",
        Kind::Gauge,
        "1 when thermal control runs; 0 without a temperature sensor (see /status thermal.unavailable_reason).",
        bool_value(thermal.is_some()),
    );
    if let Some(t) = thermal {
        render_thermal(&mut e, t, s);
    }
    e.out
}

fn render_thermal(e: &mut Exposition, t: &ThermalSnapshot, s: &StatusSnapshot) {
    e.maybe(
        "warden_temperature_celsius",
        "Last raw SoC temperature reading.",
        t.temp_c,
    );
    e.maybe(
        "warden_temperature_filtered_celsius",
        "Filtered SoC temperature the policy works with.",
        t.filtered_c,
    );
    e.maybe(
        "warden_temperature_predicted_celsius",
        "Filtered temperature plus trend times the horizon: what the on thresholds are compared with.",
        t.predicted_c,
    );
    e.maybe(
        "warden_temperature_trend_celsius_per_second",
        "Trend of the filtered temperature.",
        t.trend_c_per_s,
    );
    let named = t.thresholds.named();
    let thresholds: Vec<Sample<'_>> = named
        .iter()
        .flat_map(|(stage, th)| {
            [
                (vec![("stage", *stage), ("edge", "on")], th.on_c),
                (vec![("stage", *stage), ("edge", "off")], th.off_c),
            ]
        })
        .collect();
    e.family(
        "warden_thermal_threshold_celsius",
        Kind::Gauge,
        "Stage thresholds in use: a stage turns on at edge=\"on\" and off at edge=\"off\".",
        &thresholds,
    );
    let levels: Vec<Sample<'_>> = LEVELS
        .iter()
        .map(|l| (vec![("level", l.as_str())], bool_value(*l == t.level)))
        .collect();
    e.family(
        "warden_thermal_level",
        Kind::Gauge,
        "Hottest active thermal stage, or sensor_fault, as a state set: 1 for the current level.",
        &levels,
    );
    e.single(
        "warden_thermal_ticks_total",
        Kind::Counter,
        "Thermal controller ticks completed.",
        t.ticks as f64,
    );
    if let Some(at) = t.updated_at {
        let age = s.taken_at.duration_since(at).unwrap_or_default();
        e.single(
            "warden_thermal_last_update_age_seconds",
            Kind::Gauge,
            "Time since the thermal controller last published its state.",
            age.as_secs_f64(),
        );
    }
    e.single(
        "warden_sensor_healthy",
        Kind::Gauge,
        "1 while the temperature sensor is trusted.",
        bool_value(t.sensor.healthy),
    );
    e.single(
        "warden_sensor_read_errors_total",
        Kind::Counter,
        "Temperature sensor read errors since start.",
        t.sensor.total_errors as f64,
    );
    e.maybe(
        "warden_fan_duty_ratio",
        "Fan duty last applied, 0 to 1.",
        t.fan.duty,
    );
    e.single(
        "warden_fan_requested_duty_ratio",
        Kind::Gauge,
        "Fan duty the policy asks for, 0 to 1.",
        t.fan.requested_duty,
    );
    e.single(
        "warden_fan_switches_total",
        Kind::Counter,
        "Fan duty changes applied.",
        t.fan.switches as f64,
    );
    e.single(
        "warden_fan_errors_total",
        Kind::Counter,
        "Failed fan writes.",
        t.fan.errors as f64,
    );
    if let Some(cpu) = &t.cpu {
        e.maybe(
            "warden_cpu_max_frequency_hertz",
            "CPU frequency cap now (cpufreq scaling_max_freq).",
            cpu.max_khz.map(|k| k as f64 * 1000.0),
        );
        e.single(
            "warden_cpu_original_max_frequency_hertz",
            Kind::Gauge,
            "CPU frequency cap before warden touched it.",
            cpu.original_max_khz as f64 * 1000.0,
        );
        e.single(
            "warden_cpu_throttled",
            Kind::Gauge,
            "1 while warden holds the CPU below its original settings.",
            bool_value(cpu.throttled),
        );
        e.single(
            "warden_cpufreq_errors_total",
            Kind::Counter,
            "Failed cpufreq reads and writes.",
            cpu.errors as f64,
        );
    }
    if let Some(f) = t.throttle_flags {
        let flags = [
            ("under_voltage", f.under_voltage),
            ("freq_capped", f.freq_capped),
            ("throttled", f.throttled),
            ("soft_temp_limit", f.soft_temp_limit),
            ("under_voltage_since_boot", f.under_voltage_since_boot),
            ("freq_capped_since_boot", f.freq_capped_since_boot),
            ("throttled_since_boot", f.throttled_since_boot),
            ("soft_temp_limit_since_boot", f.soft_temp_limit_since_boot),
        ];
        let samples: Vec<Sample<'_>> = flags
            .iter()
            .map(|(name, on)| (vec![("flag", *name)], bool_value(*on)))
            .collect();
        e.family(
            "warden_firmware_throttle_flag",
            Kind::Gauge,
            "Raspberry Pi firmware get_throttled bits: 1 when set.",
            &samples,
        );
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
