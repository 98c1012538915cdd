//! Small blocking echo-client helpers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connects with a timeout and sets read/write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends `msg` and asserts the same bytes come back.
pub fn roundtrip(stream: &mut TcpStream, msg: &[u8]) {
    stream.write_all(msg).expect("write");
    let mut got = vec![0u8; msg.len()];
    stream.read_exact(&mut got).expect("read echo");
    assert_eq!(got, msg, "echo mismatch");
}

/// True when the peer closed (read returns 0 or a reset) within `timeout`.
pub fn closed_by_peer(stream: &mut TcpStream, timeout: Duration) -> bool {
    peer_close(stream, timeout).is_ok()
}

/// `Ok` when the peer closed (read returns 0 or a reset) within `timeout`, else what the
/// read gave instead, for a failing test to show.
/// A read interrupted by a signal (EINTR; a read with `SO_RCVTIMEO` gets one when the
/// test process is stopped and resumed) is retried for the time left.
pub fn peer_close(stream: &mut TcpStream, timeout: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + timeout;
    let mut byte = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        return match stream.read(&mut byte) {
            Ok(0) => Ok(()),
            Ok(_) => Err(format!("read a byte, {:#04x}, instead of a close", byte[0])),
            Err(e) => match e.kind() {
                std::io::ErrorKind::Interrupted if !left.is_zero() => continue,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    Ok(())
                }
                _ => Err(format!("no close within {timeout:?}: {e}")),
            },
        };
    }
}
