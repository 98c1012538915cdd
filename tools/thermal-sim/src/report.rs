//! Turning compare runs into a Markdown table, target checks and JSON.

use std::fmt::Write as _;

use crate::compare::{fan_alone_suffices, RunResult, HOT_C};
use crate::regime::RegimeKind;
use crate::scenario::Scenario;

/// Sensor noise (°C) from which a scenario counts as the noisy trace for the chatter target.
pub const NOISY_C: f64 = 1.0;
/// warden must switch the fan at most this share as often as the overlay on the noisy trace.
pub const CHATTER_RATIO: f64 = 0.25;

/// One scenario with its runs in [`RegimeKind::ALL`] order.
pub type ScenarioRuns = (Scenario, Vec<RunResult>);

/// The Markdown table: one row per scenario and regime.
pub fn table(all: &[ScenarioRuns]) -> String {
    let mut out = String::from(
        "| scenario | regime | peak °C | s above 80 °C | fw cap s | fan starts+stops/h | PWM speed changes | refused | served work |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (scenario, runs) in all {
        for run in runs {
            let m = &run.metrics;
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.0} | {:.0} | {:.1} | {} | {:.1} % | {:.1} % |",
                scenario.name,
                m.regime.label(),
                m.peak_c,
                m.seconds_above_hot,
                m.firmware_cap_seconds,
                m.fan_switches_per_hour,
                m.fan_speed_changes,
                m.refused_share * 100.0,
                m.served_share() * 100.0,
            );
        }
    }
    out
}

/// One target check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Scenario checked.
    pub scenario: String,
    /// What is checked.
    pub target: String,
    /// Met or missed.
    pub met: bool,
    /// The figures behind the verdict.
    pub detail: String,
}

fn metrics(runs: &[RunResult], regime: RegimeKind) -> Option<&crate::compare::RunMetrics> {
    runs.iter()
        .map(|run| &run.metrics)
        .find(|m| m.regime == regime)
}

/// The targets, evaluated on every scenario they apply to.
pub fn checks(all: &[ScenarioRuns]) -> Vec<Check> {
    let mut out = Vec::new();
    let wardens = [RegimeKind::WardenPwm, RegimeKind::WardenOnOff];
    for (scenario, runs) in all {
        let name = scenario.name.clone();
        let (Some(overlay), Some(bare)) = (
            metrics(runs, RegimeKind::Overlay),
            metrics(runs, RegimeKind::FirmwareOnly),
        ) else {
            continue;
        };
        for regime in wardens {
            let Some(w) = metrics(runs, regime) else {
                continue;
            };
            let who = regime.label();
            if fan_alone_suffices(scenario) {
                out.push(Check {
                    scenario: name.clone(),
                    target: format!("{who}: fan suffices, so below {HOT_C} °C and no firmware cap"),
                    met: w.peak_c < HOT_C && w.firmware_cap_seconds == 0.0,
                    detail: format!(
                        "peak {:.1} °C, firmware capped {:.0} s",
                        w.peak_c, w.firmware_cap_seconds
                    ),
                });
                out.push(Check {
                    scenario: name.clone(),
                    target: format!("{who}: fan suffices, so no connection refused"),
                    met: w.refused_share == 0.0,
                    detail: format!("refused {:.2} %", w.refused_share * 100.0),
                });
            } else {
                out.push(Check {
                    scenario: name.clone(),
                    target: format!(
                        "{who}: fan not enough, so more work than firmware-only at a lower peak"
                    ),
                    met: w.served_work_s > bare.served_work_s && w.peak_c < bare.peak_c,
                    detail: format!(
                        "served {:.1} % vs {:.1} %, peak {:.1} vs {:.1} °C",
                        w.served_share() * 100.0,
                        bare.served_share() * 100.0,
                        w.peak_c,
                        bare.peak_c
                    ),
                });
            }
            if scenario.params.sensor_noise_c >= NOISY_C {
                out.push(Check {
                    scenario: name.clone(),
                    target: format!("{who}: at most 1/4 of the overlay's fan switches per hour"),
                    met: w.fan_switches_per_hour <= overlay.fan_switches_per_hour * CHATTER_RATIO,
                    detail: format!(
                        "{:.1}/h vs overlay {:.1}/h",
                        w.fan_switches_per_hour, overlay.fan_switches_per_hour
                    ),
                });
            }
        }
    }
    out
}

/// The checks as a Markdown list.
pub fn checks_markdown(checks: &[Check]) -> String {
    let mut out = String::new();
    for check in checks {
        let _ = writeln!(
            out,
            "- **{}** {}: {} ({})",
            if check.met { "MET" } else { "MISSED" },
            check.scenario,
            check.target,
            check.detail
        );
    }
    out
}

/// One JSON object per scenario and regime, one per line.
pub fn json_lines(all: &[ScenarioRuns]) -> String {
    let mut out = String::new();
    for (scenario, runs) in all {
        for run in runs {
            let m = &run.metrics;
            let line = serde_json::json!({
                "scenario": scenario.name,
                "regime": m.regime.label(),
                "peak_c": m.peak_c,
                "seconds_above_80_c": m.seconds_above_hot,
                "firmware_cap_seconds": m.firmware_cap_seconds,
                "cpufreq_capped_seconds": m.cpufreq_capped_seconds,
                "fan_switches": m.fan_switches,
                "fan_switches_per_hour": m.fan_switches_per_hour,
                "fan_speed_changes": m.fan_speed_changes,
                "refused_share": m.refused_share,
                "served_work_s": m.served_work_s,
                "offered_work_s": m.offered_work_s,
                "served_share": m.served_share(),
            });
            let _ = writeln!(out, "{line}");
        }
    }
    out
}
