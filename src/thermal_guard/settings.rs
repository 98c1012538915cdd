//! The config seen the way warden-hw and warden-thermal take it: the hardware to open
//! (`[hardware]`, the sensor, `[fan]`, `[cpufreq]`), the policy (`[thermal]` and the fan
//! law), and the controller thread's settings. Start-up and every reload go through here,
//! so a reload compares like with like.

use warden_hw::{FanSpec, HardwareSpec, SensorSpec};
use warden_thermal::{ControllerConfig, CpuStrategy, FanOnExit, PolicyConfig};

use crate::config::{self, Config};

/// warden-hw's view of `[hardware]`, `[thermal]` sensor, `[fan]` and `[cpufreq]`.
pub fn hardware_spec(config: &Config) -> HardwareSpec {
    let fan = &config.fan;
    let pin = fan.pin.unwrap_or_default();
    HardwareSpec {
        sysfs_root: config.hardware.sysfs_root.clone(),
        sensor: match &config.thermal.sensor {
            config::SensorSelection::Auto => SensorSpec::Auto,
            config::SensorSelection::Path(path) => SensorSpec::Path(path.clone()),
        },
        fan: match fan.driver {
            config::FanDriver::Auto => FanSpec::Auto,
            config::FanDriver::Disabled => FanSpec::None,
            config::FanDriver::Gpio => FanSpec::Gpio {
                pin,
                active_low: fan.active_low,
            },
            config::FanDriver::Pwm => FanSpec::Pwm {
                channel: fan.pwm_channel,
                frequency_hz: fan.pwm_frequency_hz,
                min_duty: fan.min_duty,
                active_low: fan.active_low,
                kick: fan.kick,
            },
            config::FanDriver::SoftPwm => FanSpec::SoftPwm {
                pin,
                frequency_hz: fan.pwm_frequency_hz,
                min_duty: fan.min_duty,
                active_low: fan.active_low,
                kick: fan.kick,
            },
            config::FanDriver::Hwmon => FanSpec::Hwmon {
                path: fan.path.clone(),
            },
            config::FanDriver::File => FanSpec::File {
                path: fan.path.clone().unwrap_or_default(),
            },
        },
        cpufreq_enabled: config.cpufreq.strategy != config::CpuFreqStrategy::Off,
        powersave_governor: (config.cpufreq.strategy == config::CpuFreqStrategy::Governor)
            .then(|| config.cpufreq.powersave_governor.clone()),
        throttle_flags_enabled: true,
    }
}

/// warden-thermal's view of `[thermal]` and the fan law of `[fan]`.
pub fn policy_config(config: &Config) -> PolicyConfig {
    let t = &config.thermal;
    let stage = |s: config::StageThresholds| warden_thermal::StageThresholds {
        on_c: s.on_c,
        off_c: s.off_c,
    };
    PolicyConfig {
        thresholds: warden_thermal::Thresholds {
            fan: stage(t.fan),
            shed: stage(t.shed),
            throttle: stage(t.throttle),
            critical: stage(t.critical),
        },
        filter_tau_s: t.filter_tau_s,
        trend_window_s: t.trend_window_s,
        horizon_s: t.horizon_s,
        shed_mode: match t.shed_mode {
            config::ShedMode::Reject => warden_thermal::ShedMode::Reject,
            config::ShedMode::Pause => warden_thermal::ShedMode::Pause,
        },
        fan_min_on_s: config.fan.min_on.as_secs_f64(),
        fan_min_off_s: config.fan.min_off.as_secs_f64(),
        fan_curve: config
            .fan
            .curve
            .iter()
            .map(|p| warden_thermal::CurvePoint {
                temp_c: p.temp_c,
                duty: p.duty,
            })
            .collect(),
        fan_curve_backoff_c: config.fan.curve_hysteresis_c,
        stuck_s: t.stuck_after.map_or(0.0, |d| d.as_secs_f64()),
        max_step_c: t.max_step_c,
        on_sensor_fault: match t.on_sensor_fault {
            config::OnSensorFault::FanFull => warden_thermal::OnSensorFault::FanFull,
            config::OnSensorFault::FanFullAndShed => warden_thermal::OnSensorFault::FanFullAndShed,
        },
        ..PolicyConfig::default()
    }
}

/// The controller thread's settings.
pub fn controller_config(config: &Config) -> ControllerConfig {
    ControllerConfig {
        interval: config.thermal.interval,
        cpu_strategy: match config.cpufreq.strategy {
            config::CpuFreqStrategy::MaxFreq => CpuStrategy::MaxFreq,
            config::CpuFreqStrategy::Governor => CpuStrategy::Governor {
                powersave: config.cpufreq.powersave_governor.clone(),
            },
            config::CpuFreqStrategy::Off => CpuStrategy::Off,
        },
        fan_on_exit: fan_on_exit(config.fan.on_exit),
    }
}

/// warden-thermal's fan state at exit for `fan.on_exit`.
pub(super) fn fan_on_exit(action: config::FanExitAction) -> FanOnExit {
    match action {
        config::FanExitAction::Full => FanOnExit::Full,
        config::FanExitAction::Off => FanOnExit::Off,
        config::FanExitAction::Leave => FanOnExit::Leave,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_maps_onto_valid_policy_and_controller_settings() {
        let config = Config::default();
        let policy = policy_config(&config);
        policy.validate().expect("defaults form a valid policy");
        assert_eq!(policy.thresholds.shed.on_c, 75.0);
        assert_eq!(policy.thresholds.fan.off_c, 50.0);
        assert_eq!(policy.fan_curve.len(), 4);
        let controller = controller_config(&config);
        assert_eq!(controller.interval, std::time::Duration::from_millis(500));
        assert_eq!(controller.cpu_strategy, CpuStrategy::MaxFreq);
        assert_eq!(controller.fan_on_exit, FanOnExit::Full);
        assert_eq!(hardware_spec(&config).fan, FanSpec::Auto);
        assert_eq!(hardware_spec(&config).powersave_governor, None);
    }

    #[test]
    fn the_governor_strategy_asks_the_factory_to_check_its_governor() {
        let config = Config::from_toml_str(
            "[cpufreq]\nstrategy = \"governor\"\npowersave_governor = \"conservative\"\n",
        )
        .unwrap();
        assert_eq!(
            hardware_spec(&config).powersave_governor.as_deref(),
            Some("conservative")
        );
    }

    #[test]
    fn a_changed_threshold_reaches_the_policy() {
        let config = Config::from_toml_str(
            "[thermal]\nshed_on_c = 72.0\nshed_off_c = 66.0\nshed_mode = \"pause\"\n",
        )
        .unwrap();
        let policy = policy_config(&config);
        assert_eq!(policy.thresholds.shed.on_c, 72.0);
        assert_eq!(policy.thresholds.shed.off_c, 66.0);
        assert_eq!(policy.shed_mode, warden_thermal::ShedMode::Pause);
    }
}
