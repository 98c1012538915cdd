//! The top-level failures and the exit codes they map to, in one place.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success, including a clean drain after SIGTERM/SIGINT |
//! | 1 | runtime failure: cannot listen, an open-file limit below 128, lost event loop, I/O; fan/cpufreq not put back at exit (after the drain; the crash-restore state is kept for `warden restore`); another warden running on the same `hardware.state_dir`; `warden restore` while the warden that wrote the state still runs (nothing is touched) |
//! | 2 | bad configuration or usage, including hardware the config asks for that is not there, and sockets systemd passed that warden cannot serve (a datagram or unix socket, malformed `LISTEN_PID`/`LISTEN_FDS`) or whose port `status.listen` names |

use std::process::ExitCode;

/// Every way the program can fail, by what the user must do about it.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line was wrong.
    #[error(transparent)]
    Usage(#[from] crate::cli::UsageError),
    /// The configuration was wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The configuration asks for hardware this machine does not have.
    #[error("{0:#}")]
    HardwareConfig(anyhow::Error),
    /// systemd passed sockets warden cannot serve, or malformed `LISTEN_*` variables:
    /// the .socket unit is wrong, and a restart would be handed the same.
    #[error(transparent)]
    SocketActivation(crate::engine::listener::ListenError),
    /// `status.listen` names the port of a socket systemd passed: the configuration and
    /// the .socket unit disagree, and a restart would meet the same.
    #[error(transparent)]
    StatusOnOwnPort(crate::status::StatusError),
    /// Something failed while running.
    #[error("{0:#}")]
    Runtime(#[from] anyhow::Error),
}

/// Writes `text` to standard output; a full disk, a closed pipe or a closed descriptor is
/// a runtime failure (exit 1) that says so, never a panic.
pub fn print_out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot write to standard output: {e}")))
}

impl Failure {
    /// The documented exit code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_)
            | Failure::Config(_)
            | Failure::HardwareConfig(_)
            | Failure::SocketActivation(_)
            | Failure::StatusOnOwnPort(_) => ExitCode::from(2),
            Failure::Runtime(_) => ExitCode::from(1),
        }
    }
}
