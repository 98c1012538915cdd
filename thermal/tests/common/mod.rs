//! Helpers shared by the policy and controller tests: a tiny deterministic PRNG, a trace
//! runner that records every tick's decision, a bounded wait, and a log capture.

#![allow(dead_code)]

pub mod capture_log;
pub mod fake_tree;

use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_hw::{CpuFreq, Fan, TempSensor};
use warden_thermal::{
    Controller, ControllerConfig, ControllerHandle, Decision, PolicyConfig, Sample, SharedSnapshot,
    ThermalPolicy,
};

/// SplitMix64: small, fast, and deterministic for a given seed.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform noise in [-amplitude, amplitude).
    pub fn noise(&mut self, amplitude: f64) -> f64 {
        self.range(-amplitude, amplitude)
    }
}

/// One recorded tick.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    pub at_s: f64,
    pub raw_c: f64,
    pub decision: Decision,
}

/// Runs `temperature(t)` through a fresh policy every `tick_s` for `duration_s`.
pub fn run_trace(
    config: PolicyConfig,
    tick_s: f64,
    duration_s: f64,
    mut temperature: impl FnMut(f64) -> f64,
) -> Vec<Tick> {
    run_samples(config, tick_s, duration_s, |t| Ok(temperature(t)))
}

/// Like [`run_trace`] but the closure may return read errors.
pub fn run_samples(
    config: PolicyConfig,
    tick_s: f64,
    duration_s: f64,
    mut sample: impl FnMut(f64) -> Sample,
) -> Vec<Tick> {
    let mut policy = ThermalPolicy::new(config).expect("test config is valid");
    let ticks = (duration_s / tick_s).round() as u64;
    (0..=ticks)
        .map(|k| {
            let at_s = k as f64 * tick_s;
            let reading = sample(at_s);
            let decision = policy.step(reading, Duration::from_secs_f64(at_s));
            Tick {
                at_s,
                raw_c: reading.unwrap_or(f64::NAN),
                decision,
            }
        })
        .collect()
}

/// Times (and new values) at which `field` of the decision changed, the first tick included.
pub fn transitions<T: PartialEq + Copy>(
    ticks: &[Tick],
    field: impl Fn(&Decision) -> T,
) -> Vec<(f64, T)> {
    let mut out: Vec<(f64, T)> = Vec::new();
    for tick in ticks {
        let value = field(&tick.decision);
        if out.last().map_or(true, |(_, last)| *last != value) {
            out.push((tick.at_s, value));
        }
    }
    out
}

/// How long a controller test waits for anything before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `condition` until it holds; fails the test after [`DEADLINE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reacts within a tick: no filter, no prediction, no dwell, and no jump check, so a
/// controller test can step the fake sensor straight to any temperature.
pub fn reactive_policy() -> PolicyConfig {
    PolicyConfig {
        filter_tau_s: 0.0,
        horizon_s: 0.0,
        max_step_c: 0.0,
        fan_min_on_s: 0.0,
        fan_min_off_s: 0.0,
        ..PolicyConfig::default()
    }
}

/// Spawns a controller with `policy` over `sensor`, `fan` and `cpufreq`, run by `config`
/// with admission sent nowhere; returns once it has its first reading.
pub fn spawn_controller(
    policy: PolicyConfig,
    sensor: Box<dyn TempSensor>,
    fan: Box<dyn Fan>,
    cpufreq: Box<dyn CpuFreq>,
    config: ControllerConfig,
) -> (ControllerHandle, Arc<SharedSnapshot>) {
    let controller = Controller::new(policy, sensor, fan)
        .unwrap()
        .with_cpufreq(cpufreq);
    spawn_until_first_reading(controller, config)
}

/// Spawns `controller` run by `config` with admission sent nowhere; returns once it has
/// its first reading.
pub fn spawn_until_first_reading(
    controller: Controller,
    config: ControllerConfig,
) -> (ControllerHandle, Arc<SharedSnapshot>) {
    let snapshot = Arc::new(SharedSnapshot::new());
    let handle = controller
        .spawn(config, Box::new(|_| {}), Arc::clone(&snapshot))
        .unwrap();
    assert!(snapshot.wait_first_reading(DEADLINE), "no first reading");
    (handle, snapshot)
}
