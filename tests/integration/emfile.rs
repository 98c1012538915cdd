//! Descriptor exhaustion. Connections stop at the budget the open-file limit
//! leaves after warden's own reserve, so a flood cannot take the descriptors
//! the thermal controller needs; and when the limit drops under a running
//! warden, accept still backs off on EMFILE without spinning and recovers.

use std::time::Duration;

use warden_hw::fake_sysfs::FakeSysfsTree;

use crate::thermal::FAST_THERMAL;
use crate::util::{config_with, counters, echo, proc, wait_for, Launch, TempDir, Warden};

/// Lowers a running process's RLIMIT_NOFILE (root may; CI runs as root).
fn lower_nofile(pid: u32, limit: u64) {
    let new = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: prlimit reads `new` and writes nothing (null old-limit pointer).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &new,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn emfile_backs_off_without_spinning_and_recovers() {
    let mut w = Warden::start(&config_with(
        "drain_timeout_s = 1",
        "[status]\nenabled = false",
    ));
    let addr = w.addr();
    // Below warden's budget: only the limit, lowered behind its back, stops accept.
    lower_nofile(w.pid(), (proc::fd_count(w.pid()) + 8) as u64);
    // Far more clients than descriptors: the kernel backlog holds the rest.
    let mut flood: Vec<_> = (0..200).map(|_| echo::connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let cpu_before = proc::cpu_time(w.pid());
    std::thread::sleep(Duration::from_secs(3));
    let cpu = proc::cpu_time(w.pid()) - cpu_before;
    assert!(
        cpu < Duration::from_millis(300),
        "warden used {cpu:?} of CPU over 3 s of exhaustion"
    );
    // Everyone leaves; a newcomer is served.
    flood.clear();
    let mut served = false;
    for _ in 0..50 {
        let mut s = echo::connect(addr);
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        if std::io::Write::write_all(&mut s, b"ping").is_ok() {
            let mut got = [0u8; 4];
            if std::io::Read::read_exact(&mut s, &mut got).is_ok() && &got == b"ping" {
                served = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served, "warden did not recover after descriptors freed up");
    let c = counters(&mut w);
    assert!(c["emfile_backoffs"] >= 1, "{c:?}");
    assert!(c["accept_emfile"] >= 1, "{c:?}");
}

#[test]
fn a_flood_past_the_fd_budget_leaves_thermal_control_its_descriptors() {
    let dir = TempDir::new("fd-budget");
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let mut w = Warden::start_in(
        dir,
        &config_with("drain_timeout_s = 1", FAST_THERMAL),
        Launch {
            nofile: Some(400),
            ..Launch::default()
        },
    );
    // 400 - 64 for warden itself = 336: a quarter (84) for the status page, 252 for clients.
    let line = w.wait_log("is lowered to", Duration::from_secs(5));
    assert!(
        line.contains(
            "at start: open-file limit is 400: server.max_connections = 16384 is lowered to 252"
        ),
        "{line}"
    );
    let addr = w.addr();
    let flood: Vec<_> = (0..400).map(|_| echo::connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    tree.ramp_temp_celsius(86.0).unwrap();
    wait_for(Duration::from_secs(5), || {
        let (fan, max_freq) = (tree.fan_file_duty(), tree.scaling_max_freq(0));
        match (&fan, &max_freq) {
            (Ok(duty), Ok(600_000)) if *duty >= 1.0 => Ok(()),
            _ => Err(format!(
                "thermal control blinded: fan {fan:?}, max freq {max_freq:?}; log:\n{}",
                w.log().join("\n")
            )),
        }
    });
    let status = crate::status::get(crate::status::status_addr(&w), "/status").json();
    assert_eq!(
        status["connections"]["max"], 252,
        "{}",
        status["connections"]
    );
    assert!(status["connections"]["active"].as_u64().unwrap() <= 252);
    drop(flood);
    let c = counters(&mut w);
    assert_eq!(c["accept_emfile"], 0, "{c:?}");
}

#[test]
fn a_sighup_cannot_raise_max_connections_past_the_fd_budget() {
    let mut w = Warden::start_with(
        &config_with("max_connections = 50", ""),
        Launch {
            nofile: Some(256),
            ..Launch::default()
        },
    );
    // 256 - 64 = 192: 48 for the status page, 144 for clients; 50 fits at start.
    let status = crate::status::status_addr(&w);
    let max = || crate::status::get(status, "/status").json()["connections"]["max"].clone();
    assert_eq!(max(), 50);
    w.rewrite_config(&config_with("max_connections = 10000", ""));
    let lines = w.log_len();
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "is lowered to", Duration::from_secs(5));
    assert!(
        line.contains(
            "SIGHUP: open-file limit is 256: server.max_connections = 10000 is lowered to 144"
        ),
        "{line}"
    );
    w.wait_log_after(lines, "configuration reloaded", Duration::from_secs(5));
    let applied = w.wait_log_after(lines, "SIGHUP: applied", Duration::from_secs(5));
    assert!(
        applied.contains("server.max_connections 50 -> 10000 (held to 144 by the open-file limit)"),
        "{applied}"
    );
    assert_eq!(max(), 144);
    // A flood past the budget leaves the status page and the thermal thread their share.
    let addr = w.addr();
    let flood: Vec<_> = (0..200).map(|_| echo::connect(addr)).collect();
    wait_for(Duration::from_secs(5), || {
        let doc = crate::status::get(status, "/status").json();
        match doc["connections"]["active"].as_u64() {
            Some(144) => Ok(()),
            other => Err(format!("active {other:?}")),
        }
    });
    drop(flood);
    let c = counters(&mut w);
    assert_eq!(c["accept_emfile"], 0, "{c:?}");
}

#[test]
fn an_open_file_limit_too_small_to_share_refuses_to_start() {
    let dir = TempDir::new("nofile-too-small");
    let config = config_with("", "").replace("@DIR@", dir.path().to_str().unwrap());
    let path = dir.write("warden.toml", &config);
    let script = format!(
        "ulimit -n 100 && exec timeout 10 {} run --config {}",
        crate::util::warden_bin().display(),
        path.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env_remove("WARDEN_LOG")
        .output()
        .expect("run warden under sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("open-file limit is 100, below the 128 warden needs")
            && stderr.contains("LimitNOFILE="),
        "{stderr}"
    );
}

#[test]
fn under_a_small_limit_slow_status_clients_cannot_blind_the_thermal_controller() {
    let dir = TempDir::new("nofile-status-share");
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let w = Warden::start_in(
        dir,
        &config_with("", FAST_THERMAL),
        Launch {
            nofile: Some(128),
            ..Launch::default()
        },
    );
    // 128 - 64 = 64: 16 for the status page, 48 for clients.
    w.wait_log("is lowered to 48", Duration::from_secs(5));
    // What warden holds itself (one listener, status page, sysfs files, epoll, logs)
    // fits well inside the 64 it keeps back.
    let own = proc::fd_count(w.pid());
    // Each listener beyond the first takes one more: the reserve must hold as many as
    // CONFIG.md says it covers.
    let covered = own as u64 + (warden::rlimit::LISTENERS_IN_RESERVE as u64 - 1);
    assert!(
        covered <= warden::rlimit::INTERNAL_FDS,
        "warden holds {own} descriptors before any client, so {} listeners need {covered}",
        warden::rlimit::LISTENERS_IN_RESERVE
    );
    eprintln!("warden's own descriptors at start: {own}");
    let status = crate::status::status_addr(&w);
    let clients: Vec<_> = (0..60).map(|_| echo::connect(w.addr())).collect();
    // Half-sent requests, far more than the status page's share, held open.
    let slow: Vec<_> = (0..80)
        .filter_map(|_| {
            let mut s = std::net::TcpStream::connect(status).ok()?;
            std::io::Write::write_all(&mut s, b"GET /status HTTP/1.1\r\nX-Slow: ").ok()?;
            Some(s)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    tree.ramp_temp_celsius(86.0).unwrap();
    wait_for(Duration::from_secs(5), || match tree.scaling_max_freq(0) {
        Ok(600_000) => Ok(()),
        other => Err(format!(
            "thermal control blinded: max freq {other:?}; log:\n{}",
            w.log().join("\n")
        )),
    });
    let blinded: Vec<String> = w
        .log()
        .into_iter()
        .filter(|l| l.contains("temperature sensor") || l.contains("sensor_fault"))
        .collect();
    assert!(blinded.is_empty(), "{blinded:?}");
    drop(slow);
    drop(clients);
}
