//! Thermal control end to end: the real binary against a fake sysfs tree.
//! The test writes the fake `temp` file and watches the file fan, cpufreq
//! and the admission of new connections. Putting the hardware back after a
//! crash or a failed exit is in `thermal_restore`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use warden_hw::fake_sysfs::{FakeSysfsLayout, FakeSysfsTree};

use crate::util::{config_with, echo, loadgen, wait_until, Launch, TempDir, Warden};

/// Thermal settings that make the policy react to the raw reading at once
/// (no filter, no prediction, no fan dwell) on a 100 ms tick.
pub(crate) const FAST_THERMAL: &str =
    "[thermal]\ninterval_ms = 100\nfilter_tau_s = 0.0\nhorizon_s = 0.0\n\n\
[fan]\ndriver = \"file\"\npath = \"@DIR@/sysfs/fan_duty\"\nmin_on_s = 0\nmin_off_s = 0\n";

pub(crate) struct Rig {
    pub(crate) warden: Warden,
    pub(crate) tree: FakeSysfsTree,
}

pub(crate) fn rig(server_extra: &str, thermal: &str) -> Rig {
    let dir = TempDir::new("thermal");
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let warden = Warden::start_in(dir, &config_with(server_extra, thermal), Launch::default());
    Rig { warden, tree }
}

fn is_rejected(addr: std::net::SocketAddr) -> bool {
    // Rejected: closed at once (EOF or reset). An echo means admitted; a
    // timeout means paused in the backlog.
    let mut s = echo::connect(addr);
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let _ = s.write_all(b"?");
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn served(addr: std::net::SocketAddr, timeout: Duration) -> bool {
    let mut s = echo::connect(addr);
    s.set_read_timeout(Some(timeout)).unwrap();
    if s.write_all(b"hi").is_err() {
        return false;
    }
    let mut got = [0u8; 2];
    s.read_exact(&mut got).is_ok() && &got == b"hi"
}

#[test]
fn rising_temperature_turns_the_file_fan_on_and_cooling_turns_it_off() {
    let r = rig("", FAST_THERMAL);
    r.tree.ramp_temp_celsius(45.0).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.tree.fan_file_duty().unwrap(), 0.0, "cool: fan off");
    r.tree.ramp_temp_celsius(62.0).unwrap();
    wait_until("fan on", Duration::from_secs(5), || {
        r.tree.fan_file_duty().unwrap() > 0.0
    });
    r.tree.ramp_temp_celsius(40.0).unwrap();
    wait_until("fan off", Duration::from_secs(5), || {
        r.tree.fan_file_duty().unwrap() == 0.0
    });
}

/// Rewrites the config with new shed thresholds, sends SIGHUP and returns the
/// controller's "thermal policy reloaded" line.
fn reload_shed_thresholds(r: &Rig, on_c: f64, off_c: f64) -> String {
    let thermal = FAST_THERMAL.replace(
        "[thermal]\n",
        &format!("[thermal]\nshed_on_c = {on_c:.1}\nshed_off_c = {off_c:.1}\n"),
    );
    let lines = r.warden.log_len();
    r.warden.rewrite_config(&config_with("", &thermal));
    r.warden.signal(libc::SIGHUP);
    let line = r
        .warden
        .wait_log_after(lines, "thermal policy reloaded", Duration::from_secs(5));
    r.warden.assert_not_logged_after(lines, "takes a restart");
    line
}

#[test]
fn sighup_hands_new_thresholds_to_the_running_controller() {
    let r = rig("", FAST_THERMAL);
    let addr = r.warden.addr();
    r.tree.ramp_temp_celsius(72.0).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        served(addr, Duration::from_secs(2)),
        "72 °C is below the default 75 °C shed threshold"
    );
    let line = reload_shed_thresholds(&r, 70.0, 65.0);
    assert!(line.contains("shed 70/65 °C"), "{line}");
    wait_until(
        "newcomers rejected at 72 °C",
        Duration::from_secs(3),
        || is_rejected(addr),
    );
    // Shedding, the stage is left on its off threshold: raising it above the
    // reading reopens admission with no change in temperature.
    let line = reload_shed_thresholds(&r, 78.0, 74.0);
    assert!(line.contains("shed 78/74 °C"), "{line}");
    wait_until("admitting again at 72 °C", Duration::from_secs(3), || {
        served(addr, Duration::from_millis(500))
    });
}

#[test]
fn shedding_rejects_newcomers_while_a_thousand_established_connections_keep_echoing() {
    let r = rig("max_connections = 5000", FAST_THERMAL);
    let addr = r.warden.addr();
    r.tree.ramp_temp_celsius(50.0).unwrap();
    let target = addr.to_string();
    let load = std::thread::spawn(move || {
        loadgen(&[
            "pingpong",
            "--addr",
            &target,
            "--connections",
            "1000",
            "--size",
            "64",
            "--duration",
            "6",
        ])
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        served(addr, Duration::from_secs(2)),
        "admitting before the heat"
    );
    r.tree.ramp_temp_celsius(76.0).unwrap();
    wait_until("newcomers rejected", Duration::from_secs(3), || {
        is_rejected(addr)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(is_rejected(addr), "still shedding at 76 °C");
    r.tree.ramp_temp_celsius(65.0).unwrap();
    wait_until(
        "admitting again after cooling",
        Duration::from_secs(3),
        || served(addr, Duration::from_millis(500)),
    );
    let (status, report) = load.join().unwrap();
    assert!(
        status.success(),
        "established connections lost nothing: {report}"
    );
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["msgs"].as_u64().unwrap() > 1000, "{report}");
}

#[test]
fn shedding_in_pause_mode_leaves_newcomers_in_the_backlog() {
    let r = rig(
        "",
        &FAST_THERMAL.replace(
            "horizon_s = 0.0\n",
            "horizon_s = 0.0\nshed_mode = \"pause\"\n",
        ),
    );
    let addr = r.warden.addr();
    let mut established = echo::connect(addr);
    echo::roundtrip(&mut established, b"before");
    r.tree.ramp_temp_celsius(76.0).unwrap();
    let status = crate::status::status_addr(&r.warden);
    wait_until("the event loop sheds", Duration::from_secs(5), || {
        crate::status::get(status, "/status").json()["admission"]["state"] == "shedding"
    });
    let mut waiting = echo::connect(addr);
    waiting.write_all(b"queued").unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut b = [0u8; 6];
    assert!(
        waiting.read(&mut b).is_err(),
        "paused: not served while hot"
    );
    echo::roundtrip(&mut established, b"established still served");
    r.tree.ramp_temp_celsius(60.0).unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    waiting
        .read_exact(&mut b)
        .expect("served from the backlog once cool");
    assert_eq!(&b, b"queued");
}

pub(crate) fn max_freq(tree: &FakeSysfsTree) -> u64 {
    tree.scaling_max_freq(0).unwrap()
}

#[test]
fn throttling_steps_cpufreq_down_then_back_up_and_sigterm_restores() {
    let mut r = rig("", FAST_THERMAL);
    // Read before the heat: the first step can land before a read after it.
    let mut seen = vec![max_freq(&r.tree)];
    assert_eq!(seen, [1_500_000]);
    r.tree.ramp_temp_celsius(82.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        let f = max_freq(&r.tree);
        if seen.last() != Some(&f) {
            seen.push(f);
        }
        f == 600_000
    });
    assert_eq!(
        seen,
        [1_500_000, 1_000_000, 600_000],
        "one available frequency per tick"
    );
    r.tree.ramp_temp_celsius(70.0).unwrap();
    wait_until("back to the original", Duration::from_secs(5), || {
        max_freq(&r.tree) == 1_500_000
    });
    r.tree.ramp_temp_celsius(82.0).unwrap();
    wait_until("throttled again", Duration::from_secs(5), || {
        max_freq(&r.tree) < 1_500_000
    });
    r.warden.signal(libc::SIGTERM);
    let status = r.warden.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success());
    assert_eq!(
        max_freq(&r.tree),
        1_500_000,
        "SIGTERM restores the original max frequency"
    );
    assert_eq!(r.tree.fan_file_duty().unwrap(), 1.0, "fan.on_exit = full");
}

#[test]
fn sighup_switches_the_cpu_strategy_and_tick_while_throttling() {
    let r = rig("", FAST_THERMAL);
    r.tree.ramp_temp_celsius(82.0).unwrap();
    wait_until("max-freq throttling", Duration::from_secs(5), || {
        max_freq(&r.tree) < 1_500_000
    });
    let retuned = FAST_THERMAL.replace("interval_ms = 100", "interval_ms = 200")
        + "[cpufreq]\nstrategy = \"governor\"\n";
    let lines = r.warden.log_len();
    r.warden.rewrite_config(&config_with("", &retuned));
    r.warden.signal(libc::SIGHUP);
    r.warden.wait_log_after(
        lines,
        "thermal tick interval 100 ms -> 200 ms",
        Duration::from_secs(5),
    );
    r.warden.wait_log_after(
        lines,
        "cpu strategy max-freq -> governor",
        Duration::from_secs(5),
    );
    wait_until("powersave at 82 °C", Duration::from_secs(5), || {
        r.tree.governor(0).unwrap() == "powersave"
    });
    assert_eq!(max_freq(&r.tree), 1_500_000, "the max-freq cap is put back");
    r.warden.assert_not_logged_after(lines, "takes a restart");
    r.tree.ramp_temp_celsius(70.0).unwrap();
    wait_until("the original governor", Duration::from_secs(5), || {
        r.tree.governor(0).unwrap() != "powersave"
    });
}

#[test]
fn sighup_to_a_governor_the_kernel_does_not_offer_keeps_throttling_by_max_freq() {
    let dir = TempDir::new("thermal");
    let layout = FakeSysfsLayout {
        available_governors: "ondemand performance".into(),
        ..FakeSysfsLayout::default()
    };
    let tree = FakeSysfsTree::create_with(&dir.path().join("sysfs"), &layout).unwrap();
    let w = Warden::start_in(dir, &config_with("", FAST_THERMAL), Launch::default());
    tree.ramp_temp_celsius(82.0).unwrap();
    wait_until("max-freq throttling", Duration::from_secs(5), || {
        max_freq(&tree) < 1_500_000
    });
    let retuned = FAST_THERMAL.replace("interval_ms = 100", "interval_ms = 200")
        + "[cpufreq]\nstrategy = \"governor\"\n";
    let lines = w.log_len();
    w.rewrite_config(&config_with("", &retuned));
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(
        lines,
        "keeping the cpu strategy max-freq",
        Duration::from_secs(5),
    );
    assert!(
        line.contains("ERROR")
            && line.contains("\"powersave\"")
            && line.contains("ondemand performance"),
        "names the governor and what is offered: {line}"
    );
    // The rest of the reload applies; a few ticks later max-freq still throttles.
    w.wait_log_after(
        lines,
        "thermal tick interval 100 ms -> 200 ms",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(600));
    w.assert_not_logged_after(lines, "cpu strategy max-freq -> governor");
    assert!(max_freq(&tree) < 1_500_000, "still capped by max-freq");
    assert_eq!(tree.governor(0).unwrap(), "ondemand");
}

#[test]
fn sighup_to_the_governor_strategy_with_no_cpufreq_warns_once_naming_where_it_looked() {
    let dir = TempDir::new("thermal");
    let layout = FakeSysfsLayout {
        policies: 0,
        ..FakeSysfsLayout::default()
    };
    let tree = FakeSysfsTree::create_with(&dir.path().join("sysfs"), &layout).unwrap();
    let w = Warden::start_in(dir, &config_with("", FAST_THERMAL), Launch::default());
    w.wait_log("no cpufreq policy under", Duration::from_secs(5));
    let looked_at = tree.root().join(warden_hw::cpufreq::CPUFREQ_DIR);
    let lines = w.log_len();
    let governor = format!("{FAST_THERMAL}[cpufreq]\nstrategy = \"governor\"\n");
    w.rewrite_config(&config_with("", &governor));
    w.signal(libc::SIGHUP);
    let line = w.wait_log_after(lines, "no cpufreq to apply it to", Duration::from_secs(5));
    assert!(
        line.contains("WARN")
            && line.contains("strategy is now \"governor\"")
            && line.contains(&looked_at.display().to_string()),
        "names the setting and the directory looked at: {line}"
    );
    // A reload that changes only the tick changes no cpufreq setting: no new warning.
    let tick_only = governor.replace("interval_ms = 100", "interval_ms = 200");
    w.rewrite_config(&config_with("", &tick_only));
    w.signal(libc::SIGHUP);
    w.wait_log_after(
        lines,
        "thermal tick interval 100 ms -> 200 ms",
        Duration::from_secs(5),
    );
    // The warning would come from the event loop's reload, right after it hands the change on.
    std::thread::sleep(Duration::from_millis(300));
    let warnings = w.log()[lines..]
        .iter()
        .filter(|l| l.contains("no cpufreq to apply it to"))
        .count();
    assert_eq!(
        warnings,
        1,
        "once per reload that changes it:\n{}",
        w.log().join("\n")
    );
}

#[test]
fn read_only_cpufreq_is_logged_and_serving_continues() {
    let r = rig("", FAST_THERMAL);
    r.tree
        .make_read_only(&r.tree.scaling_max_freq_path(0))
        .unwrap();
    let mut s = echo::connect(r.warden.addr());
    r.tree.ramp_temp_celsius(82.0).unwrap();
    let line = r
        .warden
        .wait_log("scaling_max_freq", Duration::from_secs(5));
    assert!(line.contains("WARN") || line.contains("ERROR"), "{line}");
    for i in 0..20 {
        echo::roundtrip(&mut s, format!("serving {i}").as_bytes());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(max_freq(&r.tree), 1_500_000);
    let repeats = r
        .warden
        .log()
        .iter()
        .filter(|l| l.contains("scaling_max_freq"))
        .count();
    assert!(
        repeats <= 2,
        "the failing actuator is rate-limited in the log ({repeats} lines)"
    );
}

#[test]
fn a_garbage_sensor_fails_safe_with_the_fan_full() {
    let r = rig("", FAST_THERMAL);
    r.tree.ramp_temp_celsius(45.0).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    r.tree.write_temp_raw("garbage\n").unwrap();
    wait_until("fan full on sensor fault", Duration::from_secs(5), || {
        r.tree.fan_file_duty().unwrap() == 1.0
    });
    r.tree.ramp_temp_celsius(45.0).unwrap();
    wait_until("recovered", Duration::from_secs(5), || {
        r.tree.fan_file_duty().unwrap() == 0.0
    });
}

#[test]
fn a_gpio_fan_off_a_pi_refuses_to_start_with_exit_2() {
    let dir = TempDir::new("gpio");
    let _tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let mut w = Warden::start_in(
        dir,
        &config_with("", "[fan]\ndriver = \"gpio\"\npin = 17\n"),
        Launch {
            expect_exit: true,
            ..Launch::default()
        },
    );
    let status = w
        .wait_exit(Duration::from_secs(10))
        .expect("exits at start");
    assert_eq!(status.code(), Some(2));
    // The reader thread may still be collecting the last lines after exit.
    w.wait_log("Raspberry Pi", Duration::from_secs(5));
}

#[test]
fn auto_fan_with_no_hwmon_fan_runs_without_a_fan_and_says_so_once() {
    let r = rig("", "[fan]\ndriver = \"auto\"\n");
    let mut s = TcpStream::connect(r.warden.addr()).unwrap();
    echo::roundtrip(&mut s, b"ok");
    let lines = r
        .warden
        .log()
        .iter()
        .filter(|l| l.contains("without a fan"))
        .count();
    assert_eq!(lines, 1, "{:?}", r.warden.log());
}

#[test]
fn a_sensor_that_drops_to_zero_is_a_jump_fault_until_it_reads_true_again() {
    let r = rig("", FAST_THERMAL);
    r.tree.set_temp_celsius(45.0).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.tree.fan_file_duty().unwrap(), 0.0, "45 °C: fan off");
    // A broken driver reads 0 °C: warden must not take it for a cold SoC.
    r.tree.set_temp_celsius(0.0).unwrap();
    let line = r.warden.wait_log("sensor jump", Duration::from_secs(5));
    assert!(line.contains("fan at full duty"), "{line}");
    wait_until("fan full on the jump", Duration::from_secs(5), || {
        r.tree.fan_file_duty().unwrap() == 1.0
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        r.tree.fan_file_duty().unwrap(),
        1.0,
        "a constant 0 °C is never believed"
    );
    r.tree.set_temp_celsius(44.0).unwrap();
    wait_until(
        "recovered near the last trusted reading",
        Duration::from_secs(5),
        || r.tree.fan_file_duty().unwrap() == 0.0,
    );
}

#[test]
fn each_new_kind_of_sensor_error_is_logged_at_once() {
    let r = rig("", FAST_THERMAL);
    r.tree.set_temp_celsius(45.0).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    r.tree.write_temp_raw("\n").unwrap();
    let line = r.warden.wait_log("is empty", Duration::from_secs(5));
    assert!(line.contains("temperature sensor"), "{line}");
    // Each differs from the line before: logged at once, not a minute later.
    r.tree.write_temp_raw("abc\n").unwrap();
    r.warden.wait_log("holds \"abc\"", Duration::from_secs(3));
    r.tree.remove_temp().unwrap();
    r.warden.wait_log("does not exist", Duration::from_secs(3));
    let tmp = r.tree.temp_path().with_extension("tmp");
    std::fs::write(&tmp, [0xff, 0xfe, b'\n']).unwrap();
    std::fs::rename(&tmp, r.tree.temp_path()).unwrap();
    r.warden.wait_log("not UTF-8", Duration::from_secs(3));
    // The file stays non-UTF-8: the same fault repeats every 100 ms tick, and the
    // limiter lets only its first line out within the minute.
    std::thread::sleep(Duration::from_millis(1000));
    let repeats = r
        .warden
        .log()
        .iter()
        .filter(|l| l.contains("not UTF-8"))
        .count();
    assert_eq!(repeats, 1, "{}", r.warden.log().join("\n"));
}

#[test]
fn admission_changes_and_jump_faults_are_logged_in_words_with_the_values() {
    let r = rig("", FAST_THERMAL);
    r.tree.set_temp_celsius(45.0).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    r.tree.ramp_temp_celsius(76.0).unwrap();
    let line = r
        .warden
        .wait_log("admission open -> ", Duration::from_secs(5));
    assert!(
        line.contains("admission open -> shed (reject) (hot)"),
        "{line}"
    );
    r.tree.ramp_temp_celsius(65.0).unwrap();
    r.warden.wait_log(
        "admission shed (reject) -> open (cool)",
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    r.tree.set_temp_celsius(0.0).unwrap();
    let line = r.warden.wait_log("sensor jump", Duration::from_secs(5));
    assert!(
        line.contains("read 0.0 °C") && line.contains("last trusted 65.0 °C"),
        "{line}"
    );
    let debug_format = r
        .warden
        .log()
        .into_iter()
        .filter(|l| l.contains("admission ") && l.contains(" -> ") && l.contains("Shed {"))
        .collect::<Vec<_>>();
    assert!(debug_format.is_empty(), "{debug_format:?}");
}
