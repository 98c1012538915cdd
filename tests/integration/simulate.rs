//! `warden run --simulate`: the daemon against the in-process Pi model. It
//! says loudly that nothing is real, and the whole control loop shows on the
//! status page: with the simulated fan broken and a full synthetic load the
//! die heats past the shed threshold and warden starts refusing newcomers;
//! the thermal controller's clock runs at the simulation's speed; at exit it
//! claims no hardware restore. A bad `WARDEN_SIM_*` value stops `run` before
//! anything is bound, and `check-config` checks the variables too.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::status::{get, status_addr};
use crate::util::{config_with, warden_bin, Launch, TempDir, Warden};

/// `[hardware] simulate = true` on top of the test config's `[hardware]` table.
const SIMULATE_IN_FILE: &str = "[hardware]\nsimulate = true\n";

#[test]
fn simulate_is_loud_and_drives_the_whole_control_loop() {
    let mut w = Warden::start_in(
        TempDir::new("simulate"),
        &config_with("", ""),
        Launch {
            args: vec!["--simulate".into()],
            env: vec![
                ("WARDEN_SIM_LOAD".into(), "1.0".into()),
                ("WARDEN_SIM_FAN".into(), "broken".into()),
                ("WARDEN_SIM_AMBIENT_C".into(), "35".into()),
                ("WARDEN_SIM_SPEED".into(), "100".into()),
            ],
            ..Launch::default()
        },
    );
    let warning = w.wait_log("SIMULATED", Duration::from_secs(5));
    assert!(warning.contains("WARN"), "{warning}");
    let status = status_addr(&w);
    let notes = w
        .log()
        .iter()
        .filter(|l| l.contains("sensor: simulated Pi 4 SoC"))
        .count();
    assert_eq!(notes, 1, "each backend note is logged once: {:?}", w.log());
    let first = get(status, "/status").json();
    let description = first["thermal"]["sensor"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        description.contains("simulated"),
        "sensor says what it is: {description:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = get(status, "/status").json();
        if s["admission"]["state"] == "shedding" {
            assert!(s["thermal"]["temp_c"].as_f64().unwrap() > 70.0, "{s}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the simulated die never got hot enough to shed: {}",
            s["thermal"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The controller's clock runs at the simulation's speed: 100 ticks of the default
    // 500 ms take 50 s at 1×, half a second of wall time at 100×.
    let ticks = |s: &serde_json::Value| s["thermal"]["ticks"].as_u64().unwrap_or(0);
    let from = ticks(&get(status, "/status").json());
    crate::util::wait_until(
        "100 more thermal ticks, as the simulated board runs at 100x",
        Duration::from_secs(20),
        || ticks(&get(status, "/status").json()) >= from + 100,
    );
    let history = get(status, "/status/history").json();
    assert_eq!(history["simulated"], true, "{history}");
    // Each thermal event in the log says it is the model's, not the board's.
    let level = w.wait_log("thermal level normal -> fan", Duration::from_secs(2));
    assert!(
        level.contains("INFO  [simulated Pi] thermal level"),
        "{level}"
    );
    // The stop says what happened: nothing real was touched, so nothing was restored.
    w.signal(libc::SIGTERM);
    let exit = w
        .wait_exit(Duration::from_secs(15))
        .expect("exits on SIGTERM");
    assert!(exit.success(), "{exit:?}: {:?}", w.log());
    w.wait_log(
        "thermal control stopped (simulated Pi; no hardware was touched)",
        Duration::from_secs(2),
    );
    w.assert_not_logged_after(0, "hardware restored");
}

/// The config text with `simulate = true` in `[hardware]` (when `in_file`).
fn config_text(server_extra: &str, in_file: bool) -> String {
    let text = config_with(server_extra, "");
    if in_file {
        text.replace("[hardware]\n", SIMULATE_IN_FILE)
    } else {
        text
    }
}

/// Runs warden with `args` (`@CONFIG@` stands for the written config), the
/// simulation's variables exactly `env`, to completion.
fn run_with_sim_env(dir: &TempDir, config: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let config = config.replace("@DIR@", &dir.path().display().to_string());
    let path = dir.write("warden.toml", &config);
    let mut cmd = Command::new(warden_bin());
    for arg in args {
        cmd.arg(arg.replace("@CONFIG@", path.to_str().unwrap()));
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("WARDEN_SIM_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("WARDEN_LOG", "info").env_remove("JOURNAL_STREAM");
    cmd.envs(env.iter().copied());
    cmd.output().expect("run warden")
}

/// The bad values and what the refusal must name: the variable, the value, the allowed values.
const BAD_VALUES: [(&str, &str, &str); 2] = [
    ("WARDEN_SIM_SPEED", "abc", "a speed-up from 1 to 100"),
    ("WARDEN_SIM_FAN", "wobbly", "\"working\" or \"broken\""),
];

#[test]
fn a_bad_simulation_variable_stops_run_before_anything_is_bound() {
    for in_file in [false, true] {
        for (name, value, allowed) in BAD_VALUES {
            let dir = TempDir::new("sim-bad-env");
            let flag: &[&str] = if in_file { &[] } else { &["--simulate"] };
            let args = [&["run", "--config", "@CONFIG@"], flag].concat();
            let out = run_with_sim_env(&dir, &config_text("", in_file), &args, &[(name, value)]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{name}={value} (simulate in file: {in_file})");
            assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
            assert!(
                stderr.contains(&format!(
                    "warden: simulation: {name}=\"{value}\": expected "
                )) && stderr.contains(allowed),
                "{what}: {stderr}"
            );
            for bound in ["listening on", "status page on", "SIMULATED"] {
                assert!(
                    !stderr.contains(bound),
                    "{what}: {bound:?} logged:\n{stderr}"
                );
            }
        }
    }
}

#[test]
fn the_refusal_comes_before_any_bind_is_even_tried() {
    // The service port is taken by this test: a warden that tried to bind it first would
    // stop with exit 1 ("address in use") instead of naming the variable.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = format!("listen = [\"{}\"]\n", taken.local_addr().unwrap());
    let dir = TempDir::new("sim-bad-env-taken");
    let out = run_with_sim_env(
        &dir,
        &config_text(&listen, true),
        &["run", "--config", "@CONFIG@"],
        &[("WARDEN_SIM_SPEED", "abc")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("WARDEN_SIM_SPEED=\"abc\""), "{stderr}");
    assert!(!stderr.contains("in use"), "{stderr}");
}

#[test]
fn check_config_validates_the_simulation_variables() {
    let check = ["check-config", "@CONFIG@"];
    // A file that simulates: a bad value is exit 2 naming it, as `warden run` gives. A
    // file that does not: `warden run` never reads them, so the file passes and the bad
    // value is noted with what --simulate would refuse (check-config agrees with run).
    for in_file in [true, false] {
        for (name, value, allowed) in BAD_VALUES {
            let dir = TempDir::new("sim-check-bad");
            let out = run_with_sim_env(&dir, &config_text("", in_file), &check, &[(name, value)]);
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            let what = format!("{name}={value} (simulate in file: {in_file})");
            assert!(
                stderr.contains(&format!("{name}=\"{value}\"")) && stderr.contains(allowed),
                "{what}: {stderr}"
            );
            if in_file {
                assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
                assert!(!stdout.contains(": ok"), "{what}: {stdout}");
            } else {
                assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
                assert!(stdout.ends_with(": ok\n"), "{what}: {stdout}");
                assert!(
                    stderr.contains("ignored unless simulating")
                        && stderr.contains("with --simulate warden would refuse it"),
                    "{what}: {stderr}"
                );
            }
        }
    }
    // Good values in a simulating file: ok, and nothing more to say.
    let dir = TempDir::new("sim-check-good");
    let good = [("WARDEN_SIM_SPEED", "10"), ("WARDEN_SIM_FAN", "broken")];
    let out = run_with_sim_env(&dir, &config_text("", true), &check, &good);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn check_config_notes_simulation_variables_a_real_board_ignores() {
    let dir = TempDir::new("sim-check-note");
    let out = run_with_sim_env(
        &dir,
        &config_text("", false),
        &["check-config", "@CONFIG@"],
        &[("WARDEN_SIM_FAN", "broken")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("WARDEN_SIM_FAN set, but ignored unless simulating"),
        "{stderr}"
    );
    // Nothing set, a real board: no note at all.
    let out = run_with_sim_env(
        &dir,
        &config_text("", false),
        &["check-config", "@CONFIG@"],
        &[],
    );
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn a_simulated_board_refuses_a_governor_it_lacks_and_names_the_hardware_it_ignores() {
    // As on real hardware: a powersave governor the board does not offer is an exit 2
    // at start, not a throttle that fails every tick.
    let dir = TempDir::new("sim-bad-governor");
    let bogus = config_text("", true)
        + "[cpufreq]\nstrategy = \"governor\"\npowersave_governor = \"bogus\"\n";
    // check-config refuses it too: the simulated board's list is known without it.
    for args in [
        &["run", "--config", "@CONFIG@"][..],
        &["check-config", "@CONFIG@"][..],
    ] {
        let out = run_with_sim_env(&dir, &bogus, args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "governor \"bogus\" is not offered (the simulated scaling_available_governors"
            ),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    // Real-hardware settings a simulation does not drive are named, not silently dropped.
    let w = Warden::start_in(
        TempDir::new("sim-ignored"),
        &config_with("", "[fan]\ndriver = \"gpio\"\npin = 18\n"),
        Launch {
            args: vec!["--simulate".into()],
            ..Launch::default()
        },
    );
    let line = w.wait_log("simulated Pi: ", Duration::from_secs(5));
    assert!(
        line.contains("fan.driver = \"gpio\"")
            && line.contains("hardware.sysfs_root")
            && line.contains("ignored"),
        "{line}"
    );
}
