//! warden: a boot-time supervisor for a Raspberry Pi that serves thousands
//! of TCP connections and keeps the board from cooking itself.
//!
//! The binary (`src/main.rs`) is a thin shell over these modules: the
//! command line ([`cli`]), the configuration pipeline ([`config`]), the
//! connection engine ([`engine`]), and the wiring that runs them
//! ([`daemon`]).

pub mod bind_cause;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod exit;
pub mod logging;
pub mod restore_cmd;
pub mod rlimit;
pub mod simulate;
pub mod status;
pub mod systemd;
pub mod text;
pub mod thermal_guard;
