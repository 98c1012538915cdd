//! Command-line parsing: `warden [run] [--config FILE]`, `check-config`,
//! `status`, `restore`, `--version`, `--help`.
//!
//! Hand-written and strict: each subcommand accepts only its own options
//! ([`Subcommand::options`]), each at most once, so a flag that would be
//! ignored, or a second `--config` that would silently win, is a usage error
//! (exit 2) instead of a surprise.

use std::path::PathBuf;

/// The usage text printed by `--help` (exit codes included).
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
  warden --version | --help

Each subcommand accepts only the options listed for it, each at most once.
Short forms: -c FILE for --config FILE, -h for --help, -V for --version.

Environment:
  WARDEN_LOG=LEVEL            error, warn, info, debug or trace (overrides log.level)

Exit codes:
  0  success (also after a clean drain on SIGTERM/SIGINT)
  1  runtime failure (cannot listen, hardware error, lost event loop)
  2  bad configuration or usage
";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve.
    Run {
        /// Configuration file; built-in defaults when absent.
        config: Option<PathBuf>,
        /// Run against the simulated Pi.
        simulate: bool,
    },
    /// Validate a configuration file.
    CheckConfig {
        /// The file.
        path: PathBuf,
    },
    /// Query a running warden.
    Status {
        /// Its status address.
        addr: Option<String>,
        /// Raw JSON instead of a table.
        json: bool,
    },
    /// Restore hardware state after a crash.
    Restore {
        /// Configuration file (for `hardware.state_dir` and `sysfs_root`).
        config: Option<PathBuf>,
    },
    /// Print the version.
    Version,
    /// Print the help.
    Help,
}

/// A command line that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}\nRun '{help_command} --help' for usage.")]
pub struct UsageError {
    /// What is wrong.
    why: String,
    /// The command whose `--help` the user should read: `warden`, or
    /// `warden status` once a subcommand was named.
    help_command: String,
}

impl UsageError {
    /// A usage error with this explanation.
    pub fn new(why: impl Into<String>) -> Self {
        UsageError {
            why: why.into(),
            help_command: "warden".into(),
        }
    }

    /// A usage error within an explicitly named subcommand (`None`: none was
    /// named, `warden run` by default), pointing at that subcommand's help.
    fn within(sub: Option<Subcommand>, why: impl Into<String>) -> Self {
        let mut error = UsageError::new(why);
        if let Some(sub) = sub {
            error.help_command = format!("warden {}", sub.word());
        }
        error
    }
}

/// A subcommand, the first word of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subcommand {
    /// `warden run` (also the default when no subcommand is named).
    Run,
    /// `warden check-config`.
    CheckConfig,
    /// `warden status`.
    Status,
    /// `warden restore`.
    Restore,
}

impl Subcommand {
    /// Every subcommand, in the order `--help` lists them.
    const ALL: [Subcommand; 4] = [
        Subcommand::Run,
        Subcommand::CheckConfig,
        Subcommand::Status,
        Subcommand::Restore,
    ];

    /// The word that names it on the command line.
    fn word(self) -> &'static str {
        match self {
            Subcommand::Run => "run",
            Subcommand::CheckConfig => "check-config",
            Subcommand::Status => "status",
            Subcommand::Restore => "restore",
        }
    }

    /// The subcommand `word` names, if any.
    fn from_word(word: &str) -> Option<Subcommand> {
        Subcommand::ALL.into_iter().find(|sub| sub.word() == word)
    }

    /// The options it accepts (besides `--help` and `--version`).
    fn options(self) -> &'static [CliOption] {
        match self {
            Subcommand::Run => &[CliOption::Config, CliOption::Simulate],
            // `--config FILE` is accepted as another spelling of FILE.
            Subcommand::CheckConfig => &[CliOption::Config],
            Subcommand::Status => &[CliOption::Addr, CliOption::Json],
            Subcommand::Restore => &[CliOption::Config],
        }
    }

    /// The positional arguments it takes (check-config's FILE).
    fn max_positional(self) -> usize {
        usize::from(self == Subcommand::CheckConfig)
    }
}

/// An option some subcommand accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CliOption {
    /// `-c FILE`, `--config FILE`.
    Config,
    /// `--simulate`.
    Simulate,
    /// `--addr HOST:PORT`.
    Addr,
    /// `--json`.
    Json,
}

impl CliOption {
    /// Every option.
    const ALL: [CliOption; 4] = [
        CliOption::Config,
        CliOption::Simulate,
        CliOption::Addr,
        CliOption::Json,
    ];

    /// Its long spelling, used in every message about it.
    fn long(self) -> &'static str {
        match self {
            CliOption::Config => "--config",
            CliOption::Simulate => "--simulate",
            CliOption::Addr => "--addr",
            CliOption::Json => "--json",
        }
    }

    /// The option `arg` spells (long or short), if any.
    fn from_arg(arg: &str) -> Option<CliOption> {
        match arg {
            "-c" => Some(CliOption::Config),
            _ => CliOption::ALL.into_iter().find(|opt| opt.long() == arg),
        }
    }

    /// True when it is followed by a value.
    fn takes_value(self) -> bool {
        matches!(self, CliOption::Config | CliOption::Addr)
    }

    /// The subcommands that accept it, for the error when another was given it.
    fn accepted_by(self) -> String {
        let words: Vec<String> = Subcommand::ALL
            .into_iter()
            .filter(|sub| sub.options().contains(&self))
            .map(|sub| format!("'warden {}'", sub.word()))
            .collect();
        words.join(", ")
    }
}

/// The options given so far: a value (or, for a flag, its spelling) each.
#[derive(Debug, Default)]
struct GivenOptions([Option<String>; CliOption::ALL.len()]);

impl GivenOptions {
    /// Records `opt`; a second time is an error naming both values.
    fn record(
        &mut self,
        opt: CliOption,
        value: String,
        sub: Option<Subcommand>,
    ) -> Result<(), UsageError> {
        let slot = &mut self.0[opt as usize];
        if let Some(first) = slot {
            let values = if opt.takes_value() {
                format!(" ('{first}', then '{value}')")
            } else {
                String::new()
            };
            return Err(UsageError::within(
                sub,
                format!("option '{}' given twice{values}; give it once", opt.long()),
            ));
        }
        *slot = Some(value);
        Ok(())
    }

    /// The value of `opt`, if given.
    fn take(&mut self, opt: CliOption) -> Option<String> {
        self.0[opt as usize].take()
    }

    /// True when the flag `opt` was given.
    fn has(&self, opt: CliOption) -> bool {
        self.0[opt as usize].is_some()
    }
}

/// [`parse`] for the arguments as the OS gives them: one that is not UTF-8
/// is a usage error quoting it, not a panic.
pub fn parse_os<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Result<Command, UsageError> {
    let args = args
        .into_iter()
        .map(|arg| {
            arg.into_string().map_err(|raw| {
                UsageError::new(format!(
                    "argument {:?} is not valid UTF-8; warden takes file names and addresses \
                     as UTF-8 text: rename the file, or point a UTF-8 symlink at it",
                    raw.to_string_lossy()
                ))
            })
        })
        .collect::<Result<Vec<String>, UsageError>>()?;
    parse(args)
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    let mut args = args.into_iter().peekable();
    let named = args.peek().and_then(|word| Subcommand::from_word(word));
    if named.is_some() {
        args.next();
    }
    let sub = named.unwrap_or(Subcommand::Run);
    let mut given = GivenOptions::default();
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
        if let Some(opt) = CliOption::from_arg(&arg) {
            if !sub.options().contains(&opt) {
                return Err(UsageError::within(
                    named,
                    format!(
                        "option '{}' does not apply to 'warden {}' (it is for {})",
                        opt.long(),
                        sub.word(),
                        opt.accepted_by()
                    ),
                ));
            }
            let value = if opt.takes_value() {
                args.next().ok_or_else(|| {
                    UsageError::within(named, format!("{} needs a value", opt.long()))
                })?
            } else {
                arg
            };
            given.record(opt, value, named)?;
        } else if arg.starts_with('-') {
            return Err(UsageError::within(named, format!("unknown option '{arg}'")));
        } else {
            positional.push(arg);
        }
    }
    if let Some(extra) = positional.get(sub.max_positional()) {
        return Err(UsageError::within(
            named,
            format!("unexpected argument '{extra}'"),
        ));
    }
    let config = given.take(CliOption::Config);
    Ok(match sub {
        Subcommand::Run => Command::Run {
            config: config.map(PathBuf::from),
            simulate: given.has(CliOption::Simulate),
        },
        Subcommand::CheckConfig => match (positional.pop(), config) {
            (Some(file), Some(option)) => {
                return Err(UsageError::within(
                    named,
                    format!(
                        "check-config takes one FILE, given both '{file}' and --config '{option}'; give it once"
                    ),
                ))
            }
            (Some(path), None) | (None, Some(path)) => Command::CheckConfig {
                path: PathBuf::from(path),
            },
            (None, None) => {
                return Err(UsageError::within(named, "check-config needs a FILE"))
            }
        },
        Subcommand::Status => Command::Status {
            addr: given.take(CliOption::Addr),
            json: given.has(CliOption::Json),
        },
        Subcommand::Restore => Command::Restore {
            config: config.map(PathBuf::from),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    /// The error text for `args`, which must be rejected.
    fn rejected(args: &[&str]) -> String {
        match p(args) {
            Ok(command) => panic!("{args:?} was accepted as {command:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// Arguments that give `opt` once, with a value when it takes one.
    fn once(opt: CliOption) -> Vec<&'static str> {
        if opt.takes_value() {
            vec![opt.long(), "v"]
        } else {
            vec![opt.long()]
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            p(&[]).unwrap(),
            Command::Run {
                config: None,
                simulate: false
            }
        );
        assert_eq!(
            p(&["run", "--config", "a.toml", "--simulate"]).unwrap(),
            Command::Run {
                config: Some("a.toml".into()),
                simulate: true
            }
        );
        assert_eq!(
            p(&["-c", "b.toml"]).unwrap(),
            Command::Run {
                config: Some("b.toml".into()),
                simulate: false
            }
        );
        assert_eq!(
            p(&["check-config", "x.toml"]).unwrap(),
            Command::CheckConfig {
                path: "x.toml".into()
            }
        );
        assert_eq!(
            p(&["check-config", "--config", "y.toml"]).unwrap(),
            Command::CheckConfig {
                path: "y.toml".into()
            }
        );
        assert_eq!(
            p(&["status", "--addr", "127.0.0.1:1", "--json"]).unwrap(),
            Command::Status {
                addr: Some("127.0.0.1:1".into()),
                json: true
            }
        );
        assert_eq!(p(&["restore"]).unwrap(), Command::Restore { config: None });
        assert_eq!(
            p(&["restore", "--config", "r.toml"]).unwrap(),
            Command::Restore {
                config: Some("r.toml".into())
            }
        );
        assert_eq!(p(&["--version"]).unwrap(), Command::Version);
        assert_eq!(p(&["run", "--help"]).unwrap(), Command::Help);
        assert_eq!(p(&["status", "-h"]).unwrap(), Command::Help);
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        let err = rejected(&["--frob"]);
        assert!(
            err.contains("unknown option '--frob'")
                && err.ends_with("Run 'warden --help' for usage."),
            "{err}"
        );
        let err = rejected(&["status", "--frob"]);
        assert!(
            err.ends_with("Run 'warden status --help' for usage."),
            "{err}"
        );
        assert!(rejected(&["check-config"]).contains("FILE"));
        assert!(rejected(&["run", "--config"]).contains("--config needs a value"));
        assert!(rejected(&["run", "extra"]).contains("unexpected argument 'extra'"));
        assert!(rejected(&["check-config", "a.toml", "b.toml"]).contains("'b.toml'"));
        assert!(rejected(&["status", "extra"]).contains("'extra'"));
    }

    #[test]
    fn every_subcommand_rejects_the_options_of_the_others() {
        for sub in Subcommand::ALL {
            for opt in CliOption::ALL {
                if sub.options().contains(&opt) {
                    continue;
                }
                let mut args = vec![sub.word()];
                if sub == Subcommand::CheckConfig {
                    args.push("x.toml");
                }
                args.extend(once(opt));
                let err = rejected(&args);
                let expected = format!(
                    "option '{}' does not apply to 'warden {}' (it is for ",
                    opt.long(),
                    sub.word()
                );
                assert!(err.starts_with(&expected), "{args:?}: {err}");
                let hint = format!("Run 'warden {} --help' for usage.", sub.word());
                assert!(err.ends_with(&hint), "{args:?}: {err}");
            }
        }
    }

    #[test]
    fn misplaced_options_name_where_they_belong() {
        assert_eq!(
            rejected(&["status", "--config", "a.toml"]),
            "option '--config' does not apply to 'warden status' (it is for 'warden run', \
             'warden check-config', 'warden restore')\nRun 'warden status --help' for usage."
        );
        assert_eq!(
            rejected(&["restore", "--simulate"]),
            "option '--simulate' does not apply to 'warden restore' (it is for 'warden run')\n\
             Run 'warden restore --help' for usage."
        );
        // Without a subcommand it is `run`, and the hint is the general help.
        assert_eq!(
            rejected(&["--json"]),
            "option '--json' does not apply to 'warden run' (it is for 'warden status')\n\
             Run 'warden --help' for usage."
        );
        // A value-taking option is rejected before it swallows the next word.
        assert!(rejected(&["check-config", "--addr"]).contains("'--addr' does not apply"));
    }

    #[test]
    fn every_option_given_twice_is_rejected() {
        for sub in Subcommand::ALL {
            for &opt in sub.options() {
                let mut args = vec![sub.word()];
                args.extend(once(opt));
                args.extend(once(opt));
                let err = rejected(&args);
                let expected = format!("option '{}' given twice", opt.long());
                assert!(err.starts_with(&expected), "{args:?}: {err}");
                assert!(err.contains("give it once"), "{args:?}: {err}");
            }
        }
    }

    #[test]
    fn a_second_config_names_both_files() {
        let expected = "option '--config' given twice ('a.toml', then 'b.toml'); give it once\n\
                        Run 'warden run --help' for usage.";
        assert_eq!(
            rejected(&["run", "--config", "a.toml", "--config", "b.toml"]),
            expected
        );
        assert_eq!(
            rejected(&["run", "-c", "a.toml", "--config", "b.toml"]),
            expected
        );
        assert_eq!(
            rejected(&["status", "--json", "--json"]),
            "option '--json' given twice; give it once\nRun 'warden status --help' for usage."
        );
        assert_eq!(
            rejected(&["check-config", "a.toml", "--config", "b.toml"]),
            "check-config takes one FILE, given both 'a.toml' and --config 'b.toml'; give it once\n\
             Run 'warden check-config --help' for usage."
        );
    }
}
