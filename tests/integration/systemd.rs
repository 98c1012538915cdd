//! systemd integration, checked with systemd's own tools: the unit files pass
//! `systemd-analyze verify` and a security review, the notify protocol
//! (readiness, watchdog, status, reload, stop) reaches a real datagram
//! socket, `systemd-socket-activate` hands warden connections queued before
//! it started, and the udev, sysctl and .deb files do what they claim.
//!
//! A tool these tests need that is missing fails the test with the Debian
//! package to install; nothing is skipped.

mod activation;
mod deb;
mod notify;
mod support;
mod units;
