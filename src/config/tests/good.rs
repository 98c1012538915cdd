//! Input that must be accepted, and what it must turn into.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::config_of;
use crate::config::defaults::*;
use crate::config::*;

#[test]
fn empty_text_is_the_default_config() {
    assert_eq!(config_of(""), Config::default());
    assert_eq!(config_of("# nothing but a comment\n"), Config::default());
}

#[test]
fn default_config_matches_the_documented_constants() {
    let config = Config::default();
    assert_eq!(
        config.server.listen,
        vec!["0.0.0.0:7000".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(config.server.backlog, 4096);
    assert_eq!(config.server.max_connections, 16_384);
    assert_eq!(config.server.at_capacity, AtCapacity::Pause);
    assert_eq!(config.server.idle_timeout, Some(Duration::from_secs(300)));
    assert_eq!(config.thermal.interval, Duration::from_millis(500));
    assert_eq!(config.thermal.sensor, SensorSelection::Auto);
    assert_eq!(
        config.thermal.fan,
        StageThresholds {
            on_c: 60.0,
            off_c: 50.0
        }
    );
    assert_eq!(
        config.thermal.critical,
        StageThresholds {
            on_c: 85.0,
            off_c: 80.0
        }
    );
    assert_eq!(config.thermal.stuck_after, Some(Duration::from_secs(600)));
    assert_eq!(config.fan.driver, FanDriver::Auto);
    assert_eq!(config.fan.pin, None);
    assert_eq!(config.fan.curve.len(), 4);
    assert_eq!(
        config.fan.curve[2],
        CurvePoint {
            temp_c: 67.5,
            duty: 0.70
        }
    );
    assert_eq!(config.fan.kick, Duration::from_secs(1));
    assert_eq!(config.cpufreq.powersave_governor, "powersave");
    assert_eq!(config.hardware.sysfs_root, PathBuf::from("/"));
    assert_eq!(config.hardware.state_dir, PathBuf::from("/run/warden"));
    assert_eq!(
        config.status.listen,
        "127.0.0.1:9181".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.status.request_timeout, Duration::from_secs(2));
    assert_eq!(config.log.level.level_filter(), log::LevelFilter::Info);
}

#[test]
fn partial_file_fills_every_other_key_with_its_default() {
    let config = config_of("[server]\nbacklog = 128\n[thermal]\nshed_mode = \"pause\"\n");
    let mut expected = Config::default();
    expected.server.backlog = 128;
    expected.thermal.shed_mode = ShedMode::Pause;
    assert_eq!(config, expected);
}

#[test]
fn empty_sections_take_defaults() {
    let text = "[server]\n[thermal]\n[fan]\n[cpufreq]\n[hardware]\n[status]\n[log]\n";
    assert_eq!(config_of(text), Config::default());
}

#[test]
fn ipv4_and_ipv6_listeners_are_kept_in_order() {
    let config =
        config_of("[server]\nlisten = [\"[::]:7000\", \"0.0.0.0:7000\", \"127.0.0.1:0\"]\n");
    let expected: Vec<SocketAddr> = ["[::]:7000", "0.0.0.0:7000", "127.0.0.1:0"]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect();
    assert_eq!(config.server.listen, expected);
}

#[test]
fn an_ipv6_only_service_wildcard_leaves_the_ipv4_status_port_free() {
    let config = config_of(
        "[server]\nlisten = [\"[::]:9181\", \"127.0.0.1:7000\", \"[::1]:7000\"]\n\
         [status]\nlisten = \"127.0.0.1:9181\"\n",
    );
    assert_eq!(config.status.listen.to_string(), "127.0.0.1:9181");
}

#[test]
fn zero_means_off_for_optional_timers() {
    let config =
        config_of("[server]\nidle_timeout_s = 0\n[thermal]\nstuck_s = 0\nmax_step_c = 0\n[fan]\nkick_ms = 0\n");
    assert_eq!(config.server.idle_timeout, None);
    assert_eq!(config.thermal.stuck_after, None);
    assert_eq!(config.thermal.max_step_c, 0.0);
    assert_eq!(config.fan.kick, Duration::ZERO);
}

#[test]
fn integers_are_accepted_where_numbers_are_expected() {
    let config =
        config_of("[thermal]\nfan_on_c = 65\nhorizon_s = 0\n[fan]\ncurve = [[40, 0], [70, 1]]\n");
    assert_eq!(config.thermal.fan.on_c, 65.0);
    assert_eq!(config.thermal.horizon_s, 0.0);
    assert_eq!(
        config.fan.curve,
        vec![
            CurvePoint {
                temp_c: 40.0,
                duty: 0.0
            },
            CurvePoint {
                temp_c: 70.0,
                duty: 1.0
            }
        ]
    );
}

#[test]
fn range_bounds_are_inclusive() {
    let config = config_of(
        "[server]\nbacklog = 65535\nmax_connections = 1000000\nmax_pending_bytes = 1024\n\
         read_buffer_bytes = 4194304\nidle_timeout_s = 604800\ndrain_timeout_s = 0\n\
         [thermal]\ninterval_ms = 50\ntrend_window_s = 1\n[fan]\npin = 27\npwm_channel = 1\nmin_duty = 1\n\
         [status]\nworkers = 64\nrequest_timeout_ms = 100\n",
    );
    assert_eq!(config.server.backlog, 65_535);
    assert_eq!(config.server.max_connections, 1_000_000);
    assert_eq!(config.server.drain_timeout, Duration::ZERO);
    assert_eq!(config.thermal.interval, Duration::from_millis(50));
    assert_eq!(config.fan.pin, Some(27));
    assert_eq!(config.status.workers, 64);
}

#[test]
fn sensor_path_is_kept_as_written() {
    let config = config_of("[thermal]\nsensor = \"/sys/class/hwmon/hwmon0/temp1_input\"\n");
    assert_eq!(
        config.thermal.sensor,
        SensorSelection::Path(PathBuf::from("/sys/class/hwmon/hwmon0/temp1_input"))
    );
}

#[test]
fn gpio_and_file_drivers_accept_their_required_keys() {
    let gpio = config_of("[fan]\ndriver = \"gpio\"\npin = 14\nactive_low = true\n");
    assert_eq!(
        (gpio.fan.driver, gpio.fan.pin, gpio.fan.active_low),
        (FanDriver::Gpio, Some(14), true)
    );
    let file = config_of("[fan]\ndriver = \"file\"\npath = \"/tmp/fan\"\n");
    assert_eq!(
        (file.fan.driver, file.fan.path),
        (FanDriver::File, Some(PathBuf::from("/tmp/fan")))
    );
}

#[test]
fn soft_pwm_gets_its_own_frequency_default() {
    let soft = config_of("[fan]\ndriver = \"soft-pwm\"\npin = 18\n");
    assert_eq!(soft.fan.pwm_frequency_hz, DEFAULT_SOFT_PWM_FREQUENCY_HZ);
    let hardware = config_of("[fan]\ndriver = \"pwm\"\n");
    assert_eq!(hardware.fan.pwm_frequency_hz, DEFAULT_PWM_FREQUENCY_HZ);
}

#[test]
fn status_may_share_a_port_when_disabled_or_on_another_ip() {
    let disabled =
        config_of("[server]\nlisten = [\"127.0.0.1:9181\"]\n[status]\nenabled = false\n");
    assert!(!disabled.status.enabled);
    let other_ip = config_of("[server]\nlisten = [\"127.0.0.2:9181\"]\n");
    assert_eq!(other_ip.status.listen.port(), 9181);
    let port_zero =
        config_of("[server]\nlisten = [\"127.0.0.1:0\"]\n[status]\nlisten = \"127.0.0.1:0\"\n");
    assert_eq!(port_zero.status.listen.port(), 0);
}

/// Parses `[section]\nkey = "spelling"` for every spelling and returns what each became.
fn every_spelling<T: Copy>(
    section: &str,
    key: &str,
    choices: &[(&str, T)],
    read: fn(&Config) -> T,
) -> Vec<(String, T)> {
    choices
        .iter()
        .map(|(spelling, _)| {
            // gpio and soft-pwm need a pin, file needs a path.
            let extra = if key == "driver" {
                "pin = 4\npath = \"/tmp/fan\"\n"
            } else {
                ""
            };
            let config = config_of(&format!("[{section}]\n{key} = \"{spelling}\"\n{extra}"));
            (spelling.to_string(), read(&config))
        })
        .collect()
}

#[test]
fn every_choice_spelling_parses_to_its_variant() {
    fn check<T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display>(results: Vec<(String, T)>) {
        for (spelling, value) in results {
            assert_eq!(
                value.to_string(),
                spelling,
                "{spelling:?} parsed to {value:?}"
            );
        }
    }
    check(every_spelling("server", "service", Service::CHOICES, |c| {
        c.server.service
    }));
    check(every_spelling(
        "server",
        "at_capacity",
        AtCapacity::CHOICES,
        |c| c.server.at_capacity,
    ));
    check(every_spelling(
        "thermal",
        "shed_mode",
        ShedMode::CHOICES,
        |c| c.thermal.shed_mode,
    ));
    check(every_spelling(
        "thermal",
        "on_sensor_fault",
        OnSensorFault::CHOICES,
        |c| c.thermal.on_sensor_fault,
    ));
    check(every_spelling("fan", "driver", FanDriver::CHOICES, |c| {
        c.fan.driver
    }));
    check(every_spelling(
        "fan",
        "on_exit",
        FanExitAction::CHOICES,
        |c| c.fan.on_exit,
    ));
    check(every_spelling(
        "cpufreq",
        "strategy",
        CpuFreqStrategy::CHOICES,
        |c| c.cpufreq.strategy,
    ));
    check(every_spelling("log", "level", LogLevel::CHOICES, |c| {
        c.log.level
    }));
    check(every_spelling("log", "format", LogFormat::CHOICES, |c| {
        c.log.format
    }));
    assert_eq!(FanDriver::CHOICES.len(), 7);
    assert_eq!(FanDriver::Disabled.as_str(), "none");
}

#[test]
fn restart_only_changes_name_the_keys_a_sighup_cannot_apply() {
    let running = config_of("");
    let live = config_of(
        "[server]\nmax_connections = 10\n[log]\nlevel = \"debug\"\n\
         [thermal]\nshed_on_c = 72.0\nshed_off_c = 66.0\nhorizon_s = 5.0\ninterval_ms = 250\n\
         [fan]\nmin_on_s = 60\ncurve_hysteresis_c = 3.0\n[status]\nworkers = 3\n\
         [cpufreq]\nstrategy = \"governor\"\npowersave_governor = \"conservative\"\n",
    );
    assert!(running.restart_only_changes(&live).is_empty());
    let fan = config_of("[fan]\non_exit = \"off\"\n[hardware]\nstate_dir = \"/tmp/w\"\n");
    assert_eq!(
        running.restart_only_changes(&fan),
        ["fan.on_exit", "hardware.state_dir"]
    );
    let wiring = config_of("[fan]\ndriver = \"gpio\"\npin = 14\nkick_ms = 0\n");
    assert_eq!(
        running.restart_only_changes(&wiring),
        ["fan.driver", "fan.pin", "fan.kick_ms"]
    );
    // Strategy `off` opened no cpufreq policy; turning it to `off` is live.
    let off = config_of("[cpufreq]\nstrategy = \"off\"\n");
    assert!(running.restart_only_changes(&off).is_empty());
    let on = config_of("[cpufreq]\nstrategy = \"governor\"\n");
    assert_eq!(off.restart_only_changes(&on), ["cpufreq.strategy"]);
}
