//! The control regimes compared: warden's policy (with a PWM or an on/off fan), the
//! firmware `gpio-fan` overlay rule, and firmware throttling alone.
//!
//! Each regime sees what a real one would: one raw sensor reading (or a failed read) per
//! tick, at its own tick interval, and answers with a fan duty, a cpufreq cap and whether
//! new connections are refused. The firmware's own cap is part of the model, so it acts
//! under every regime.

use std::time::Duration;

use anyhow::Result;
use warden_thermal::reference::GpioFanOverlayRule;
use warden_thermal::{CpuStep, PolicyConfig, SampleError, ThermalPolicy};

/// What a regime does after one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Action {
    /// Fan duty 0–1.
    pub fan_duty: f64,
    /// cpufreq `scaling_max_freq` (kHz).
    pub cpufreq_cap_khz: u64,
    /// True while new connections are refused.
    pub shed: bool,
}

/// Which regime, for building one per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegimeKind {
    /// warden's policy driving a proportional (PWM) fan: its fan curve.
    WardenPwm,
    /// warden's policy driving an on/off (GPIO) fan: fan stage with dwell times.
    WardenOnOff,
    /// The firmware `gpio-fan` overlay: on at 55 °C, off below 45 °C; no shedding.
    Overlay,
    /// No fan; only the firmware's own cap from 80 to 85 °C.
    FirmwareOnly,
}

impl RegimeKind {
    /// Every regime, in table order.
    pub const ALL: [RegimeKind; 4] = [
        RegimeKind::WardenPwm,
        RegimeKind::WardenOnOff,
        RegimeKind::Overlay,
        RegimeKind::FirmwareOnly,
    ];

    /// Name in tables and chart legends.
    pub fn label(self) -> &'static str {
        match self {
            RegimeKind::WardenPwm => "warden, PWM fan",
            RegimeKind::WardenOnOff => "warden, on/off fan",
            RegimeKind::Overlay => "gpio-fan overlay 55/45",
            RegimeKind::FirmwareOnly => "firmware only, no fan",
        }
    }

    /// Tick interval: warden's default `thermal.interval_ms` (500 ms); the kernel polls
    /// the Pi's thermal zone every second for the overlay; the firmware-only regime does
    /// nothing, so its tick only paces the bookkeeping.
    pub fn tick(self) -> Duration {
        match self {
            RegimeKind::WardenPwm | RegimeKind::WardenOnOff => Duration::from_millis(500),
            RegimeKind::Overlay | RegimeKind::FirmwareOnly => Duration::from_secs(1),
        }
    }

    /// A fresh controller of this kind over the cpufreq `steps_khz` (ascending).
    pub fn build(self, steps_khz: &[u64]) -> Result<Regime> {
        let top = steps_khz.last().copied().unwrap_or_default();
        Ok(match self {
            RegimeKind::WardenPwm | RegimeKind::WardenOnOff => {
                let config = PolicyConfig {
                    proportional_fan: self == RegimeKind::WardenPwm,
                    ..PolicyConfig::default()
                };
                Regime::Warden {
                    policy: Box::new(ThermalPolicy::new(config)?),
                    cap: StepwiseCap::new(steps_khz),
                }
            }
            RegimeKind::Overlay => Regime::Overlay {
                rule: GpioFanOverlayRule::default(),
                top_khz: top,
            },
            RegimeKind::FirmwareOnly => Regime::FirmwareOnly { top_khz: top },
        })
    }
}

/// A running controller of one regime.
#[derive(Debug)]
pub enum Regime {
    /// warden's pure policy and its max-freq stepping.
    Warden {
        /// The policy, exactly as the daemon runs it.
        policy: Box<ThermalPolicy>,
        /// The cpufreq cap, stepped like warden's `max-freq` strategy.
        cap: StepwiseCap,
    },
    /// The overlay's trip rule on raw readings.
    Overlay {
        /// The kernel trip with its hysteresis.
        rule: GpioFanOverlayRule,
        /// The top clock, never changed.
        top_khz: u64,
    },
    /// Nothing but the firmware.
    FirmwareOnly {
        /// The top clock, never changed.
        top_khz: u64,
    },
}

impl Regime {
    /// One tick at `now` with a reading (°C) or `None` for a failed read.
    pub fn control(&mut self, reading: Option<f64>, now: Duration) -> Action {
        match self {
            Regime::Warden { policy, cap } => {
                let decision = policy.step(reading.ok_or(SampleError::Failed), now);
                Action {
                    fan_duty: decision.fan_duty,
                    cpufreq_cap_khz: cap.apply(decision.cpu_step),
                    shed: decision.admission.is_shed(),
                }
            }
            Regime::Overlay { rule, top_khz } => {
                // A failed read leaves the kernel's cooling state as it was.
                let on = match reading {
                    Some(celsius) => rule.update(celsius),
                    None => rule.update(f64::NAN),
                };
                Action {
                    fan_duty: if on { 1.0 } else { 0.0 },
                    cpufreq_cap_khz: *top_khz,
                    shed: false,
                }
            }
            Regime::FirmwareOnly { top_khz } => Action {
                fan_duty: 0.0,
                cpufreq_cap_khz: *top_khz,
                shed: false,
            },
        }
    }
}

/// warden's `max-freq` strategy: one available step per tick, never above the top.
#[derive(Debug, Clone)]
pub struct StepwiseCap {
    steps_khz: Vec<u64>,
    cap_khz: u64,
}

impl StepwiseCap {
    /// Starts at the top of `steps_khz` (ascending).
    pub fn new(steps_khz: &[u64]) -> Self {
        StepwiseCap {
            steps_khz: steps_khz.to_vec(),
            cap_khz: steps_khz.last().copied().unwrap_or_default(),
        }
    }

    /// Applies a policy step; returns the new cap (kHz).
    pub fn apply(&mut self, step: CpuStep) -> u64 {
        let next = match step {
            CpuStep::Hold => None,
            CpuStep::Down => self.steps_khz.iter().rev().find(|&&k| k < self.cap_khz),
            CpuStep::Up => self.steps_khz.iter().find(|&&k| k > self.cap_khz),
            CpuStep::ToMinimum => self.steps_khz.first(),
        };
        if let Some(&khz) = next {
            self.cap_khz = khz;
        }
        self.cap_khz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepwise_cap_moves_one_step_and_stops_at_the_ends() {
        let mut cap = StepwiseCap::new(&[600_000, 1_000_000, 1_500_000]);
        assert_eq!(cap.apply(CpuStep::Up), 1_500_000);
        assert_eq!(cap.apply(CpuStep::Down), 1_000_000);
        assert_eq!(cap.apply(CpuStep::Hold), 1_000_000);
        assert_eq!(cap.apply(CpuStep::Down), 600_000);
        assert_eq!(cap.apply(CpuStep::Down), 600_000);
        assert_eq!(cap.apply(CpuStep::Up), 1_000_000);
        assert_eq!(cap.apply(CpuStep::ToMinimum), 600_000);
    }

    #[test]
    fn overlay_holds_its_state_through_a_failed_read() {
        let mut regime = RegimeKind::Overlay.build(&[600_000, 1_500_000]).unwrap();
        let t = Duration::ZERO;
        assert_eq!(regime.control(Some(56.0), t).fan_duty, 1.0);
        assert_eq!(regime.control(None, t).fan_duty, 1.0);
        assert_eq!(regime.control(Some(44.0), t).fan_duty, 0.0);
        assert_eq!(regime.control(None, t).fan_duty, 0.0);
    }
}
