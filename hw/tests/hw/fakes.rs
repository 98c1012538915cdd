//! The fakes record every call and fail on demand.

use warden_hw::fake::{
    CpuFreqCall, FakeCpuFreq, FakeFailure, FakeFan, FakeSensor, FakeThrottle, FanCall,
};
use warden_hw::{CpuFreq, Fan, HwError, TempSensor, ThrottleFlags, ThrottleReader};

#[test]
fn the_sensor_plays_failures_then_script_then_current() {
    let handle = FakeSensor::new(40.0);
    let mut sensor: Box<dyn TempSensor> = Box::new(handle.clone());
    handle.script([Ok(50.0), Err(FakeFailure::Garbage), Ok(52.0)]);
    handle.fail_next(1, FakeFailure::Transient);
    assert!(sensor.read_celsius().unwrap_err().is_transient());
    assert_eq!(sensor.read_celsius().unwrap(), 50.0);
    assert!(matches!(sensor.read_celsius(), Err(HwError::Parse { .. })));
    assert_eq!(sensor.read_celsius().unwrap(), 52.0);
    assert_eq!(
        sensor.read_celsius().unwrap(),
        52.0,
        "last scripted value sticks"
    );
    handle.fail_always(FakeFailure::NotFound);
    assert!(matches!(
        sensor.read_celsius(),
        Err(HwError::NotFound { .. })
    ));
    assert!(matches!(
        sensor.read_celsius(),
        Err(HwError::NotFound { .. })
    ));
    handle.stop_failing();
    handle.set_celsius(60.0);
    assert_eq!(sensor.read_celsius().unwrap(), 60.0);
    assert_eq!(handle.read_count(), 8);
    assert_eq!(handle.reads()[0], Err(FakeFailure::Transient));
}

#[test]
fn the_fan_records_calls_and_applies_only_successes() {
    let handle = FakeFan::on_off();
    let mut fan: Box<dyn Fan> = Box::new(handle.clone());
    assert_eq!((fan.driver(), fan.is_proportional()), ("gpio", false));
    fan.set_duty(1.0).unwrap();
    handle.fail_next(1, FakeFailure::Io);
    assert!(matches!(fan.set_duty(0.0), Err(HwError::Io { .. })));
    assert!(matches!(
        fan.set_duty(2.0),
        Err(HwError::InvalidDuty { .. })
    ));
    fan.set_duty(0.0).unwrap();
    assert_eq!(
        handle.calls(),
        vec![
            FanCall {
                duty: 1.0,
                ok: true
            },
            FanCall {
                duty: 0.0,
                ok: false
            },
            FanCall {
                duty: 2.0,
                ok: false
            },
            FanCall {
                duty: 0.0,
                ok: true
            }
        ]
    );
    assert_eq!(handle.applied(), vec![1.0, 0.0]);
    assert_eq!(handle.last_applied(), Some(0.0));
}

#[test]
fn cpufreq_write_failures_change_nothing_and_reads_fail_separately() {
    let handle = FakeCpuFreq::new(vec![1_500_000, 600_000, 1_000_000], 1_500_000, "ondemand");
    let mut cpufreq: Box<dyn CpuFreq> = Box::new(handle.clone());
    assert_eq!(cpufreq.steps_khz(), &[600_000, 1_000_000, 1_500_000]);
    handle.fail_writes_always(FakeFailure::PermissionDenied);
    assert!(matches!(
        cpufreq.set_max_khz(600_000),
        Err(HwError::PermissionDenied { .. })
    ));
    assert_eq!(cpufreq.max_khz().unwrap(), 1_500_000, "reads still work");
    handle.stop_failing();
    cpufreq.set_max_khz(1_000_000).unwrap();
    cpufreq.set_governor("powersave").unwrap();
    handle.fail_reads_next(1, FakeFailure::Transient);
    assert!(cpufreq.governor().unwrap_err().is_transient());
    assert_eq!(cpufreq.governor().unwrap(), "powersave");
    cpufreq.restore().unwrap();
    assert_eq!(
        (handle.current_max_khz(), handle.current_governor()),
        (1_500_000, "ondemand".into())
    );
    assert_eq!(
        handle.calls(),
        vec![
            CpuFreqCall::SetMax(600_000),
            CpuFreqCall::ReadMax,
            CpuFreqCall::SetMax(1_000_000),
            CpuFreqCall::SetGovernor("powersave".into()),
            CpuFreqCall::ReadGovernor,
            CpuFreqCall::ReadGovernor,
            CpuFreqCall::Restore,
        ]
    );
}

#[test]
fn the_throttle_fake_returns_what_it_is_set_to() {
    let handle = FakeThrottle::new(None);
    let mut reader: Box<dyn ThrottleReader> = Box::new(handle.clone());
    assert_eq!(reader.read().unwrap(), None);
    handle.set(Some(ThrottleFlags::from_raw(0x4)));
    assert!(reader.read().unwrap().unwrap().throttled);
    handle.fail_next(1, FakeFailure::Garbage);
    assert!(reader.read().is_err());
    assert_eq!(handle.read_count(), 3);
}
