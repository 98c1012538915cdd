//! A scenario's `[model]` table: overrides of the Pi model's parameters, each range-checked.
//!
//! warden-hw's own check ([`PiThermalParams::validate`]) only asks for positive, ordered
//! figures. A scenario is user input, so here every key gets a physical range and the
//! error names the scenario key (`model.<field>`), the value and the range. The model
//! integrates with forward Euler in 50 ms substeps, so the die and board time constants
//! must stay well above that: a tiny capacity would otherwise make it blow up to
//! infinity instead of failing with a message.

use std::ops::RangeInclusive;

use anyhow::{ensure, Result};
use serde::Deserialize;
use warden_hw::sim::{PiThermalParams, MAX_SUBSTEP_S};

/// Allowed board power, idle or at full load (W).
pub const POWER_RANGE_W: RangeInclusive<f64> = 0.01..=100.0;
/// Allowed thermal resistance, die to board or board to ambient (°C/W).
pub const RESISTANCE_RANGE_C_PER_W: RangeInclusive<f64> = 0.01..=100.0;
/// Allowed heat capacity of the die or the board (J/°C).
pub const CAPACITY_RANGE_J_PER_C: RangeInclusive<f64> = 0.01..=100_000.0;
/// Allowed exponent of the fan's added conductance in duty.
pub const AIRFLOW_EXPONENT_RANGE: RangeInclusive<f64> = 0.05..=5.0;
/// Allowed cpufreq step (kHz): 1 MHz to 10 GHz.
pub const STEP_RANGE_KHZ: RangeInclusive<u64> = 1_000..=10_000_000;
/// Most cpufreq steps a scenario may list.
pub const MAX_STEPS: usize = 64;
/// Allowed firmware cap temperatures (°C).
pub const FIRMWARE_CAP_RANGE_C: RangeInclusive<f64> = 0.0..=150.0;
/// Shortest time constant (s) of either node: 20 × the model's integration substep.
pub const MIN_TIME_CONSTANT_S: f64 = 20.0 * MAX_SUBSTEP_S;

/// Optional overrides of [`PiThermalParams`], field for field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    idle_power_w: Option<f64>,
    full_load_power_w: Option<f64>,
    die_resistance_c_per_w: Option<f64>,
    die_capacity_j_per_c: Option<f64>,
    board_resistance_no_fan_c_per_w: Option<f64>,
    board_resistance_full_fan_c_per_w: Option<f64>,
    board_capacity_j_per_c: Option<f64>,
    fan_airflow_exponent: Option<f64>,
    steps_khz: Option<Vec<u64>>,
    firmware_cap_start_c: Option<f64>,
    firmware_cap_full_c: Option<f64>,
}

/// Sets `field` to `value` if given, once `value` is within `range`.
fn set(
    field: &mut f64,
    key: &str,
    value: Option<f64>,
    range: RangeInclusive<f64>,
    unit: &str,
) -> Result<()> {
    if let Some(value) = value {
        ensure!(
            range.contains(&value),
            "model.{key} = {value:?}: give a value from {} to {} {unit}",
            range.start(),
            range.end()
        );
        *field = value;
    }
    Ok(())
}

impl RawModel {
    /// Applies the overrides to `params`; the first value out of range is an error naming
    /// its key, and so is a combination the model cannot run.
    pub(crate) fn apply(self, params: &mut PiThermalParams) -> Result<()> {
        let (power, resistance, capacity) = (
            POWER_RANGE_W,
            RESISTANCE_RANGE_C_PER_W,
            CAPACITY_RANGE_J_PER_C,
        );
        let p = &mut *params;
        set(
            &mut p.idle_power_w,
            "idle_power_w",
            self.idle_power_w,
            power.clone(),
            "W",
        )?;
        set(
            &mut p.full_load_power_w,
            "full_load_power_w",
            self.full_load_power_w,
            power,
            "W",
        )?;
        set(
            &mut p.die_resistance_c_per_w,
            "die_resistance_c_per_w",
            self.die_resistance_c_per_w,
            resistance.clone(),
            "°C/W",
        )?;
        set(
            &mut p.board_resistance_no_fan_c_per_w,
            "board_resistance_no_fan_c_per_w",
            self.board_resistance_no_fan_c_per_w,
            resistance.clone(),
            "°C/W",
        )?;
        set(
            &mut p.board_resistance_full_fan_c_per_w,
            "board_resistance_full_fan_c_per_w",
            self.board_resistance_full_fan_c_per_w,
            resistance,
            "°C/W",
        )?;
        set(
            &mut p.die_capacity_j_per_c,
            "die_capacity_j_per_c",
            self.die_capacity_j_per_c,
            capacity.clone(),
            "J/°C",
        )?;
        set(
            &mut p.board_capacity_j_per_c,
            "board_capacity_j_per_c",
            self.board_capacity_j_per_c,
            capacity,
            "J/°C",
        )?;
        set(
            &mut p.fan_airflow_exponent,
            "fan_airflow_exponent",
            self.fan_airflow_exponent,
            AIRFLOW_EXPONENT_RANGE,
            "",
        )?;
        set(
            &mut p.firmware_cap_start_c,
            "firmware_cap_start_c",
            self.firmware_cap_start_c,
            FIRMWARE_CAP_RANGE_C,
            "°C",
        )?;
        set(
            &mut p.firmware_cap_full_c,
            "firmware_cap_full_c",
            self.firmware_cap_full_c,
            FIRMWARE_CAP_RANGE_C,
            "°C",
        )?;
        if let Some(steps) = self.steps_khz {
            check_steps(&steps)?;
            p.steps_khz = steps;
        }
        // PiThermalModel::new validates the result again; these name the `model.*` keys.
        check_combination(params)
    }
}

fn check_steps(steps: &[u64]) -> Result<()> {
    ensure!(
        (1..=MAX_STEPS).contains(&steps.len()),
        "model.steps_khz has {} entries: list 1 to {MAX_STEPS} frequencies",
        steps.len()
    );
    for (index, &khz) in steps.iter().enumerate() {
        ensure!(
            STEP_RANGE_KHZ.contains(&khz),
            "model.steps_khz[{index}] = {khz}: give a frequency from {} to {} kHz",
            STEP_RANGE_KHZ.start(),
            STEP_RANGE_KHZ.end()
        );
        ensure!(
            index == 0 || khz > steps[index - 1],
            "model.steps_khz[{index}] = {khz} is not above the step before it: list the \
             frequencies in ascending order"
        );
    }
    Ok(())
}

/// Checks what no single key shows: the order of the pairs and the time constants.
fn check_combination(p: &PiThermalParams) -> Result<()> {
    ensure!(
        p.full_load_power_w > p.idle_power_w,
        "model.full_load_power_w = {} W must be above model.idle_power_w = {} W",
        p.full_load_power_w,
        p.idle_power_w
    );
    ensure!(
        p.board_resistance_full_fan_c_per_w <= p.board_resistance_no_fan_c_per_w,
        "model.board_resistance_full_fan_c_per_w = {} °C/W must be at most \
         model.board_resistance_no_fan_c_per_w = {} °C/W: a fan cannot insulate",
        p.board_resistance_full_fan_c_per_w,
        p.board_resistance_no_fan_c_per_w
    );
    ensure!(
        p.firmware_cap_full_c > p.firmware_cap_start_c,
        "model.firmware_cap_full_c = {} °C must be above model.firmware_cap_start_c = {} °C",
        p.firmware_cap_full_c,
        p.firmware_cap_start_c
    );
    let die_s = p.die_resistance_c_per_w * p.die_capacity_j_per_c;
    ensure!(
        die_s >= MIN_TIME_CONSTANT_S,
        "model.die_resistance_c_per_w × model.die_capacity_j_per_c = {die_s} s: the die's \
         time constant must be at least {MIN_TIME_CONSTANT_S} s (the model integrates in \
         {} ms steps); raise either",
        MAX_SUBSTEP_S * 1000.0
    );
    let board_r = p
        .die_resistance_c_per_w
        .min(p.board_resistance_full_fan_c_per_w);
    let board_s = p.board_capacity_j_per_c * board_r;
    ensure!(
        board_s >= MIN_TIME_CONSTANT_S,
        "model.board_capacity_j_per_c × the smaller of model.die_resistance_c_per_w and \
         model.board_resistance_full_fan_c_per_w = {board_s} s: the board's time constant \
         must be at least {MIN_TIME_CONSTANT_S} s (the model integrates in {} ms steps); \
         raise the capacity",
        MAX_SUBSTEP_S * 1000.0
    );
    Ok(())
}
