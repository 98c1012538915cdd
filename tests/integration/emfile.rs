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
    // 400 - (128 status connections + 64) = 208.
    let line = w.wait_log("is lowered to", Duration::from_secs(5));
    assert!(
        line.contains("max_connections = 16384 is lowered to 208"),
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
        status["connections"]["max"], 208,
        "{}",
        status["connections"]
    );
    assert!(status["connections"]["active"].as_u64().unwrap() <= 208);
    drop(flood);
    let c = counters(&mut w);
    assert_eq!(c["accept_emfile"], 0, "{c:?}");
}
