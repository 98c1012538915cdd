//! A simulated Raspberry Pi 4: a two-node RC thermal model of the SoC, and the hardware
//! traits implemented over it.
//!
//! [`PiThermalModel`] is pure: it advances only when [`PiThermalModel::step`] is given a
//! `dt`, so the comparison harness runs hours of simulated time in milliseconds and the
//! live demo advances it from a real-time thread. [`PiThermalParams`] holds every figure
//! (defaults fitted to stressberry data of a bare Pi 4; see its module docs and
//! `docs/THERMAL.md`). [`SimBoard`] shares one model between [`SimSensor`], [`SimFan`],
//! [`SimCpuFreq`] and [`SimThrottleReader`], which [`SimBoard::backends`] hands to the
//! thermal controller in place of real hardware. Nothing in here is hardware, and the
//! sensor's description says so.

mod backends;
mod model;
mod noise;
mod params;

pub use backends::{
    SimBoard, SimCpuFreq, SimFan, SimSensor, SimThrottleReader, SIM_AVAILABLE_GOVERNORS,
    SIM_GOVERNOR, SIM_SENSOR_DESCRIPTION,
};
pub use model::{PiThermalModel, SensorFault, MAX_SUBSTEP_S};
pub use noise::SeededNoise;
pub use params::*;
