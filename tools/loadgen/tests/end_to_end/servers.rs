//! Throwaway echo servers for the end-to-end tests: std threads, one per
//! connection, each misbehaving in one deliberate way when asked to.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a connection thread waits for its client before giving up.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// What a test server does with each connection.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Bytes in, same bytes out.
    Echo,
    /// Echoes, but flips the lowest bit of the byte at this stream offset.
    FlipByteAt(u64),
    /// Reads this many bytes, then closes without echoing anything.
    CloseAfterReading(usize),
    /// Echoes this many bytes, then closes.
    CloseAfterEchoing(usize),
    /// Echoes each chunk with one extra byte after it, in the same write.
    EchoPlusOneByte,
}

/// A listening test server; stops accepting when dropped.
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on an ephemeral loopback port.
    pub fn start(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let acceptor = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                thread::spawn(move || serve(stream, behaviour));
            }
        });
        TestServer {
            addr,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// "127.0.0.1:PORT" of this server.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the acceptor blocked in accept() so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let _ = stream.set_read_timeout(Some(IDLE_LIMIT));
    let _ = stream.set_nodelay(true);
    // One spare byte past the largest read, for EchoPlusOneByte.
    let mut buffer = vec![0u8; 64 * 1024 + 1];
    let mut offset = 0u64;
    loop {
        let count = match stream.read(&mut buffer[..64 * 1024]) {
            Ok(0) => return,
            Ok(count) => count,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let chunk = &mut buffer[..count];
        match behaviour {
            Behaviour::Echo => {}
            Behaviour::FlipByteAt(target) => {
                if (offset..offset + count as u64).contains(&target) {
                    chunk[(target - offset) as usize] ^= 0x01;
                }
            }
            Behaviour::CloseAfterEchoing(limit) => {
                let _ = stream.write_all(chunk);
                if offset + count as u64 >= limit as u64 {
                    return;
                }
                offset += count as u64;
                continue;
            }
            Behaviour::EchoPlusOneByte => {
                buffer[count] = b'+';
                if stream.write_all(&buffer[..=count]).is_err() {
                    return;
                }
                continue;
            }
            Behaviour::CloseAfterReading(limit) => {
                if offset + count as u64 >= limit as u64 {
                    return; // drop closes with an empty receive queue: a FIN, not a RST
                }
                offset += count as u64;
                continue;
            }
        }
        offset += count as u64;
        if stream.write_all(chunk).is_err() {
            return;
        }
    }
}

/// An address where nothing listens (connections are refused).
pub fn refused_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}
