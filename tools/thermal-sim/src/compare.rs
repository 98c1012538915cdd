//! The comparison harness: a scenario under one regime, in simulated time.
//!
//! The model advances in fixed 100 ms steps; the regime acts on its own tick (a multiple of
//! the step), so a one-hour scenario takes milliseconds and every run is deterministic.
//!
//! Admission model: clients offer load `o(t)` (a fraction of the four cores at the top
//! clock) as connections arriving at a rate proportional to `o` and living
//! `connection_lifetime_s` on average. The admitted load `L` therefore follows `o` with
//! that time constant while admission is open, and decays towards 0 while new connections
//! are refused (established ones are never cut). The CPU is busy `L` of the time, so the
//! model's power is `idle + dynamic × L × f/f_max`, and the served work is `∫ L × f/f_max dt`.
//! The share refused is the offered arrivals during shedding over all offered arrivals.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use warden_hw::sim::PiThermalModel;

use crate::regime::{Action, RegimeKind};
use crate::scenario::Scenario;

/// The model's integration step in the harness.
pub const STEP: Duration = Duration::from_millis(100);
/// Trace points are kept this far apart (for the charts).
pub const TRACE_PERIOD: Duration = Duration::from_secs(5);
/// The temperature the targets are about (°C): where the Pi firmware starts capping.
pub const HOT_C: f64 = 80.0;
/// Shortest scenario the harness compares (s): shorter ones say nothing about fan switches
/// per hour or work served, and one of a few steps serves "100 %" of almost nothing.
pub const MIN_COMPARE_S: f64 = 60.0;

/// What one run of one scenario under one regime measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMetrics {
    /// Regime run.
    pub regime: RegimeKind,
    /// Highest true die temperature (°C).
    pub peak_c: f64,
    /// Simulated seconds with the die above [`HOT_C`].
    pub seconds_above_hot: f64,
    /// Simulated seconds with the firmware capping the clock.
    pub firmware_cap_seconds: f64,
    /// Fan starts and stops (duty 0 to running, running to 0).
    pub fan_switches: u32,
    /// Fan starts and stops per hour of simulated time.
    pub fan_switches_per_hour: f64,
    /// Speed changes of a running fan (PWM only; not switches).
    pub fan_speed_changes: u32,
    /// Share of offered connections refused, 0–1.
    pub refused_share: f64,
    /// Served work `∫ L × f/f_max dt`, in seconds of all four cores at the top clock.
    pub served_work_s: f64,
    /// Offered work `∫ o dt`, same unit.
    pub offered_work_s: f64,
    /// Simulated seconds with warden's cpufreq cap below the top step.
    pub cpufreq_capped_seconds: f64,
}

impl RunMetrics {
    /// Served work as a share of the offered work, 0–1.
    pub fn served_share(&self) -> f64 {
        served_share(self.served_work_s, self.offered_work_s)
    }
}

/// `served_s` as a share of `offered_s`, 0–1; all of nothing is all.
pub fn served_share(served_s: f64, offered_s: f64) -> f64 {
    if offered_s > 0.0 {
        served_s / offered_s
    } else {
        1.0
    }
}

/// Sampled time series of one run, for charts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Simulated time (s).
    pub t_s: Vec<f64>,
    /// True die temperature (°C).
    pub die_c: Vec<f64>,
    /// Ambient temperature (°C).
    pub ambient_c: Vec<f64>,
    /// Commanded fan duty.
    pub fan_duty: Vec<f64>,
    /// Effective clock as a fraction of the top one.
    pub frequency_ratio: Vec<f64>,
    /// Admitted load.
    pub admitted: Vec<f64>,
}

/// One scenario run under one regime.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The figures.
    pub metrics: RunMetrics,
    /// The trace.
    pub trace: Trace,
}

/// Checks that `scenario` is one the harness can judge: at least [`MIN_COMPARE_S`] long,
/// offering some load within that time (served work is a share of the offered work).
pub fn check_scenario(scenario: &Scenario) -> Result<()> {
    let duration_s = scenario.duration.as_secs_f64();
    ensure!(
        duration_s >= MIN_COMPARE_S,
        "duration_s = {duration_s}: compare needs at least {MIN_COMPARE_S} simulated seconds \
         (fan switches are per hour, served work a share of the offered work)"
    );
    // The same instants `run` samples: any offered load there makes the offered work > 0.
    let total_steps = (duration_s / STEP.as_secs_f64()).round() as u64;
    let offers_load =
        (0..total_steps).any(|index| scenario.load.at((STEP * index as u32).as_secs_f64()) > 0.0);
    ensure!(
        offers_load,
        "[load]: the scenario offers no load in its {duration_s} s, so compare has no work \
         to share out; give a load above 0 at some time"
    );
    Ok(())
}

/// Checks that no two scenarios, each given with the file it came from, share a `name`:
/// the name labels the table's rows and names the chart file, so a second one would print
/// rows nobody can tell apart and overwrite the first chart. The error names both files.
pub fn check_distinct_names(loaded: &[(PathBuf, Scenario)]) -> Result<()> {
    for (index, (file, scenario)) in loaded.iter().enumerate() {
        let earlier = loaded[..index]
            .iter()
            .find(|(_, other)| other.name == scenario.name);
        if let Some((first_file, _)) = earlier {
            let same_file = first_file == file
                || first_file
                    .canonicalize()
                    .ok()
                    .is_some_and(|a| file.canonicalize().is_ok_and(|b| a == b));
            bail!(
                "scenarios {} and {} are both named {:?}{}: the name labels the table rows and \
                 names the chart file; give each scenario once, with a name of its own",
                first_file.display(),
                file.display(),
                scenario.name,
                if same_file {
                    " (the same file, given twice)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

/// Runs `scenario` under `regime` from an idle board at the scenario's starting ambient.
/// Callers check the scenario first ([`check_scenario`]), once, before any regime runs.
pub fn run(scenario: &Scenario, regime: RegimeKind) -> Result<RunResult> {
    let mut model = PiThermalModel::new(scenario.params.clone(), scenario.ambient.at(0.0))?;
    let mut controller = regime.build(&scenario.params.steps_khz)?;
    let top_khz = scenario.params.max_khz();
    let step_s = STEP.as_secs_f64();
    let steps_per_tick = (regime.tick().as_millis() / STEP.as_millis()).max(1) as u64;
    let steps_per_trace = (TRACE_PERIOD.as_millis() / STEP.as_millis()).max(1) as u64;
    let total_steps = (scenario.duration.as_secs_f64() / step_s).round() as u64;
    let decay = (-step_s / scenario.connection_lifetime_s).exp();

    let mut admitted = scenario.load.at(0.0);
    // The admitted load had nothing ever been refused: the offered work's reference.
    let mut unshed = admitted;
    // Before the first tick: fan off, top clock, admission open.
    let mut action = Action {
        fan_duty: 0.0,
        cpufreq_cap_khz: top_khz,
        shed: false,
    };
    let mut last_duty = 0.0;
    let mut metrics = RunMetrics {
        regime,
        peak_c: model.die_c(),
        seconds_above_hot: 0.0,
        firmware_cap_seconds: 0.0,
        fan_switches: 0,
        fan_switches_per_hour: 0.0,
        fan_speed_changes: 0,
        refused_share: 0.0,
        served_work_s: 0.0,
        offered_work_s: 0.0,
        cpufreq_capped_seconds: 0.0,
    };
    let (mut offered_arrivals, mut refused_arrivals) = (0.0, 0.0);
    let mut trace = Trace::default();

    for index in 0..total_steps {
        let now = STEP * index as u32;
        let t_s = now.as_secs_f64();
        apply_scenario(&mut model, scenario, now);
        if index % steps_per_tick == 0 {
            let reading = model.read_sensor_millic().map(|m| m as f64 / 1000.0);
            action = controller.control(reading, now);
            // A switch is a start or a stop, as for the on/off overlay rule; a
            // running PWM fan changing speed is counted apart.
            if (action.fan_duty > 0.0) != (last_duty > 0.0) {
                metrics.fan_switches += 1;
            }
            #[allow(clippy::float_cmp)] // a duty is re-commanded exactly, or it changed
            if action.fan_duty != last_duty && action.fan_duty > 0.0 && last_duty > 0.0 {
                metrics.fan_speed_changes += 1;
            }
            last_duty = action.fan_duty;
            model.set_fan_duty(action.fan_duty);
            model.set_cpufreq_cap_khz(action.cpufreq_cap_khz);
        }
        let offered = scenario.load.at(t_s);
        offered_arrivals += offered * step_s;
        if action.shed {
            refused_arrivals += offered * step_s;
        }
        let target = if action.shed { 0.0 } else { offered };
        admitted = target + (admitted - target) * decay;
        unshed = offered + (unshed - offered) * decay;
        metrics.offered_work_s += unshed * step_s;
        model.set_utilisation(admitted);
        model.step(STEP);

        metrics.served_work_s += admitted * model.frequency_ratio() * step_s;
        metrics.peak_c = metrics.peak_c.max(model.die_c());
        if model.die_c() > HOT_C {
            metrics.seconds_above_hot += step_s;
        }
        if model.firmware_capping() {
            metrics.firmware_cap_seconds += step_s;
        }
        if action.cpufreq_cap_khz < top_khz {
            metrics.cpufreq_capped_seconds += step_s;
        }
        if index % steps_per_trace == 0 {
            trace.t_s.push(t_s);
            trace.die_c.push(model.die_c());
            trace.ambient_c.push(model.ambient_c());
            trace.fan_duty.push(action.fan_duty);
            trace.frequency_ratio.push(model.frequency_ratio());
            trace.admitted.push(admitted);
        }
    }
    let hours = scenario.duration.as_secs_f64() / 3600.0;
    metrics.fan_switches_per_hour = f64::from(metrics.fan_switches) / hours;
    metrics.refused_share = if offered_arrivals > 0.0 {
        refused_arrivals / offered_arrivals
    } else {
        0.0
    };
    Ok(RunResult { metrics, trace })
}

/// Sets what the scenario dictates at `now`: ambient, a failed fan, a sensor fault.
pub fn apply_scenario(model: &mut PiThermalModel, scenario: &Scenario, now: Duration) {
    model.set_ambient_c(scenario.ambient.at(now.as_secs_f64()));
    model.set_fan_failed(scenario.fan_failed_at(now));
    model.set_sensor_fault(scenario.sensor_fault_at(now));
}

/// Every regime on one scenario, in [`RegimeKind::ALL`] order.
pub fn run_all(scenario: &Scenario) -> Result<Vec<RunResult>> {
    RegimeKind::ALL
        .iter()
        .map(|&regime| run(scenario, regime))
        .collect()
}

/// True when the fan at full duty can hold the die below [`HOT_C`] through the whole
/// scenario: at the highest ambient and the highest offered load, with a working fan.
pub fn fan_alone_suffices(scenario: &Scenario) -> bool {
    if scenario.fan_fails_at.is_some() {
        return false;
    }
    let seconds = scenario.duration.as_secs_f64();
    let samples = (seconds / STEP.as_secs_f64()) as u64;
    let (mut ambient, mut load) = (f64::MIN, 0.0_f64);
    for index in 0..=samples {
        let t_s = index as f64 * STEP.as_secs_f64();
        ambient = ambient.max(scenario.ambient.at(t_s));
        load = load.max(scenario.load.at(t_s));
    }
    let params = &scenario.params;
    let power_w = params.idle_power_w + params.dynamic_power_w() * load;
    params.steady_die_c(power_w, 1.0, ambient) < HOT_C
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
