//! warden-thermal: the thermal control of warden. A pure [`ThermalPolicy`]
//! (filter, trend, prediction, staged hysteresis, fan laws, fail-safe) turns
//! readings into [`Decision`]s with time injected, and a [`Controller`]
//! thread applies them through warden-hw's traits, sends admission changes
//! to the event loop and publishes a [`SharedSnapshot`] for the status page.
//! This crate knows nothing of mio, HTTP or TOML.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod actuators;
pub mod change_log;
pub mod config;
pub mod controller;
mod controller_config;
pub mod fan_law;
mod handle;
pub mod policy;
pub mod rate_limit;
pub mod reference;
pub mod sensor_health;
pub mod signal;
pub mod snapshot;
mod summaries;
mod tick_log;

pub use actuators::{CpuStrategy, FanOnExit};
pub use config::{
    CurvePoint, OnSensorFault, PolicyConfig, PolicyConfigError, ShedMode, StageThresholds,
    Thresholds,
};
pub use controller::{
    ActiveConnections, AdmissionSink, Controller, ControllerConfig, ControllerError,
    ControllerHandle, DEFAULT_INTERVAL, STOP_TIMEOUT,
};
pub use policy::{
    AdmissionDecision, AdmissionReason, CpuStep, Decision, Level, Sample, SampleError,
    ThermalPolicy,
};
pub use sensor_health::SensorFaultCause;
pub use snapshot::{
    CpuStatus, FanStatus, HistorySample, SensorStatus, SharedSnapshot, ThermalSnapshot,
};
