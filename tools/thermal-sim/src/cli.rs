//! Command-line parsing for warden-thermal-sim: `run`, `compare` and `help`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// The usage text.
pub const HELP: &str = "\
warden-thermal-sim: a simulated Raspberry Pi 4 (two-node RC thermal model)

USAGE:
  warden-thermal-sim run --scenario FILE --sysfs-root DIR [--speed N] [--duration S]
                         [--step-ms MS] [--report-every S]
      Runs the model as a separate process against a fake sysfs tree laid out in DIR:
      writes DIR/sys/class/thermal/thermal_zone0/temp (millidegrees, atomically), reads
      DIR/fan_duty and scaling_max_freq/scaling_governor of cpufreq policy0 every step.
      Point a real `warden run --config F` at it with hardware.sysfs_root = \"DIR\",
      fan.driver = \"file\" and fan.path = \"DIR/fan_duty\".
        --speed N         simulated seconds per wall second (default 1; e.g. 10)
        --duration S      simulated seconds to run (default: the scenario's duration_s)
        --step-ms MS      wall milliseconds between steps (default 100)
        --report-every S  print a status line every S simulated seconds (default 30)

  warden-thermal-sim compare [--scenario FILE]... [--charts DIR] [--update-doc FILE] [--json]
      Runs each scenario (default: every *.toml in the bundled scenarios directory) in
      simulated time under four regimes: warden with a PWM fan, warden with an on/off fan,
      the gpio-fan overlay rule (55/45 °C), and firmware throttling only (no fan). Prints a
      Markdown table and the target checks.
        --charts DIR      write DIR/thermal-<scenario>.svg
        --update-doc FILE replace the text between <!-- compare:begin --> and
                          <!-- compare:end --> in FILE with the table and checks
        --json            print one JSON object per scenario and regime instead

  warden-thermal-sim help
";

/// Default wall milliseconds between live steps.
pub const DEFAULT_STEP_MS: u64 = 100;
/// Default simulated seconds between live status lines.
pub const DEFAULT_REPORT_EVERY_S: f64 = 30.0;

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print the usage text.
    Help,
    /// Live simulation against a fake sysfs tree.
    Run(RunOptions),
    /// The comparison harness.
    Compare(CompareOptions),
}

/// Options of `run`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The fake sysfs root.
    pub sysfs_root: PathBuf,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// Simulated seconds to run, if not the scenario's.
    pub duration_s: Option<f64>,
    /// Wall milliseconds between steps.
    pub step_ms: u64,
    /// Simulated seconds between status lines.
    pub report_every_s: f64,
}

/// Options of `compare`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareOptions {
    /// Scenario files; empty means every bundled one.
    pub scenarios: Vec<PathBuf>,
    /// Where to write charts.
    pub charts: Option<PathBuf>,
    /// A Markdown file whose marked region receives the table.
    pub update_doc: Option<PathBuf>,
    /// JSON output instead of Markdown.
    pub json: bool,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut args = args.into_iter();
    let command = args.next();
    let rest: Vec<String> = args.collect();
    match command.as_deref() {
        None | Some("help" | "--help" | "-h") => Ok(Command::Help),
        Some("run") => parse_run(&rest).map(Command::Run),
        Some("compare") => parse_compare(&rest).map(Command::Compare),
        Some(other) => bail!("unknown command {other:?}: use run, compare or help"),
    }
}

fn value<'a>(flag: &str, iter: &mut impl Iterator<Item = &'a String>) -> Result<&'a str> {
    iter.next()
        .map(String::as_str)
        .with_context(|| format!("{flag} needs a value"))
}

fn number(flag: &str, text: &str) -> Result<f64> {
    let number: f64 = text
        .parse()
        .with_context(|| format!("{flag} {text:?} is not a number"))?;
    if !(number.is_finite() && number > 0.0) {
        bail!("{flag} {text}: give a number above 0");
    }
    Ok(number)
}

fn parse_run(args: &[String]) -> Result<RunOptions> {
    let (mut scenario, mut sysfs_root) = (None, None);
    let mut options = RunOptions {
        scenario: PathBuf::new(),
        sysfs_root: PathBuf::new(),
        speed: 1.0,
        duration_s: None,
        step_ms: DEFAULT_STEP_MS,
        report_every_s: DEFAULT_REPORT_EVERY_S,
    };
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--scenario" => scenario = Some(PathBuf::from(value(flag, &mut iter)?)),
            "--sysfs-root" => sysfs_root = Some(PathBuf::from(value(flag, &mut iter)?)),
            "--speed" => options.speed = number(flag, value(flag, &mut iter)?)?,
            "--duration" => options.duration_s = Some(number(flag, value(flag, &mut iter)?)?),
            "--step-ms" => {
                let ms = number(flag, value(flag, &mut iter)?)?;
                if ms.fract() != 0.0 || ms > 10_000.0 {
                    bail!("--step-ms {ms}: give whole milliseconds, at most 10000");
                }
                options.step_ms = ms as u64;
            }
            "--report-every" => options.report_every_s = number(flag, value(flag, &mut iter)?)?,
            other => bail!("run: unknown option {other:?} (see `warden-thermal-sim help`)"),
        }
    }
    options.scenario = scenario.context("run needs --scenario FILE")?;
    options.sysfs_root = sysfs_root.context("run needs --sysfs-root DIR")?;
    Ok(options)
}

fn parse_compare(args: &[String]) -> Result<CompareOptions> {
    let mut options = CompareOptions::default();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--scenario" => options
                .scenarios
                .push(PathBuf::from(value(flag, &mut iter)?)),
            "--charts" => options.charts = Some(PathBuf::from(value(flag, &mut iter)?)),
            "--update-doc" => options.update_doc = Some(PathBuf::from(value(flag, &mut iter)?)),
            "--json" => options.json = true,
            other => bail!("compare: unknown option {other:?} (see `warden-thermal-sim help`)"),
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn run_and_compare_parse() {
        let Command::Run(run) = parse_strs(&[
            "run",
            "--scenario",
            "s.toml",
            "--sysfs-root",
            "/tmp/r",
            "--speed",
            "10",
        ])
        .unwrap() else {
            panic!("not run")
        };
        assert_eq!(run.speed, 10.0);
        assert_eq!(run.step_ms, DEFAULT_STEP_MS);
        assert_eq!(run.sysfs_root, PathBuf::from("/tmp/r"));
        let Command::Compare(compare) =
            parse_strs(&["compare", "--scenario", "a.toml", "--charts", "docs"]).unwrap()
        else {
            panic!("not compare")
        };
        assert_eq!(compare.scenarios, vec![PathBuf::from("a.toml")]);
        assert_eq!(parse_strs(&[]).unwrap(), Command::Help);
    }

    #[test]
    fn bad_arguments_name_the_problem() {
        let cases: [(&[&str], &str); 5] = [
            (&["run", "--sysfs-root", "/tmp"], "--scenario"),
            (
                &[
                    "run",
                    "--scenario",
                    "s",
                    "--sysfs-root",
                    "/t",
                    "--speed",
                    "0",
                ],
                "--speed",
            ),
            (&["run", "--scenario"], "--scenario needs a value"),
            (&["compare", "--fast"], "--fast"),
            (&["simulate"], "simulate"),
        ];
        for (args, expected) in cases {
            let message = format!("{:#}", parse_strs(args).unwrap_err());
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }
}
