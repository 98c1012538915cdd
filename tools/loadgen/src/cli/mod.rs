//! Command-line parsing: `warden-loadgen MODE --option value ...`.
//!
//! Hand-parsed against a per-mode table of known options, so every mistake
//! names the offending argument: unknown or repeated options, missing or
//! malformed values, values out of range, an address that does not resolve.
//! `--opt value` and `--opt=value` are both accepted. The result is a fully
//! validated [`Command`]; nothing downstream re-checks arguments.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Full usage text, printed by `--help`.
pub const HELP: &str = include_str!("help.txt");

/// Default connect and echo timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default pingpong connection count.
pub const DEFAULT_CONNECTIONS: u64 = 100;
/// Default churn worker count.
pub const DEFAULT_WORKERS: u64 = 50;
/// Default message size of pingpong and churn.
pub const DEFAULT_SIZE: u64 = 64;
/// Default message size of hold.
pub const DEFAULT_HOLD_SIZE: u64 = 16;
/// Largest churn message: it must fit one segment and one read.
pub const MAX_CHURN_SIZE: u64 = 100;
/// Default measured seconds of pingpong and churn.
pub const DEFAULT_DURATION_S: f64 = 10.0;
/// Default hold seconds.
pub const DEFAULT_HOLD_S: f64 = 5.0;
/// Default hold connect rate per second.
pub const DEFAULT_HOLD_RATE: f64 = 5000.0;

/// Longest accepted time value in seconds (and longest hold ramp): one day.
const MAX_SECONDS: f64 = 86_400.0;
/// Shortest positive time value in seconds: poll timeouts have millisecond
/// resolution, and anything below a nanosecond would become zero.
const MIN_SECONDS: f64 = 0.001;
/// Lowest positive `--rate`. With at most [`MAX_CONNECTIONS`] connections the
/// longest interval a rate turns into (1e10 s) still fits a `Duration` and an
/// `Instant`; a rate like 1e-300 would not.
const MIN_RATE: f64 = 0.001;
const MAX_PINGPONG_RATE: f64 = 1e9;
const MAX_HOLD_RATE: f64 = 1e7;
const MAX_THREADS: u64 = 64;
const MAX_PINGPONG_SIZE: u64 = 16 * 1024 * 1024;
const MAX_HOLD_SIZE: u64 = 65_536;
/// Most connections (pingpong, hold) or workers (churn).
const MAX_CONNECTIONS: u64 = 10_000_000;

/// A command-line mistake; the message names the offending argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Where to send load, and the options every mode shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Resolved address of the echo server.
    pub addr: SocketAddr,
    /// Process to sample for CPU and memory figures.
    pub server_pid: Option<u32>,
    /// Print the JSON report on stdout.
    pub json: bool,
    /// Connect timeout and echo timeout.
    pub timeout: Duration,
}

/// Options of `pingpong`.
#[derive(Debug, Clone, PartialEq)]
pub struct PingpongOptions {
    /// Server and shared options.
    pub target: Target,
    /// Connections, each with one message outstanding.
    pub connections: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Measured window length.
    pub duration: Duration,
    /// Total message rate cap per second; `None` = saturation.
    pub rate: Option<f64>,
    /// Event-loop threads.
    pub threads: usize,
    /// Loopback source addresses to spread over.
    pub sources: u8,
    /// Load before the measured window, excluded from the figures.
    pub warmup: Duration,
}

/// Options of `churn`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnOptions {
    /// Server and shared options.
    pub target: Target,
    /// Concurrent connect/exchange/close loops.
    pub workers: usize,
    /// Message size in bytes (at most [`MAX_CHURN_SIZE`]).
    pub size: usize,
    /// Measured window length.
    pub duration: Duration,
    /// Event-loop threads.
    pub threads: usize,
}

/// Options of `hold`.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldOptions {
    /// Server and shared options.
    pub target: Target,
    /// Connections to open and hold.
    pub connections: usize,
    /// New connections per second.
    pub rate: f64,
    /// Loopback source addresses to spread over.
    pub sources: u8,
    /// How long every connection is held.
    pub hold: Duration,
    /// Message size in bytes.
    pub size: usize,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print [`HELP`].
    Help,
    /// Run pingpong.
    Pingpong(PingpongOptions),
    /// Run churn.
    Churn(ChurnOptions),
    /// Run hold.
    Hold(HoldOptions),
}

/// One known option: its name without dashes and whether it takes a value.
struct OptionSpec(&'static str, bool);

const SHARED: [OptionSpec; 4] = [
    OptionSpec("addr", true),
    OptionSpec("server-pid", true),
    OptionSpec("json", false),
    OptionSpec("timeout", true),
];
const PINGPONG: [OptionSpec; 7] = [
    OptionSpec("connections", true),
    OptionSpec("size", true),
    OptionSpec("duration", true),
    OptionSpec("rate", true),
    OptionSpec("threads", true),
    OptionSpec("sources", true),
    OptionSpec("warmup", true),
];
const CHURN: [OptionSpec; 4] = [
    OptionSpec("workers", true),
    OptionSpec("size", true),
    OptionSpec("duration", true),
    OptionSpec("threads", true),
];
const HOLD: [OptionSpec; 5] = [
    OptionSpec("connections", true),
    OptionSpec("rate", true),
    OptionSpec("sources", true),
    OptionSpec("hold", true),
    OptionSpec("size", true),
];

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let mode = match args.next() {
        None => return Err(usage("missing mode: expected pingpong, churn or hold")),
        Some(mode) => mode,
    };
    let rest: Vec<String> = args.collect();
    if matches!(mode.as_str(), "-h" | "--help" | "help") || wants_help(&rest) {
        return Ok(Command::Help);
    }
    match mode.as_str() {
        "pingpong" => parse_pingpong(&Arguments::collect("pingpong", &PINGPONG, &rest)?),
        "churn" => parse_churn(&Arguments::collect("churn", &CHURN, &rest)?),
        "hold" => parse_hold(&Arguments::collect("hold", &HOLD, &rest)?),
        other => Err(usage(format!(
            "unknown mode '{other}': expected pingpong, churn or hold"
        ))),
    }
}

fn wants_help(rest: &[String]) -> bool {
    rest.iter().any(|arg| arg == "-h" || arg == "--help")
}

fn parse_pingpong(args: &Arguments) -> Result<Command, UsageError> {
    let target = args.target()?;
    let connections = args.integer("connections", Some(DEFAULT_CONNECTIONS), 1, MAX_CONNECTIONS)?;
    let sources = args.sources(&target)?;
    let rate = args.decimal(
        "rate",
        0.0,
        rate_range(MAX_PINGPONG_RATE, Some("saturation")),
    )?;
    Ok(Command::Pingpong(PingpongOptions {
        connections: connections as usize,
        size: args.integer("size", Some(DEFAULT_SIZE), 1, MAX_PINGPONG_SIZE)? as usize,
        duration: args.duration("duration", DEFAULT_DURATION_S, None)?,
        rate: (rate > 0.0).then_some(rate),
        threads: args
            .integer("threads", Some(1), 1, MAX_THREADS)?
            .min(connections) as usize,
        sources,
        warmup: args.duration("warmup", 0.0, Some("no warmup"))?,
        target,
    }))
}

fn parse_churn(args: &Arguments) -> Result<Command, UsageError> {
    let target = args.target()?;
    let workers = args.integer("workers", Some(DEFAULT_WORKERS), 1, MAX_CONNECTIONS)?;
    Ok(Command::Churn(ChurnOptions {
        workers: workers as usize,
        size: args.integer("size", Some(DEFAULT_SIZE), 1, MAX_CHURN_SIZE)? as usize,
        duration: args.duration("duration", DEFAULT_DURATION_S, None)?,
        threads: args
            .integer("threads", Some(1), 1, MAX_THREADS)?
            .min(workers) as usize,
        target,
    }))
}

fn parse_hold(args: &Arguments) -> Result<Command, UsageError> {
    let target = args.target()?;
    let connections = args.integer("connections", None, 1, MAX_CONNECTIONS)?;
    let rate = args.decimal("rate", DEFAULT_HOLD_RATE, rate_range(MAX_HOLD_RATE, None))?;
    let ramp_s = connections as f64 / rate;
    if ramp_s > MAX_SECONDS {
        return Err(usage(format!(
            "--connections {connections} at --rate {rate} would take {ramp_s:.0} s to open, \
             over the {MAX_SECONDS} s limit: raise --rate or lower --connections"
        )));
    }
    Ok(Command::Hold(HoldOptions {
        connections: connections as usize,
        rate,
        sources: args.sources(&target)?,
        hold: args.duration("hold", DEFAULT_HOLD_S, Some("no hold"))?,
        size: args.integer("size", Some(DEFAULT_HOLD_SIZE), 1, MAX_HOLD_SIZE)? as usize,
        target,
    }))
}

/// The raw `--name value` pairs of one command line, checked against a mode's table.
struct Arguments {
    mode: &'static str,
    values: Vec<(&'static str, Option<String>)>,
}

impl Arguments {
    fn collect(
        mode: &'static str,
        specific: &[OptionSpec],
        raw: &[String],
    ) -> Result<Arguments, UsageError> {
        let mut values: Vec<(&'static str, Option<String>)> = Vec::new();
        let mut position = 0;
        while position < raw.len() {
            let arg = &raw[position];
            position += 1;
            let Some(body) = arg.strip_prefix("--") else {
                return Err(usage(format!(
                    "unexpected argument '{arg}' for {mode}: options start with --"
                )));
            };
            let (name, inline_value) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (body, None),
            };
            let Some(spec) = SHARED.iter().chain(specific).find(|spec| spec.0 == name) else {
                return Err(usage(format!("unknown option --{name} for {mode}")));
            };
            if values.iter().any(|(seen, _)| *seen == spec.0) {
                return Err(usage(format!("--{name} given more than once")));
            }
            let value = match (spec.1, inline_value) {
                (false, None) => None,
                (false, Some(_)) => return Err(usage(format!("--{name} takes no value"))),
                (true, Some(value)) => Some(value),
                (true, None) => match raw.get(position) {
                    Some(value) if !value.starts_with("--") => {
                        position += 1;
                        Some(value.clone())
                    }
                    _ => return Err(usage(format!("--{name} needs a value"))),
                },
            };
            values.push((spec.0, value));
        }
        Ok(Arguments { mode, values })
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(seen, _)| *seen == name)
            .and_then(|(_, value)| value.as_deref())
    }

    fn flag(&self, name: &str) -> bool {
        self.values.iter().any(|(seen, _)| *seen == name)
    }

    fn integer(
        &self,
        name: &str,
        default: Option<u64>,
        min: u64,
        max: u64,
    ) -> Result<u64, UsageError> {
        let Some(text) = self.value(name) else {
            return default.ok_or_else(|| usage(format!("--{name} is required for {}", self.mode)));
        };
        let value: u64 = text
            .parse()
            .map_err(|_| usage(format!("--{name}: expected a whole number, got '{text}'")))?;
        if value < min || value > max {
            return Err(usage(format!(
                "--{name} {value} is out of range: allowed {min}..={max}"
            )));
        }
        Ok(value)
    }

    /// A finite decimal inside `range` (NaN and infinities are refused).
    fn decimal(&self, name: &str, default: f64, range: DecimalRange) -> Result<f64, UsageError> {
        let Some(text) = self.value(name) else {
            return Ok(default);
        };
        let value: f64 = text
            .parse()
            .ok()
            .filter(|value: &f64| value.is_finite())
            .ok_or_else(|| usage(format!("--{name}: expected a number, got '{text}'")))?;
        if !range.contains(value) {
            return Err(usage(format!(
                "--{name} {text} is out of range: allowed {}",
                range.describe()
            )));
        }
        Ok(value)
    }

    /// Seconds, from [`MIN_SECONDS`] to [`MAX_SECONDS`] (or exactly 0 when
    /// `zero` names what 0 means), so every accepted value converts exactly.
    fn duration(
        &self,
        name: &str,
        default: f64,
        zero: Option<&'static str>,
    ) -> Result<Duration, UsageError> {
        let range = DecimalRange {
            min: MIN_SECONDS,
            max: MAX_SECONDS,
            zero,
        };
        Ok(Duration::from_secs_f64(self.decimal(name, default, range)?))
    }

    fn target(&self) -> Result<Target, UsageError> {
        let text = self
            .value("addr")
            .ok_or_else(|| usage(format!("--addr HOST:PORT is required for {}", self.mode)))?;
        let addr = text
            .to_socket_addrs()
            .map_err(|error| {
                usage(format!(
                    "--addr '{text}': cannot resolve ({error}); use HOST:PORT"
                ))
            })?
            .next()
            .ok_or_else(|| usage(format!("--addr '{text}' resolves to no address")))?;
        let server_pid = match self.value("server-pid") {
            None => None,
            Some(text) => Some(parse_server_pid(text)?),
        };
        let timeout = self.duration("timeout", DEFAULT_TIMEOUT.as_secs_f64(), None)?;
        Ok(Target {
            addr,
            server_pid,
            json: self.flag("json"),
            timeout,
        })
    }

    fn sources(&self, target: &Target) -> Result<u8, UsageError> {
        let sources = self.integer("sources", Some(1), 1, 254)? as u8;
        let loopback_v4 = matches!(target.addr, SocketAddr::V4(v4) if v4.ip().is_loopback());
        if sources > 1 && !loopback_v4 {
            return Err(usage(format!(
                "--sources {sources} binds source addresses in 127.0.0.0/8, so --addr must be an \
                 IPv4 loopback address (got {})",
                target.addr
            )));
        }
        Ok(sources)
    }
}

/// The values a decimal option accepts: `min..=max`, and 0 when `zero` says
/// what 0 means.
#[derive(Debug, Clone, Copy)]
struct DecimalRange {
    min: f64,
    max: f64,
    zero: Option<&'static str>,
}

impl DecimalRange {
    fn contains(&self, value: f64) -> bool {
        (self.min..=self.max).contains(&value) || (value == 0.0 && self.zero.is_some())
    }

    fn describe(&self) -> String {
        match self.zero {
            Some(meaning) => format!("0 ({meaning}) or {} up to {}", self.min, self.max),
            None => format!("{} up to {}", self.min, self.max),
        }
    }
}

/// `--rate` values: [`MIN_RATE`] up to `max`, and 0 when `zero` says what it means.
fn rate_range(max: f64, zero: Option<&'static str>) -> DecimalRange {
    DecimalRange {
        min: MIN_RATE,
        max,
        zero,
    }
}

fn parse_server_pid(text: &str) -> Result<u32, UsageError> {
    let pid: u32 = text
        .parse()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| usage(format!("--server-pid: expected a process id, got '{text}'")))?;
    if !Path::new(&format!("/proc/{pid}/stat")).exists() {
        return Err(usage(format!(
            "--server-pid {pid}: no such process (/proc/{pid}/stat does not exist)"
        )));
    }
    Ok(pid)
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

#[cfg(test)]
mod tests;
