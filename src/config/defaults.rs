//! Built-in defaults, one documented constant per key.
//!
//! These are the values `warden` runs with when a key (or the whole file) is
//! absent. `init/warden.toml` spells every one of them out, and a unit test
//! checks that parsing that file yields exactly `Config::default()`, so the
//! shipped file, `docs/CONFIG.md` and this module cannot drift apart.
//! Thermal and fan-law defaults are the thermal and hardware crates' own
//! constants, referenced here so the two can never disagree.
//! Thermal defaults are tuned for a Pi 4, whose firmware throttles at 80-85 °C.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::cpufreq::CpuFreqStrategy;
use super::fan::{CurvePoint, FanDriver, FanExitAction};
use super::logging::{LogFormat, LogLevel};
use super::server::{AtCapacity, Service};
use super::thermal::{OnSensorFault, SensorSelection, ShedMode};

// [server]

/// `server.listen`: every interface, port 7000 (IPv4 only; add "[::]:7000" for IPv6).
pub const DEFAULT_SERVER_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7000));
/// `server.service`: the reference workload.
pub const DEFAULT_SERVICE: Service = Service::Echo;
/// `server.backlog`: listen(2) queue length; the seed's `net.core.somaxconn`.
pub const DEFAULT_BACKLOG: u32 = 4096;
/// `server.max_connections`: concurrent client connections before `at_capacity` applies.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// `server.at_capacity`: stop accepting (the kernel backlog holds newcomers) rather than close them.
pub const DEFAULT_AT_CAPACITY: AtCapacity = AtCapacity::Pause;
/// `server.max_pending_bytes`: per-connection write backlog before reading from it stops.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 65_536;
/// `server.read_buffer_bytes`: size of the one read buffer the event loop shares.
pub const DEFAULT_READ_BUFFER_BYTES: usize = 65_536;
/// `server.idle_timeout_s`: close a connection silent this long, in seconds (0 = never).
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 300;
/// `server.drain_timeout_s`: seconds open connections get to finish after SIGTERM.
pub const DEFAULT_DRAIN_TIMEOUT_S: u64 = 10;

// [thermal]

/// `thermal.interval_ms`: how often the sensor is read, in milliseconds.
pub const DEFAULT_THERMAL_INTERVAL_MS: u64 = 500;
/// `thermal.sensor`: pick the SoC thermal zone automatically.
pub const DEFAULT_SENSOR: SensorSelection = SensorSelection::Auto;
/// `thermal.horizon_s`: how far ahead the trend is extrapolated, in seconds.
pub const DEFAULT_HORIZON_S: f64 = warden_thermal::config::DEFAULT_HORIZON_S;
/// `thermal.filter_tau_s`: time constant of the low-pass filter on raw readings, in seconds.
pub const DEFAULT_FILTER_TAU_S: f64 = warden_thermal::config::DEFAULT_FILTER_TAU_S;
/// `thermal.trend_window_s`: span of readings the trend (°C/s) is fitted over, in seconds.
pub const DEFAULT_TREND_WINDOW_S: f64 = warden_thermal::config::DEFAULT_TREND_WINDOW_S;
/// `thermal.fan_on_c`: the fan starts at this (predicted) temperature.
pub const DEFAULT_FAN_ON_C: f64 = warden_thermal::config::DEFAULT_FAN_ON_C;
/// `thermal.fan_off_c`: the fan may stop at or below this temperature.
pub const DEFAULT_FAN_OFF_C: f64 = warden_thermal::config::DEFAULT_FAN_OFF_C;
/// `thermal.shed_on_c`: new connections stop being admitted at this temperature.
pub const DEFAULT_SHED_ON_C: f64 = warden_thermal::config::DEFAULT_SHED_ON_C;
/// `thermal.shed_off_c`: admission resumes at or below this temperature.
pub const DEFAULT_SHED_OFF_C: f64 = warden_thermal::config::DEFAULT_SHED_OFF_C;
/// `thermal.throttle_on_c`: cpufreq is stepped down from this temperature.
pub const DEFAULT_THROTTLE_ON_C: f64 = warden_thermal::config::DEFAULT_THROTTLE_ON_C;
/// `thermal.throttle_off_c`: cpufreq is stepped back up at or below this temperature.
pub const DEFAULT_THROTTLE_OFF_C: f64 = warden_thermal::config::DEFAULT_THROTTLE_OFF_C;
/// `thermal.critical_on_c`: minimum frequency, shed, fan full from this temperature.
pub const DEFAULT_CRITICAL_ON_C: f64 = warden_thermal::config::DEFAULT_CRITICAL_ON_C;
/// `thermal.critical_off_c`: the critical stage ends at or below this temperature.
pub const DEFAULT_CRITICAL_OFF_C: f64 = warden_thermal::config::DEFAULT_CRITICAL_OFF_C;
/// `thermal.shed_mode`: refuse new connections outright while shedding.
pub const DEFAULT_SHED_MODE: ShedMode = ShedMode::Reject;
/// `thermal.stuck_s`: a reading unchanged this long counts as a sensor fault, in seconds (0 = never).
pub const DEFAULT_STUCK_S: u64 = warden_thermal::config::DEFAULT_STUCK_S as u64;
/// `thermal.max_step_c`: a reading this far (°C) from the last trusted one, beyond what the
/// die can move meanwhile, counts as a sensor fault (0 = never).
pub const DEFAULT_MAX_STEP_C: f64 = warden_thermal::config::DEFAULT_MAX_STEP_C;
/// `thermal.on_sensor_fault`: what the fail-safe does while the sensor is faulty.
pub const DEFAULT_ON_SENSOR_FAULT: OnSensorFault = OnSensorFault::FanFull;

// [fan]

/// `fan.driver`: probe for hwmon `pwm1`, then a configured GPIO pin.
pub const DEFAULT_FAN_DRIVER: FanDriver = FanDriver::Auto;
/// `fan.active_low`: the fan runs when the pin is driven high.
pub const DEFAULT_ACTIVE_LOW: bool = false;
/// `fan.pwm_channel`: hardware PWM channel 0 (GPIO 12/18 on a Pi 4).
pub const DEFAULT_PWM_CHANNEL: u8 = 0;
/// `fan.pwm_frequency_hz`: the 4-wire PC fan standard frequency, inaudible.
pub const DEFAULT_PWM_FREQUENCY_HZ: f64 = warden_hw::fan::DEFAULT_PWM_FREQUENCY_HZ;
/// `fan.pwm_frequency_hz` when absent and `fan.driver = "soft-pwm"`: software PWM busy-waits,
/// so it runs slow.
pub const DEFAULT_SOFT_PWM_FREQUENCY_HZ: f64 = warden_hw::fan::DEFAULT_SOFT_PWM_FREQUENCY_HZ;
/// `fan.min_duty`: lowest duty cycle that keeps a typical fan turning.
pub const DEFAULT_MIN_DUTY: f64 = warden_hw::fan::DEFAULT_MIN_DUTY;
/// `fan.kick_ms`: full-power pulse when starting from rest, in milliseconds (0 = none).
pub const DEFAULT_KICK_MS: u64 = warden_hw::fan::KICK_DURATION.as_millis() as u64;
/// `fan.min_on_s`: a fan stays on at least this long after starting, in seconds.
pub const DEFAULT_MIN_ON_S: u64 = warden_thermal::config::DEFAULT_FAN_MIN_ON_S as u64;
/// `fan.min_off_s`: a fan stays off at least this long after stopping, in seconds.
pub const DEFAULT_MIN_OFF_S: u64 = warden_thermal::config::DEFAULT_FAN_MIN_OFF_S as u64;
/// `fan.curve`: (temperature °C, duty 0-1) points of the PWM fan law.
pub const DEFAULT_FAN_CURVE: [CurvePoint; 4] = warden_thermal::config::DEFAULT_FAN_CURVE;
/// `fan.curve_hysteresis_c`: the duty only falls once the temperature drops this far, in °C.
pub const DEFAULT_CURVE_HYSTERESIS_C: f64 = warden_thermal::config::DEFAULT_FAN_CURVE_BACKOFF_C;
/// `fan.on_exit`: leave the fan at full speed when warden stops, the safe state.
pub const DEFAULT_FAN_ON_EXIT: FanExitAction = FanExitAction::Full;

// [cpufreq]

/// `cpufreq.strategy`: throttle by lowering `scaling_max_freq`.
pub const DEFAULT_CPUFREQ_STRATEGY: CpuFreqStrategy = CpuFreqStrategy::MaxFreq;
/// `cpufreq.powersave_governor`: governor selected by the "governor" strategy.
pub const DEFAULT_POWERSAVE_GOVERNOR: &str = "powersave";

// [hardware]

/// `hardware.sysfs_root`: prefix under which `/sys` and `/dev` paths are resolved.
pub const DEFAULT_SYSFS_ROOT: &str = "/";
/// `hardware.state_dir`: where the restore state file lives (systemd `RuntimeDirectory`).
pub const DEFAULT_STATE_DIR: &str = "/run/warden";
/// `hardware.simulate`: drive real hardware.
pub const DEFAULT_SIMULATE: bool = false;

// [status]

/// `status.enabled`: serve the status page.
pub const DEFAULT_STATUS_ENABLED: bool = true;
/// `status.listen`: loopback only, port 9181 (clear of node_exporter 9100 and Prometheus 9090).
pub const DEFAULT_STATUS_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9181));
/// `status.workers`: threads answering status requests.
pub const DEFAULT_STATUS_WORKERS: usize = 4;
/// `status.request_timeout_ms`: a status request slower than this is abandoned, in milliseconds.
pub const DEFAULT_STATUS_REQUEST_TIMEOUT_MS: u64 = 2000;

// [log]

/// `log.level`: the most verbose level written.
pub const DEFAULT_LOG_LEVEL: LogLevel = LogLevel::Info;
/// `log.format`: one human-readable line per record.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;
