//! Listening sockets: bound by us with `socket2`, or handed over by systemd.
//!
//! mio's own `TcpListener::bind` listens with a fixed backlog of 128; a Pi
//! front door needs the configured `server.backlog` (default 4096), so the
//! socket is built by hand and then given to mio.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};

use mio::net::TcpListener;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// A failure to set up a listening socket.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// bind() or listen() failed.
    #[error("cannot listen on {addr}: {os_error}{hint}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error (in the message, so not also a `source`).
        os_error: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// systemd's environment was malformed.
    #[error("socket activation: {0}")]
    Systemd(String),
    /// systemd passed more sockets (`LISTEN_FDS`) than one loop holds.
    #[error(
        "socket activation: LISTEN_FDS={0} passes more sockets than warden serves (at most \
         {max}): list fewer ListenStream= in the .socket unit",
        max = super::token::MAX_LISTENERS
    )]
    TooMany(usize),
}

impl ListenError {
    /// True when the address is taken (EADDRINUSE).
    pub fn is_addr_in_use(&self) -> bool {
        matches!(self, ListenError::Bind { os_error, .. } if os_error.raw_os_error() == Some(libc::EADDRINUSE))
    }
}

/// One listening socket.
#[derive(Debug)]
pub struct Listener {
    /// The socket, registered with the loop while accepting.
    pub socket: TcpListener,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The `server.listen` entry it was bound for (port 0 there when the kernel chose
    /// the port); the same as `addr` for sockets from systemd.
    pub configured: SocketAddr,
    /// True when systemd passed it in (never rebound on reload).
    pub from_systemd: bool,
}

/// Binds `addr` with SO_REUSEADDR and `listen(backlog)`, non-blocking.
pub fn bind(addr: SocketAddr, backlog: u32) -> Result<Listener, ListenError> {
    let fail = |source: io::Error| ListenError::Bind {
        addr,
        hint: crate::bind_cause::server_hint(addr, &source),
        os_error: source,
    };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    socket.set_reuse_address(true).map_err(fail)?;
    if addr.is_ipv6() {
        // Keep [::] and 0.0.0.0 separate so both can be listed.
        socket.set_only_v6(true).map_err(fail)?;
    }
    socket.set_nonblocking(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(backlog_arg(backlog)).map_err(fail)?;
    let std_listener: std::net::TcpListener = socket.into();
    let configured = addr;
    let addr = std_listener.local_addr().map_err(fail)?;
    Ok(Listener {
        socket: TcpListener::from_std(std_listener),
        addr,
        configured,
        from_systemd: false,
    })
}

/// Sets a new backlog on a listening socket (Linux accepts a second listen()).
pub fn set_backlog(listener: &Listener, backlog: u32) -> io::Result<()> {
    SockRef::from(&listener.socket).listen(backlog_arg(backlog))
}

fn backlog_arg(backlog: u32) -> i32 {
    i32::try_from(backlog).unwrap_or(i32::MAX)
}

/// Listeners systemd passed, each with its `LISTEN_FDNAMES` name if any.
pub type SystemdListeners = Vec<(Listener, Option<String>)>;

/// The first descriptor systemd passes (SD_LISTEN_FDS_START).
const LISTEN_FDS_START: RawFd = 3;

/// Takes the sockets systemd passed when `LISTEN_PID` names this process.
///
/// Returns `Ok(None)` when the process was not socket-activated. The
/// environment variables are removed so children do not inherit them; call
/// this before any other thread starts.
pub fn take_systemd_listeners() -> Result<Option<SystemdListeners>, ListenError> {
    let Some(pid) = std::env::var_os("LISTEN_PID") else {
        return Ok(None);
    };
    let pid = pid
        .to_string_lossy()
        .trim()
        .parse::<u32>()
        .map_err(|_| ListenError::Systemd(format!("LISTEN_PID={pid:?} is not a process id")))?;
    if pid != std::process::id() {
        // Meant for another process: most often a wrapper that forked warden instead of
        // exec'ing it. Its inherited sockets stay unused and server.listen is bound.
        log::warn!(
            "socket activation: LISTEN_PID={pid} names another process (warden is pid {}), \
             so the sockets systemd passed are not used and server.listen is bound instead; \
             a wrapper between systemd and warden must exec warden, not fork it",
            std::process::id()
        );
        return Ok(None);
    }
    let count = std::env::var("LISTEN_FDS")
        .map_err(|_| ListenError::Systemd("LISTEN_PID is set but LISTEN_FDS is not".into()))?;
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| ListenError::Systemd(format!("LISTEN_FDS={count:?} is not a count")))?;
    let names: Vec<Option<String>> = match std::env::var("LISTEN_FDNAMES") {
        Ok(names) => names.split(':').map(|n| Some(n.to_string())).collect(),
        Err(_) => Vec::new(),
    };
    // SAFETY: called before other threads exist (documented precondition), so
    // no concurrent environment access can race with the removal.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    if count == 0 {
        log::warn!("socket activation: LISTEN_FDS=0, systemd passed no sockets; binding server.listen instead");
        return Ok(None);
    }
    if count > super::token::MAX_LISTENERS {
        return Err(ListenError::TooMany(count));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let fd = LISTEN_FDS_START + i as RawFd;
        out.push((adopt(fd)?, names.get(i).cloned().flatten()));
    }
    Ok(Some(out))
}

fn adopt(fd: RawFd) -> Result<Listener, ListenError> {
    let bad = |why: String| ListenError::Systemd(format!("descriptor {fd}: {why}"));
    // SAFETY: systemd passed descriptors LISTEN_FDS_START.. to this process
    // (LISTEN_PID matched); nothing else in the process owns them.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    match socket.r#type() {
        Ok(t) if t == Type::STREAM => {}
        Ok(_) => return Err(bad("not a stream socket (use ListenStream=)".into())),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
            // Not ours to close: forget it rather than drop it.
            std::mem::forget(socket);
            return Err(bad(
                "not open: LISTEN_FDS counts more sockets than were passed".into(),
            ));
        }
        Err(e) => return Err(bad(format!("not a socket: {e}"))),
    }
    if !socket.is_listener().map_err(|e| bad(e.to_string()))? {
        return Err(bad(
            "not listening (use Accept=no in the .socket unit)".into()
        ));
    }
    let local = socket
        .local_addr()
        .map_err(|e| bad(format!("cannot read its address: {e}")))?;
    let addr = local.as_socket().ok_or_else(|| {
        bad(format!(
            "{}, not TCP (use ListenStream=PORT or ListenStream=IP:PORT, not a path)",
            family_name(local.family())
        ))
    })?;
    socket
        .set_nonblocking(true)
        .map_err(|e| bad(e.to_string()))?;
    socket.set_cloexec(true).map_err(|e| bad(e.to_string()))?;
    let std_listener: std::net::TcpListener = socket.into();
    Ok(Listener {
        socket: TcpListener::from_std(std_listener),
        addr,
        configured: addr,
        from_systemd: true,
    })
}

/// What a socket of address family `family` is, for the message refusing it.
fn family_name(family: libc::sa_family_t) -> String {
    match libc::c_int::from(family) {
        libc::AF_UNIX => "a unix socket (AF_UNIX)".to_owned(),
        libc::AF_NETLINK => "a netlink socket (AF_NETLINK)".to_owned(),
        libc::AF_VSOCK => "a vsock socket (AF_VSOCK)".to_owned(),
        libc::AF_PACKET => "a packet socket (AF_PACKET)".to_owned(),
        other => format!("a socket of address family {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_v4_and_v6_with_the_asked_backlog() {
        let v4 = bind("127.0.0.1:0".parse().unwrap(), 4096).unwrap();
        assert!(v4.addr.port() != 0);
        if let Ok(v6) = bind("[::1]:0".parse().unwrap(), 16) {
            assert!(v6.addr.is_ipv6());
        }
    }

    #[test]
    fn a_unix_socket_from_systemd_is_refused_naming_its_family() {
        let dir = std::env::temp_dir().join(format!("warden-adopt-unix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let unix = std::os::unix::net::UnixListener::bind(dir.join("s.sock")).unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(unix);
        let err = adopt(fd).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            err.contains(&format!(
                "descriptor {fd}: a unix socket (AF_UNIX), not TCP"
            )),
            "{err}"
        );
    }

    #[test]
    fn too_many_passed_sockets_name_listen_fds() {
        let err = ListenError::TooMany(100_000).to_string();
        assert!(
            err.starts_with("socket activation: LISTEN_FDS=100000")
                && err.contains("at most 64")
                && err.contains("ListenStream="),
            "{err}"
        );
    }

    #[test]
    fn a_taken_port_names_the_address() {
        let first = bind("127.0.0.1:0".parse().unwrap(), 8).unwrap();
        // SO_REUSEADDR does not allow two listeners on one port.
        let err = bind(first.addr, 8).unwrap_err().to_string();
        assert!(err.contains(&first.addr.to_string()), "{err}");
        assert!(err.contains("another process holds this port"), "{err}");
        let chain = format!("{:#}", anyhow::Error::new(bind(first.addr, 8).unwrap_err()));
        assert_eq!(chain.matches("os error").count(), 1, "{chain}");
    }
}
