//! The parameters of the simulated Pi 4, with their fitted starting values.
//!
//! Figures (see `docs/THERMAL.md` for the derivation):
//! - Power: 2.7 W idle and 6.4 W with `stress` on all four cores at 1.5 GHz, the board
//!   power usually quoted for a Pi 4 on current firmware. The dynamic part (3.7 W) scales
//!   with utilisation × frequency ratio.
//! - Die node: 2.4 °C/W to the board, 3.4 J/°C: the fast (≈ 8 s) part of the step response
//!   in the stressberry traces of a bare Pi 4.
//! - Board node: 25 J/°C; to ambient 0.7 °C/W at full fan. With no fan the issue's
//!   starting figure of 4.3 °C/W gives a steady 64.9 °C, short of the same data's 72 °C
//!   check (22 °C + 6.4 W × R = 72 °C needs R = 7.8 °C/W in total), so the no-fan board
//!   resistance is refit to 5.4 °C/W: the least constrained of the figures.
//! - Fan: the board's conductance to ambient grows with airflow^0.5 (forced convection over
//!   a plate, Nusselt ∝ Re^0.5), airflow taken proportional to duty. An assumption, not a fit.
//! - Firmware: caps the ARM clock progressively from 80 °C, down to the lowest step at 85 °C.
//! - Sensor: ±0.3 °C of uniform noise by default (assumed: a real sensor jitters, and a
//!   perfectly constant reading would trip warden's stuck-sensor check), then 1 m°C
//!   quantisation as in sysfs.

use crate::error::HwError;

/// Board power with the CPU idle (W).
pub const DEFAULT_IDLE_POWER_W: f64 = 2.7;
/// Board power with all four cores busy at the top frequency (W).
pub const DEFAULT_FULL_LOAD_POWER_W: f64 = 6.4;
/// Thermal resistance die → board (°C/W).
pub const DEFAULT_DIE_RESISTANCE_C_PER_W: f64 = 2.4;
/// Heat capacity of the die node (J/°C).
pub const DEFAULT_DIE_CAPACITY_J_PER_C: f64 = 3.4;
/// Thermal resistance board → ambient with the fan stopped (°C/W); refit, see the module docs.
pub const DEFAULT_BOARD_RESISTANCE_NO_FAN_C_PER_W: f64 = 5.4;
/// Thermal resistance board → ambient at full fan (°C/W).
pub const DEFAULT_BOARD_RESISTANCE_FULL_FAN_C_PER_W: f64 = 0.7;
/// Heat capacity of the board/heatsink node (J/°C).
pub const DEFAULT_BOARD_CAPACITY_J_PER_C: f64 = 25.0;
/// Exponent of the fan's added conductance in duty (forced convection, laminar: 0.5).
pub const DEFAULT_FAN_AIRFLOW_EXPONENT: f64 = 0.5;
/// Available cpufreq steps of a Pi 4 (kHz, ascending).
pub const DEFAULT_STEPS_KHZ: [u64; 3] = [600_000, 1_000_000, 1_500_000];
/// The firmware starts capping the ARM clock at this die temperature (°C).
pub const DEFAULT_FIRMWARE_CAP_START_C: f64 = 80.0;
/// At and above this die temperature the firmware holds the lowest step (°C).
pub const DEFAULT_FIRMWARE_CAP_FULL_C: f64 = 85.0;
/// Half-width of the uniform sensor noise (°C).
pub const DEFAULT_SENSOR_NOISE_C: f64 = 0.3;
/// Ambient temperature of the stressberry checks (°C).
pub const DEFAULT_AMBIENT_C: f64 = 22.0;
/// Seed of the sensor noise.
pub const DEFAULT_NOISE_SEED: u64 = 0x05EE_D0FB_0A2D;

/// Every figure of the two-node model; `Default` gives the fitted starting values.
#[derive(Debug, Clone, PartialEq)]
pub struct PiThermalParams {
    /// Board power with the CPU idle (W).
    pub idle_power_w: f64,
    /// Board power at full utilisation and the top frequency (W); must exceed idle.
    pub full_load_power_w: f64,
    /// Die → board thermal resistance (°C/W).
    pub die_resistance_c_per_w: f64,
    /// Die heat capacity (J/°C).
    pub die_capacity_j_per_c: f64,
    /// Board → ambient resistance, fan stopped (°C/W).
    pub board_resistance_no_fan_c_per_w: f64,
    /// Board → ambient resistance, fan at full duty (°C/W); at most the no-fan figure.
    pub board_resistance_full_fan_c_per_w: f64,
    /// Board heat capacity (J/°C).
    pub board_capacity_j_per_c: f64,
    /// The fan's added conductance grows as duty^exponent (> 0).
    pub fan_airflow_exponent: f64,
    /// cpufreq steps (kHz, strictly ascending, at least one); the last is the top frequency.
    pub steps_khz: Vec<u64>,
    /// Firmware cap starts here (°C).
    pub firmware_cap_start_c: f64,
    /// Firmware cap reaches the lowest step here (°C); above the start.
    pub firmware_cap_full_c: f64,
    /// Half-width of the uniform sensor noise (°C, ≥ 0).
    pub sensor_noise_c: f64,
    /// Seed of the noise source: the same seed gives the same readings.
    pub noise_seed: u64,
}

impl Default for PiThermalParams {
    fn default() -> Self {
        PiThermalParams {
            idle_power_w: DEFAULT_IDLE_POWER_W,
            full_load_power_w: DEFAULT_FULL_LOAD_POWER_W,
            die_resistance_c_per_w: DEFAULT_DIE_RESISTANCE_C_PER_W,
            die_capacity_j_per_c: DEFAULT_DIE_CAPACITY_J_PER_C,
            board_resistance_no_fan_c_per_w: DEFAULT_BOARD_RESISTANCE_NO_FAN_C_PER_W,
            board_resistance_full_fan_c_per_w: DEFAULT_BOARD_RESISTANCE_FULL_FAN_C_PER_W,
            board_capacity_j_per_c: DEFAULT_BOARD_CAPACITY_J_PER_C,
            fan_airflow_exponent: DEFAULT_FAN_AIRFLOW_EXPONENT,
            steps_khz: DEFAULT_STEPS_KHZ.to_vec(),
            firmware_cap_start_c: DEFAULT_FIRMWARE_CAP_START_C,
            firmware_cap_full_c: DEFAULT_FIRMWARE_CAP_FULL_C,
            sensor_noise_c: DEFAULT_SENSOR_NOISE_C,
            noise_seed: DEFAULT_NOISE_SEED,
        }
    }
}

impl PiThermalParams {
    /// Checks every field; the first problem is an [`HwError::InvalidSpec`] naming it.
    pub fn validate(&self) -> Result<(), HwError> {
        let positive = [
            ("sim.idle_power_w", self.idle_power_w),
            ("sim.die_resistance_c_per_w", self.die_resistance_c_per_w),
            ("sim.die_capacity_j_per_c", self.die_capacity_j_per_c),
            (
                "sim.board_resistance_no_fan_c_per_w",
                self.board_resistance_no_fan_c_per_w,
            ),
            (
                "sim.board_resistance_full_fan_c_per_w",
                self.board_resistance_full_fan_c_per_w,
            ),
            ("sim.board_capacity_j_per_c", self.board_capacity_j_per_c),
            ("sim.fan_airflow_exponent", self.fan_airflow_exponent),
        ];
        for (field, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return invalid(field, format!("{value} must be a finite number above 0"));
            }
        }
        if !(self.full_load_power_w.is_finite() && self.full_load_power_w > self.idle_power_w) {
            return invalid(
                "sim.full_load_power_w",
                format!(
                    "{} W must be above the idle power ({} W)",
                    self.full_load_power_w, self.idle_power_w
                ),
            );
        }
        if self.board_resistance_full_fan_c_per_w > self.board_resistance_no_fan_c_per_w {
            return invalid(
                "sim.board_resistance_full_fan_c_per_w",
                format!(
                    "{} °C/W is above the no-fan resistance ({} °C/W): a fan cannot insulate",
                    self.board_resistance_full_fan_c_per_w, self.board_resistance_no_fan_c_per_w
                ),
            );
        }
        if self.steps_khz.is_empty()
            || self.steps_khz[0] == 0
            || self.steps_khz.windows(2).any(|pair| pair[0] >= pair[1])
        {
            return invalid(
                "sim.steps_khz",
                format!(
                    "{:?} must be non-zero frequencies in strictly ascending order",
                    self.steps_khz
                ),
            );
        }
        let cap_ok = self.firmware_cap_start_c.is_finite()
            && self.firmware_cap_full_c.is_finite()
            && self.firmware_cap_full_c > self.firmware_cap_start_c;
        if !cap_ok {
            return invalid(
                "sim.firmware_cap_full_c",
                format!(
                    "{} °C must be above firmware_cap_start_c ({} °C)",
                    self.firmware_cap_full_c, self.firmware_cap_start_c
                ),
            );
        }
        if !(self.sensor_noise_c.is_finite() && self.sensor_noise_c >= 0.0) {
            return invalid(
                "sim.sensor_noise_c",
                format!("{} must be zero or a positive number", self.sensor_noise_c),
            );
        }
        Ok(())
    }

    /// The top frequency (kHz): the last step.
    pub fn max_khz(&self) -> u64 {
        self.steps_khz.last().copied().unwrap_or(1)
    }

    /// The lowest frequency (kHz): the first step.
    pub fn min_khz(&self) -> u64 {
        self.steps_khz.first().copied().unwrap_or(1)
    }

    /// Dynamic power at full utilisation and the top frequency (W).
    pub fn dynamic_power_w(&self) -> f64 {
        self.full_load_power_w - self.idle_power_w
    }

    /// Board → ambient resistance at fan `duty` (0–1) (°C/W).
    pub fn board_resistance_c_per_w(&self, duty: f64) -> f64 {
        let still = 1.0 / self.board_resistance_no_fan_c_per_w;
        let full = 1.0 / self.board_resistance_full_fan_c_per_w;
        let airflow = duty.clamp(0.0, 1.0).powf(self.fan_airflow_exponent);
        1.0 / (still + (full - still) * airflow)
    }

    /// The firmware's own cap as a fraction of the top frequency at die temperature `die_c`.
    ///
    /// 1 up to the start temperature, then linearly down to the lowest step's fraction at
    /// the full temperature, held there above it. Linear, not stepped: the firmware dithers
    /// between clocks, so over a tick the mean clock is what heats the die.
    pub fn firmware_cap_ratio(&self, die_c: f64) -> f64 {
        let floor = self.min_khz() as f64 / self.max_khz() as f64;
        let span = self.firmware_cap_full_c - self.firmware_cap_start_c;
        let progress = ((die_c - self.firmware_cap_start_c) / span).clamp(0.0, 1.0);
        1.0 - progress * (1.0 - floor)
    }

    /// Steady die temperature (°C) for a constant power, fan duty and ambient.
    pub fn steady_die_c(&self, power_w: f64, fan_duty: f64, ambient_c: f64) -> f64 {
        ambient_c
            + power_w * (self.die_resistance_c_per_w + self.board_resistance_c_per_w(fan_duty))
    }
}

fn invalid(field: &'static str, reason: String) -> Result<(), HwError> {
    Err(HwError::InvalidSpec { field, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_fan_lowers_the_board_resistance() {
        let params = PiThermalParams::default();
        params.validate().expect("defaults validate");
        assert_eq!(params.board_resistance_c_per_w(0.0), 5.4);
        assert!((params.board_resistance_c_per_w(1.0) - 0.7).abs() < 1e-12);
        let half = params.board_resistance_c_per_w(0.5);
        assert!(half > 0.7 && half < 5.4, "{half}");
    }

    #[test]
    fn firmware_cap_is_progressive_from_80_to_85() {
        let params = PiThermalParams::default();
        assert_eq!(params.firmware_cap_ratio(79.9), 1.0);
        assert_eq!(params.firmware_cap_ratio(80.0), 1.0);
        assert!((params.firmware_cap_ratio(82.5) - 0.7).abs() < 1e-12);
        assert!((params.firmware_cap_ratio(85.0) - 0.4).abs() < 1e-12);
        assert!((params.firmware_cap_ratio(95.0) - 0.4).abs() < 1e-12);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Edit = fn(&mut PiThermalParams);
        let cases: &[(Edit, &str)] = &[
            (|p| p.idle_power_w = 0.0, "sim.idle_power_w"),
            (|p| p.full_load_power_w = 2.0, "sim.full_load_power_w"),
            (
                |p| p.die_capacity_j_per_c = f64::NAN,
                "sim.die_capacity_j_per_c",
            ),
            (
                |p| p.board_resistance_full_fan_c_per_w = 9.0,
                "sim.board_resistance_full_fan_c_per_w",
            ),
            (|p| p.steps_khz = vec![1_000, 1_000], "sim.steps_khz"),
            (|p| p.steps_khz.clear(), "sim.steps_khz"),
            (|p| p.firmware_cap_full_c = 79.0, "sim.firmware_cap_full_c"),
            (|p| p.sensor_noise_c = -0.1, "sim.sensor_noise_c"),
        ];
        for (edit, field) in cases {
            let mut params = PiThermalParams::default();
            edit(&mut params);
            let message = params.validate().expect_err(field).to_string();
            assert!(message.contains(field), "{message:?} does not name {field}");
        }
    }
}
