//! The ideal controller: the most work any controller can serve in a scenario while the
//! die stays at or below a ceiling.
//!
//! It knows the true die temperature, runs the fan at full while the fan works, and sets
//! the load it admits every 100 ms step, instantly and continuously, to the most that keeps
//! the die at or below the ceiling after the step (never more than the connections that
//! would be established had nothing been refused). No real controller sees the die without
//! noise or lag, or sheds and throttles in fractions; so the ideal's figure bounds what a
//! policy can reach at that peak. In this model power and served work both grow with
//! `load × clock`, so serving by load or by clock is the same trade and the ideal keeps the
//! clock at the top.
//!
//! Why greedy is best: from the same state and with the same cooling, a controller that runs as hard as the ceiling
//! allows keeps both nodes at least as hot as any other controller at every step (the die
//! by construction, the board because it is heated by the die). The heat the board gives
//! to the air grows with its temperature, so the greedy controller dissipates, and thus
//! serves, the most.

use anyhow::Result;
use warden_hw::sim::PiThermalModel;

use crate::compare::{apply_scenario, served_share, STEP};
use crate::scenario::Scenario;

/// Bisection rounds for the load of one step: 2^-40 of the offered load.
const LOAD_ROUNDS: u32 = 40;
/// Bisection rounds for a break-even ceiling: 2^-30 of the search span.
const CEILING_ROUNDS: u32 = 30;

/// What the ideal controller served under one ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdealRun {
    /// The die ceiling (°C).
    pub ceiling_c: f64,
    /// Highest die temperature reached (°C); at most the ceiling unless even no load
    /// exceeds it.
    pub peak_c: f64,
    /// Served work `∫ L × f/f_max dt` (s), as [`crate::compare::RunMetrics`] counts it.
    pub served_work_s: f64,
    /// Offered work (s), the same reference as the compare runs.
    pub offered_work_s: f64,
}

impl IdealRun {
    /// Served work as a share of the offered work, 0–1.
    pub fn served_share(&self) -> f64 {
        served_share(self.served_work_s, self.offered_work_s)
    }
}

/// Runs `scenario` under the ideal controller that keeps the die at or below `ceiling_c`.
pub fn run(scenario: &Scenario, ceiling_c: f64) -> Result<IdealRun> {
    let mut model = PiThermalModel::new(scenario.params.clone(), scenario.ambient.at(0.0))?;
    let step_s = STEP.as_secs_f64();
    let total_steps = (scenario.duration.as_secs_f64() / step_s).round() as u64;
    let decay = (-step_s / scenario.connection_lifetime_s).exp();
    let mut available = scenario.load.at(0.0);
    let mut result = IdealRun {
        ceiling_c,
        peak_c: model.die_c(),
        served_work_s: 0.0,
        offered_work_s: 0.0,
    };
    for index in 0..total_steps {
        let now = STEP * index as u32;
        apply_scenario(&mut model, scenario, now);
        model.set_fan_duty(1.0);
        let offered = scenario.load.at(now.as_secs_f64());
        available = offered + (available - offered) * decay;
        result.offered_work_s += available * step_s;
        let load = most_load_under(&model, available, ceiling_c);
        model.set_utilisation(load);
        model.step(STEP);
        result.served_work_s += load * model.frequency_ratio() * step_s;
        result.peak_c = result.peak_c.max(model.die_c());
    }
    Ok(result)
}

/// The lowest ceiling in `low_c..=high_c` under which the ideal controller serves at least
/// `work_s`, or `None` when even `high_c` serves less.
pub fn break_even_ceiling(
    scenario: &Scenario,
    work_s: f64,
    low_c: f64,
    high_c: f64,
) -> Result<Option<f64>> {
    if run(scenario, high_c)?.served_work_s < work_s {
        return Ok(None);
    }
    let (mut low, mut high) = (low_c, high_c);
    for _ in 0..CEILING_ROUNDS {
        let middle = 0.5 * (low + high);
        if run(scenario, middle)?.served_work_s >= work_s {
            high = middle;
        } else {
            low = middle;
        }
    }
    Ok(Some(high))
}

/// The most load, up to `available`, that leaves the die at or below `ceiling_c` after one
/// step from `model`'s state; 0 when even no load cannot.
fn most_load_under(model: &PiThermalModel, available: f64, ceiling_c: f64) -> f64 {
    let die_after = |load: f64| {
        let mut trial = model.clone();
        trial.set_utilisation(load);
        trial.step(STEP);
        trial.die_c()
    };
    if die_after(available) <= ceiling_c {
        return available;
    }
    let (mut low, mut high) = (0.0, available);
    for _ in 0..LOAD_ROUNDS {
        let middle = 0.5 * (low + high);
        if die_after(middle) <= ceiling_c {
            low = middle;
        } else {
            high = middle;
        }
    }
    low
}

#[cfg(test)]
#[path = "ideal_tests.rs"]
mod tests;
