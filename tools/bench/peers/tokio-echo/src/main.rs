//! Benchmark peer: a tokio `current_thread` echo server, written the way a Rust user
//! would write it from tokio's own examples: an accept loop that spawns one task per
//! connection, each reading into a buffer and `write_all`-ing it back.
//!
//! Binds 127.0.0.1 with a listen backlog of 4096, sets TCP_NODELAY on accepted
//! sockets, prints nothing per message, and exits on SIGTERM.
//!
//! Usage: `tokio-echo [--port] PORT`

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// Listen backlog, matching warden's default and the other peers.
const LISTEN_BACKLOG: u32 = 4096;

/// Per-connection read buffer, the size tokio's echo example uses.
const READ_BUFFER_BYTES: usize = 1024;

/// Parses `[--port] PORT` from the command line.
fn parse_port() -> Result<u16, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = match args.as_slice() {
        [port] => port,
        [flag, port] if flag == "--port" => port,
        _ => return Err("usage: tokio-echo [--port] PORT".to_owned()),
    };
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("tokio-echo: port must be 1..65535, got '{text}'")),
    }
}

/// Echoes everything the peer sends until it closes or the socket fails.
async fn echo_until_eof(mut stream: TcpStream) {
    let mut buf = [0u8; READ_BUFFER_BYTES];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let port = match parse_port() {
        Ok(port) => port,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let listener = match listen(port) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("tokio-echo: cannot listen on 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("tokio-echo: cannot install the SIGTERM handler: {err}");
            return ExitCode::FAILURE;
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // Errors such as EMFILE are transient for a benchmark peer: keep serving.
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(echo_until_eof(stream));
                }
            }
            _ = terminate.recv() => return ExitCode::SUCCESS,
        }
    }
}

/// Binds 127.0.0.1:port with SO_REUSEADDR and the benchmark's listen backlog.
fn listen(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(LISTEN_BACKLOG)
}
