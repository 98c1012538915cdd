//! Command-line parsing: `warden [run] [--config FILE]`, `check-config`,
//! `status`, `restore`, `--version`, `--help`.

use std::path::PathBuf;

/// The usage text printed by `--help` (exit codes included).
pub const HELP: &str = "\
warden: boot-time supervisor for a Raspberry Pi (connections, fan, heat)

Usage:
  warden [run] [--config FILE] [--simulate]
                              serve; with no FILE, built-in defaults (echo on 0.0.0.0:7000)
  warden check-config FILE    validate a configuration file and exit
  warden status [--addr HOST:PORT] [--json]
                              show a running warden's status (default 127.0.0.1:9181)
  warden restore [--config FILE]
                              put back fan and cpufreq settings saved by a warden that died
  warden --version | --help

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
#[error("{0}\nRun 'warden --help' for usage.")]
pub struct UsageError(String);

impl UsageError {
    /// A usage error with this explanation.
    pub fn new(why: impl Into<String>) -> Self {
        UsageError(why.into())
    }
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    let mut args = args.into_iter().peekable();
    let sub = match args.peek().map(String::as_str) {
        Some("run" | "check-config" | "status" | "restore") => args.next(),
        _ => None,
    };
    let mut config = None;
    let mut simulate = false;
    let mut addr = None;
    let mut json = false;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-c" | "--config" => config = Some(PathBuf::from(value("--config")?)),
            "--simulate" => simulate = true,
            "--addr" => addr = Some(value("--addr")?),
            "--json" => json = true,
            flag if flag.starts_with('-') => {
                return Err(UsageError(format!("unknown option '{flag}'")));
            }
            _ => positional.push(arg),
        }
    }
    if let Some(extra) = positional.get(usize::from(sub.as_deref() == Some("check-config"))) {
        return Err(UsageError(format!("unexpected argument '{extra}'")));
    }
    match sub.as_deref() {
        None | Some("run") if addr.is_some() || json => Err(UsageError(
            "--addr and --json belong to 'warden status'".into(),
        )),
        Some("status" | "check-config" | "restore") if simulate => {
            Err(UsageError("--simulate belongs to 'warden run'".into()))
        }
        None | Some("run") => Ok(Command::Run { config, simulate }),
        Some("check-config") => match (positional.pop(), config) {
            (Some(p), _) => Ok(Command::CheckConfig {
                path: PathBuf::from(p),
            }),
            (None, Some(path)) => Ok(Command::CheckConfig { path }),
            (None, None) => Err(UsageError("check-config needs a FILE".into())),
        },
        Some("status") => Ok(Command::Status { addr, json }),
        Some(_) => Ok(Command::Restore { config }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
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
            p(&["run", "--config", "a.toml"]).unwrap(),
            Command::Run {
                config: Some("a.toml".into()),
                simulate: false
            }
        );
        assert_eq!(
            p(&["--config", "b.toml"]).unwrap(),
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
            p(&["status", "--addr", "127.0.0.1:1", "--json"]).unwrap(),
            Command::Status {
                addr: Some("127.0.0.1:1".into()),
                json: true
            }
        );
        assert_eq!(p(&["restore"]).unwrap(), Command::Restore { config: None });
        assert_eq!(p(&["--version"]).unwrap(), Command::Version);
        assert_eq!(p(&["run", "--help"]).unwrap(), Command::Help);
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(p(&["--frob"]).unwrap_err().to_string().contains("--frob"));
        assert!(p(&["check-config"])
            .unwrap_err()
            .to_string()
            .contains("FILE"));
        assert!(p(&["run", "--config"])
            .unwrap_err()
            .to_string()
            .contains("needs a value"));
        assert!(p(&["run", "extra"])
            .unwrap_err()
            .to_string()
            .contains("extra"));
        assert!(p(&["run", "--json"]).is_err());
    }
}
