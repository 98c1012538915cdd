//! Putting the hardware back, end to end: after a SIGKILL (`warden restore`,
//! or the next start replaying the crash-restore state), after a panic in the
//! event loop, and when the restore at exit itself fails; and never underneath
//! a warden that still runs.

use std::time::Duration;

use warden_hw::fake_sysfs::FakeSysfsTree;

use crate::crash_state_episodes::{heat_until_throttled, reload_to_the_governor_strategy};
use crate::thermal::{max_freq, rig, FAST_THERMAL};
use crate::util::{
    assert_second_warden_refused, config_with, run_warden, wait_until, Launch, TempDir, Warden,
};

#[test]
fn after_sigkill_warden_restore_puts_cpufreq_back_from_the_state_file() {
    let mut r = rig("", FAST_THERMAL);
    r.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&r.tree) == 600_000
    });
    r.warden.signal(libc::SIGKILL);
    r.warden.wait_exit(Duration::from_secs(5)).unwrap();
    assert_eq!(
        max_freq(&r.tree),
        600_000,
        "nothing restored a killed process"
    );
    let out = run_warden(&["restore", "--config", r.warden.config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(max_freq(&r.tree), 1_500_000);
    assert_eq!(r.tree.fan_file_duty().unwrap(), 1.0);
    let again = run_warden(&["restore", "--config", r.warden.config.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to restore"));
}

#[test]
fn a_panic_in_the_event_loop_restores_cpufreq_and_the_fan_and_exits_1() {
    let dir = TempDir::new("panic");
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let state_file = warden_hw::restore::state_path(&dir.path().join("run"));
    let launch = Launch {
        env: vec![("WARDEN_TEST_PANIC".into(), "1".into())],
        ..Launch::default()
    };
    let fan_off_on_exit = format!("{FAST_THERMAL}on_exit = \"off\"\n");
    let mut w = Warden::start_in(dir, &config_with("", &fan_off_on_exit), launch);
    tree.ramp_temp_celsius(90.0).unwrap();
    wait_until(
        "minimum frequency and fan full",
        Duration::from_secs(5),
        || max_freq(&tree) == 600_000 && tree.fan_file_duty().unwrap() == 1.0,
    );
    assert!(state_file.exists(), "the crash-restore state is saved");
    w.signal(libc::SIGUSR1);
    let status = w.wait_exit(Duration::from_secs(10)).expect("exits");
    let log = w.log().join("\n");
    assert_eq!(
        status.code(),
        Some(1),
        "a panic is a runtime failure:\n{log}"
    );
    assert!(log.contains("event loop panicked"), "{log}");
    assert_eq!(max_freq(&tree), 1_500_000, "cpufreq restored:\n{log}");
    assert_eq!(
        tree.fan_file_duty().unwrap(),
        0.0,
        "fan left at on_exit:\n{log}"
    );
    assert!(!state_file.exists(), "nothing left for 'warden restore'");
}

#[test]
fn a_restart_after_sigkill_while_throttled_puts_back_the_real_originals_first() {
    let mut killed = rig("", FAST_THERMAL);
    killed.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&killed.tree) == 600_000
    });
    killed.warden.signal(libc::SIGKILL);
    killed.warden.wait_exit(Duration::from_secs(5)).unwrap();
    assert_eq!(max_freq(&killed.tree), 600_000, "nothing restored yet");
    killed.tree.ramp_temp_celsius(45.0).unwrap();

    // The same sysfs tree and state directory, without `warden restore` in between.
    let first_dir = killed.warden.dir.path().display().to_string();
    let config = config_with("", FAST_THERMAL).replace("@DIR@", &first_dir);
    let state_file = warden_hw::restore::state_path(&killed.warden.dir.path().join("run"));
    // Header and owner lines start with '#'; every other line is a setting.
    let entries = std::fs::read_to_string(&state_file)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .count();
    let mut restarted = Warden::start_in(TempDir::new("restart"), &config, Launch::default());
    let line = restarted.wait_log(
        "found the crash-restore state of an earlier run",
        Duration::from_secs(5),
    );
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains(&format!("put back {entries} settings")),
        "{line}"
    );
    assert_eq!(
        max_freq(&killed.tree),
        1_500_000,
        "replayed before starting"
    );
    // The leftover names the killed pid: only the new run's save names the restarted one.
    let owner = format!("# owner pid={} ", restarted.pid());
    wait_until(
        "the new run saved its own state",
        Duration::from_secs(5),
        || std::fs::read_to_string(&state_file).is_ok_and(|text| text.contains(&owner)),
    );

    // The originals captured now are the real ones: heat, cool, stop.
    killed.tree.ramp_temp_celsius(82.0).unwrap();
    wait_until("throttled again", Duration::from_secs(5), || {
        max_freq(&killed.tree) < 1_500_000
    });
    restarted.signal(libc::SIGTERM);
    let status = restarted.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{}", restarted.log().join("\n"));
    assert_eq!(
        max_freq(&killed.tree),
        1_500_000,
        "SIGTERM restores the real original, not the killed run's 600 MHz:\n{}",
        restarted.log().join("\n")
    );
    assert!(!state_file.exists(), "a clean stop removes the state file");
}

#[test]
fn a_failed_restore_at_exit_is_an_error_and_keeps_the_state_file() {
    let mut r = rig("", FAST_THERMAL);
    let state_file = warden_hw::restore::state_path(&r.warden.dir.path().join("run"));
    r.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&r.tree) == 600_000
    });
    let max_freq_path = r.tree.scaling_max_freq_path(0);
    r.tree.make_read_only(&max_freq_path).unwrap();
    r.warden.signal(libc::SIGTERM);
    let status = r.warden.wait_exit(Duration::from_secs(10)).unwrap();
    // The last line warden writes: once read, the reader has drained the whole log.
    let last = r
        .warden
        .wait_log("were not all put back", Duration::from_secs(5));
    let log = r.warden.log().join("\n");
    assert_eq!(
        status.code(),
        Some(1),
        "a failed restore at exit is a runtime failure:\n{log}"
    );
    assert!(last.starts_with("warden: "), "{last}");
    // One ERROR per setting not put back: its file, the value it should hold, the OS error.
    let lines = r.warden.log();
    let not_put_back: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("cpufreq: could not put back"))
        .collect();
    assert_eq!(not_put_back.len(), 1, "{log}");
    assert!(
        not_put_back[0].contains("ERROR")
            && not_put_back[0].contains("scaling_max_freq = 1500000")
            && not_put_back[0].contains(&format!(
                "permission denied writing {}",
                max_freq_path.display()
            )),
        "{log}"
    );
    assert!(
        !log.contains("hardware restored"),
        "a failed restore is not reported as a success:\n{log}"
    );
    // The advice comes once, from the daemon, however many layers saw the failure.
    let advice: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("warden restore"))
        .collect();
    assert_eq!(advice.len(), 1, "the advice is given exactly once:\n{log}");
    assert!(
        advice[0].contains("ERROR")
            && advice[0].contains(&format!(
                "the crash-restore state {} is kept: run 'warden restore' once",
                state_file.display()
            )),
        "{log}"
    );
    assert!(state_file.exists(), "kept for `warden restore`:\n{log}");
    assert_eq!(max_freq(&r.tree), 600_000);

    r.tree.make_writable(&max_freq_path).unwrap();
    let out = run_warden(&["restore", "--config", r.warden.config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        max_freq(&r.tree),
        1_500_000,
        "`warden restore` had something to undo"
    );
}

#[test]
fn warden_restore_refuses_while_the_warden_that_wrote_the_state_runs() {
    let mut r = rig("", FAST_THERMAL);
    let state_file = warden_hw::restore::state_path(&r.warden.dir.path().join("run"));
    r.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&r.tree) == 600_000
    });
    let saved = std::fs::read_to_string(&state_file).unwrap();
    let out = run_warden(&["restore", "--config", r.warden.config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", r.warden.pid())) && stderr.contains("stop that warden"),
        "{stderr}"
    );
    assert_eq!(max_freq(&r.tree), 600_000, "nothing put back underneath it");
    assert_eq!(std::fs::read_to_string(&state_file).unwrap(), saved, "kept");

    r.warden.signal(libc::SIGTERM);
    let status = r.warden.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{}", r.warden.log().join("\n"));
    assert_eq!(max_freq(&r.tree), 1_500_000, "its own stop restores");
    assert!(!state_file.exists());
}

#[test]
fn a_second_warden_on_the_same_state_dir_refuses_to_start() {
    let first = rig("", FAST_THERMAL);
    first.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&first.tree) == 600_000
    });
    let state_dir = first.warden.dir.path().join("run");
    let saved = std::fs::read_to_string(warden_hw::restore::state_path(&state_dir)).unwrap();
    let log = assert_second_warden_refused(&first.warden, FAST_THERMAL);
    assert_eq!(
        max_freq(&first.tree),
        600_000,
        "the running warden's throttle is left alone:\n{log}"
    );
    assert_eq!(
        std::fs::read_to_string(warden_hw::restore::state_path(&state_dir)).unwrap(),
        saved,
        "the running warden's state file is left alone"
    );
}

/// Replaces the owner line of the state file in `state_dir` with one naming a process that
/// has exited: what a warden with `/proc` mounted `hidepid` (systemd ProtectProc=) sees.
fn make_owner_look_dead(state_dir: &std::path::Path) {
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let state_file = warden_hw::restore::state_path(state_dir);
    let text: String = std::fs::read_to_string(&state_file)
        .unwrap()
        .lines()
        .map(|line| match line.starts_with("# owner ") {
            true => format!("# owner pid={pid} start_time=1\n"),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&state_file, text).unwrap();
}

#[test]
fn the_lock_stops_a_second_warden_and_warden_restore_even_when_the_owner_looks_dead() {
    let first = rig("", FAST_THERMAL);
    first.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&first.tree) == 600_000
    });
    let state_dir = first.warden.dir.path().join("run");
    make_owner_look_dead(&state_dir);
    let saved = std::fs::read_to_string(warden_hw::restore::state_path(&state_dir)).unwrap();

    let out = run_warden(&["restore", "--config", first.warden.config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stop that warden instead")
            && stderr.contains(&format!("pid {}", first.warden.pid())),
        "names the lock holder: {stderr}"
    );
    assert_eq!(max_freq(&first.tree), 600_000, "nothing put back");

    assert_second_warden_refused(&first.warden, FAST_THERMAL);
    assert_eq!(max_freq(&first.tree), 600_000, "not replayed underneath it");
    assert_eq!(
        std::fs::read_to_string(warden_hw::restore::state_path(&state_dir)).unwrap(),
        saved
    );
}

#[test]
fn of_two_wardens_started_at_the_same_moment_only_one_runs() {
    let dir = TempDir::new("twins");
    let tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let config = config_with("", FAST_THERMAL).replace("@DIR@", &dir.path().display().to_string());
    let launch = || Launch {
        expect_exit: true,
        ..Launch::default()
    };
    let mut twins = [
        Warden::start_in(TempDir::new("twin-a"), &config, launch()),
        Warden::start_in(TempDir::new("twin-b"), &config, launch()),
    ];
    // Each either refuses (exits 1) or gets to "ready", which comes after the restore
    // lock (taken after bind: "listening on" decides nothing); wait until both decided.
    let mut exits = [None, None];
    wait_until("both twins decided", Duration::from_secs(15), || {
        for (twin, exit) in twins.iter_mut().zip(exits.iter_mut()) {
            if exit.is_none() {
                *exit = twin.child.try_wait().unwrap();
            }
        }
        twins
            .iter()
            .zip(&exits)
            .all(|(twin, exit)| exit.is_some() || twin.is_ready())
    });
    let logs: Vec<String> = twins.iter().map(|t| t.log().join("\n")).collect();
    let refused: Vec<_> = exits.iter().flatten().map(|s| s.code()).collect();
    assert_eq!(refused, [Some(1)], "exactly one refuses:\n{logs:#?}");
    let runner = exits.iter().position(Option::is_none).unwrap();
    tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&tree) == 600_000
    });
    twins[runner].signal(libc::SIGTERM);
    let status = twins[runner].wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{}", twins[runner].log().join("\n"));
    assert_eq!(max_freq(&tree), 1_500_000);
}

#[test]
fn a_leftover_that_cannot_be_replayed_is_moved_aside_not_overwritten() {
    let dir = TempDir::new("unreplayable");
    let _tree = FakeSysfsTree::create(&dir.path().join("sysfs")).unwrap();
    let state_dir = dir.path().join("run");
    std::fs::create_dir_all(&state_dir).unwrap();
    let leftover = "# warden restore state v1\n\
                    sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq\t1500000\n";
    std::fs::write(warden_hw::restore::state_path(&state_dir), leftover).unwrap();
    let mut w = Warden::start_in(dir, &config_with("", FAST_THERMAL), Launch::default());
    let aside = state_dir.join(warden_hw::restore::UNREPLAYED_FILE_NAME);
    let line = w.wait_log("restore.state.unreplayed", Duration::from_secs(5));
    assert!(
        line.contains("ERROR") && line.contains("NOT put back"),
        "{line}"
    );
    // The new run's state is saved next to it, not over it.
    wait_until("the new state", Duration::from_secs(5), || {
        warden_hw::restore::state_path(&state_dir).exists()
    });
    assert_eq!(std::fs::read_to_string(&aside).unwrap(), leftover);
    let out = run_warden(&["restore", "--config", w.config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "refused: warden runs");
    w.signal(libc::SIGTERM);
    assert!(w.wait_exit(Duration::from_secs(10)).unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&aside).unwrap(),
        leftover,
        "kept after a clean stop"
    );
    let out = run_warden(&["restore", "--config", w.config.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to restore"),
        "'warden restore' does not read the set-aside file"
    );
}

#[test]
fn a_simulated_warden_writes_no_state_and_takes_no_lock() {
    let sim_launch = Launch {
        args: vec!["--simulate".into()],
        ..Launch::default()
    };
    let sim = Warden::start_in(TempDir::new("sim-state"), &config_with("", ""), sim_launch);
    let state_dir = sim.dir.path().join("run");
    sim.wait_log("SIMULATED", Duration::from_secs(5));
    // Any state or lock would be taken before "ready".
    sim.wait_ready(Duration::from_secs(5));
    assert!(!warden_hw::restore::state_path(&state_dir).exists());
    assert!(!warden_hw::restore::lock::lock_path(&state_dir).exists());

    // A real warden on the same state directory starts and saves its state.
    let real_dir = TempDir::new("real-after-sim");
    let _tree = FakeSysfsTree::create(&real_dir.path().join("sysfs")).unwrap();
    let config =
        config_with("", FAST_THERMAL).replace("@DIR@/run", &state_dir.display().to_string());
    let real = Warden::start_in(real_dir, &config, Launch::default());
    wait_until("the real warden's state", Duration::from_secs(5), || {
        warden_hw::restore::state_path(&state_dir).exists()
    });
    drop(real);
    drop(sim);
}

/// A throttled crash-restore state in `dir` (warden-hw's fixture) and a config file
/// `text`, with `@STATE@` standing for the state directory; returns (state dir,
/// max-freq file, config file).
fn throttled_with_config(
    dir: &TempDir,
    text: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (state_dir, max_freq) =
        warden_hw::fake_sysfs::throttled_restore_state(dir.path(), None).unwrap();
    let config = dir.write(
        "warden.toml",
        &text.replace("@STATE@", &state_dir.display().to_string()),
    );
    (state_dir, max_freq, config)
}

#[test]
fn warden_restore_with_a_config_that_does_not_validate_still_restores() {
    let dir = TempDir::new("restore-bad-config");
    // A bad edit (an unknown key) after warden started; [hardware] is still readable.
    let (state_dir, max_freq, config) = throttled_with_config(
        &dir,
        "[server]\nbaclog = 4096\n\n[hardware]\nstate_dir = \"@STATE@\"\n",
    );
    let check = run_warden(&["check-config", config.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2), "the file is really invalid");

    let out = run_warden(&["restore", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "restored: exit 0\n{stderr}");
    assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "1500000");
    assert!(!warden_hw::restore::state_path(&state_dir).exists());
    let warning = stderr
        .lines()
        .find(|l| l.contains("restoring anyway"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(
        warning.contains("WARN")
            && warning.contains("server.baclog")
            && warning.contains(&format!("hardware.state_dir = {}", state_dir.display()))
            && warning.contains("[hardware] table"),
        "names the config error and the state dir used: {warning}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("restored "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn warden_restore_with_a_missing_or_non_toml_config_falls_back_to_the_default_state_dir() {
    let dir = TempDir::new("restore-no-config");
    let not_toml = dir.write("warden.toml", "[hardware\nstate_dir = /run/x\n");
    let missing = dir.path().join("no-such.toml");
    for (config, why) in [
        (&missing, "the file cannot be read"),
        (&not_toml, "the file is not TOML"),
    ] {
        let out = run_warden(&["restore", "--config", config.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Not exit 2: the restore ran, on /run/warden (where this host may or may not
        // have a state file, or a warden running).
        assert_ne!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&config.display().to_string())
                && stderr.contains("restoring anyway, with hardware.state_dir = /run/warden")
                && stderr.contains(why),
            "{stderr}"
        );
    }
}

#[test]
fn warden_restore_shows_the_warnings_of_the_hardware_layer() {
    let dir = TempDir::new("restore-hw-warning");
    let (state_dir, max_freq, config) =
        throttled_with_config(&dir, "[hardware]\nstate_dir = \"@STATE@\"\n");
    // A directory where the lock file belongs: the lock cannot be taken, the restore
    // goes on with the owner check alone, and warden-hw says so with log::warn!.
    std::fs::create_dir_all(warden_hw::restore::lock::lock_path(&state_dir)).unwrap();
    let out = run_warden(&["restore", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(std::fs::read_to_string(&max_freq).unwrap(), "1500000");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains("cannot lock the state directory")),
        "{stderr}"
    );
}

#[test]
fn the_crash_state_records_only_the_files_the_strategy_writes_and_grows_on_a_reload() {
    let r = rig("", FAST_THERMAL);
    r.warden.wait_ready(Duration::from_secs(10));
    let state_file = warden_hw::restore::state_path(&r.warden.dir.path().join("run"));
    let recorded = || std::fs::read_to_string(&state_file).unwrap_or_default();
    heat_until_throttled(&r); // No cpufreq file is recorded before (crash_state_episodes).
    assert!(
        recorded().contains("scaling_max_freq") && !recorded().contains("scaling_governor"),
        "max-freq never writes the governor, so a crash restore leaves it alone:\n{}",
        recorded()
    );
    reload_to_the_governor_strategy(&r);
    assert!(
        recorded().contains("scaling_governor") && recorded().contains("scaling_max_freq"),
        "the governor is recorded before the new strategy can write it, and what \
         max-freq may have left is still there:\n{}",
        recorded()
    );
}

#[test]
fn a_strategy_whose_file_cannot_be_recorded_is_refused_until_it_can_be() {
    let r = rig("", FAST_THERMAL);
    r.warden.wait_ready(Duration::from_secs(10));
    let run_dir = r.warden.dir.path().join("run");
    let state_file = warden_hw::restore::state_path(&run_dir);
    let recorded = || std::fs::read_to_string(&state_file).unwrap_or_default();
    heat_until_throttled(&r); // Recorded while throttled: it would throttle at once.
    r.tree.make_read_only(&run_dir).unwrap();
    let governor = format!("{FAST_THERMAL}[cpufreq]\nstrategy = \"governor\"\n");
    r.warden.rewrite_config(&config_with("", &governor));
    let lines = r.warden.log_len();
    r.warden.signal(libc::SIGHUP);
    let line = r.warden.wait_log_after(
        lines,
        "keeping the cpu strategy max-freq",
        Duration::from_secs(5),
    );
    assert!(
        line.contains("cannot be recorded in the crash-restore state"),
        "{line}"
    );
    assert!(max_freq(&r.tree) < 1_500_000, "still throttled the old way");
    assert!(!recorded().contains("scaling_governor"), "{}", recorded());
    r.tree.make_writable(&run_dir).unwrap();
    let lines = r.warden.log_len();
    r.warden.signal(libc::SIGHUP);
    r.warden.wait_log_after(
        lines,
        "cpu strategy max-freq -> governor",
        Duration::from_secs(5),
    );
    assert!(recorded().contains("scaling_governor"), "{}", recorded());
}
