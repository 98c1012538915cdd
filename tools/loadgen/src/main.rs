//! warden-loadgen: a load generator for any TCP echo server.
//!
//! Three modes (pingpong, churn, hold; see `--help` and README.md) share one
//! shape: parse and validate arguments, raise the open-file limit and refuse
//! a run whose descriptors or buffers cannot fit, run the mode's bounded
//! event loops, print a human summary on stderr and with
//! `--json` one JSON object on stdout. This file only wires those steps and
//! maps outcomes to the documented exit codes in one place.

mod budget;
mod churn;
mod cli;
mod echo;
mod error_kind;
mod failure;
mod histogram;
mod hold;
mod net;
mod pattern;
mod pingpong;
mod procstat;
mod progress;
mod report;
mod rlimit;
mod send_timer;
mod window;

use std::process::ExitCode;

use budget::Demand;
use cli::{Command, UsageError, HELP};

/// Exit status: the run completed with zero errors.
const EXIT_CLEAN: u8 = 0;
/// Exit status: errors occurred (or the run could not be carried out).
const EXIT_ERRORS: u8 = 1;
/// Exit status: bad command-line arguments.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => return usage_failure(&error),
    };
    let Some(demand) = Demand::of(&command) else {
        print!("{HELP}");
        return ExitCode::from(EXIT_CLEAN);
    };
    let fits = check_descriptor_budget(&demand)
        .and_then(|()| budget::check_memory(&demand, &budget::memory_budget()));
    if let Err(error) = fits {
        return usage_failure(&error);
    }
    let outcome = match &command {
        Command::Help => Ok(true),
        Command::Pingpong(options) => pingpong::run(options),
        Command::Churn(options) => churn::run(options),
        Command::Hold(options) => hold::run(options),
    };
    match outcome {
        Ok(true) => ExitCode::from(EXIT_CLEAN),
        Ok(false) => ExitCode::from(EXIT_ERRORS),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERRORS)
        }
    }
}

/// Raises RLIMIT_NOFILE and checks that the run's descriptors fit under it.
fn check_descriptor_budget(demand: &Demand) -> Result<(), UsageError> {
    match rlimit::raise_nofile_to_hard_limit() {
        Ok(limit) => budget::check_descriptors(demand, limit.soft),
        Err(error) => {
            eprintln!("warning: cannot raise the open-file limit: {error}");
            Ok(())
        }
    }
}

fn usage_failure(error: &UsageError) -> ExitCode {
    eprintln!("warden-loadgen: {error}\nRun 'warden-loadgen --help' for usage.");
    ExitCode::from(EXIT_USAGE)
}
