//! The two-node RC model of a Pi 4 SoC, stepped with injected time.
//!
//! ```text
//!   P ──► [die: C_d] ──R_d──► [board: C_b] ──R_b(fan)──► ambient
//!   P = P_idle + (P_full − P_idle) × utilisation × f / f_max
//! ```
//!
//! The die node is what the sensor reads; the board node is the PCB with whatever heatsink
//! it carries, cooled through a resistance that falls as the fan speeds up. The clock `f`
//! is the lower of the cpufreq cap (what warden writes) and the firmware's own cap, which
//! falls progressively from 80 °C to 85 °C. Nothing here reads a clock: [`PiThermalModel::step`]
//! advances by the `dt` it is given, so a test, a comparison run or a real-time thread all
//! drive the same code.

use std::time::Duration;

use super::noise::SeededNoise;
use super::params::PiThermalParams;
use crate::error::HwError;

/// Longest internal integration step (s); forward Euler is accurate to well under 1 %
/// at this step against the model's fastest time constant (≈ 8 s).
pub const MAX_SUBSTEP_S: f64 = 0.05;
/// `get_throttled` bit 1: ARM frequency capped now.
const FLAG_FREQ_CAPPED: u32 = 1 << 1;
/// `get_throttled` bit 2: throttled now.
const FLAG_THROTTLED: u32 = 1 << 2;
/// The "since boot" copy of a "now" bit sits 16 bits higher.
const SINCE_BOOT_SHIFT: u32 = 16;

/// A fault injected into the simulated sensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SensorFault {
    /// Every read fails.
    ReadError,
    /// Every read returns the last good reading again.
    Stuck,
    /// Every read returns this temperature (°C), e.g. 0 or 255 from a broken driver.
    Reads(f64),
}

/// The simulated Pi: thermal state, inputs and the sensor.
#[derive(Debug, Clone)]
pub struct PiThermalModel {
    params: PiThermalParams,
    die_c: f64,
    board_c: f64,
    ambient_c: f64,
    utilisation: f64,
    fan_duty: f64,
    fan_failed: bool,
    cpufreq_cap_khz: u64,
    sensor_fault: Option<SensorFault>,
    noise: SeededNoise,
    last_reading_millic: Option<i64>,
    elapsed: Duration,
    throttle_flags: u32,
}

impl PiThermalModel {
    /// A Pi at rest in `ambient_c`: idle, fan off, no cap, at its idle steady state.
    pub fn new(params: PiThermalParams, ambient_c: f64) -> Result<Self, HwError> {
        params.validate()?;
        if !ambient_c.is_finite() {
            return Err(HwError::InvalidSpec {
                field: "sim.ambient_c",
                reason: format!("{ambient_c} is not a temperature"),
            });
        }
        let idle_w = params.idle_power_w;
        let board_c = ambient_c + idle_w * params.board_resistance_c_per_w(0.0);
        let die_c = board_c + idle_w * params.die_resistance_c_per_w;
        Ok(PiThermalModel {
            noise: SeededNoise::new(params.noise_seed),
            cpufreq_cap_khz: params.max_khz(),
            params,
            die_c,
            board_c,
            ambient_c,
            utilisation: 0.0,
            fan_duty: 0.0,
            fan_failed: false,
            sensor_fault: None,
            last_reading_millic: None,
            elapsed: Duration::ZERO,
            throttle_flags: 0,
        })
    }

    /// Advances the model by `dt` of simulated time.
    pub fn step(&mut self, dt: Duration) {
        let mut remaining = dt.as_secs_f64();
        while remaining > 0.0 {
            let h = remaining.min(MAX_SUBSTEP_S);
            self.substep(h);
            remaining -= h;
        }
        self.elapsed += dt;
    }

    fn substep(&mut self, h: f64) {
        let p = &self.params;
        let power_w = self.power_w();
        let die_to_board_w = (self.die_c - self.board_c) / p.die_resistance_c_per_w;
        let board_to_air_w =
            (self.board_c - self.ambient_c) / p.board_resistance_c_per_w(self.airflow_duty());
        self.die_c += h * (power_w - die_to_board_w) / p.die_capacity_j_per_c;
        self.board_c += h * (die_to_board_w - board_to_air_w) / p.board_capacity_j_per_c;

        let mut now = 0;
        if self.firmware_cap_ratio() < 1.0 {
            now |= FLAG_FREQ_CAPPED;
        }
        if self.die_c >= p.firmware_cap_full_c {
            now |= FLAG_THROTTLED;
        }
        self.throttle_flags = now | (self.throttle_flags & !0xF) | (now << SINCE_BOOT_SHIFT);
    }

    /// The parameters the model runs with.
    pub fn params(&self) -> &PiThermalParams {
        &self.params
    }

    /// Simulated time since the model was built.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// True die temperature (°C), without noise or quantisation.
    pub fn die_c(&self) -> f64 {
        self.die_c
    }

    /// Board/heatsink node temperature (°C).
    pub fn board_c(&self) -> f64 {
        self.board_c
    }

    /// Ambient temperature (°C).
    pub fn ambient_c(&self) -> f64 {
        self.ambient_c
    }

    /// Sets the ambient temperature (°C); non-finite values are ignored.
    pub fn set_ambient_c(&mut self, ambient_c: f64) {
        if ambient_c.is_finite() {
            self.ambient_c = ambient_c;
        }
    }

    /// Forces both node temperatures (°C), e.g. to start a run warm.
    pub fn set_temperatures(&mut self, die_c: f64, board_c: f64) {
        if die_c.is_finite() && board_c.is_finite() {
            self.die_c = die_c;
            self.board_c = board_c;
        }
    }

    /// CPU utilisation 0–1 (all four cores busy = 1).
    pub fn utilisation(&self) -> f64 {
        self.utilisation
    }

    /// Sets the utilisation, clamped to 0–1 (NaN counts as 0).
    pub fn set_utilisation(&mut self, utilisation: f64) {
        self.utilisation = if utilisation.is_nan() {
            0.0
        } else {
            utilisation.clamp(0.0, 1.0)
        };
    }

    /// The commanded fan duty 0–1.
    pub fn fan_duty(&self) -> f64 {
        self.fan_duty
    }

    /// Sets the commanded fan duty, clamped to 0–1 (NaN counts as 0).
    pub fn set_fan_duty(&mut self, duty: f64) {
        self.fan_duty = if duty.is_nan() {
            0.0
        } else {
            duty.clamp(0.0, 1.0)
        };
    }

    /// True when the fan has failed: it accepts duties but moves no air.
    pub fn fan_failed(&self) -> bool {
        self.fan_failed
    }

    /// Breaks or repairs the fan.
    pub fn set_fan_failed(&mut self, failed: bool) {
        self.fan_failed = failed;
    }

    /// The duty that actually moves air (0 when the fan has failed).
    pub fn airflow_duty(&self) -> f64 {
        if self.fan_failed {
            0.0
        } else {
            self.fan_duty
        }
    }

    /// The cpufreq cap (kHz), i.e. `scaling_max_freq`.
    pub fn cpufreq_cap_khz(&self) -> u64 {
        self.cpufreq_cap_khz
    }

    /// Sets the cpufreq cap (kHz), clamped to the model's lowest..top step.
    pub fn set_cpufreq_cap_khz(&mut self, khz: u64) {
        self.cpufreq_cap_khz = khz.clamp(self.params.min_khz(), self.params.max_khz());
    }

    /// The firmware's cap at the current die temperature, as a fraction of the top clock.
    pub fn firmware_cap_ratio(&self) -> f64 {
        self.params.firmware_cap_ratio(self.die_c)
    }

    /// True while the firmware is capping the clock (die above its start temperature).
    pub fn firmware_capping(&self) -> bool {
        self.firmware_cap_ratio() < 1.0
    }

    /// The clock the CPU runs at, as a fraction of the top one: the lower of both caps.
    pub fn frequency_ratio(&self) -> f64 {
        let cpufreq = self.cpufreq_cap_khz as f64 / self.params.max_khz() as f64;
        cpufreq.min(self.firmware_cap_ratio())
    }

    /// The clock the CPU runs at (kHz).
    pub fn frequency_khz(&self) -> f64 {
        self.frequency_ratio() * self.params.max_khz() as f64
    }

    /// Power dissipated now (W): idle + dynamic × utilisation × frequency ratio.
    pub fn power_w(&self) -> f64 {
        self.params.idle_power_w
            + self.params.dynamic_power_w() * self.utilisation * self.frequency_ratio()
    }

    /// The firmware's `get_throttled` word: bit 1 capped and bit 2 throttled now, their
    /// "since boot" copies in bits 17 and 18.
    pub fn throttle_flags(&self) -> u32 {
        self.throttle_flags
    }

    /// The injected sensor fault, if any.
    pub fn sensor_fault(&self) -> Option<SensorFault> {
        self.sensor_fault
    }

    /// Injects (or with `None` clears) a sensor fault.
    pub fn set_sensor_fault(&mut self, fault: Option<SensorFault>) {
        self.sensor_fault = fault;
    }

    /// One sensor reading in millidegrees (die + uniform noise, rounded to 1 m°C), or
    /// `None` for a failed read. Each call draws fresh noise.
    pub fn read_sensor_millic(&mut self) -> Option<i64> {
        let millic = match self.sensor_fault {
            Some(SensorFault::ReadError) => return None,
            Some(SensorFault::Stuck) => {
                let stuck = match self.last_reading_millic {
                    Some(stuck) => stuck,
                    None => self.noisy_millic(),
                };
                self.last_reading_millic = Some(stuck);
                return Some(stuck);
            }
            Some(SensorFault::Reads(celsius)) => (celsius * 1000.0).round() as i64,
            None => self.noisy_millic(),
        };
        if self.sensor_fault.is_none() {
            self.last_reading_millic = Some(millic);
        }
        Some(millic)
    }

    fn noisy_millic(&mut self) -> i64 {
        let noise = self.noise.next_symmetric(self.params.sensor_noise_c);
        ((self.die_c + noise) * 1000.0).round() as i64
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
