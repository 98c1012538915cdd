//! The cpufreq actuator when writes fail, on the real sysfs backend over a fake tree
//! whose policy1 cannot be written: a throttle that reached only policy0 is neither taken
//! for the original nor left in place, and write failures are logged on their own, not
//! hidden behind failing status reads. Waits are bounded by a generous deadline; nothing
//! asserts how fast anything is.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use log::LevelFilter;
use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::fake::{FakeCpuFreq, FakeFailure, FakeFan, FakeSensor};
use warden_hw::fake_sysfs::{FakeSysfsLayout, FakeSysfsTree};
use warden_hw::SysfsCpuFreq;
use warden_thermal::{ControllerConfig, ControllerHandle, CpuStrategy, FanOnExit, SharedSnapshot};

mod common;

use common::capture_log::{capture_at, messages};
use common::{reactive_policy, spawn_controller, wait_until};

/// The target of the actuators' log lines (their module path).
const ACTUATORS_TARGET: &str = "warden_thermal::actuators::cpu";

/// A fake two-policy tree in its own temp dir, removed on drop (after the tree, which
/// clears the immutable flags it set).
struct TwoPolicies {
    tree: Option<FakeSysfsTree>,
    dir: PathBuf,
}

impl TwoPolicies {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir()
            .join("warden-thermal-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let layout = FakeSysfsLayout {
            policies: 2,
            ..Default::default()
        };
        let tree = FakeSysfsTree::create_with(&dir, &layout).unwrap();
        TwoPolicies {
            tree: Some(tree),
            dir,
        }
    }

    fn tree(&self) -> &FakeSysfsTree {
        self.tree.as_ref().unwrap()
    }

    /// A max-freq controller heated to 82 °C until both policies sit at 600 MHz.
    fn spawn_at_minimum(&self) -> (FakeSensor, ControllerHandle, Arc<SharedSnapshot>) {
        let sensor = FakeSensor::new(50.0);
        let (handle, snapshot) = self.spawn(CpuStrategy::MaxFreq, &sensor);
        sensor.set_celsius(82.0);
        wait_until("both policies capped", || {
            (0..2).all(|p| self.tree().scaling_max_freq(p).unwrap() == 600_000)
        });
        (sensor, handle, snapshot)
    }

    /// A controller over the tree's real cpufreq at 50 °C, ticking every 10 ms.
    fn spawn(
        &self,
        strategy: CpuStrategy,
        sensor: &FakeSensor,
    ) -> (ControllerHandle, Arc<SharedSnapshot>) {
        let cpufreq = SysfsCpuFreq::open(self.tree().root()).unwrap();
        let config = ControllerConfig {
            interval: Duration::from_millis(10),
            cpu_strategy: strategy,
            fan_on_exit: FanOnExit::Full,
        };
        spawn_controller(
            reactive_policy(),
            Box::new(sensor.clone()),
            Box::new(FakeFan::on_off()),
            Box::new(cpufreq),
            config,
        )
    }
}

impl Drop for TwoPolicies {
    fn drop(&mut self) {
        drop(self.tree.take());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_throttle_that_reached_only_policy0_is_undone_when_it_cools() {
    let fx = TwoPolicies::new("cpufreq-partial-max");
    let blocked = fx.tree().scaling_max_freq_path(1);
    fx.tree().make_unwritable(&blocked);
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor);
    sensor.set_celsius(82.0);
    wait_until("policy0 capped", || {
        fx.tree().scaling_max_freq(0).unwrap() < 1_500_000
    });
    wait_until("reported throttled while policy0 is capped", || {
        snapshot.current().cpu.unwrap().throttled
    });
    sensor.set_celsius(50.0);
    wait_until("policy0 back at its original", || {
        fx.tree().scaling_max_freq(0).unwrap() == 1_500_000
    });
    // policy1 still refuses, but holds the original asked for: the release is complete.
    wait_until("reported released", || {
        let cpu = snapshot.current().cpu.unwrap();
        !cpu.throttled && cpu.max_khz == Some(1_500_000)
    });
    handle
        .stop()
        .expect("policy1, never changed, needs nothing put back");
    assert_eq!(fx.tree().scaling_max_freq(1).unwrap(), 1_500_000);
}

/// Longer than the controller's period between status reads of cpufreq.
const STATUS_READ_WAIT: Duration =
    warden_thermal::controller::THROTTLE_FLAGS_PERIOD.saturating_add(Duration::from_millis(500));

#[test]
fn a_policy_left_capped_keeps_the_status_throttled_at_its_cap() {
    let fx = TwoPolicies::new("cpufreq-stuck-capped");
    let (sensor, handle, snapshot) = fx.spawn_at_minimum();
    let stuck = fx.tree().scaling_max_freq_path(1);
    fx.tree().make_unwritable(&stuck);
    sensor.set_celsius(50.0);
    wait_until("policy0 back at its original", || {
        fx.tree().scaling_max_freq(0).unwrap() == 1_500_000
    });
    // Past a status read, which reads policy0 back at 1500000.
    std::thread::sleep(STATUS_READ_WAIT);
    let cpu = snapshot.current().cpu.unwrap();
    assert!(
        cpu.throttled && cpu.max_khz == Some(600_000) && cpu.errors > 0,
        "policy1 still holds 600000: {cpu:?}"
    );
    fx.tree().make_writable(&stuck).unwrap();
    wait_until("released once policy1 takes the write", || {
        let cpu = snapshot.current().cpu.unwrap();
        !cpu.throttled && cpu.max_khz == Some(1_500_000)
    });
    handle.stop().unwrap();
    assert_eq!(fx.tree().scaling_max_freq(1).unwrap(), 1_500_000);
}

#[test]
fn a_throttle_no_policy_takes_shows_the_cap_they_hold_not_the_one_asked_for() {
    let fx = TwoPolicies::new("cpufreq-refused-everywhere");
    for policy in 0..2 {
        fx.tree()
            .make_unwritable(&fx.tree().scaling_max_freq_path(policy));
    }
    let sensor = FakeSensor::new(50.0);
    let (handle, snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor);
    sensor.set_celsius(82.0);
    // Asked down to 600 MHz over a few ticks, refused each time.
    wait_until("several refused writes", || {
        snapshot.current().cpu.unwrap().errors >= 5
    });
    let cpu = snapshot.current().cpu.unwrap();
    assert_eq!(
        cpu.max_khz,
        Some(1_500_000),
        "every policy still runs at its original: {cpu:?}"
    );
    assert!(
        cpu.throttled,
        "a throttle is asked for and in doubt: {cpu:?}"
    );
    sensor.set_celsius(50.0);
    for policy in 0..2 {
        fx.tree()
            .make_writable(&fx.tree().scaling_max_freq_path(policy))
            .unwrap();
    }
    wait_until("released", || !snapshot.current().cpu.unwrap().throttled);
    handle.stop().unwrap();
}

#[test]
fn a_cap_the_old_strategy_could_not_put_back_ends_with_the_new_one_s_release() {
    let fx = TwoPolicies::new("cpufreq-switch-unrestored");
    let (sensor, handle, snapshot) = fx.spawn_at_minimum();
    // A reload to the governor strategy while policy1's cap cannot be put back.
    let stuck = fx.tree().scaling_max_freq_path(1);
    fx.tree().make_unwritable(&stuck);
    let powersave = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    handle.retune(Duration::from_millis(10), powersave).unwrap();
    wait_until("throttled the new way", || {
        fx.tree().governor(0).unwrap() == "powersave"
    });
    fx.tree().make_writable(&stuck).unwrap();
    sensor.set_celsius(50.0);
    // The governor's release puts everything back, policy1's cap included: the CPU is
    // unthrottled, not reported throttled for the rest of the run.
    wait_until("released whole", || {
        let cpu = snapshot.current().cpu.unwrap();
        !cpu.throttled && cpu.max_khz == Some(1_500_000)
    });
    assert_eq!(fx.tree().scaling_max_freq(1).unwrap(), 1_500_000);
    assert_eq!(fx.tree().governor(0).unwrap(), "ondemand");
    handle.stop().unwrap();
}

#[test]
fn a_powersave_switch_that_reached_only_policy0_is_undone_when_it_cools() {
    let fx = TwoPolicies::new("cpufreq-partial-governor");
    let blocked = fx.tree().policy_dir(1).join("scaling_governor");
    fx.tree().make_unwritable(&blocked);
    let sensor = FakeSensor::new(50.0);
    let strategy = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    let (handle, snapshot) = fx.spawn(strategy, &sensor);
    sensor.set_celsius(82.0);
    wait_until("policy0 in powersave", || {
        fx.tree().governor(0).unwrap() == "powersave"
    });
    wait_until("reported throttled", || {
        snapshot.current().cpu.unwrap().throttled
    });
    sensor.set_celsius(50.0);
    wait_until("policy0 back on its original governor", || {
        fx.tree().governor(0).unwrap() == "ondemand"
    });
    fx.tree().make_writable(&blocked).unwrap();
    handle.stop().unwrap();
    assert_eq!(
        fx.tree().scaling_max_freq(0).unwrap(),
        1_500_000,
        "the governor strategy leaves scaling_max_freq alone"
    );
}

#[test]
fn a_write_failure_is_logged_even_while_read_failures_are() {
    let _log = capture_at(LevelFilter::Warn);
    let sensor = FakeSensor::new(50.0);
    let cpu = FakeCpuFreq::pi4();
    cpu.fail_reads_always(FakeFailure::Io);
    let config = ControllerConfig {
        interval: Duration::from_millis(10),
        ..ControllerConfig::default()
    };
    let (handle, _snapshot) = spawn_controller(
        reactive_policy(),
        Box::new(sensor.clone()),
        Box::new(FakeFan::on_off()),
        Box::new(cpu.clone()),
        config,
    );
    wait_until("a read failure logged", || {
        !messages(ACTUATORS_TARGET, "cpufreq: could not read").is_empty()
    });
    cpu.fail_writes_always(FakeFailure::PermissionDenied);
    sensor.set_celsius(82.0);
    wait_until(
        "the write failure logged within the read failure's minute",
        || !messages(ACTUATORS_TARGET, "cpufreq: could not set scaling_max_freq").is_empty(),
    );
    cpu.stop_failing();
    handle.stop().unwrap();
}

#[test]
fn each_strategy_names_the_files_it_writes() {
    assert_eq!(CpuStrategy::MaxFreq.files(), CpuFreqFiles::MAX_FREQ);
    let governor = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    assert_eq!(governor.files(), CpuFreqFiles::GOVERNOR);
    assert_eq!(CpuStrategy::Off.files(), CpuFreqFiles::NONE);
}

#[test]
fn a_restore_failing_on_both_policies_names_both_settings() {
    let fx = TwoPolicies::new("cpufreq-restore-both-policies");
    let (_sensor, handle, _snapshot) = fx.spawn_at_minimum();
    let paths = [
        fx.tree().scaling_max_freq_path(0),
        fx.tree().scaling_max_freq_path(1),
    ];
    for path in &paths {
        fx.tree().make_unwritable(path);
    }
    let what = match handle.stop() {
        Err(warden_thermal::ControllerError::RestoreFailed { what }) => what,
        other => panic!("expected RestoreFailed, got {other:?}"),
    };
    assert_eq!(
        what,
        format!(
            "{} = 1500000 and {} = 1500000",
            paths[0].display(),
            paths[1].display()
        )
    );
}

#[test]
fn each_cap_change_is_logged_in_words() {
    let _log = capture_at(LevelFilter::Info);
    let fx = TwoPolicies::new("cpufreq-log-words");
    let sensor = FakeSensor::new(50.0);
    let (handle, _snapshot) = fx.spawn(CpuStrategy::MaxFreq, &sensor);
    sensor.set_celsius(82.0);
    wait_until("capped", || {
        fx.tree().scaling_max_freq(0).unwrap() < 1_500_000
    });
    sensor.set_celsius(50.0);
    wait_until("back", || {
        fx.tree().scaling_max_freq(0).unwrap() == 1_500_000
    });
    handle.stop().unwrap();
    let lines = messages(ACTUATORS_TARGET, "cpufreq: scaling_max_freq");
    assert!(
        lines.iter().any(|l| l.ends_with("kHz (one step down)"))
            && lines.iter().any(|l| l.ends_with("kHz (one step up)")),
        "{lines:?}"
    );
}
