//! Socket activation with systemd's own `systemd-socket-activate`: it binds
//! the port, waits for the first connection, then execs warden with the
//! socket as fd 3 (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`). Clients that
//! connect and send before warden runs wait in the kernel's queue and must
//! all be served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use super::support::{tool, Logged};
use crate::util::{config_with, free_port, warden_bin, TempDir};

/// Clients queued before warden starts.
const QUEUED_CLIENTS: usize = 20;
/// How long the wrapper shell holds warden back after the first connection.
const START_DELAY: &str = "1";

#[test]
fn systemd_socket_activate_hands_over_connections_queued_before_start() {
    let activate = tool("systemd-socket-activate", "systemd");
    let dir = TempDir::new("activate");
    let config = config_with("", "").replace("@DIR@", &dir.path().display().to_string());
    let config_path = dir.write("warden.toml", &config);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    // sh execs warden in place, so LISTEN_PID (the activator's pid) still
    // names it; the sleep keeps warden from accepting while clients queue.
    let mut cmd = Command::new(activate);
    cmd.arg("-l")
        .arg(addr.to_string())
        .arg("--fdname=service")
        .arg("-E")
        .arg("WARDEN_LOG=info")
        .arg("--")
        .arg("/bin/sh")
        .arg("-c")
        .arg(format!("sleep {START_DELAY}; exec \"$0\" \"$@\""))
        .arg(warden_bin())
        .arg("run")
        .arg("--config")
        .arg(&config_path);
    let mut activator = Logged::spawn(cmd);
    activator.wait_line(&format!("Listening on {addr}"), Duration::from_secs(10));

    let mut clients = Vec::with_capacity(QUEUED_CLIENTS);
    for i in 0..QUEUED_CLIENTS {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .expect("connect to the activator's socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        stream
            .write_all(format!("queued client {i:02}").as_bytes())
            .unwrap();
        clients.push(stream);
    }
    let queued_at = Instant::now();
    let early: Vec<_> = activator
        .lines()
        .into_iter()
        .filter(|l| l.contains("listening on"))
        .collect();
    assert!(
        early.is_empty(),
        "warden was already listening when the clients queued: {early:?}"
    );

    for (i, stream) in clients.iter_mut().enumerate() {
        let want = format!("queued client {i:02}");
        let mut got = vec![0u8; want.len()];
        stream.read_exact(&mut got).unwrap_or_else(|e| {
            panic!(
                "client {i}: no echo ({e}); log:\n{}",
                activator.lines().join("\n")
            )
        });
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    eprintln!(
        "{QUEUED_CLIENTS} queued clients served {:?} after queuing",
        queued_at.elapsed()
    );

    let line = activator.wait_line("listening on", Duration::from_secs(1));
    assert!(
        line.contains(&format!("listening on {addr} (from systemd, service)")),
        "{line}"
    );
    let own_bind = activator
        .lines()
        .into_iter()
        .find(|l| l.contains("(backlog"));
    assert!(
        own_bind.is_none(),
        "warden bound a socket of its own: {own_bind:?}"
    );

    drop(clients);
    activator.signal(libc::SIGTERM);
    let status = activator
        .wait_exit(Duration::from_secs(10))
        .expect("warden exits after SIGTERM");
    assert!(
        status.success(),
        "{status:?}; log:\n{}",
        activator.lines().join("\n")
    );
}

#[test]
fn listen_fds_zero_binds_server_listen_instead_of_serving_nothing() {
    let dir = TempDir::new("activate-none");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = config_with(&format!("listen = [\"{addr}\"]"), "")
        .replace("@DIR@", &dir.path().display().to_string());
    let config_path = dir.write("warden.toml", &config);
    // LISTEN_PID names warden itself (sh execs it), with no sockets passed.
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=0 exec \"$0\" \"$@\"")
        .arg(warden_bin())
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .env("WARDEN_LOG", "info");
    let mut warden = Logged::spawn(cmd);
    warden.wait_line("LISTEN_FDS=0", Duration::from_secs(10));
    warden.wait_line(&format!("listening on {addr}"), Duration::from_secs(10));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.write_all(b"bound itself").unwrap();
    let mut got = [0u8; 12];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"bound itself");
    drop(stream);
    warden.signal(libc::SIGTERM);
    let status = warden.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status:?}");
}
