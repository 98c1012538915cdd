//! Socket activation with systemd's own `systemd-socket-activate`: it binds
//! the port, waits for the first connection, then execs warden with the
//! socket as fd 3 (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`). Clients that
//! connect and send before warden runs wait in the kernel's queue and must
//! all be served. A `server.listen` that disagrees with the passed sockets is
//! named at start, and sockets warden cannot serve are refused by name.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::Path;
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
        .args(sh_then_warden(
            &format!("sleep {START_DELAY};"),
            &config_path,
        ));
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
    let mut warden = spawn_through_sh("LISTEN_PID=$$ LISTEN_FDS=0", &config_path);
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

/// `systemd-socket-activate` on `listen` (an `IP:port` or a unix socket path), running
/// `warden run --config <config>` once the first client connects; `fdnames` is the
/// LISTEN_FDNAMES warden sees (set by a wrapper shell that execs it, so LISTEN_PID
/// still names warden).
fn activated(listen: &str, config: &Path, fdnames: &str) -> Logged {
    activated_with(&[], listen, config, fdnames)
}

/// `/bin/sh -c "PREFIX exec warden run --config CONFIG"`: sh execs warden in place, so
/// warden keeps sh's pid (the one `$$` and systemd-socket-activate's LISTEN_PID name).
fn sh_then_warden(prefix: &str, config: &Path) -> Vec<OsString> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("{prefix} exec \"$0\" \"$@\"").into(),
        warden_bin().into(),
        "run".into(),
        "--config".into(),
        config.into(),
    ]
}

/// Runs [`sh_then_warden`] directly (no activator), logging at info.
fn spawn_through_sh(prefix: &str, config: &Path) -> Logged {
    let argv = sh_then_warden(prefix, config);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).env("WARDEN_LOG", "info");
    Logged::spawn(cmd)
}

/// [`activated`], with `options` for `systemd-socket-activate` first (`--datagram`).
fn activated_with(options: &[&str], listen: &str, config: &Path, fdnames: &str) -> Logged {
    let activate = tool("systemd-socket-activate", "systemd");
    let mut cmd = Command::new(activate);
    cmd.args(options)
        .arg("-l")
        .arg(listen)
        .args(["-E", "WARDEN_LOG=info", "--"])
        .args(sh_then_warden(&format!("LISTEN_FDNAMES={fdnames}"), config));
    let activator = Logged::spawn(cmd);
    activator.wait_line(&format!("Listening on {listen}"), Duration::from_secs(10));
    activator
}

#[test]
fn a_server_listen_other_than_the_passed_sockets_is_named_once_at_start() {
    let dir = TempDir::new("activate-listen");
    let at = |name: &str, text: &str| {
        dir.write(
            name,
            &text.replace("@DIR@", &dir.path().display().to_string()),
        )
    };
    let other: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    for case in ["differs", "same", "absent"] {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let text = match case {
            "differs" => config_with(&format!("listen = [\"{other}\"]"), ""),
            "same" => config_with(&format!("listen = [\"{addr}\"]"), ""),
            _ => "[hardware]\nstate_dir = \"@DIR@/run\"\nsysfs_root = \"@DIR@/sysfs\"\n\n\
                  [status]\nlisten = \"127.0.0.1:0\"\n"
                .to_string(),
        };
        let config = at(&format!("{case}.toml"), &text);
        // An empty name (FileDescriptorName= unset by hand) is not shown as ", ".
        let activator = activated(&addr.to_string(), &config, "");
        let _client = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        activator.wait_line(" ready", Duration::from_secs(10));
        let lines = activator.lines();
        let listening = activator.wait_line("listening on", Duration::from_secs(1));
        assert!(
            listening.ends_with(&format!("listening on {addr} (from systemd)")),
            "{case}: {listening}"
        );
        let warnings: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("ListenStream="))
            .collect();
        if case != "differs" {
            assert!(warnings.is_empty(), "{case}: {warnings:?}");
            continue;
        }
        assert_eq!(warnings.len(), 1, "one WARN:\n{}", lines.join("\n"));
        let warning = warnings[0];
        assert!(
            warning.contains("WARN")
                && warning.contains(&format!(
                    "server.listen in {} is [{other}]",
                    config.display()
                ))
                && warning.contains(&format!("systemd passed [{addr}]"))
                && warning.contains("edit ListenStream= in warden.socket"),
            "{warning}"
        );
    }
}

/// Exit 2, a configuration error systemd does not retry (`RestartPreventExitStatus=2`):
/// a restart would be handed the same sockets.
const BAD_SOCKETS_EXIT: i32 = 2;

#[test]
fn passed_descriptors_warden_cannot_serve_are_named() {
    let dir = TempDir::new("activate-refused");
    let config = config_with("", "").replace("@DIR@", &dir.path().display().to_string());
    let config = dir.write("warden.toml", &config);

    // A unix socket (ListenStream=/path): refused, naming its family.
    let path = dir.path().join("service.sock");
    let mut activator = activated(&path.display().to_string(), &config, "service");
    let _client = UnixStream::connect(&path).unwrap();
    let status = activator.wait_exit(Duration::from_secs(10)).expect("exits");
    let log = activator.lines().join("\n");
    assert_eq!(status.code(), Some(BAD_SOCKETS_EXIT), "{status:?}\n{log}");
    assert!(
        log.contains("socket activation: descriptor 3: a unix socket (AF_UNIX), not TCP"),
        "{log}"
    );

    // A datagram socket (ListenDatagram=): refused, naming the setting to use.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut activator = activated_with(&["--datagram"], &addr.to_string(), &config, "service");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"start warden", addr).unwrap();
    let status = activator.wait_exit(Duration::from_secs(10)).expect("exits");
    let log = activator.lines().join("\n");
    assert_eq!(status.code(), Some(BAD_SOCKETS_EXIT), "{status:?}\n{log}");
    assert!(
        log.contains("socket activation: descriptor 3: not a stream socket (use ListenStream=)"),
        "{log}"
    );

    // Malformed variables: each named, each exit 2.
    for (env, named) in [
        (
            "LISTEN_PID=$$ LISTEN_FDS=100000",
            "socket activation: LISTEN_FDS=100000 passes more sockets than warden serves (at most 64)",
        ),
        (
            // No descriptor 3 at all: never taken for a socket warden opened itself.
            "LISTEN_PID=$$ LISTEN_FDS=1",
            "socket activation: descriptor 3: not open: LISTEN_FDS counts more sockets than were passed",
        ),
        (
            "LISTEN_PID=abc LISTEN_FDS=1",
            "socket activation: LISTEN_PID=\"abc\" is not a process id",
        ),
        (
            "LISTEN_PID=$$ LISTEN_FDS=many",
            "socket activation: LISTEN_FDS=\"many\" is not a count",
        ),
    ] {
        let mut warden = spawn_through_sh(env, &config);
        let status = warden.wait_exit(Duration::from_secs(10)).expect("exits");
        let line = warden.wait_line("socket activation", Duration::from_secs(2));
        assert_eq!(status.code(), Some(BAD_SOCKETS_EXIT), "{env}: {line}");
        assert!(line.contains(named), "{env}: {line}");
    }
}

#[test]
fn a_status_listen_on_the_port_of_a_passed_socket_is_named_as_warden_s_own() {
    let dir = TempDir::new("activate-status-port");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // The configuration check cannot see the clash: server.listen is not this port.
    let config = config_with("", &format!("[status]\nlisten = \"{addr}\"\n"))
        .replace("@DIR@", &dir.path().display().to_string());
    let config = dir.write("warden.toml", &config);
    let mut activator = activated(&addr.to_string(), &config, "service");
    let _client = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    let status = activator.wait_exit(Duration::from_secs(15)).expect("exits");
    let log = activator.lines().join("\n");
    assert_eq!(status.code(), Some(BAD_SOCKETS_EXIT), "{status:?}\n{log}");
    assert!(
        log.contains(&format!(
            "cannot listen on status.listen {addr}: warden's own service listener on {addr} holds that port"
        )) && !log.contains("another process"),
        "{log}"
    );
}

#[test]
fn the_open_file_budget_counts_the_sockets_systemd_passed() {
    let activate = tool("systemd-socket-activate", "systemd");
    let dir = TempDir::new("activate-budget");
    let config = config_with("", "").replace("@DIR@", &dir.path().display().to_string());
    let config_path = dir.write("warden.toml", &config);
    let port = free_port();
    let addrs: Vec<SocketAddr> = (1..=40)
        .map(|host| SocketAddr::from(([127, 0, 0, host], port)))
        .collect();
    let mut cmd = Command::new(activate);
    for addr in &addrs {
        cmd.arg("-l").arg(addr.to_string());
    }
    cmd.args(["-E", "WARDEN_LOG=info", "--"])
        .args(sh_then_warden("ulimit -n 256 &&", &config_path));
    let mut activator = Logged::spawn(cmd);
    activator.wait_line(
        &format!("Listening on {}", addrs[39]),
        Duration::from_secs(10),
    );
    let client = TcpStream::connect_timeout(&addrs[0], Duration::from_secs(5)).unwrap();
    // 256 - 64 kept back = 192: 48 for the status page, 144 for clients, less one for
    // each of the 8 listeners beyond the 32 the reserve covers.
    let line = activator.wait_line("is lowered to", Duration::from_secs(10));
    assert!(
        line.contains("is lowered to 136") && line.contains("40 listener(s)"),
        "{line}"
    );
    drop(client);
    activator.signal(libc::SIGTERM);
    activator.wait_exit(Duration::from_secs(10)).expect("exits");
}

#[test]
fn a_listen_pid_naming_another_process_is_said_and_server_listen_bound() {
    let dir = TempDir::new("activate-other-pid");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = config_with(&format!("listen = [\"{addr}\"]"), "")
        .replace("@DIR@", &dir.path().display().to_string());
    let config_path = dir.write("warden.toml", &config);
    // What a wrapper that forks (not execs) leaves: LISTEN_PID names the wrapper.
    let mut warden = spawn_through_sh("LISTEN_PID=1 LISTEN_FDS=1", &config_path);
    let line = warden.wait_line("LISTEN_PID=1", Duration::from_secs(10));
    assert!(
        line.contains("names another process") && line.contains("must exec warden"),
        "{line}"
    );
    warden.wait_line(&format!("listening on {addr}"), Duration::from_secs(10));
    warden.signal(libc::SIGTERM);
    let status = warden.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status:?}");
}
