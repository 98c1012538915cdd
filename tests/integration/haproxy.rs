//! A real HAProxy in front of warden, health-checking `GET /ready` on the
//! status port: while warden sheds for heat HAProxy takes it out of
//! rotation, and puts it back once it cools. Established connections through
//! HAProxy keep echoing throughout.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::status::rig_with_sensor;
use crate::util::{echo, free_port};

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The health-check state HAProxy reports for the warden backend server.
fn server_status(socket: &Path) -> String {
    let mut stream = UnixStream::connect(socket).expect("haproxy stats socket");
    stream.write_all(b"show stat\n").unwrap();
    let mut lines = BufReader::new(stream).lines().map_while(Result::ok);
    let header = lines.next().expect("show stat header");
    let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let status_col = columns
        .iter()
        .position(|c| *c == "status")
        .expect("status column");
    lines
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .find(|f| {
            f.first().map(String::as_str) == Some("warden")
                && f.get(1).map(String::as_str) == Some("w1")
        })
        .map(|f| f[status_col].clone())
        .expect("warden/w1 row")
}

fn wait_status(socket: &Path, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = server_status(socket);
        if got.starts_with(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "HAProxy says {got:?}, wanted {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn haproxy_takes_a_shedding_warden_out_of_rotation_and_back() {
    let rig = rig_with_sensor(50.0, "");
    let dir = rig.warden.dir.path();
    let front = free_port();
    let socket = dir.join("haproxy.sock");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  stats socket {sock} mode 600 level admin\n\
             defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
             frontend front\n  bind 127.0.0.1:{front}\n  default_backend warden\n\
             backend warden\n  option httpchk GET /ready\n  http-check expect status 200\n\
               server w1 {echo} check port {status_port} inter 200ms fall 1 rise 1\n",
            sock = socket.display(),
            echo = rig.warden.addr(),
            status_port = rig.status.port(),
        ),
    )
    .unwrap();
    let check = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("haproxy is installed");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _haproxy = Haproxy(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "haproxy did not open its stats socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_status(&socket, "UP");
    let through: std::net::SocketAddr = format!("127.0.0.1:{front}").parse().unwrap();
    let mut established = echo::connect(through);
    echo::roundtrip(&mut established, b"through haproxy");

    rig.tree.ramp_temp_celsius(76.0).unwrap();
    wait_status(&socket, "DOWN");
    echo::roundtrip(&mut established, b"established connections are never cut");

    rig.tree.ramp_temp_celsius(50.0).unwrap();
    wait_status(&socket, "UP");
    let mut fresh = echo::connect(through);
    echo::roundtrip(&mut fresh, b"back in rotation");
    echo::roundtrip(&mut established, b"still there");
}
