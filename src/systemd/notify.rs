//! The sd_notify protocol on a plain `UnixDatagram`: one datagram of
//! `KEY=VALUE` lines to the socket named by `NOTIFY_SOCKET`.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every call is a cheap no-op. A failed
//! send is logged (rate-limited) and never fatal: losing a status line must
//! not take the service down. The socket is non-blocking because the event
//! loop sends the watchdog pings and must never block; a datagram socket
//! whose peer cannot keep up drops the message with `WouldBlock`, which is
//! logged like any other send failure.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use crate::logging::RateLimit;

/// Environment variable naming the notify socket (a path, or `@name` for an
/// abstract socket).
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";
/// Environment variable with the watchdog timeout in microseconds.
pub const WATCHDOG_USEC_ENV: &str = "WATCHDOG_USEC";
/// Environment variable naming the process the watchdog applies to.
pub const WATCHDOG_PID_ENV: &str = "WATCHDOG_PID";
/// `STATUS=` lines are sent at most this often.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(5);
/// Send failures are logged at most this often.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Where notifications go, once the environment has been read.
struct Link {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// `NOTIFY_SOCKET` as given, for log lines.
    shown: String,
}

/// Sends readiness, reload, stop, status and watchdog notifications to
/// systemd, or nothing at all when not started by systemd.
pub struct Notifier {
    link: Option<Link>,
    /// The watchdog ping period: half of `WATCHDOG_USEC`.
    watchdog_interval: Option<Duration>,
    last_ping: Option<Instant>,
    last_status: Option<Instant>,
    send_errors: RateLimit,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("socket", &self.link.as_ref().map(|l| l.shown.as_str()))
            .field("watchdog_interval", &self.watchdog_interval)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, then
    /// removes them from the environment so no child inherits them.
    ///
    /// Never fails: an absent or unusable socket disables notification (the
    /// reason is logged, so install the logger first), and a watchdog meant
    /// for another process (`WATCHDOG_PID`) is ignored. Call it before any
    /// other thread starts, since it edits the environment.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os(NOTIFY_SOCKET_ENV);
        let usec = std::env::var_os(WATCHDOG_USEC_ENV);
        let pid = std::env::var_os(WATCHDOG_PID_ENV);
        // SAFETY: the documented precondition is that no other thread exists
        // yet, so nothing reads the environment while it changes.
        unsafe {
            std::env::remove_var(NOTIFY_SOCKET_ENV);
            std::env::remove_var(WATCHDOG_USEC_ENV);
            std::env::remove_var(WATCHDOG_PID_ENV);
        }
        Notifier::from_values(
            socket.as_deref(),
            usec.as_deref(),
            pid.as_deref(),
            std::process::id(),
        )
    }

    /// Builds a notifier from the raw variable values, for process `own_pid`.
    pub(crate) fn from_values(
        socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        own_pid: u32,
    ) -> Notifier {
        let link = socket
            .filter(|s| !s.is_empty())
            .and_then(|value| match open_link(value) {
                Ok(link) => {
                    log::debug!("systemd notifications go to {}", link.shown);
                    Some(link)
                }
                Err(why) => {
                    log::warn!(
                        "{NOTIFY_SOCKET_ENV}={}: {why}; not notifying systemd",
                        value.to_string_lossy()
                    );
                    None
                }
            });
        let watchdog_interval = match watchdog_period(watchdog_usec, watchdog_pid, own_pid) {
            Ok(period) => period.filter(|_| link.is_some()),
            Err(why) => {
                log::warn!("{why}; the systemd watchdog is not pinged");
                None
            }
        };
        Notifier {
            link,
            watchdog_interval,
            last_ping: None,
            last_status: None,
            send_errors: RateLimit::named(ERROR_LOG_INTERVAL, "sd_notify send failures"),
        }
    }

    /// True when a notify socket was found (the service runs under systemd).
    pub fn enabled(&self) -> bool {
        self.link.is_some()
    }

    /// `READY=1`: startup finished, or a reload did.
    pub fn ready(&mut self) {
        self.send("READY=1");
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (which `Type=notify-reload` in
    /// systemd 253 and later requires); follow it with [`ready`](Self::ready).
    pub fn reloading(&mut self) {
        if self.link.is_none() {
            return;
        }
        let message = format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec());
        self.send(&message);
    }

    /// `STOPPING=1` with `EXTEND_TIMEOUT_USEC=`: shutdown (the drain) has begun
    /// and may take up to `needs` from now. systemd 236 and later then wait that
    /// long even past `TimeoutStopSec=` (never less than it) before killing the
    /// service; older ones ignore the extension.
    pub fn stopping(&mut self, needs: Duration) {
        if self.link.is_none() {
            return;
        }
        let message = format!("STOPPING=1\nEXTEND_TIMEOUT_USEC={}", needs.as_micros());
        self.send(&message);
    }

    /// `STATUS=text`, shown by `systemctl status`; sent at most every
    /// [`STATUS_INTERVAL`], other calls are dropped. Line breaks in `text`
    /// become spaces (the protocol is line-based).
    pub fn status(&mut self, now: Instant, text: &str) {
        if !self.status_due(now) {
            return;
        }
        self.last_status = Some(now);
        let message = format!("STATUS={}", text.replace(['\n', '\r'], " "));
        self.send(&message);
    }

    /// True when [`status`](Self::status) would send at `now`: lets the caller
    /// skip formatting a line that would be dropped.
    pub fn status_due(&self, now: Instant) -> bool {
        self.link.is_some()
            && !self
                .last_status
                .is_some_and(|last| now.saturating_duration_since(last) < STATUS_INTERVAL)
    }

    /// How often the watchdog wants a ping: half of `WATCHDOG_USEC`; `None`
    /// when there is no watchdog (or no socket to ping it through).
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog_interval
    }

    /// `WATCHDOG=1` once half of [`watchdog_interval`](Self::watchdog_interval)
    /// has passed since the last ping. Call it from the loop that must stay
    /// alive, at least every half interval: pings are then never more than
    /// one interval (half the systemd timeout) apart.
    pub fn watchdog(&mut self, now: Instant) {
        let Some(interval) = self.watchdog_interval else {
            return;
        };
        if self
            .last_ping
            .is_some_and(|last| now.saturating_duration_since(last) < interval / 2)
        {
            return;
        }
        self.last_ping = Some(now);
        self.send("WATCHDOG=1");
    }

    fn send(&mut self, message: &str) {
        let Some(link) = &self.link else { return };
        let result = loop {
            match link.socket.send_to_addr(message.as_bytes(), &link.addr) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(sent) if sent != message.len() => {
                    break Err(io::Error::other(format!(
                        "sent {sent} of {} bytes",
                        message.len()
                    )));
                }
                other => break other.map(drop),
            }
        };
        if let Err(e) = result {
            if self.send_errors.allow(Instant::now()) {
                let what = message.lines().next().unwrap_or_default();
                log::warn!("cannot notify systemd at {} ({what}): {e}", link.shown);
            }
        }
    }
}

/// Resolves `NOTIFY_SOCKET` and opens an unbound, non-blocking socket.
fn open_link(value: &OsStr) -> Result<Link, String> {
    let addr = notify_address(value)?;
    let socket =
        UnixDatagram::unbound().map_err(|e| format!("cannot create a datagram socket: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("cannot make the socket non-blocking: {e}"))?;
    Ok(Link {
        socket,
        addr,
        shown: value.to_string_lossy().into_owned(),
    })
}

/// `/path` is a filesystem socket, `@name` an abstract one.
fn notify_address(value: &OsStr) -> Result<SocketAddr, String> {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(b'/') => {
            SocketAddr::from_pathname(value).map_err(|e| format!("not a usable socket path: {e}"))
        }
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..])
            .map_err(|e| format!("not a usable abstract name: {e}")),
        _ => Err(
            "expected an absolute path or @abstract-name (other socket kinds are not supported)"
                .into(),
        ),
    }
}

/// The ping period from `WATCHDOG_USEC`/`WATCHDOG_PID`: `Ok(None)` when no
/// watchdog applies to `own_pid`, `Err` when a value is malformed.
fn watchdog_period(
    usec: Option<&OsStr>,
    pid: Option<&OsStr>,
    own_pid: u32,
) -> Result<Option<Duration>, String> {
    let Some(usec) = usec else { return Ok(None) };
    if let Some(pid) = pid {
        let pid: u32 = pid
            .to_string_lossy()
            .trim()
            .parse()
            .map_err(|_| format!("{WATCHDOG_PID_ENV}={pid:?} is not a process id"))?;
        if pid != own_pid {
            return Ok(None); // meant for another process of the service
        }
    }
    let micros: u64 = usec
        .to_string_lossy()
        .trim()
        .parse()
        .map_err(|_| format!("{WATCHDOG_USEC_ENV}={usec:?} is not a number of microseconds"))?;
    if micros == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_micros(micros) / 2))
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares with.
fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    if rc != 0 {
        return 0;
    }
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
