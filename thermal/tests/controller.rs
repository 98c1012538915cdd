//! Controller thread tests over warden-hw's fakes: a 10 ms tick, waits
//! bounded by a generous deadline, no assertion on how fast anything is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use warden_hw::fake::{CpuFreqCall, FakeCpuFreq, FakeFailure, FakeFan, FakeSensor, FakeThrottle};
use warden_hw::ThrottleFlags;
use warden_thermal::{
    AdmissionDecision, Controller, ControllerConfig, ControllerError, ControllerHandle,
    CpuStrategy, FanOnExit, Level, PolicyConfig, SensorFaultCause, SharedSnapshot, ShedMode,
};

mod common;

use common::{reactive_policy, wait_until, DEADLINE};

const TICK: Duration = Duration::from_millis(10);

fn config(cpu_strategy: CpuStrategy, fan_on_exit: FanOnExit) -> ControllerConfig {
    ControllerConfig {
        interval: TICK,
        cpu_strategy,
        fan_on_exit,
    }
}

type Sent = Arc<Mutex<Vec<AdmissionDecision>>>;

struct Rig {
    sensor: FakeSensor,
    fan: FakeFan,
    cpu: FakeCpuFreq,
    sent: Sent,
    snapshot: Arc<SharedSnapshot>,
}

impl Rig {
    fn new(celsius: f64, fan: FakeFan) -> Self {
        Rig {
            sensor: FakeSensor::new(celsius),
            fan,
            cpu: FakeCpuFreq::pi4(),
            sent: Arc::default(),
            snapshot: Arc::new(SharedSnapshot::new()),
        }
    }

    fn controller(&self, policy: PolicyConfig) -> Controller {
        Controller::new(
            policy,
            Box::new(self.sensor.clone()),
            Box::new(self.fan.clone()),
        )
        .unwrap()
        .with_cpufreq(Box::new(self.cpu.clone()))
    }

    fn spawn_with(&self, controller: Controller, config: ControllerConfig) -> ControllerHandle {
        let sent = Arc::clone(&self.sent);
        let sink = Box::new(move |decision| sent.lock().unwrap().push(decision));
        let handle = controller
            .spawn(config, sink, Arc::clone(&self.snapshot))
            .unwrap();
        assert!(
            self.snapshot.wait_first_reading(DEADLINE),
            "no first reading"
        );
        handle
    }

    fn spawn(&self, config: ControllerConfig) -> ControllerHandle {
        self.spawn_with(self.controller(reactive_policy()), config)
    }

    fn sent(&self) -> Vec<AdmissionDecision> {
        self.sent.lock().unwrap().clone()
    }

    fn set_max_calls(&self) -> Vec<u64> {
        let calls = self.cpu.calls();
        calls
            .iter()
            .filter_map(|c| {
                if let CpuFreqCall::SetMax(k) = c {
                    Some(*k)
                } else {
                    None
                }
            })
            .collect()
    }
}

#[test]
fn first_reading_is_published_with_static_details() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let handle = rig.spawn(ControllerConfig {
        interval: TICK,
        ..ControllerConfig::default()
    });
    let snapshot = rig.snapshot.current();
    assert!(snapshot.ticks >= 1);
    assert_eq!(snapshot.temp_c, Some(45.0));
    assert_eq!(snapshot.sensor.description, "fake sensor");
    assert!(snapshot.sensor.healthy);
    assert_eq!(snapshot.fan.driver, "gpio");
    assert_eq!(snapshot.thresholds.shed.on_c, 75.0);
    let cpu = snapshot.cpu.expect("cpufreq configured");
    assert_eq!(
        (cpu.original_max_khz, cpu.original_governor.as_str()),
        (1_500_000, "ondemand")
    );
    assert!(!cpu.throttled);
    handle.stop().unwrap();
}

#[test]
fn rising_temperature_turns_the_fan_on_and_cooling_turns_it_off() {
    let rig = Rig::new(40.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Leave));
    assert_eq!(
        rig.fan.applied(),
        vec![0.0],
        "first tick writes the initial duty once"
    );
    rig.sensor.set_celsius(65.0);
    wait_until("the fan is on", || rig.fan.last_applied() == Some(1.0));
    wait_until("the level is fan", || {
        rig.snapshot.current().level == Level::Fan
    });
    rig.sensor.set_celsius(45.0);
    wait_until("the fan is off", || rig.fan.last_applied() == Some(0.0));
    handle.stop().unwrap();
    assert_eq!(
        rig.fan.applied(),
        vec![0.0, 1.0, 0.0],
        "writes only on change"
    );
    assert_eq!(
        rig.snapshot.current().fan.switches,
        2,
        "on and off both count; the first 0.0 does not"
    );
}

#[test]
fn throttle_steps_cpufreq_down_through_the_steps_and_back_up() {
    let rig = Rig::new(50.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Full));
    rig.sensor.set_celsius(82.0);
    wait_until("at the lowest step", || {
        rig.cpu.current_max_khz() == 600_000
    });
    wait_until("snapshot shows throttled", || {
        rig.snapshot.current().cpu.unwrap().throttled
    });
    rig.sensor.set_celsius(77.0);
    thread::sleep(TICK * 10);
    assert_eq!(
        rig.cpu.current_max_khz(),
        600_000,
        "holds in the hysteresis band"
    );
    rig.sensor.set_celsius(70.0);
    wait_until("back at the original", || {
        rig.cpu.current_max_khz() == 1_500_000
    });
    thread::sleep(TICK * 10);
    assert_eq!(
        rig.set_max_calls(),
        vec![1_000_000, 600_000, 1_000_000, 1_500_000]
    );
    assert!(!rig.snapshot.current().cpu.unwrap().throttled);
    handle.stop().unwrap();
}

#[test]
fn critical_goes_straight_to_the_minimum() {
    let rig = Rig::new(50.0, FakeFan::proportional());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Full));
    rig.sensor.set_celsius(86.0);
    wait_until("at the minimum", || rig.cpu.current_max_khz() == 600_000);
    assert_eq!(rig.set_max_calls(), vec![600_000]);
    assert_eq!(rig.fan.last_applied(), Some(1.0));
    handle.stop().unwrap();
}

#[test]
fn governor_strategy_switches_to_powersave_and_back() {
    let rig = Rig::new(50.0, FakeFan::on_off());
    let strategy = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    let handle = rig.spawn(config(strategy, FanOnExit::Full));
    rig.sensor.set_celsius(81.0);
    wait_until("powersave", || rig.cpu.current_governor() == "powersave");
    rig.sensor.set_celsius(60.0);
    wait_until("ondemand again", || {
        rig.cpu.current_governor() == "ondemand"
    });
    assert!(
        rig.set_max_calls().is_empty(),
        "the governor strategy leaves scaling_max_freq alone"
    );
    handle.stop().unwrap();
}

#[test]
fn failing_fan_write_is_counted_and_retried() {
    let rig = Rig::new(40.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::Off, FanOnExit::Leave));
    rig.fan.fail_next(3, FakeFailure::PermissionDenied);
    rig.sensor.set_celsius(70.0);
    wait_until("the fan is on", || rig.fan.last_applied() == Some(1.0));
    let calls = rig.fan.calls();
    let oks: Vec<bool> = calls.iter().map(|c| c.ok).collect();
    assert_eq!(
        oks,
        vec![true, false, false, false, true],
        "retried every tick until it worked"
    );
    assert!(calls[1..].iter().all(|c| c.duty == 1.0));
    wait_until("errors counted", || rig.snapshot.current().fan.errors == 3);
    assert_eq!(rig.snapshot.current().fan.duty, Some(1.0));
    handle.stop().unwrap();
}

#[test]
fn read_only_cpufreq_is_counted_and_never_fatal() {
    let rig = Rig::new(50.0, FakeFan::on_off());
    rig.cpu.fail_writes_always(FakeFailure::PermissionDenied);
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Full));
    rig.sensor.set_celsius(82.0);
    wait_until("several failed writes", || {
        rig.snapshot.current().cpu.unwrap().errors >= 3
    });
    assert_eq!(rig.cpu.current_max_khz(), 1_500_000);
    let calls = rig.set_max_calls();
    assert_eq!(
        calls[..2],
        [1_000_000, 600_000],
        "steps down as asked: a failed write may have reached some policies"
    );
    assert!(
        calls[2..].iter().all(|&k| k == 600_000),
        "then rewrites the lowest step every tick: {calls:?}"
    );
    assert!(!handle.is_finished());
    assert_eq!(rig.fan.last_applied(), Some(1.0), "the fan still works");
    assert!(
        matches!(handle.stop(), Err(ControllerError::RestoreFailed { .. })),
        "cpufreq was written (and failed), so its restore fails too"
    );
}

#[test]
fn stop_restores_cpufreq_and_sets_the_fan_to_its_exit_duty() {
    for (on_exit, expected) in [
        (FanOnExit::Full, Some(1.0)),
        (FanOnExit::Off, Some(0.0)),
        (FanOnExit::Leave, None),
    ] {
        let rig = Rig::new(82.0, FakeFan::proportional());
        let handle = rig.spawn(config(CpuStrategy::MaxFreq, on_exit));
        wait_until("throttled", || rig.cpu.current_max_khz() == 600_000);
        let calls_before = rig.fan.calls().len();
        handle.stop().unwrap();
        assert_eq!(rig.cpu.current_max_khz(), 1_500_000);
        assert_eq!(rig.cpu.calls().last(), Some(&CpuFreqCall::Restore));
        let exit_calls: Vec<f64> = rig.fan.calls()[calls_before..]
            .iter()
            .map(|c| c.duty)
            .collect();
        assert_eq!(
            exit_calls,
            expected.into_iter().collect::<Vec<_>>(),
            "{on_exit:?}"
        );
    }
}

#[test]
fn dropping_the_handle_restores_too() {
    let rig = Rig::new(82.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Off));
    wait_until("throttled", || rig.cpu.current_max_khz() < 1_500_000);
    drop(handle);
    assert_eq!(rig.cpu.current_max_khz(), 1_500_000);
    assert_eq!(rig.fan.last_applied(), Some(0.0));
}

#[test]
fn untouched_cpufreq_is_not_rewritten_on_stop() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Full));
    thread::sleep(TICK * 5);
    handle.stop().unwrap();
    assert!(!rig.cpu.calls().contains(&CpuFreqCall::Restore));
}

#[test]
fn a_panic_on_the_controller_thread_still_restores() {
    let rig = Rig::new(82.0, FakeFan::on_off());
    let controller = rig.controller(reactive_policy());
    let sink = Box::new(|_| panic!("deliberate panic in the admission sink"));
    let handle = controller
        .spawn(
            config(CpuStrategy::MaxFreq, FanOnExit::Off),
            sink,
            Arc::clone(&rig.snapshot),
        )
        .unwrap();
    wait_until("the thread ended", || handle.is_finished());
    assert!(matches!(handle.stop(), Err(ControllerError::Panicked)));
    // The first tick stepped down once before the sink panicked; unwinding put it back.
    assert_eq!(rig.set_max_calls(), vec![1_000_000]);
    assert_eq!(rig.cpu.current_max_khz(), 1_500_000);
    assert_eq!(rig.fan.last_applied(), Some(0.0));
}

#[test]
fn sensor_garbage_fails_safe_with_fan_full_and_recovers() {
    let rig = Rig::new(45.0, FakeFan::proportional());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Off));
    rig.sensor.fail_always(FakeFailure::Garbage);
    wait_until("sensor fault", || {
        rig.snapshot.current().level == Level::SensorFault
    });
    let snapshot = rig.snapshot.current();
    assert_eq!(rig.fan.last_applied(), Some(1.0));
    assert!(!snapshot.sensor.healthy);
    assert_eq!(snapshot.sensor.fault, Some(SensorFaultCause::ReadErrors));
    assert!(snapshot.sensor.total_errors >= 3);
    assert!(snapshot.sensor.last_error.unwrap().contains("garbage"));
    assert_eq!(snapshot.temp_c, None);
    assert!(rig.sent().is_empty(), "fan-full leaves admission open");

    rig.sensor.stop_failing();
    wait_until("recovered", || {
        rig.snapshot.current().level == Level::Normal
    });
    wait_until("fan back on the curve", || {
        rig.fan.last_applied() == Some(0.0)
    });
    assert!(rig.snapshot.current().sensor.healthy);
    handle.stop().unwrap();
}

#[test]
fn implausible_reading_fails_safe() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::Off, FanOnExit::Leave));
    rig.sensor.set_celsius(-273.0);
    wait_until("sensor fault", || {
        rig.snapshot.current().sensor.fault == Some(SensorFaultCause::Implausible)
    });
    assert_eq!(rig.fan.last_applied(), Some(1.0));
    handle.stop().unwrap();
}

#[test]
fn admission_sink_receives_shed_then_open_only_on_change() {
    let rig = Rig::new(40.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::Off, FanOnExit::Full));
    thread::sleep(TICK * 5);
    assert!(
        rig.sent().is_empty(),
        "the loop starts open: nothing to send"
    );
    rig.sensor.set_celsius(76.0);
    wait_until("shed sent", || !rig.sent().is_empty());
    rig.sensor.set_celsius(72.0);
    thread::sleep(TICK * 5);
    rig.sensor.set_celsius(65.0);
    wait_until("open sent", || rig.sent().len() >= 2);
    thread::sleep(TICK * 5);
    assert_eq!(
        rig.sent(),
        vec![
            AdmissionDecision::Shed {
                mode: ShedMode::Reject
            },
            AdmissionDecision::Open
        ]
    );
    handle.stop().unwrap();
}

#[test]
fn throttle_flags_are_read_at_most_every_two_seconds() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let flags = ThrottleFlags::from_raw(0x5_0005);
    let throttle = FakeThrottle::new(Some(flags));
    let controller = rig
        .controller(reactive_policy())
        .with_throttle_reader(Box::new(throttle.clone()));
    let handle = rig.spawn_with(controller, config(CpuStrategy::Off, FanOnExit::Full));
    thread::sleep(TICK * 30);
    assert_eq!(throttle.read_count(), 1);
    assert_eq!(rig.snapshot.current().throttle_flags, Some(flags));
    handle.stop().unwrap();
}

#[test]
fn history_records_one_sample_a_second_with_active_connections() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let active = Arc::new(AtomicU64::new(1234));
    let count = Arc::clone(&active);
    let controller = rig
        .controller(reactive_policy())
        .with_active_connections(Arc::new(move || count.load(Ordering::Relaxed)));
    let handle = rig.spawn_with(controller, config(CpuStrategy::Off, FanOnExit::Full));
    wait_until("two history samples", || rig.snapshot.history().len() >= 2);
    let history = rig.snapshot.history();
    assert!(history
        .iter()
        .all(|s| s.active_connections == 1234 && s.temp_c == Some(45.0)));
    let gap = history[1].uptime - history[0].uptime;
    assert!(
        gap >= Duration::from_millis(990),
        "samples are a second apart, got {gap:?}"
    );
    handle.stop().unwrap();
}

#[test]
fn the_fan_decides_whether_the_curve_is_used() {
    let rig = Rig::new(62.0, FakeFan::proportional());
    let handle = rig.spawn(config(CpuStrategy::Off, FanOnExit::Leave));
    assert_eq!(rig.fan.applied(), vec![0.5], "Pi 5 curve: 60 °C -> 50 %");
    assert!(rig.snapshot.current().fan.proportional);
    handle.stop().unwrap();
}

#[test]
fn bad_controller_config_is_refused_before_spawning() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let zero = ControllerConfig {
        interval: Duration::ZERO,
        ..ControllerConfig::default()
    };
    let result =
        rig.controller(reactive_policy())
            .spawn(zero, Box::new(|_| {}), Arc::clone(&rig.snapshot));
    assert!(matches!(result, Err(ControllerError::ZeroInterval)));
    let no_governor = config(
        CpuStrategy::Governor {
            powersave: " ".into(),
        },
        FanOnExit::Full,
    );
    let result = rig.controller(reactive_policy()).spawn(
        no_governor,
        Box::new(|_| {}),
        Arc::clone(&rig.snapshot),
    );
    assert!(matches!(result, Err(ControllerError::EmptyGovernor)));
    assert_eq!(rig.sensor.read_count(), 0);
}

#[test]
fn a_new_policy_applies_while_running_and_shows_in_the_snapshot() {
    let rig = Rig::new(72.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::Off, FanOnExit::Full));
    thread::sleep(TICK * 5);
    assert!(
        rig.sent().is_empty(),
        "72 °C is below the 75 °C shed threshold"
    );

    let mut lower = reactive_policy();
    lower.thresholds.shed.on_c = 70.0;
    lower.thresholds.shed.off_c = 65.0;
    handle.reconfigure(lower.clone()).unwrap();
    wait_until("shed sent under the new threshold", || {
        !rig.sent().is_empty()
    });
    assert_eq!(rig.snapshot.current().thresholds.shed.on_c, 70.0);

    let mut broken = lower;
    broken.thresholds.shed.off_c = 71.0;
    let error = handle.reconfigure(broken).unwrap_err();
    assert!(matches!(error, ControllerError::Policy(_)), "{error:?}");
    assert!(
        error.to_string().contains("running thermal policy stays"),
        "{error}"
    );
    handle.stop().unwrap();
}

#[test]
fn a_retune_switches_the_cpu_strategy_and_throttles_again_the_new_way() {
    let rig = Rig::new(50.0, FakeFan::on_off());
    let handle = rig.spawn(config(CpuStrategy::MaxFreq, FanOnExit::Full));
    rig.sensor.set_celsius(81.0);
    wait_until("max-freq throttling", || {
        rig.cpu.current_max_khz() < 1_500_000
    });

    let powersave = CpuStrategy::Governor {
        powersave: "powersave".into(),
    };
    handle.retune(TICK, powersave.clone()).unwrap();
    wait_until("the governor way", || {
        rig.cpu.current_governor() == "powersave"
    });
    assert_eq!(
        rig.cpu.current_max_khz(),
        1_500_000,
        "the max-freq cap is put back before switching"
    );
    let cpu = rig.snapshot.current().cpu.expect("cpufreq configured");
    assert_eq!((cpu.strategy, cpu.throttled), ("governor", true));

    rig.sensor.set_celsius(60.0);
    wait_until("ondemand again", || {
        rig.cpu.current_governor() == "ondemand"
    });
    handle.retune(TICK, CpuStrategy::Off).unwrap();
    rig.sensor.set_celsius(86.0);
    thread::sleep(TICK * 10);
    assert_eq!(
        (rig.cpu.current_max_khz(), rig.cpu.current_governor()),
        (1_500_000, "ondemand".to_owned()),
        "strategy off leaves cpufreq alone even when critical"
    );
    handle.stop().unwrap();
}

#[test]
fn a_retune_to_a_short_interval_does_not_wait_out_the_long_one() {
    let rig = Rig::new(45.0, FakeFan::on_off());
    let hourly = ControllerConfig {
        interval: Duration::from_secs(3600),
        ..config(CpuStrategy::Off, FanOnExit::Full)
    };
    let handle = rig.spawn(hourly);
    assert_eq!(rig.snapshot.current().ticks, 1);
    assert!(matches!(
        handle.retune(Duration::ZERO, CpuStrategy::Off),
        Err(ControllerError::ZeroInterval)
    ));
    handle.retune(TICK, CpuStrategy::Off).unwrap();
    wait_until("ticking every 10 ms", || rig.snapshot.current().ticks >= 5);
    handle.stop().unwrap();
}
