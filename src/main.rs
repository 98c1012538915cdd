//! warden: a boot-time supervisor for a Raspberry Pi that serves thousands
//! of TCP connections and keeps the board from cooking itself.
//!
//! `main` stays thin: parse the command line, run it, map the outcome to the
//! documented exit code (see `warden::exit`).

use std::process::ExitCode;

use warden::cli::{self, Command, Subcommand};
use warden::exit::{print_out, Failure};
use warden::simulate::{self, SimulateError};
use warden::{config, daemon};

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Under journald with the `<3>` prefix: `journalctl -p err` shows why it stopped.
            warden::logging::print_error(&format!("warden: {failure}"));
            failure.exit_code()
        }
    }
}

fn run(args: impl Iterator<Item = std::ffi::OsString>) -> Result<(), Failure> {
    match cli::parse_os(args)? {
        Command::Help(topic) => print_out(&cli::help_text(topic)),
        Command::Version => print_out(&format!("warden {}\n", env!("CARGO_PKG_VERSION"))),
        Command::CheckConfig { path } => {
            let checked = config::check_file(&path)?;
            // The simulated Pi's governors are known without its hardware: what `run`
            // would refuse is refused here too.
            if checked.hardware.simulate {
                simulate::check_governor(&checked)?;
            }
            // The simulation's variables are part of what `warden run` would be given.
            let note = simulate::check_process_environment(checked.hardware.simulate)
                .map_err(SimulateError::into_failure)?;
            // Escaped as the error lines escape it: a newline in the name cannot forge a line.
            let name = path.to_string_lossy();
            print_out(&format!("{}: ok\n", warden::text::escape_controls(&name)))?;
            if let Some(note) = note {
                eprintln!("warden: {note}");
            }
            Ok(())
        }
        Command::Run { config, simulate } => daemon::run(config.as_deref(), simulate),
        Command::Restore { config } => warden::restore_cmd::run(config.as_deref()),
        Command::Status { addr, json } => warden::status::client::run(addr.as_deref(), json)
            .map_err(|e| {
                if e.is_usage() {
                    Failure::Usage(cli::UsageError::within(
                        Some(Subcommand::Status),
                        e.to_string(),
                    ))
                } else {
                    Failure::Runtime(e.into())
                }
            }),
    }
}
