//! What a crash restore puts back of cpufreq, end to end: the crash-restore state holds
//! the cpufreq originals only while warden holds a throttle. Saved at start with the
//! fan's entry alone, it gains the originals at the start of each throttle episode,
//! before the throttle is written, and loses them once the throttle is released; so a
//! value an operator writes while warden is not throttling survives a SIGKILL and
//! `warden restore`, and a throttle in force at the SIGKILL is still undone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::thermal::{max_freq, rig, Rig, FAST_THERMAL};
use crate::util::{config_with, run_warden, wait_until};

/// The state file of `r`'s warden.
fn state_file(r: &Rig) -> PathBuf {
    warden_hw::restore::state_path(&r.warden.dir.path().join("run"))
}

/// The settings the state file at `path` lists, as `file name = value` (header and owner
/// lines left out); empty when there is no file.
fn recorded(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (file, value) = line.split_once('\t')?;
            let name = Path::new(file).file_name()?.to_string_lossy().into_owned();
            Some(format!("{name} = {value}"))
        })
        .collect()
}

/// Heats `r`'s board until warden throttles from its 1.5 GHz original.
pub(crate) fn heat_until_throttled(r: &Rig) {
    r.tree.ramp_temp_celsius(82.0).unwrap();
    wait_until("throttled", Duration::from_secs(5), || {
        max_freq(&r.tree) < 1_500_000
    });
}

/// Rewrites `r`'s config to the governor strategy, sends SIGHUP and waits until the
/// controller has switched.
pub(crate) fn reload_to_the_governor_strategy(r: &Rig) {
    let lines = r.warden.log_len();
    let governor = format!("{FAST_THERMAL}[cpufreq]\nstrategy = \"governor\"\n");
    r.warden.rewrite_config(&config_with("", &governor));
    r.warden.signal(libc::SIGHUP);
    r.warden.wait_log_after(
        lines,
        "cpu strategy max-freq -> governor",
        Duration::from_secs(5),
    );
}

/// Heats `r`'s board until warden throttles and checks the state holds the 1.5 GHz
/// original, then cools it until warden has released the throttle and the state holds
/// the fan's entry alone.
fn throttle_once(r: &Rig) {
    let state = state_file(r);
    heat_until_throttled(r);
    let while_throttled = recorded(&state);
    assert!(
        while_throttled.contains(&"scaling_max_freq = 1500000".to_owned()),
        "recorded before the throttle was written: {while_throttled:?}"
    );
    r.tree.ramp_temp_celsius(45.0).unwrap();
    wait_until(
        "released, and the state without cpufreq",
        Duration::from_secs(5),
        || max_freq(&r.tree) == 1_500_000 && fan_alone(&recorded(&state)),
    );
}

/// True when `settings` are the `file` fan's exit duty and nothing else.
fn fan_alone(settings: &[String]) -> bool {
    matches!(settings, [fan] if fan.starts_with("fan_duty = "))
}

/// SIGKILLs `r`'s warden and runs `warden restore` with its config, which must succeed.
fn kill_and_restore(r: &mut Rig) {
    r.warden.signal(libc::SIGKILL);
    r.warden.wait_exit(Duration::from_secs(5)).unwrap();
    let out = run_warden(&["restore", "--config", r.warden.config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_max_freq_written_after_a_throttle_ended_survives_a_crash_restore() {
    let mut r = rig("", FAST_THERMAL);
    r.warden.wait_ready(Duration::from_secs(10));
    let state = state_file(&r);
    wait_until("the state saved at start", Duration::from_secs(5), || {
        state.exists()
    });
    assert!(
        fan_alone(&recorded(&state)),
        "no throttle yet, so no cpufreq file to put back: {:?}",
        recorded(&state)
    );
    throttle_once(&r);

    // The operator's change, made while warden holds no throttle.
    std::fs::write(r.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    kill_and_restore(&mut r);
    assert_eq!(
        max_freq(&r.tree),
        1_000_000,
        "warden had changed nothing in cpufreq at the crash: the operator's value stays"
    );
    assert_eq!(
        r.tree.fan_file_duty().unwrap(),
        1.0,
        "the fan's entry was replayed"
    );
    assert!(!state.exists(), "all put back, the file is removed");
}

#[test]
fn a_throttle_in_force_at_a_sigkill_is_undone_even_when_its_originals_did_not_change() {
    let mut r = rig("", FAST_THERMAL);
    r.warden.wait_ready(Duration::from_secs(10));
    // A first episode records the originals and releases them.
    throttle_once(&r);
    // The second finds the same originals: they are recorded again all the same.
    r.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&r.tree) == 600_000
    });
    assert!(
        recorded(&state_file(&r)).contains(&"scaling_max_freq = 1500000".to_owned()),
        "{:?}",
        recorded(&state_file(&r))
    );
    kill_and_restore(&mut r);
    assert_eq!(max_freq(&r.tree), 1_500_000, "the throttle is undone");
}

#[test]
fn an_original_changed_between_throttles_is_what_a_crash_during_the_next_puts_back() {
    let mut r = rig("", FAST_THERMAL);
    r.warden.wait_ready(Duration::from_secs(10));
    throttle_once(&r);
    std::fs::write(r.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    r.tree.ramp_temp_celsius(90.0).unwrap();
    wait_until("minimum frequency", Duration::from_secs(5), || {
        max_freq(&r.tree) == 600_000
    });
    kill_and_restore(&mut r);
    assert_eq!(
        max_freq(&r.tree),
        1_000_000,
        "the operator's value, taken as the original at the episode's start"
    );
}

#[test]
fn after_a_switch_to_the_governor_strategy_the_max_freq_is_the_operator_s_again() {
    let mut r = rig("", FAST_THERMAL);
    r.warden.wait_ready(Duration::from_secs(10));
    let state = state_file(&r);
    // Switched while max-freq holds a throttle: both files are recorded until released.
    heat_until_throttled(&r);
    reload_to_the_governor_strategy(&r);
    r.tree.ramp_temp_celsius(45.0).unwrap();
    wait_until(
        "released, and the state without cpufreq",
        Duration::from_secs(5),
        || fan_alone(&recorded(&state)),
    );
    // The governor's episode records the governor alone: max-freq no longer writes.
    r.tree.ramp_temp_celsius(82.0).unwrap();
    let has = |name: &str| recorded(&state).iter().any(|s| s.starts_with(name));
    wait_until("the governor recorded", Duration::from_secs(5), || {
        has("scaling_governor = ")
    });
    assert!(!has("scaling_max_freq"), "{:?}", recorded(&state));
    std::fs::write(r.tree.scaling_max_freq_path(0), "1000000\n").unwrap();
    kill_and_restore(&mut r);
    assert_eq!(max_freq(&r.tree), 1_000_000, "the operator's value stays");
    assert_eq!(
        r.tree.governor(0).unwrap().trim(),
        "ondemand",
        "the governor throttle is undone"
    );
}
