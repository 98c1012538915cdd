//! systemd integration that needs no library: the notify protocol
//! (readiness, reload, stop, status and watchdog pings) and the one-line
//! status text sent with it.
//!
//! Socket activation lives with the listeners (`engine::listener`), since it
//! hands the loop its sockets. The unit files, sysctl and udev drop-ins are in
//! `init/`.

pub mod notify;
pub mod status;

pub use notify::Notifier;
pub use status::status_text;
