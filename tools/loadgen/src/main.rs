//! warden-loadgen: a load generator for any TCP echo server.
//!
//! Three modes (pingpong, churn, hold; see `--help` and README.md) share one
//! shape: parse and validate arguments, raise the open-file limit, run the
//! mode's bounded event loops, print a human summary on stderr and with
//! `--json` one JSON object on stdout. This file only wires those steps and
//! maps outcomes to the documented exit codes in one place.

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

use cli::{Command, UsageError, HELP};

/// Exit status: the run completed with zero errors.
const EXIT_CLEAN: u8 = 0;
/// Exit status: errors occurred (or the run could not be carried out).
const EXIT_ERRORS: u8 = 1;
/// Exit status: bad command-line arguments.
const EXIT_USAGE: u8 = 2;

/// File descriptors kept free beyond one per connection (stdio, epoll, timers, /proc reads).
const SPARE_DESCRIPTORS: u64 = 64;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => return usage_failure(&error),
    };
    let sockets = match &command {
        Command::Help => {
            print!("{HELP}");
            return ExitCode::from(EXIT_CLEAN);
        }
        Command::Pingpong(options) => ("--connections", options.connections),
        Command::Churn(options) => ("--workers", options.workers),
        Command::Hold(options) => ("--connections", options.connections),
    };
    if let Err(error) = check_descriptor_budget(sockets.0, sockets.1) {
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

/// Raises RLIMIT_NOFILE and checks that `count` sockets fit under it.
fn check_descriptor_budget(option: &str, count: usize) -> Result<(), UsageError> {
    let soft = match rlimit::raise_nofile_to_hard_limit() {
        Ok(limit) => limit.soft,
        Err(error) => {
            eprintln!("warning: cannot raise the open-file limit: {error}");
            return Ok(());
        }
    };
    let needed = count as u64 + SPARE_DESCRIPTORS;
    if needed > soft {
        return Err(UsageError(format!(
            "{option} {count} needs about {needed} file descriptors but RLIMIT_NOFILE allows {soft}; \
             lower {option} or raise the hard limit (ulimit -Hn, systemd LimitNOFILE=)"
        )));
    }
    Ok(())
}

fn usage_failure(error: &UsageError) -> ExitCode {
    eprintln!("warden-loadgen: {error}\nRun 'warden-loadgen --help' for usage.");
    ExitCode::from(EXIT_USAGE)
}
