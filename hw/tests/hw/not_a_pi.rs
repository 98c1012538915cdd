//! rppal-backed fans on a machine that is not a Raspberry Pi must fail with a clear error.

use warden_hw::{build, FanSpec, GpioFan, HwError};

use crate::util::fixture;

/// True when rppal cannot identify this board; always so on x86_64.
fn not_a_pi() -> bool {
    let unidentified = rppal::system::DeviceInfo::new().is_err();
    if cfg!(target_arch = "x86_64") {
        assert!(
            unidentified,
            "rppal identified an x86_64 machine as a Raspberry Pi"
        );
    }
    unidentified
}

#[test]
fn gpio_fails_with_not_a_raspberry_pi() {
    if !not_a_pi() {
        return;
    }
    let err = GpioFan::open(14, false).unwrap_err();
    assert!(
        matches!(err, HwError::NotRaspberryPi { driver: "gpio", .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("needs a Raspberry Pi") && message.contains("\"auto\""),
        "{message}"
    );
}

#[test]
fn every_rppal_driver_fails_the_same_way_through_build() {
    if !not_a_pi() {
        return;
    }
    let fx = fixture("not-a-pi");
    for (fan, driver) in [
        (
            FanSpec::Gpio {
                pin: 14,
                active_low: false,
            },
            "gpio",
        ),
        (FanSpec::pwm(0), "pwm"),
        (FanSpec::soft_pwm(14), "soft-pwm"),
    ] {
        match build(&fx.tree.spec(fan)) {
            Err(HwError::NotRaspberryPi { driver: d, .. }) => assert_eq!(d, driver),
            other => panic!("{driver}: expected NotRaspberryPi, got {other:?}"),
        }
    }
}

#[test]
fn bad_pwm_parameters_are_rejected_before_touching_hardware() {
    for (fan, field) in [
        (
            FanSpec::Pwm {
                channel: 0,
                frequency_hz: 0.0,
                min_duty: 0.2,
                active_low: false,
                kick: std::time::Duration::from_secs(1),
            },
            "fan.frequency_hz",
        ),
        (
            FanSpec::Pwm {
                channel: 0,
                frequency_hz: 25_000.0,
                min_duty: 1.5,
                active_low: false,
                kick: std::time::Duration::from_secs(1),
            },
            "fan.min_duty",
        ),
        (
            FanSpec::SoftPwm {
                pin: 14,
                frequency_hz: f64::NAN,
                min_duty: 0.2,
                active_low: false,
                kick: std::time::Duration::from_secs(1),
            },
            "fan.frequency_hz",
        ),
    ] {
        let fx = fixture("pwm-params");
        match build(&fx.tree.spec(fan)) {
            Err(HwError::InvalidSpec { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected InvalidSpec, got {other:?}"),
        }
    }
}
