//! Scenario files: what happens to the simulated Pi over time.
//!
//! A scenario is TOML (unknown keys rejected) naming the ambient temperature over time,
//! the offered load, sensor noise and faults, an optional fan failure, how long admitted
//! connections live, and optional overrides of the model's parameters. Both the live
//! simulator and the comparison harness read the same files, so a scenario means the same
//! thing in both. See `scenarios/*.toml` for commented examples.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use warden_hw::sim::{PiThermalParams, SensorFault};
use warden_hw::user_file::{self, MIB};

use crate::scenario_model::RawModel;

/// Default mean lifetime of an admitted connection (s).
pub const DEFAULT_CONNECTION_LIFETIME_S: f64 = 30.0;
/// Largest scenario file read: a guard against a device or a runaway file, far above any
/// hand-written scenario.
pub const MAX_SCENARIO_BYTES: u64 = MIB;
/// Longest scenario name (it names the chart file).
pub const MAX_NAME_CHARS: usize = 64;
/// Longest time a scenario may name (s), 30 days: its duration, every point's time, every
/// period, fault window and lifetime.
pub const MAX_SCENARIO_S: f64 = 2_592_000.0;
/// Ambient temperatures a scenario may name (°C): the range of industrial-grade parts.
pub const AMBIENT_RANGE_C: RangeInclusive<f64> = -40.0..=85.0;
/// Offered load, a fraction of the four cores at the top clock.
pub const LOAD_RANGE: RangeInclusive<f64> = 0.0..=1.0;
/// Values a sensor fault of kind `reads` may report (°C); wide on purpose, since a
/// scenario may test warden against an implausible reading.
pub const FAULT_READING_RANGE_C: RangeInclusive<f64> = -1000.0..=1000.0;
/// Half-width of the sensor noise a scenario may ask for (°C).
pub const NOISE_RANGE_C: RangeInclusive<f64> = 0.0..=10.0;

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short name, used for chart file names.
    pub name: String,
    /// One sentence on what the scenario shows.
    pub description: String,
    /// Simulated length.
    pub duration: Duration,
    /// Ambient temperature (°C) over time.
    pub ambient: Schedule,
    /// Offered load (0–1 of four cores at the top clock) over time.
    pub load: LoadProfile,
    /// Sensor faults by time window.
    pub sensor_faults: Vec<FaultWindow>,
    /// The fan stops moving air from this time on.
    pub fan_fails_at: Option<Duration>,
    /// Mean lifetime of an admitted connection (s): admitted load follows offered load
    /// with this time constant, and decays with it while new connections are refused.
    pub connection_lifetime_s: f64,
    /// The model's parameters with the scenario's overrides applied.
    pub params: PiThermalParams,
}

/// A piecewise-linear function of time, held constant after its last point.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    points: Vec<(f64, f64)>,
}

impl Schedule {
    /// A schedule through `points` (time s, value), times ascending from 0 to
    /// [`MAX_SCENARIO_S`], values within `values` (in `unit`), at least one point. `what`
    /// is the scenario key, used in errors with the point's index.
    pub fn new(
        points: Vec<(f64, f64)>,
        what: &str,
        values: RangeInclusive<f64>,
        unit: &str,
    ) -> Result<Self> {
        ensure!(
            !points.is_empty(),
            "{what}: give at least one [time_s, value] point"
        );
        for (index, &(t, v)) in points.iter().enumerate() {
            ensure!(
                (0.0..=MAX_SCENARIO_S).contains(&t),
                "{what}[{index}] time {t:?}: give seconds from 0 to {MAX_SCENARIO_S} (30 days)"
            );
            ensure!(
                values.contains(&v),
                "{what}[{index}] value {v:?}: give a value from {} to {} {unit}",
                values.start(),
                values.end()
            );
            if index > 0 {
                ensure!(
                    t > points[index - 1].0,
                    "{what}[{index}] at {t} s is not after the previous point; list points by time"
                );
            }
        }
        Ok(Schedule { points })
    }

    /// The value at `t_s` seconds.
    pub fn at(&self, t_s: f64) -> f64 {
        let first = self.points[0];
        if t_s <= first.0 {
            return first.1;
        }
        for pair in self.points.windows(2) {
            let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
            if t_s <= t1 {
                return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0);
            }
        }
        self.points[self.points.len() - 1].1
    }
}

/// Offered load over time.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadProfile {
    /// The same load throughout.
    Constant(f64),
    /// A square wave: `high` for `high_s` at the start of every `period_s`, else `low`.
    Bursty {
        /// Load between bursts.
        low: f64,
        /// Load during a burst.
        high: f64,
        /// Burst period (s).
        period_s: f64,
        /// Burst length (s).
        high_s: f64,
    },
    /// Piecewise-linear points.
    Schedule(Schedule),
}

impl LoadProfile {
    /// Offered load at `t_s` seconds, 0–1.
    pub fn at(&self, t_s: f64) -> f64 {
        let load = match self {
            LoadProfile::Constant(level) => *level,
            LoadProfile::Bursty {
                low,
                high,
                period_s,
                high_s,
            } => {
                if t_s.rem_euclid(*period_s) < *high_s {
                    *high
                } else {
                    *low
                }
            }
            LoadProfile::Schedule(schedule) => schedule.at(t_s),
        };
        load.clamp(0.0, 1.0)
    }
}

/// A sensor fault active from `from` until `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultWindow {
    /// Start.
    pub from: Duration,
    /// End (exclusive).
    pub to: Duration,
    /// What the sensor does meanwhile.
    pub fault: SensorFault,
}

impl Scenario {
    /// Reads and validates a scenario file; errors name the file and the key. Only a
    /// regular file of at most [`MAX_SCENARIO_BYTES`] is read ([`user_file::read_text`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = user_file::read_text(path, MAX_SCENARIO_BYTES)
            .with_context(|| format!("unreadable scenario {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("scenario {}", path.display()))
    }

    /// Parses and validates scenario TOML.
    pub fn from_toml(text: &str) -> Result<Self> {
        let raw: RawScenario = toml::from_str(text)?;
        raw.validate()
    }

    /// The sensor fault active at `t`, if any.
    pub fn sensor_fault_at(&self, t: Duration) -> Option<SensorFault> {
        self.sensor_faults
            .iter()
            .find(|w| w.from <= t && t < w.to)
            .map(|w| w.fault)
    }

    /// True when the fan has failed by `t`.
    pub fn fan_failed_at(&self, t: Duration) -> bool {
        self.fan_fails_at.is_some_and(|at| t >= at)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    duration_s: f64,
    seed: Option<u64>,
    ambient: RawAmbient,
    load: RawLoad,
    #[serde(default)]
    sensor: RawSensor,
    #[serde(default)]
    fan: RawFan,
    #[serde(default)]
    connections: RawConnections,
    #[serde(default)]
    model: RawModel,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmbient {
    points: Vec<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawLoad {
    Constant {
        level: f64,
    },
    Bursty {
        low: f64,
        high: f64,
        period_s: f64,
        high_s: f64,
    },
    Schedule {
        points: Vec<Vec<f64>>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSensor {
    noise_c: Option<f64>,
    #[serde(default)]
    faults: Vec<RawFault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    from_s: f64,
    to_s: f64,
    kind: String,
    value_c: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFan {
    fails_at_s: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnections {
    lifetime_s: Option<f64>,
}

/// `value` seconds as a [`Duration`], once it is within 0 to [`MAX_SCENARIO_S`].
fn seconds(what: &str, value: f64) -> Result<Duration> {
    ensure!(
        (0.0..=MAX_SCENARIO_S).contains(&value),
        "{what} = {value:?}: give seconds from 0 to {MAX_SCENARIO_S} (30 days)"
    );
    Ok(Duration::from_secs_f64(value))
}

fn load_level(what: &str, value: f64) -> Result<f64> {
    ensure!(
        LOAD_RANGE.contains(&value),
        "{what} = {value:?}: a load is a fraction of the four cores, from 0 to 1"
    );
    Ok(value)
}

/// TOML `[[t, v], ...]` as pairs; a point of any other length is an error naming its index.
fn pairs(what: &str, points: Vec<Vec<f64>>) -> Result<Vec<(f64, f64)>> {
    points
        .into_iter()
        .enumerate()
        .map(|(index, point)| match point[..] {
            [t, v] => Ok((t, v)),
            _ => bail!(
                "{what}[{index}] has {} numbers: give exactly two, [time_s, value]",
                point.len()
            ),
        })
        .collect()
}

impl RawScenario {
    fn validate(self) -> Result<Scenario> {
        ensure!(
            (1..=MAX_NAME_CHARS).contains(&self.name.len())
                && self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "name = {:?}: use 1 to {MAX_NAME_CHARS} letters, digits, '-' and '_' (it names the chart file)",
            self.name
        );
        let duration = seconds("duration_s", self.duration_s)?;
        ensure!(!duration.is_zero(), "duration_s must be above 0");
        let ambient = Schedule::new(
            pairs("ambient.points", self.ambient.points)?,
            "ambient.points",
            AMBIENT_RANGE_C,
            "°C",
        )?;
        let load = match self.load {
            RawLoad::Constant { level } => LoadProfile::Constant(load_level("load.level", level)?),
            RawLoad::Bursty {
                low,
                high,
                period_s,
                high_s,
            } => {
                seconds("load.period_s", period_s)?;
                seconds("load.high_s", high_s)?;
                ensure!(
                    high_s > 0.0 && high_s < period_s,
                    "load.period_s = {period_s:?}, load.high_s = {high_s:?}: need 0 < high_s < period_s"
                );
                LoadProfile::Bursty {
                    low: load_level("load.low", low)?,
                    high: load_level("load.high", high)?,
                    period_s,
                    high_s,
                }
            }
            RawLoad::Schedule { points } => LoadProfile::Schedule(Schedule::new(
                pairs("load.points", points)?,
                "load.points",
                LOAD_RANGE,
                "(a fraction of the four cores)",
            )?),
        };
        let mut sensor_faults = Vec::new();
        for (index, raw) in self.sensor.faults.into_iter().enumerate() {
            let key = format!("sensor.faults[{index}]");
            let from = seconds(&format!("{key}.from_s"), raw.from_s)?;
            let to = seconds(&format!("{key}.to_s"), raw.to_s)?;
            ensure!(to > from, "{key}: to_s must be after from_s");
            let fault = match (raw.kind.as_str(), raw.value_c) {
                ("read-error", None) => SensorFault::ReadError,
                ("stuck", None) => SensorFault::Stuck,
                ("reads", Some(value)) if FAULT_READING_RANGE_C.contains(&value) => {
                    SensorFault::Reads(value)
                }
                ("reads", Some(value)) => bail!(
                    "{key}.value_c = {value:?}: give a reading from {} to {} °C",
                    FAULT_READING_RANGE_C.start(),
                    FAULT_READING_RANGE_C.end()
                ),
                ("reads", _) => {
                    bail!("{key}: kind \"reads\" needs value_c, the °C the sensor reports")
                }
                ("read-error" | "stuck", Some(_)) => {
                    bail!("{key}: value_c only goes with kind \"reads\"")
                }
                (other, _) => {
                    bail!("{key}.kind = {other:?}: use \"read-error\", \"stuck\" or \"reads\"")
                }
            };
            sensor_faults.push(FaultWindow { from, to, fault });
        }
        let fan_fails_at = self
            .fan
            .fails_at_s
            .map(|s| seconds("fan.fails_at_s", s))
            .transpose()?;
        let connection_lifetime_s = self
            .connections
            .lifetime_s
            .unwrap_or(DEFAULT_CONNECTION_LIFETIME_S);
        ensure!(
            connection_lifetime_s > 0.0 && connection_lifetime_s <= MAX_SCENARIO_S,
            "connections.lifetime_s = {connection_lifetime_s:?}: give seconds above 0, \
             at most {MAX_SCENARIO_S} (30 days)"
        );
        let mut params = PiThermalParams::default();
        if let Some(noise) = self.sensor.noise_c {
            ensure!(
                NOISE_RANGE_C.contains(&noise),
                "sensor.noise_c = {noise:?}: give a half-width from {} to {} °C",
                NOISE_RANGE_C.start(),
                NOISE_RANGE_C.end()
            );
            params.sensor_noise_c = noise;
        }
        self.model.apply(&mut params)?;
        if let Some(seed) = self.seed {
            params.noise_seed = seed;
        }
        Ok(Scenario {
            name: self.name,
            description: self.description,
            duration,
            ambient,
            load,
            sensor_faults,
            fan_fails_at,
            connection_lifetime_s,
            params,
        })
    }
}

#[cfg(test)]
#[path = "scenario_tests.rs"]
mod tests;
