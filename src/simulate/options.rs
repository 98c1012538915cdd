//! The simulation's settings: the `WARDEN_SIM_*` environment variables, read by one
//! parser ([`SimulationOptions::from_lookup`]) for `warden run` (before anything is bound)
//! and for `warden check-config`.

use std::io;
use std::ops::RangeInclusive;

use warden_hw::sim::{PiThermalParams, DEFAULT_AMBIENT_C};
use warden_hw::HwError;

use crate::config::number::compact_f64;
use crate::exit::Failure;

/// Env: extra synthetic load, 0.0–1.0 of the four simulated cores at the top clock.
pub const SIM_LOAD_ENV: &str = "WARDEN_SIM_LOAD";
/// Env: simulated Pi cores' worth of work per host CPU-second ([`CPU_SCALE_RANGE`]).
pub const SIM_CPU_SCALE_ENV: &str = "WARDEN_SIM_CPU_SCALE";
/// Env: ambient temperature of the simulated room (°C).
pub const SIM_AMBIENT_ENV: &str = "WARDEN_SIM_AMBIENT_C";
/// Env: simulated seconds per wall second (1–100), to watch a slow board faster.
pub const SIM_SPEED_ENV: &str = "WARDEN_SIM_SPEED";
/// Env: `broken` makes the simulated fan move no air (to see shedding and throttling).
pub const SIM_FAN_ENV: &str = "WARDEN_SIM_FAN";
/// Every variable the simulation reads, in the order the docs list them.
pub const SIM_ENV_VARS: [&str; 5] = [
    SIM_LOAD_ENV,
    SIM_CPU_SCALE_ENV,
    SIM_AMBIENT_ENV,
    SIM_SPEED_ENV,
    SIM_FAN_ENV,
];
/// The prefix of the simulation's variables, to spot a misspelt one.
pub const SIM_ENV_PREFIX: &str = "WARDEN_SIM_";
/// Default host-core → Pi 4 core work ratio: a current x86 core does roughly four times
/// the work of a Cortex-A72 at 1.5 GHz on syscall-heavy network code.
pub const DEFAULT_CPU_SCALE: f64 = 4.0;
/// Allowed host-core → Pi-core work ratios: a host a hundred times slower or faster than
/// the default's is no longer a Pi model anyone means to run.
pub const CPU_SCALE_RANGE: RangeInclusive<f64> = 0.01..=100.0;
/// Cores of the simulated Pi 4.
pub const PI_CORES: f64 = 4.0;
/// Fastest allowed time acceleration.
pub const MAX_SPEED: f64 = 100.0;

/// Why the simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// An environment variable holds something unusable.
    #[error("{name}={value:?}: expected {expected}; fix or unset it")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// The model refused its parameters.
    #[error("simulated Pi: {0}")]
    Model(#[from] HwError),
    /// The thread advancing the model could not be created.
    #[error("cannot start the simulation thread: {0}; check the process and memory limits")]
    Spawn(#[source] io::Error),
}

impl SimulateError {
    /// As a top-level failure: a setting warden cannot use is exit 2, a thread that could
    /// not start exit 1. The message is the same on every path (`simulation: ...`).
    pub fn into_failure(self) -> Failure {
        let runtime = matches!(self, SimulateError::Spawn(_));
        let error = anyhow::Error::new(self).context("simulation");
        if runtime {
            Failure::Runtime(error)
        } else {
            Failure::HardwareConfig(error)
        }
    }
}

/// How the simulation runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationOptions {
    /// Synthetic load added to warden's own, 0–1 of the four simulated cores.
    pub synthetic_load: f64,
    /// Simulated Pi cores' worth of work per host CPU-second.
    pub cpu_scale: f64,
    /// Room temperature (°C).
    pub ambient_c: f64,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// True when the simulated fan moves no air.
    pub fan_broken: bool,
    /// The model's parameters.
    pub params: PiThermalParams,
}

impl Default for SimulationOptions {
    fn default() -> Self {
        SimulationOptions {
            synthetic_load: 0.0,
            cpu_scale: DEFAULT_CPU_SCALE,
            ambient_c: DEFAULT_AMBIENT_C,
            speed: 1.0,
            fan_broken: false,
            params: PiThermalParams::default(),
        }
    }
}

impl SimulationOptions {
    /// Defaults overridden by the `WARDEN_SIM_*` environment variables. A value that is
    /// not UTF-8 is refused like any other unusable value, not taken for unset.
    pub fn from_env() -> Result<Self, SimulateError> {
        Self::from_lookup(env_value)
    }

    /// Defaults overridden by whatever `lookup` returns for each variable name.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SimulateError> {
        let mut options = SimulationOptions::default();
        let number = |name: &'static str, expected: &'static str, ok: fn(f64) -> bool| {
            lookup(name)
                .map(|value| match value.trim().parse::<f64>() {
                    Ok(number) if ok(number) => Ok(number),
                    _ => Err(SimulateError::BadEnv {
                        name,
                        value,
                        expected,
                    }),
                })
                .transpose()
        };
        if let Some(load) = number(SIM_LOAD_ENV, "a load from 0.0 to 1.0", |x| {
            (0.0..=1.0).contains(&x)
        })? {
            options.synthetic_load = load;
        }
        if let Some(scale) = number(
            SIM_CPU_SCALE_ENV,
            "a number from 0.01 to 100 (default 4)",
            |x| CPU_SCALE_RANGE.contains(&x),
        )? {
            options.cpu_scale = scale;
        }
        if let Some(ambient) = number(
            SIM_AMBIENT_ENV,
            "a temperature in °C from -20 to 60",
            |x| (-20.0..=60.0).contains(&x),
        )? {
            options.ambient_c = ambient;
        }
        if let Some(speed) = number(SIM_SPEED_ENV, "a speed-up from 1 to 100", |x| {
            (1.0..=MAX_SPEED).contains(&x)
        })? {
            options.speed = speed;
        }
        if let Some(value) = lookup(SIM_FAN_ENV) {
            options.fan_broken = match value.trim() {
                "working" => false,
                "broken" => true,
                _ => {
                    return Err(SimulateError::BadEnv {
                        name: SIM_FAN_ENV,
                        value,
                        expected: "\"working\" or \"broken\"",
                    })
                }
            };
        }
        Ok(options)
    }

    /// One line for the log saying what is simulated and how.
    pub fn describe(&self) -> String {
        format!(
            "simulated Pi 4 in {:.1} °C ambient, fan {}, load = warden's CPU × {} / {} cores + {:.2} synthetic, {}× real time (the thermal controller's clock too)",
            self.ambient_c,
            if self.fan_broken { "BROKEN (moves no air)" } else { "working" },
            compact_f64(self.cpu_scale),
            compact_f64(PI_CORES),
            self.synthetic_load,
            compact_f64(self.speed)
        )
    }
}

/// The variable `name` from this process's environment, lossily decoded.
fn env_value(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// The names of the `WARDEN_SIM_*` variables set in this process's environment, sorted.
pub fn env_names_set() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(SIM_ENV_PREFIX))
        .collect();
    names.sort();
    names
}

/// The simulation's options for `warden run`, read from the environment when warden
/// will simulate (`--simulate` or `hardware.simulate`), `None` on real hardware (the
/// variables are then not read at all). Called before any socket is bound, so a bad
/// value stops the start with nothing listening.
pub fn options_for_run(simulated: bool) -> Result<Option<SimulationOptions>, SimulateError> {
    simulated.then(SimulationOptions::from_env).transpose()
}

/// The `WARDEN_SIM_*`-looking names among `names` that warden does not read (a typo such
/// as `WARDEN_SIM_SPEEED` would otherwise go unnoticed).
fn unknown_names(names: &[String]) -> Vec<&str> {
    names
        .iter()
        .map(String::as_str)
        .filter(|name| !SIM_ENV_VARS.contains(name))
        .collect()
}

/// "WARDEN_SIM_X not read by warden (the simulation reads …)" for the `WARDEN_SIM_*`
/// `names` set that the simulation does not read; `None` when it reads them all.
pub(super) fn unknown_names_note(names: &[String]) -> Option<String> {
    let unknown = unknown_names(names);
    (!unknown.is_empty()).then(|| {
        format!(
            "{} not read by warden (the simulation reads {}); check the spelling",
            unknown.join(", "),
            SIM_ENV_VARS.join(", ")
        )
    })
}

/// What `warden check-config` makes of the simulation's variables, for a file that
/// simulates (`simulated`) or not; `names` are the `WARDEN_SIM_*` names set and `lookup`
/// their values. The values are checked by the parser `warden run` uses. For a file that
/// simulates a bad one is the error, as it is for `warden run`; for one that does not,
/// `warden run` never reads them, so a bad value is only noted and the file still passes
/// (check-config and run agree on every file). `Ok(Some(note))` is one line to show the
/// user: the variables are set but ignored because the file does not simulate (and what
/// `--simulate` would refuse), or some set name is not one warden reads.
pub fn check_environment(
    simulated: bool,
    names: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, SimulateError> {
    if !simulated && names.is_empty() {
        return Ok(None);
    }
    let parsed = SimulationOptions::from_lookup(lookup);
    let mut notes = Vec::new();
    if simulated {
        parsed?;
    } else {
        let refused = match parsed {
            Ok(_) => String::new(),
            Err(error) => format!("; with --simulate warden would refuse it: {error}"),
        };
        notes.push(format!(
            "{} set, but ignored unless simulating (warden run --simulate, or \
             hardware.simulate = true){refused}",
            names.join(", ")
        ));
    }
    notes.extend(unknown_names_note(names));
    Ok((!notes.is_empty()).then(|| format!("note: {}", notes.join("; "))))
}

/// [`check_environment`] on this process's environment.
pub fn check_process_environment(simulated: bool) -> Result<Option<String>, SimulateError> {
    check_environment(simulated, &env_names_set(), env_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn options_come_from_the_environment() {
        assert_eq!(
            SimulationOptions::from_lookup(lookup(&[])).unwrap(),
            SimulationOptions::default()
        );
        let options = SimulationOptions::from_lookup(lookup(&[
            (SIM_LOAD_ENV, "0.5"),
            (SIM_CPU_SCALE_ENV, "2"),
            (SIM_AMBIENT_ENV, "35"),
            (SIM_SPEED_ENV, "10"),
            (SIM_FAN_ENV, "broken"),
        ]))
        .unwrap();
        assert_eq!(
            (
                options.synthetic_load,
                options.cpu_scale,
                options.ambient_c,
                options.speed,
                options.fan_broken
            ),
            (0.5, 2.0, 35.0, 10.0, true)
        );
        assert!(options.describe().contains("BROKEN"));
    }

    #[test]
    fn every_bad_value_names_its_variable_and_the_allowed_values() {
        for (name, value, allowed) in [
            (SIM_LOAD_ENV, "1.5", "a load from 0.0 to 1.0"),
            (SIM_CPU_SCALE_ENV, "0", "a number from 0.01 to 100"),
            (SIM_CPU_SCALE_ENV, "1e-300", "a number from 0.01 to 100"),
            (SIM_CPU_SCALE_ENV, "1e308", "a number from 0.01 to 100"),
            (SIM_CPU_SCALE_ENV, "inf", "a number from 0.01 to 100"),
            (SIM_CPU_SCALE_ENV, "NaN", "a number from 0.01 to 100"),
            (SIM_AMBIENT_ENV, "hot", "a temperature in °C from -20 to 60"),
            (SIM_SPEED_ENV, "1000", "a speed-up from 1 to 100"),
            (SIM_SPEED_ENV, "abc", "a speed-up from 1 to 100"),
            (SIM_FAN_ENV, "wobbly", "\"working\" or \"broken\""),
        ] {
            let error = SimulationOptions::from_lookup(lookup(&[(name, value)])).unwrap_err();
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("{name}={value:?}: expected ")) && text.contains(allowed),
                "{text}"
            );
            let failure = error.into_failure();
            assert_eq!(failure.exit_code(), std::process::ExitCode::from(2));
            assert!(
                failure
                    .to_string()
                    .starts_with(&format!("simulation: {name}=")),
                "{failure}"
            );
        }
    }

    #[test]
    fn cpu_scale_takes_its_range_and_is_described_compactly() {
        for (value, shown) in [("0.01", "× 0.01 /"), ("100", "× 100 /"), ("4", "× 4 /")] {
            let options =
                SimulationOptions::from_lookup(lookup(&[(SIM_CPU_SCALE_ENV, value)])).unwrap();
            let line = options.describe();
            assert!(line.contains(shown), "{value}: {line}");
        }
        // Built directly, past the ranges from_lookup enforces: still never hundreds of
        // digits.
        let options = SimulationOptions {
            cpu_scale: 1e-300,
            speed: 1e20,
            ..SimulationOptions::default()
        };
        let line = options.describe();
        assert!(
            line.contains("× 1e-300 / 4 cores") && line.contains(", 1e20× real time"),
            "{line}"
        );
        assert!(line.len() < 200, "{line}");
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn check_config_refuses_bad_variables_only_for_a_file_that_simulates() {
        let bad = [(SIM_SPEED_ENV, "abc")];
        // A simulating file: the variables are checked, set or not.
        assert_eq!(check_environment(true, &[], lookup(&[])).unwrap(), None);
        let error = check_environment(true, &names(&[SIM_SPEED_ENV]), lookup(&bad)).unwrap_err();
        assert!(
            error.to_string().contains("WARDEN_SIM_SPEED=\"abc\""),
            "{error}"
        );
        // A file that does not simulate: `warden run` never reads them, so a bad value
        // is noted with what --simulate would refuse, and the file passes...
        let note = check_environment(false, &names(&[SIM_SPEED_ENV]), lookup(&bad))
            .unwrap()
            .expect("a note");
        assert!(
            note.contains("ignored unless simulating")
                && note.contains("with --simulate warden would refuse it")
                && note.contains("a speed-up from 1 to 100")
                && !note.contains('\n'),
            "{note}"
        );
        // ...and when good, noted as ignored, on one line.
        let good = [(SIM_FAN_ENV, "broken"), (SIM_LOAD_ENV, "1")];
        let note = check_environment(false, &names(&[SIM_FAN_ENV, SIM_LOAD_ENV]), lookup(&good))
            .unwrap()
            .expect("a note");
        assert!(
            note.starts_with(
                "note: WARDEN_SIM_FAN, WARDEN_SIM_LOAD set, but ignored unless simulating"
            ) && !note.contains('\n'),
            "{note}"
        );
        // Nothing set, nothing simulated: nothing to say.
        assert_eq!(check_environment(false, &[], lookup(&bad)).unwrap(), None);
        // The same good values under a simulating file: no note.
        let quiet = check_environment(true, &names(&[SIM_FAN_ENV, SIM_LOAD_ENV]), lookup(&good));
        assert_eq!(quiet.unwrap(), None);
    }

    #[test]
    fn a_misspelt_variable_is_named_with_the_ones_warden_reads() {
        let note = check_environment(true, &names(&["WARDEN_SIM_SPEEED"]), lookup(&[]))
            .unwrap()
            .expect("a note");
        assert!(
            note.contains("WARDEN_SIM_SPEEED not read by warden")
                && note.contains(&SIM_ENV_VARS.join(", ")),
            "{note}"
        );
        assert_eq!(
            unknown_names(&names(&[SIM_SPEED_ENV, "WARDEN_SIM_X"])),
            ["WARDEN_SIM_X"]
        );
    }
}
