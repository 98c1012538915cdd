//! Command-line parsing: `warden [run] [--config FILE]`, `check-config`,
//! `status`, `restore`, `--version`, `--help`.
//!
//! Hand-written and strict: each subcommand accepts only its own options
//! ([`Subcommand::options`]), each at most once, so a flag that would be
//! ignored, or a second `--config` that would silently win, is a usage error
//! (exit 2) instead of a surprise. A value is given as `--config FILE` or
//! `--config=FILE`; a value option followed by another option is an error
//! rather than a value that happens to start with '-' (that one takes the
//! `=` form). The help texts live in [`help`].

use std::path::PathBuf;

mod help;

pub use help::{help_text, subcommand_help, HELP};

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
    /// Print the help: of one subcommand, or ([`HELP`]) of all when none was named.
    Help(Option<Subcommand>),
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
    /// A usage error with this explanation, pointing at the full help.
    pub fn new(why: impl Into<String>) -> Self {
        UsageError {
            why: why.into(),
            help_command: "warden".into(),
        }
    }

    /// A usage error within an explicitly named subcommand (`None`: none was
    /// named, `warden run` by default), pointing at that subcommand's help.
    pub fn within(sub: Option<Subcommand>, why: impl Into<String>) -> Self {
        let mut error = UsageError::new(why);
        if let Some(sub) = sub {
            error.help_command = format!("warden {}", sub.word());
        }
        error
    }
}

/// A subcommand, the first word of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subcommand {
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
    pub const ALL: [Subcommand; 4] = [
        Subcommand::Run,
        Subcommand::CheckConfig,
        Subcommand::Status,
        Subcommand::Restore,
    ];

    /// The word that names it on the command line.
    pub fn word(self) -> &'static str {
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

    /// Its short spelling, if it has one.
    fn short(self) -> Option<&'static str> {
        match self {
            CliOption::Config => Some("-c"),
            _ => None,
        }
    }

    /// The option `arg` spells (long or short), if any.
    fn from_arg(arg: &str) -> Option<CliOption> {
        CliOption::ALL
            .into_iter()
            .find(|opt| opt.long() == arg || opt.short() == Some(arg))
    }

    /// The name of the value it is followed by (`FILE`), or `None` for a flag.
    fn value_name(self) -> Option<&'static str> {
        match self {
            CliOption::Config => Some("FILE"),
            CliOption::Addr => Some("HOST:PORT"),
            CliOption::Simulate | CliOption::Json => None,
        }
    }

    /// True when it is followed by a value.
    fn takes_value(self) -> bool {
        self.value_name().is_some()
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

/// True when `arg` looks like an option rather than a value: a lone "-" does not.
fn looks_like_option(arg: &str) -> bool {
    arg.len() > 1 && arg.starts_with('-')
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

/// The subcommands as a list for messages: `run, check-config, status, restore`.
fn subcommand_words() -> String {
    let words: Vec<&str> = Subcommand::ALL.into_iter().map(Subcommand::word).collect();
    words.join(", ")
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    let mut args = args.into_iter().peekable();
    let named = match args.peek() {
        Some(word) if !word.starts_with('-') => {
            let Some(sub) = Subcommand::from_word(word) else {
                return Err(UsageError::new(format!(
                    "unknown subcommand '{word}'; the subcommands are {}",
                    subcommand_words()
                )));
            };
            args.next();
            Some(sub)
        }
        _ => None,
    };
    let sub = named.unwrap_or(Subcommand::Run);
    let mut given = GivenOptions::default();
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(named)),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
        if let Some((name, value)) = arg.strip_prefix("--").and_then(|_| arg.split_once('=')) {
            let opt = option_with_equals(sub, named, name, &arg)?;
            let value = value_of(opt, ValueForm::Equals(value), named)?;
            given.record(opt, value.to_string(), named)?;
        } else if let Some(opt) = CliOption::from_arg(&arg) {
            applicable(sub, named, opt)?;
            let value = if opt.takes_value() {
                let next = args.next();
                value_of(opt, ValueForm::Spaced(next.as_deref()), named)?.to_string()
            } else {
                arg
            };
            given.record(opt, value, named)?;
        } else if looks_like_option(&arg) {
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

/// An error unless `sub` accepts `opt`.
fn applicable(
    sub: Subcommand,
    named: Option<Subcommand>,
    opt: CliOption,
) -> Result<(), UsageError> {
    if sub.options().contains(&opt) {
        return Ok(());
    }
    Err(UsageError::within(
        named,
        format!(
            "option '{}' does not apply to 'warden {}' (it is for {})",
            opt.long(),
            sub.word(),
            opt.accepted_by()
        ),
    ))
}

/// The option `--name` of an `--name=value` argument (`arg`): it must exist,
/// apply to `sub` and take a value.
fn option_with_equals(
    sub: Subcommand,
    named: Option<Subcommand>,
    name: &str,
    arg: &str,
) -> Result<CliOption, UsageError> {
    let flag_with_value = |flag: &str| {
        UsageError::within(
            named,
            format!(
                "option '{flag}' takes no value, but was given one in '{arg}'; write just '{flag}'"
            ),
        )
    };
    if ["--help", "--version"].contains(&name) {
        return Err(flag_with_value(name));
    }
    let Some(opt) = CliOption::from_arg(name) else {
        return Err(UsageError::within(
            named,
            format!("unknown option '{name}' (in '{arg}')"),
        ));
    };
    applicable(sub, named, opt)?;
    if !opt.takes_value() {
        return Err(flag_with_value(opt.long()));
    }
    Ok(opt)
}

/// How a value option's value was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueForm<'v> {
    /// The next argument (`--config FILE`), `None` when there is none.
    Spaced(Option<&'v str>),
    /// After '=' in the same argument (`--config=FILE`): may start with '-'.
    Equals(&'v str),
}

/// The value of `opt` given in `form`, unless it is missing, empty, or
/// (spaced) another option, as in `--config --simulate`: then an error that
/// says how to write it.
fn value_of<'v>(
    opt: CliOption,
    form: ValueForm<'v>,
    named: Option<Subcommand>,
) -> Result<&'v str, UsageError> {
    let problem = match form {
        ValueForm::Spaced(None) => "none followed".to_string(),
        ValueForm::Spaced(Some("")) | ValueForm::Equals("") => "it is empty".to_string(),
        ValueForm::Spaced(Some(value)) if looks_like_option(value) => {
            format!("got the option '{value}'")
        }
        ValueForm::Spaced(Some(value)) | ValueForm::Equals(value) => return Ok(value),
    };
    let (long, value_name) = (opt.long(), opt.value_name().unwrap_or("VALUE"));
    Err(UsageError::within(
        named,
        format!(
            "option '{long}' needs a value, but {problem}: write '{long} {value_name}', \
             or '{long}={value_name}' for a {value_name} that starts with '-'"
        ),
    ))
}

#[cfg(test)]
mod tests;
