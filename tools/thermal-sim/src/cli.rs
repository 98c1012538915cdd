//! Command-line parsing for warden-thermal-sim: `run`, `compare` and `help`, with the usage
//! texts. Every number is range-checked here, so the commands never see one that would
//! overflow a `Duration` or spin a core; every error names the option, the value and the
//! allowed range.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use crate::scenario::MAX_SCENARIO_S;

/// What the tool does, the commands in one line each, and the exit statuses.
const OVERVIEW: &str = "\
warden-thermal-sim: a simulated Raspberry Pi 4 (two-node RC thermal model)

USAGE:
  warden-thermal-sim run --scenario FILE --sysfs-root DIR [OPTIONS]
      the model in (scaled) real time against a fake sysfs tree, for a real warden
  warden-thermal-sim compare [--scenario FILE]... [OPTIONS]
      each scenario under warden and three reference regimes, in simulated time
  warden-thermal-sim help [run|compare]
      this text, or one command's options (also `run --help`, `compare -h`)
";

/// The exit statuses, shown with every help text.
const EXIT_STATUS: &str = "\
EXIT STATUS:
  0  done (help included)
  1  the run failed: a file could not be read or written while it ran
  2  refused before anything ran: a bad command line, an unreadable or invalid scenario
     file (it must be a regular file of at most 1 MiB), a scenario compare cannot judge,
     two compare scenarios of one name, a chart directory, chart or document compare
     cannot write, or a --sysfs-root that is unsafe, cannot be created, or is in use by
     another run
";

/// Usage and options of `run`.
const RUN_USAGE: &str = "\
warden-thermal-sim run --scenario FILE --sysfs-root DIR [--speed N] [--duration S]
                       [--step-ms MS] [--report-every S]
    Runs the model as a separate process against a fake sysfs tree laid out in DIR:
    writes DIR/sys/class/thermal/thermal_zone0/temp (millidegrees, atomically), reads
    DIR/fan_duty and scaling_max_freq/scaling_governor of cpufreq policy0 every step.
    Point a real `warden run --config F` at it with hardware.sysfs_root = \"DIR\",
    fan.driver = \"file\" and fan.path = \"DIR/fan_duty\".
    DIR must be new, empty, or a tree an earlier run laid out (it writes a
    .warden-thermal-sim marker file there) holding no symbolic link or special file;
    `/`, `/sys`, `/proc`, `/dev` and anything resolving into them are refused. One run
    at a time: a run locks the marker until it exits, and a second run on the same DIR
    is refused, naming the pid of the first.
      --scenario FILE   the scenario (TOML, a regular file of at most 1 MiB; see
                        tools/thermal-sim/scenarios/)
      --sysfs-root DIR  where to lay out the fake sysfs tree
      --speed N         simulated seconds per wall second, 1 to 1000 (default 1)
      --duration S      simulated seconds to run, 1 to 2592000 (30 days)
                        (default: the scenario's duration_s); the last step is
                        shortened to end exactly there
      --step-ms MS      wall milliseconds between steps, 1 to 10000 (default 100)
      --report-every S  print a status line every S simulated seconds, 0.1 to 2592000
                        (default 30)
      -h, --help        this text
";

/// Usage and options of `compare`.
const COMPARE_USAGE: &str = "\
warden-thermal-sim compare [--scenario FILE]... [--charts DIR] [--update-doc FILE] [--json]
    Runs each scenario (default: every *.toml in the bundled scenarios directory) in
    simulated time under four regimes: warden with a PWM fan, warden with an on/off fan,
    the gpio-fan overlay rule (55/45 °C), and firmware throttling only (no fan). Prints a
    Markdown table and the target checks. A scenario must last at least 60 s and offer
    some load, and no two scenarios may share a name (it names the chart and the table
    rows); every scenario, DIR and FILE are checked before any scenario runs.
      --scenario FILE   a scenario to run (a regular file of at most 1 MiB); repeat
                        for several
      --charts DIR      write DIR/thermal-<scenario>.svg; DIR must be a directory
                        files can be created in, and is created if missing; a chart
                        already there must be a regular file this process can write
      --update-doc FILE replace the text between <!-- compare:begin --> and
                        <!-- compare:end --> in FILE with the table and checks; FILE
                        must be a regular file of at most 1 MiB, writable, holding
                        both markers
      --json            print one JSON object per scenario and regime instead
                        (not with --update-doc)
      -h, --help        this text
";

/// Default wall milliseconds between live steps.
pub const DEFAULT_STEP_MS: u64 = 100;
/// Default simulated seconds between live status lines.
pub const DEFAULT_REPORT_EVERY_S: f64 = 30.0;
/// Allowed `--speed` (simulated seconds per wall second); above it the model's 50 ms
/// substeps would keep a core busy instead of following wall time.
pub const SPEED_RANGE: RangeInclusive<f64> = 1.0..=1000.0;
/// Allowed `--duration` (simulated s).
pub const DURATION_RANGE_S: RangeInclusive<f64> = 1.0..=MAX_SCENARIO_S;
/// Allowed `--report-every` (simulated s).
pub const REPORT_EVERY_RANGE_S: RangeInclusive<f64> = 0.1..=MAX_SCENARIO_S;
/// Allowed `--step-ms` (wall ms, whole).
pub const STEP_MS_RANGE: RangeInclusive<u64> = 1..=10_000;

/// Which help text to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpTopic {
    /// Every command, and the exit statuses.
    Overview,
    /// `run`.
    Run,
    /// `compare`.
    Compare,
}

/// The help text of `topic`, exit statuses included.
pub fn help(topic: HelpTopic) -> String {
    match topic {
        HelpTopic::Overview => {
            format!("{OVERVIEW}\nCOMMANDS:\n\n{RUN_USAGE}\n{COMPARE_USAGE}\n{EXIT_STATUS}")
        }
        HelpTopic::Run => format!("USAGE:\n{RUN_USAGE}\n{EXIT_STATUS}"),
        HelpTopic::Compare => format!("USAGE:\n{COMPARE_USAGE}\n{EXIT_STATUS}"),
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print a help text.
    Help(HelpTopic),
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
    /// Simulated seconds per wall second, within [`SPEED_RANGE`].
    pub speed: f64,
    /// Simulated seconds to run, if not the scenario's; within [`DURATION_RANGE_S`].
    pub duration_s: Option<f64>,
    /// Wall milliseconds between steps, within [`STEP_MS_RANGE`].
    pub step_ms: u64,
    /// Simulated seconds between status lines, within [`REPORT_EVERY_RANGE_S`].
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

/// A command line that cannot be run, with the help text that fits it.
#[derive(Debug)]
pub struct UsageError {
    /// The help text to show after the error.
    pub topic: HelpTopic,
    /// What is wrong.
    pub error: anyhow::Error,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let usage = |topic| move |error| UsageError { topic, error };
    match command.as_deref() {
        None | Some("--help" | "-h") => Ok(Command::Help(HelpTopic::Overview)),
        Some("help") => parse_help(&rest).map_err(usage(HelpTopic::Overview)),
        Some("run") => parse_run(&rest).map_err(usage(HelpTopic::Run)),
        Some("compare") => parse_compare(&rest).map_err(usage(HelpTopic::Compare)),
        Some(other) => Err(usage(HelpTopic::Overview)(anyhow!(
            "unknown command {other:?}: use run, compare or help"
        ))),
    }
}

fn parse_help(args: &[String]) -> Result<Command> {
    let topic = match args {
        [] => HelpTopic::Overview,
        [one] if one == "run" => HelpTopic::Run,
        [one] if one == "compare" => HelpTopic::Compare,
        _ => bail!("help takes at most one command, run or compare; got {args:?}"),
    };
    Ok(Command::Help(topic))
}

/// The options seen so far, to refuse one given twice.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn first_time(&mut self, flag: &str) -> Result<()> {
        if self.0.iter().any(|seen| seen == flag) {
            bail!("{flag} is given twice: give it once");
        }
        self.0.push(flag.to_owned());
        Ok(())
    }
}

fn value<'a>(flag: &str, iter: &mut impl Iterator<Item = &'a String>) -> Result<&'a str> {
    let value = iter
        .next()
        .map(String::as_str)
        .with_context(|| format!("{flag} needs a value"))?;
    if value.starts_with("--") {
        bail!("{flag} needs a value, but the next argument is the option {value}");
    }
    Ok(value)
}

/// The path after `flag`; an empty one is refused, since it would name the current
/// directory to some calls and nothing to others.
fn path<'a>(flag: &str, iter: &mut impl Iterator<Item = &'a String>) -> Result<PathBuf> {
    let text = value(flag, iter)?;
    if text.is_empty() {
        bail!("{flag} is empty: give a path");
    }
    Ok(PathBuf::from(text))
}

/// `text` as a number within `range`; the error names the flag, the value and the range.
fn number(flag: &str, text: &str, range: RangeInclusive<f64>, unit: &str) -> Result<f64> {
    let number: f64 = text
        .parse()
        .map_err(|_| anyhow!("{flag} {text:?} is not a number"))?;
    if !range.contains(&number) {
        bail!(
            "{flag} {text}: give a number from {} to {} {unit}",
            range.start(),
            range.end()
        );
    }
    Ok(number)
}

fn parse_run(args: &[String]) -> Result<Command> {
    let (mut scenario, mut sysfs_root) = (None, None);
    let mut options = RunOptions {
        scenario: PathBuf::new(),
        sysfs_root: PathBuf::new(),
        speed: 1.0,
        duration_s: None,
        step_ms: DEFAULT_STEP_MS,
        report_every_s: DEFAULT_REPORT_EVERY_S,
    };
    let mut seen = Seen::default();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let flag = flag.as_str();
        if matches!(flag, "--help" | "-h") {
            return Ok(Command::Help(HelpTopic::Run));
        }
        seen.first_time(flag)?;
        match flag {
            "--scenario" => scenario = Some(path(flag, &mut iter)?),
            "--sysfs-root" => sysfs_root = Some(path(flag, &mut iter)?),
            "--speed" => {
                let text = value(flag, &mut iter)?;
                options.speed = number(flag, text, SPEED_RANGE, "(simulated s per wall s)")?;
            }
            "--duration" => {
                let text = value(flag, &mut iter)?;
                let seconds = number(flag, text, DURATION_RANGE_S, "simulated s (30 days)")?;
                options.duration_s = Some(seconds);
            }
            "--step-ms" => {
                let text = value(flag, &mut iter)?;
                let ms = text
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| STEP_MS_RANGE.contains(ms));
                options.step_ms = ms.with_context(|| {
                    format!(
                        "{flag} {text}: give whole milliseconds from {} to {}",
                        STEP_MS_RANGE.start(),
                        STEP_MS_RANGE.end()
                    )
                })?;
            }
            "--report-every" => {
                let text = value(flag, &mut iter)?;
                options.report_every_s = number(flag, text, REPORT_EVERY_RANGE_S, "simulated s")?;
            }
            other => bail!("run: unknown option {other:?} (see `warden-thermal-sim run --help`)"),
        }
    }
    options.scenario = scenario.context("run needs --scenario FILE")?;
    options.sysfs_root = sysfs_root.context("run needs --sysfs-root DIR")?;
    Ok(Command::Run(options))
}

fn parse_compare(args: &[String]) -> Result<Command> {
    let mut options = CompareOptions::default();
    let mut seen = Seen::default();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let flag = flag.as_str();
        if matches!(flag, "--help" | "-h") {
            return Ok(Command::Help(HelpTopic::Compare));
        }
        // --scenario is the one option meant to be repeated.
        if flag != "--scenario" {
            seen.first_time(flag)?;
        }
        match flag {
            "--scenario" => options.scenarios.push(path(flag, &mut iter)?),
            "--charts" => options.charts = Some(path(flag, &mut iter)?),
            "--update-doc" => options.update_doc = Some(path(flag, &mut iter)?),
            "--json" => options.json = true,
            other => {
                bail!("compare: unknown option {other:?} (see `warden-thermal-sim compare --help`)")
            }
        }
    }
    // The doc takes the Markdown table, which --json replaces: the pair would write nothing.
    if options.json && options.update_doc.is_some() {
        bail!("compare: --update-doc writes the Markdown table, which --json does not make; give one of them");
    }
    Ok(Command::Compare(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_quotes_the_enforced_ranges() {
        let run = help(HelpTopic::Run);
        let ranges = [
            format!("{} to {}", SPEED_RANGE.start(), SPEED_RANGE.end()),
            format!("{} to {}", DURATION_RANGE_S.start(), DURATION_RANGE_S.end()),
            format!("{} to {}", STEP_MS_RANGE.start(), STEP_MS_RANGE.end()),
            format!(
                "{} to {}",
                REPORT_EVERY_RANGE_S.start(),
                REPORT_EVERY_RANGE_S.end()
            ),
        ];
        for range in ranges {
            assert!(run.contains(&range), "run --help lacks {range:?}:\n{run}");
        }
        let compare = help(HelpTopic::Compare);
        let least = format!("at least {} s", crate::compare::MIN_COMPARE_S);
        assert!(compare.contains(&least), "{compare}");
        // The file caps, as the errors name them ("more than 1 MiB (1048576 bytes)").
        for cap in [
            crate::scenario::MAX_SCENARIO_BYTES,
            crate::outputs::MAX_DOC_BYTES,
        ] {
            let shown = warden_hw::user_file::describe_cap(cap);
            let short = shown.split(" (").next().unwrap();
            assert!(compare.contains(&format!("at most {short}")), "{short}");
        }
        assert!(run.contains("at most 1 MiB") && help(HelpTopic::Overview).contains("1 MiB"));
    }

    fn parse_strs(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    fn run_with(extra: &[&str]) -> Result<Command, UsageError> {
        let mut args = vec!["run", "--scenario", "s.toml", "--sysfs-root", "/tmp/r"];
        args.extend_from_slice(extra);
        parse_strs(&args)
    }

    #[test]
    fn run_and_compare_parse() {
        let Command::Run(run) = run_with(&["--speed", "10"]).unwrap() else {
            panic!("not run")
        };
        assert_eq!(run.speed, 10.0);
        assert_eq!(run.step_ms, DEFAULT_STEP_MS);
        assert_eq!(run.sysfs_root, PathBuf::from("/tmp/r"));
        let Command::Compare(compare) = parse_strs(&[
            "compare",
            "--scenario",
            "a.toml",
            "--scenario",
            "b.toml",
            "--charts",
            "docs",
        ])
        .unwrap() else {
            panic!("not compare")
        };
        assert_eq!(
            compare.scenarios,
            vec![PathBuf::from("a.toml"), PathBuf::from("b.toml")]
        );
        assert_eq!(parse_strs(&[]).unwrap(), Command::Help(HelpTopic::Overview));
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
            let message = parse_strs(args).unwrap_err().to_string();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn numbers_out_of_range_are_refused_naming_flag_value_and_range() {
        let cases: [(&str, &str, &str); 9] = [
            ("--speed", "1e30", "from 1 to 1000"),
            ("--speed", "1e7", "from 1 to 1000"),
            ("--speed", "0.5", "from 1 to 1000"),
            ("--speed", "NaN", "from 1 to 1000"),
            ("--duration", "1e20", "from 1 to 2592000"),
            ("--duration", "inf", "from 1 to 2592000"),
            ("--report-every", "1e25", "from 0.1 to 2592000"),
            ("--step-ms", "0", "from 1 to 10000"),
            ("--step-ms", "2.5", "from 1 to 10000"),
        ];
        for (flag, value, range) in cases {
            let error = run_with(&[flag, value]).unwrap_err();
            assert_eq!(error.topic, HelpTopic::Run);
            let message = error.to_string();
            for part in [flag, value, range] {
                assert!(message.contains(part), "{message:?} lacks {part:?}");
            }
        }
        let Command::Run(run) = run_with(&["--speed", "1000", "--duration", "2592000"]).unwrap()
        else {
            panic!("not run")
        };
        assert_eq!((run.speed, run.duration_s), (1000.0, Some(2_592_000.0)));
    }

    #[test]
    fn every_command_has_its_own_help_and_the_overview_lists_exit_statuses() {
        for args in [&["run", "--help"][..], &["run", "-h"], &["help", "run"]] {
            assert_eq!(parse_strs(args).unwrap(), Command::Help(HelpTopic::Run));
        }
        // Help wins over missing or bad options.
        assert_eq!(
            run_with(&["--speed", "5", "--help"]).unwrap(),
            Command::Help(HelpTopic::Run)
        );
        for args in [
            &["compare", "--help"][..],
            &["compare", "-h"],
            &["help", "compare"],
        ] {
            assert_eq!(parse_strs(args).unwrap(), Command::Help(HelpTopic::Compare));
        }
        assert!(help(HelpTopic::Run).contains("--sysfs-root DIR"));
        assert!(!help(HelpTopic::Run).contains("--update-doc"));
        assert!(help(HelpTopic::Compare).contains("--update-doc"));
        let overview = help(HelpTopic::Overview);
        for part in [
            "EXIT STATUS",
            "  0  ",
            "  1  ",
            "  2  ",
            "--report-every",
            "--json",
        ] {
            assert!(overview.contains(part), "overview lacks {part:?}");
        }
        assert!(parse_strs(&["help", "simulate"]).is_err());
    }

    #[test]
    fn an_option_given_twice_is_refused_by_name() {
        let twice = run_with(&["--scenario", "b.toml"]).unwrap_err().to_string();
        assert!(twice.contains("--scenario is given twice"), "{twice}");
        let twice = run_with(&["--speed", "2", "--speed", "3"])
            .unwrap_err()
            .to_string();
        assert!(twice.contains("--speed is given twice"), "{twice}");
        let twice = parse_strs(&["compare", "--json", "--json"])
            .unwrap_err()
            .to_string();
        assert!(twice.contains("--json is given twice"), "{twice}");
        let both = parse_strs(&["compare", "--json", "--update-doc", "d.md"])
            .unwrap_err()
            .to_string();
        assert!(both.contains("give one of them"), "{both}");
        for (args, flag) in [
            (
                &["run", "--scenario", "s", "--sysfs-root", ""][..],
                "--sysfs-root",
            ),
            (
                &["run", "--scenario", "", "--sysfs-root", "/r"],
                "--scenario",
            ),
            (&["compare", "--scenario", ""], "--scenario"),
            (&["compare", "--charts", ""], "--charts"),
            (&["compare", "--update-doc", ""], "--update-doc"),
        ] {
            let empty = parse_strs(args).unwrap_err().to_string();
            assert_eq!(empty, format!("{flag} is empty: give a path"), "{args:?}");
        }
        let swallowed = parse_strs(&["run", "--scenario", "--sysfs-root", "/tmp/r"])
            .unwrap_err()
            .to_string();
        assert!(
            swallowed.contains("--scenario needs a value"),
            "{swallowed}"
        );
    }
}
