//! Integration tests: the real warden binary on loopback.

mod util;

mod capacity;
mod cli_usage;
mod config_errors;
mod crash_state_episodes;
mod echo;
mod emfile;
mod haproxy;
mod idle;
mod lifecycle;
mod logs;
mod manpage;
mod reload;
mod reset_flood;
mod restore_cli;
mod scale;
mod simulate;
mod stale_tokens;
mod startup_signals;
mod state_dir_lock;
mod status;
mod status_browser;
mod systemd;
mod thermal;
mod thermal_restore;
