//! The help texts: [`HELP`] for `warden --help`, and [`subcommand_help`] for
//! `warden <subcommand> --help`, built from the parser's own option table so
//! it cannot list an option the parser refuses. README.md's "Command line"
//! section shows the same synopses (a test keeps the three in step).

use super::{CliOption, Subcommand};
use crate::config::defaults::{DEFAULT_SERVER_LISTEN, DEFAULT_STATUS_LISTEN};

/// The usage text printed by `warden --help` (exit codes included).
pub const HELP: &str = "\
warden: boot-time supervisor for a Raspberry Pi (connections, fan, heat)

Usage:
  warden [run] [--config FILE] [--simulate]
                              serve; with no FILE, built-in defaults (echo on 0.0.0.0:7000)
  warden check-config FILE    validate a configuration file and exit
                              (FILE may also be given as --config FILE)
  warden status [--addr HOST:PORT] [--json]
                              show a running warden's status (default 127.0.0.1:9181)
  warden restore [--config FILE]
                              put back fan and cpufreq settings saved by a warden that died
  warden <subcommand> --help  that subcommand's usage, options and exit codes
  warden --version | --help

Each subcommand accepts only the options listed for it, each at most once.
Short forms: -c FILE for --config FILE, -h for --help, -V for --version.
A value may also be given after '=', as in --config=FILE; a value that starts
with '-' can only be given that way.

Environment:
  WARDEN_LOG=LEVEL            error, warn, info, debug, trace or off (overrides log.level)

Exit codes:
  0  success (also after a clean drain on SIGTERM/SIGINT)
  1  runtime failure (cannot listen, open-file limit below 128, hardware error,
     lost event loop)
  2  bad configuration or usage
";

impl Subcommand {
    /// Its usage line, as in [`HELP`] and README.md.
    pub(super) fn synopsis(self) -> &'static str {
        match self {
            Subcommand::Run => "warden [run] [--config FILE] [--simulate]",
            Subcommand::CheckConfig => "warden check-config FILE",
            Subcommand::Status => "warden status [--addr HOST:PORT] [--json]",
            Subcommand::Restore => "warden restore [--config FILE]",
        }
    }

    /// What it does, in one line.
    fn summary(self) -> &'static str {
        match self {
            Subcommand::Run => "serve connections; fan, shedding and throttling as the board heats",
            Subcommand::CheckConfig => "validate a configuration file and exit",
            Subcommand::Status => "show a running warden's status",
            Subcommand::Restore => "put back fan and cpufreq settings saved by a warden that died",
        }
    }

    /// What `opt` means for it, in one line.
    fn option_meaning(self, opt: CliOption) -> String {
        match (self, opt) {
            (Subcommand::CheckConfig, CliOption::Config) => {
                "the file to check (the same as FILE)".into()
            }
            (Subcommand::Restore, CliOption::Config) => {
                "configuration naming hardware.state_dir (default: built-in defaults; a file that \
                 does not validate is warned about and its state_dir still used)"
                    .into()
            }
            (_, CliOption::Config) => format!(
                "configuration file (default: built-in defaults, echo on {DEFAULT_SERVER_LISTEN})"
            ),
            (_, CliOption::Simulate) => {
                "run against a simulated Raspberry Pi 4 instead of this machine's hardware".into()
            }
            (_, CliOption::Addr) => {
                format!("the warden's status address (default {DEFAULT_STATUS_LISTEN})")
            }
            (_, CliOption::Json) => "print the raw /status JSON document instead of a table".into(),
        }
    }

    /// Its exit codes and what each means for it.
    fn exit_codes(self) -> &'static [(u8, &'static str)] {
        match self {
            Subcommand::Run => &[
                (0, "stopped cleanly (also after a drain on SIGTERM/SIGINT)"),
                (1, "runtime failure (cannot listen, open-file limit below 128, hardware error, lost event loop, fan or cpufreq not put back, another warden on the same state_dir)"),
                (2, "bad configuration or usage, including hardware the configuration asks for that is missing"),
            ],
            Subcommand::CheckConfig => &[
                (0, "the file is valid"),
                (2, "the file is invalid or unreadable, or bad usage"),
            ],
            Subcommand::Status => &[
                (0, "the status was printed"),
                (1, "no warden status server answered there, or its answer is not a status document this client reads"),
                (2, "bad usage, including an --addr that is not HOST:PORT"),
            ],
            Subcommand::Restore => &[
                (0, "settings put back, or nothing to put back"),
                (1, "a setting could not be put back (the state file is kept), or the warden that saved it still runs (nothing touched)"),
                (2, "bad usage (a configuration that does not validate is warned about, and the restore goes on)"),
            ],
        }
    }
}

/// Widest line of the help texts.
const HELP_COLUMNS: usize = 79;

/// Appends `prefix` and `text` as lines of at most [`HELP_COLUMNS`], the
/// continuation lines indented under the start of `text`.
fn push_wrapped(out: &mut String, prefix: &str, text: &str) {
    let indent = prefix.chars().count();
    let mut line = prefix.to_string();
    let mut line_len = indent;
    let mut line_empty = true;
    for word in text.split(' ') {
        let word_len = word.chars().count();
        if !line_empty && line_len + 1 + word_len > HELP_COLUMNS {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent);
            line_len = indent;
            line_empty = true;
        }
        if !line_empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += word_len;
        line_empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// The help `--help` prints: of `topic`, or the full [`HELP`] when no
/// subcommand was named.
pub fn help_text(topic: Option<Subcommand>) -> String {
    topic.map_or_else(|| HELP.to_string(), subcommand_help)
}

/// The text `warden <sub> --help` prints: usage, one line per option, exit codes.
pub fn subcommand_help(sub: Subcommand) -> String {
    let mut rows: Vec<(String, String)> = sub
        .options()
        .iter()
        .map(|&opt| {
            let mut spelling = opt.long().to_string();
            if let Some(value) = opt.value_name() {
                spelling = format!("{spelling} {value}");
            }
            if let Some(short) = opt.short() {
                spelling = format!("{short}, {spelling}");
            }
            (spelling, sub.option_meaning(opt))
        })
        .collect();
    rows.push(("-h, --help".into(), "print this help".into()));
    let width = rows
        .iter()
        .map(|(spelling, _)| spelling.len())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "warden {}: {}\n\nUsage:\n  {}\n\nOptions:\n",
        sub.word(),
        sub.summary(),
        sub.synopsis()
    );
    for (spelling, meaning) in rows {
        push_wrapped(&mut out, &format!("  {spelling:<width$}  "), &meaning);
    }
    if let Some(opt) = sub.options().iter().find(|opt| opt.takes_value()) {
        let (long, value) = (opt.long(), opt.value_name().unwrap_or("VALUE"));
        out.push('\n');
        push_wrapped(
            &mut out,
            "",
            &format!(
                "A value may also be given as {long}={value}; a {value} that starts with '-' \
                 can only be given that way."
            ),
        );
    }
    out.push_str("\nExit codes:\n");
    for (code, meaning) in sub.exit_codes() {
        push_wrapped(&mut out, &format!("  {code}  "), meaning);
    }
    out
}
