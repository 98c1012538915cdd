//! Why binding a listening address failed, in words: one classification for
//! the echo listeners (`[server] listen`) and the status server
//! (`[status] listen`), so both explain the same errno the same way and each
//! adds only the remedy that belongs to its own config key.

use std::io;
use std::net::SocketAddr;

/// The causes of a failed bind that an operator can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindCause {
    /// EACCES on a port below 1024: the process lacks `CAP_NET_BIND_SERVICE`.
    PrivilegedPort,
    /// EADDRINUSE: another socket holds the address.
    InUse,
    /// EADDRNOTAVAIL: no local interface has the address.
    NoSuchAddress,
    /// EINVAL on an IPv6 link-local address without a scope: the kernel cannot tell
    /// which interface's `fe80::` is meant.
    LinkLocalWithoutScope,
}

impl BindCause {
    /// Classifies `error` from binding `addr`; `None` when no advice fits.
    pub fn of(addr: SocketAddr, error: &io::Error) -> Option<BindCause> {
        match error.raw_os_error() {
            Some(libc::EACCES) if addr.port() < 1024 => Some(BindCause::PrivilegedPort),
            Some(libc::EADDRINUSE) => Some(BindCause::InUse),
            Some(libc::EADDRNOTAVAIL) => Some(BindCause::NoSuchAddress),
            Some(libc::EINVAL) if is_unscoped_link_local(addr) => {
                Some(BindCause::LinkLocalWithoutScope)
            }
            _ => None,
        }
    }
}

/// True for an IPv6 link-local address (fe80::/10) with no scope id.
fn is_unscoped_link_local(addr: SocketAddr) -> bool {
    match addr {
        SocketAddr::V6(v6) => (v6.ip().segments()[0] & 0xffc0) == 0xfe80 && v6.scope_id() == 0,
        SocketAddr::V4(_) => false,
    }
}

/// The advice for a failed bind of `[server] listen`, appended to the OS error.
pub fn server_hint(addr: SocketAddr, error: &io::Error) -> &'static str {
    match BindCause::of(addr, error) {
        Some(BindCause::PrivilegedPort) => {
            " (ports below 1024 need CAP_NET_BIND_SERVICE); choose a port of 1024 or more \
             in [server] listen, or grant warden that capability (see the comment at the top \
             of warden.service), or let systemd bind it through warden.socket"
        }
        Some(BindCause::InUse) => {
            " (another process holds this port); choose a free address in [server] listen, \
             or stop the other process (`ss -tanp 'sport = :PORT'` names it: a listener, or \
             an outgoing connection that got this port as its local one, which \
             net.ipv4.ip_local_reserved_ports prevents)"
        }
        Some(BindCause::NoSuchAddress) => {
            " (no local interface has this address); choose one of this machine's addresses \
             in [server] listen, or 0.0.0.0 / [::] for all of them"
        }
        Some(BindCause::LinkLocalWithoutScope) => {
            " (a link-local fe80:: address needs its interface); in [server] listen write the \
             interface's index after a %, as in \"[fe80::1%2]:7000\" (`ip -6 addr` shows the \
             index before each interface's name)"
        }
        None => "; check [server] listen",
    }
}

/// The advice for a failed bind of `[status] listen`, appended to the OS error.
pub fn status_hint(addr: SocketAddr, error: &io::Error) -> &'static str {
    match BindCause::of(addr, error) {
        Some(BindCause::PrivilegedPort) => {
            " (ports below 1024 need CAP_NET_BIND_SERVICE); choose a port of 1024 or more \
             in [status] listen, grant warden that capability, or set status.enabled = false"
        }
        Some(BindCause::InUse) => {
            " (another process holds this port); choose a free address in [status] listen, \
             or set status.enabled = false"
        }
        Some(BindCause::NoSuchAddress) => {
            " (no local interface has this address); choose one of this machine's addresses \
             in [status] listen, or set status.enabled = false"
        }
        Some(BindCause::LinkLocalWithoutScope) => {
            " (a link-local fe80:: address needs its interface); in [status] listen write the \
             interface's index after a %, as in \"[fe80::1%2]:9181\" (`ip -6 addr` shows the \
             index before each interface's name), or set status.enabled = false"
        }
        None => "; check [status] listen, or set status.enabled = false",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn an_unscoped_link_local_address_is_told_to_name_its_interface() {
        let unscoped: SocketAddr = "[fe80::1]:7000".parse().unwrap();
        let scoped: SocketAddr = "[fe80::1%2]:7000".parse().unwrap();
        let einval = || os(libc::EINVAL);
        assert_eq!(
            BindCause::of(unscoped, &einval()),
            Some(BindCause::LinkLocalWithoutScope)
        );
        assert_eq!(BindCause::of(scoped, &einval()), None);
        let server = server_hint(unscoped, &einval());
        let status = status_hint(unscoped, &einval());
        assert!(
            server.contains("[server] listen write the interface's index"),
            "{server}"
        );
        assert!(
            status.contains("[status] listen write the interface's index"),
            "{status}"
        );
    }

    #[test]
    fn the_same_errno_gets_the_same_cause_for_both_listeners() {
        let cases = [
            (80, libc::EACCES, Some(BindCause::PrivilegedPort)),
            (8080, libc::EACCES, None),
            (8080, libc::EADDRINUSE, Some(BindCause::InUse)),
            (8080, libc::EADDRNOTAVAIL, Some(BindCause::NoSuchAddress)),
            (8080, libc::EINVAL, None),
        ];
        for (port, errno, cause) in cases {
            assert_eq!(
                BindCause::of(addr(port), &os(errno)),
                cause,
                "{port} {errno}"
            );
            let server = server_hint(addr(port), &os(errno));
            let status = status_hint(addr(port), &os(errno));
            let words = match cause {
                Some(BindCause::PrivilegedPort) => " (ports below 1024 need CAP_NET_BIND_SERVICE)",
                Some(BindCause::InUse) => " (another process holds this port)",
                Some(BindCause::NoSuchAddress) => " (no local interface has this address)",
                Some(BindCause::LinkLocalWithoutScope) => unreachable!("IPv4 addresses only"),
                None => "; check [",
            };
            assert!(server.starts_with(words), "{server}");
            assert!(status.starts_with(words), "{status}");
            assert!(server.contains("[server] listen"), "{server}");
            assert!(status.contains("[status] listen"), "{status}");
        }
    }
}
