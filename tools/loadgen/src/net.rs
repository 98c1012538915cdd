//! Nonblocking socket plumbing shared by every mode.
//!
//! Sockets are built with socket2 so a local source address can be bound
//! before connect (spreading connections over 127.0.0.1..127.0.0.K, each with
//! its own ephemeral port range), Nagle is off (one small message per round
//! trip must not wait for an ACK), and then handed to mio. The read/write
//! helpers fold `Interrupted` retries and `WouldBlock` into plain outcomes.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

/// Starts a nonblocking connect to `target`, optionally from `source` (port
/// chosen by the kernel at connect time).
pub fn start_connect(target: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(target),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.set_nodelay(true)?;
    if let Some(source) = source {
        defer_port_choice_to_connect(&socket)?;
        socket.bind(&SocketAddr::new(source, 0).into())?;
    }
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// Sets IP_BIND_ADDRESS_NO_PORT so bind(addr, 0) does not reserve a port of
/// its own: the port is picked at connect() time per 4-tuple, which lets the
/// kernel reuse ports across source addresses and lingering TIME_WAITs.
fn defer_port_choice_to_connect(socket: &Socket) -> io::Result<()> {
    let enable: libc::c_int = 1;
    // SAFETY: the fd is a valid socket owned by `socket` for this call; the
    // option value points to a live c_int whose size is passed alongside.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&enable as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a nonblocking connect has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectProgress {
    /// The connection is established.
    Connected,
    /// Still in progress: wait for the next writable event.
    Pending,
}

/// Checks a connecting stream after a readiness event, as mio documents:
/// a pending socket error means failure, a peer address means success.
pub fn connect_progress(stream: &TcpStream) -> io::Result<ConnectProgress> {
    if let Some(error) = stream.take_error()? {
        return Err(error);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(ConnectProgress::Connected),
        Err(error)
            if error.kind() == io::ErrorKind::NotConnected
                || error.raw_os_error() == Some(libc::EINPROGRESS) =>
        {
            Ok(ConnectProgress::Pending)
        }
        Err(error) => Err(error),
    }
}

/// Local source address for connection `index` when spreading over `sources`
/// loopback addresses (127.0.0.1..127.0.0.K); `None` for a single source.
pub fn source_address(index: usize, sources: u8) -> Option<IpAddr> {
    if sources <= 1 {
        return None;
    }
    let host = 1 + (index % usize::from(sources)) as u8;
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
}

/// Outcome of one nonblocking read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes were read.
    Data(usize),
    /// Nothing to read now.
    WouldBlock,
    /// The peer closed its side (end of stream).
    Closed,
}

/// Reads once into `buffer`, retrying `Interrupted`.
pub fn read_some(mut stream: &TcpStream, buffer: &mut [u8]) -> io::Result<ReadOutcome> {
    loop {
        match stream.read(buffer) {
            Ok(0) => return Ok(ReadOutcome::Closed),
            Ok(count) => return Ok(ReadOutcome::Data(count)),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                return Ok(ReadOutcome::WouldBlock)
            }
            Err(error) => return Err(error),
        }
    }
}

/// Writes once from `buffer`, retrying `Interrupted`; `None` on `WouldBlock`.
pub fn write_some(mut stream: &TcpStream, buffer: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match stream.write(buffer) {
            Ok(count) => return Ok(Some(count)),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_source_binds_nothing() {
        assert_eq!(source_address(0, 1), None);
        assert_eq!(source_address(99, 1), None);
    }

    #[test]
    fn sources_cycle_over_loopback_hosts() {
        let hosts: Vec<_> = (0..5).map(|index| source_address(index, 3)).collect();
        let expected = [1, 2, 3, 1, 2].map(|host| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host))));
        assert_eq!(hosts, expected);
        assert_eq!(
            source_address(253, 254),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 254)))
        );
    }
}
