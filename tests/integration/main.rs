//! Integration tests: the real warden binary on loopback.

mod util;

mod capacity;
mod config_errors;
mod echo;
mod haproxy;
mod emfile;
mod idle;
mod lifecycle;
mod logs;
mod scale;
mod stale_tokens;
mod status;
mod status_browser;
mod systemd;
mod thermal;
