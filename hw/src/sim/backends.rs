//! The hardware traits implemented over one shared simulated Pi, for the in-process demo.
//!
//! [`SimBoard`] holds the model behind a mutex so the thermal controller's backends (each
//! on the controller thread) and the thread that advances the model in real time see the
//! same board. The lock is taken a few times per thermal tick, never on a per-message path.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::model::PiThermalModel;
use crate::error::{Access, HwError};
use crate::factory::Backends;
use crate::fan::check_duty;
use crate::throttle::ThrottleFlags;
use crate::{CpuFreq, Fan, TempSensor, ThrottleReader};

/// What the simulated sensor's [`TempSensor::describe`] says: loudly not hardware.
pub const SIM_SENSOR_DESCRIPTION: &str =
    "simulated Pi 4 SoC (two-node RC model) - NOT a hardware sensor";
/// The governor the simulated cpufreq starts with.
pub const SIM_GOVERNOR: &str = "ondemand";
/// Governors the simulated cpufreq accepts (`powersave` pins the lowest step).
pub const SIM_AVAILABLE_GOVERNORS: [&str; 5] = [
    "conservative",
    "ondemand",
    "userspace",
    "powersave",
    "performance",
];
/// The pseudo-path named in errors of the simulated sensor.
const SIM_SENSOR_PATH: &str = "<simulated sensor>";

/// A simulated Pi shared between its backends and whoever advances it.
#[derive(Debug, Clone)]
pub struct SimBoard {
    model: Arc<Mutex<PiThermalModel>>,
}

impl SimBoard {
    /// Shares `model`.
    pub fn new(model: PiThermalModel) -> Self {
        SimBoard {
            model: Arc::new(Mutex::new(model)),
        }
    }

    /// Locks the model (a panic elsewhere never makes it unusable).
    pub fn lock(&self) -> MutexGuard<'_, PiThermalModel> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Advances the model by `dt` of simulated time.
    pub fn step(&self, dt: Duration) {
        self.lock().step(dt);
    }

    /// Sensor, proportional fan, cpufreq with the model's steps and throttle flags, all
    /// over this board, plus notes that say plainly that none of it is hardware.
    pub fn backends(&self) -> Backends {
        let steps = self.lock().params().steps_khz.clone();
        let notes = vec![
            format!("sensor: {SIM_SENSOR_DESCRIPTION}"),
            "fan: simulated proportional fan (driver \"sim\"), drives the model's airflow".into(),
            format!("cpufreq: simulated, steps {steps:?} kHz, governor {SIM_GOVERNOR}"),
            "throttle flags: simulated firmware (caps the clock from 80 to 85 °C)".into(),
        ];
        Backends {
            sensor: Box::new(SimSensor::new(self.clone())),
            fan: Box::new(SimFan::new(self.clone())),
            cpufreq: Some(Box::new(SimCpuFreq::new(self.clone()))),
            throttle: Some(Box::new(SimThrottleReader::new(self.clone()))),
            notes,
        }
    }
}

/// The simulated die temperature sensor (noise, 1 m°C steps, injected faults).
#[derive(Debug, Clone)]
pub struct SimSensor {
    board: SimBoard,
}

impl SimSensor {
    /// A sensor on `board`.
    pub fn new(board: SimBoard) -> Self {
        SimSensor { board }
    }
}

impl TempSensor for SimSensor {
    fn read_celsius(&mut self) -> Result<f64, HwError> {
        match self.board.lock().read_sensor_millic() {
            Some(millic) => Ok(millic as f64 / 1000.0),
            None => Err(HwError::Io {
                path: PathBuf::from(SIM_SENSOR_PATH),
                access: Access::Read,
                os_error: io::Error::other("sensor fault injected into the simulation"),
            }),
        }
    }

    fn describe(&self) -> String {
        SIM_SENSOR_DESCRIPTION.to_string()
    }
}

/// The simulated fan: a proportional fan setting the model's duty.
#[derive(Debug, Clone)]
pub struct SimFan {
    board: SimBoard,
}

impl SimFan {
    /// A fan on `board`.
    pub fn new(board: SimBoard) -> Self {
        SimFan { board }
    }
}

impl Fan for SimFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        let duty = check_duty(duty)?;
        self.board.lock().set_fan_duty(duty);
        Ok(())
    }

    fn driver(&self) -> &'static str {
        "sim"
    }

    fn is_proportional(&self) -> bool {
        true
    }
}

/// Simulated cpufreq: `scaling_max_freq` and the governor of the model's CPU.
#[derive(Debug, Clone)]
pub struct SimCpuFreq {
    board: SimBoard,
    steps_khz: Vec<u64>,
    max_khz: u64,
    governor: String,
}

impl SimCpuFreq {
    /// cpufreq on `board`, at its top step under [`SIM_GOVERNOR`].
    pub fn new(board: SimBoard) -> Self {
        let (steps_khz, max_khz) = {
            let model = board.lock();
            (model.params().steps_khz.clone(), model.params().max_khz())
        };
        SimCpuFreq {
            board,
            steps_khz,
            max_khz,
            governor: SIM_GOVERNOR.to_string(),
        }
    }

    /// Checks that the simulated cpufreq offers `governor` ([`SIM_AVAILABLE_GOVERNORS`]), as
    /// a real policy's check does before a "governor" strategy is taken
    /// ([`HwError::GovernorNotAvailable`] naming the list otherwise).
    pub fn check_governor(governor: &str) -> Result<(), HwError> {
        if SIM_AVAILABLE_GOVERNORS.contains(&governor) {
            return Ok(());
        }
        Err(HwError::GovernorNotAvailable {
            governor: governor.to_string(),
            file: "the simulated scaling_available_governors".into(),
            available: SIM_AVAILABLE_GOVERNORS.join(" "),
        })
    }

    /// Writes the effective cap: the lowest step under `powersave`, else `scaling_max_freq`.
    fn apply(&self) {
        let cap = if self.governor == "powersave" {
            self.steps_khz.first().copied().unwrap_or(self.max_khz)
        } else {
            self.max_khz
        };
        self.board.lock().set_cpufreq_cap_khz(cap);
    }
}

impl CpuFreq for SimCpuFreq {
    fn steps_khz(&self) -> &[u64] {
        &self.steps_khz
    }

    fn max_khz(&mut self) -> Result<u64, HwError> {
        Ok(self.max_khz)
    }

    fn set_max_khz(&mut self, khz: u64) -> Result<(), HwError> {
        let lowest = self.steps_khz.first().copied().unwrap_or(khz);
        let top = self.steps_khz.last().copied().unwrap_or(khz);
        // Like the kernel: clamp into the policy's range rather than refuse.
        self.max_khz = khz.clamp(lowest, top);
        self.apply();
        Ok(())
    }

    fn governor(&mut self) -> Result<String, HwError> {
        Ok(self.governor.clone())
    }

    fn set_governor(&mut self, governor: &str) -> Result<(), HwError> {
        SimCpuFreq::check_governor(governor)?;
        self.governor = governor.to_string();
        self.apply();
        Ok(())
    }

    fn original(&self) -> (u64, String) {
        (
            self.steps_khz.last().copied().unwrap_or(self.max_khz),
            SIM_GOVERNOR.to_string(),
        )
    }

    fn restore(&mut self) -> Result<(), HwError> {
        let (max_khz, governor) = self.original();
        self.max_khz = max_khz;
        self.governor = governor;
        self.apply();
        Ok(())
    }
}

/// The simulated firmware's throttle flags.
#[derive(Debug, Clone)]
pub struct SimThrottleReader {
    board: SimBoard,
}

impl SimThrottleReader {
    /// A reader on `board`.
    pub fn new(board: SimBoard) -> Self {
        SimThrottleReader { board }
    }
}

impl ThrottleReader for SimThrottleReader {
    fn read(&mut self) -> Result<Option<ThrottleFlags>, HwError> {
        Ok(Some(ThrottleFlags::from_raw(
            self.board.lock().throttle_flags(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{PiThermalParams, SensorFault};

    fn board() -> SimBoard {
        SimBoard::new(PiThermalModel::new(PiThermalParams::default(), 22.0).unwrap())
    }

    #[test]
    fn backends_drive_one_shared_model() {
        let board = board();
        let mut backends = board.backends();
        assert!(backends.sensor.describe().contains("simulated"));
        assert_eq!(backends.fan.driver(), "sim");
        assert!(backends.fan.is_proportional());

        backends.fan.set_duty(0.6).unwrap();
        assert_eq!(board.lock().fan_duty(), 0.6);
        assert!(
            backends.fan.set_duty(1.5).is_err(),
            "out-of-range duty refused"
        );

        let cpu = backends.cpufreq.as_mut().unwrap();
        assert_eq!(cpu.steps_khz(), &[600_000, 1_000_000, 1_500_000]);
        cpu.set_max_khz(1_000_000).unwrap();
        assert_eq!(board.lock().cpufreq_cap_khz(), 1_000_000);
        cpu.set_governor("powersave").unwrap();
        assert_eq!(board.lock().cpufreq_cap_khz(), 600_000);
        assert!(cpu.set_governor("turbo").is_err());
        cpu.restore().unwrap();
        assert_eq!(cpu.max_khz().unwrap(), 1_500_000);
        assert_eq!(cpu.governor().unwrap(), "ondemand");
        assert_eq!(board.lock().cpufreq_cap_khz(), 1_500_000);

        backends.fan.set_duty(0.0).unwrap();
        let before = backends.sensor.read_celsius().unwrap();
        board.lock().set_utilisation(1.0);
        board.step(Duration::from_secs(60));
        let after = backends.sensor.read_celsius().unwrap();
        assert!(after > before + 5.0, "{before} -> {after}");

        board.lock().set_sensor_fault(Some(SensorFault::ReadError));
        assert!(backends.sensor.read_celsius().is_err());

        let flags = backends.throttle.as_mut().unwrap().read().unwrap().unwrap();
        assert!(!flags.freq_capped);
    }
}
