//! Allowed ranges, one documented constant per numeric key.
//!
//! Validation checks values against these and error messages quote them, so
//! the range a user is told about is always the range that is enforced.

use std::ops::RangeInclusive;

/// `server.backlog`: listen(2) caps larger values at `net.core.somaxconn` anyway.
pub const BACKLOG_RANGE: RangeInclusive<u32> = 1..=65_535;
/// `server.listen`: the most addresses one event loop serves.
pub const MAX_LISTEN_ADDRESSES: usize = 64;
/// `server.max_connections`: bounded by the fd limit in practice.
pub const MAX_CONNECTIONS_RANGE: RangeInclusive<usize> = 1..=1_000_000;
/// `server.max_pending_bytes`: 1 KiB to 64 MiB per connection.
pub const MAX_PENDING_BYTES_RANGE: RangeInclusive<usize> = 1024..=67_108_864;
/// `server.read_buffer_bytes`: 4 KiB to 4 MiB, shared by the whole loop.
pub const READ_BUFFER_BYTES_RANGE: RangeInclusive<usize> = 4096..=4_194_304;
/// `server.idle_timeout_s`: 0 (never) to one week.
pub const IDLE_TIMEOUT_S_RANGE: RangeInclusive<u64> = 0..=604_800;
/// `server.drain_timeout_s`: 0 (close at once) to one hour.
pub const DRAIN_TIMEOUT_S_RANGE: RangeInclusive<u64> = 0..=3600;

/// `thermal.interval_ms`: 20 Hz down to once a minute.
pub const THERMAL_INTERVAL_MS_RANGE: RangeInclusive<u64> = 50..=60_000;
/// `thermal.horizon_s`: 0 (react to the present only) to ten minutes ahead.
pub const HORIZON_S_RANGE: RangeInclusive<f64> = 0.0..=600.0;
/// `thermal.filter_tau_s`: 0 (no filtering) to one minute.
pub const FILTER_TAU_S_RANGE: RangeInclusive<f64> = 0.0..=60.0;
/// `thermal.trend_window_s`: one second to ten minutes.
pub const TREND_WINDOW_S_RANGE: RangeInclusive<f64> = 1.0..=600.0;
/// Every `thermal.*_c` threshold and every `fan.curve` temperature, in °C.
pub const TEMPERATURE_C_RANGE: RangeInclusive<f64> = -40.0..=150.0;
/// `thermal.stuck_s`: 0 (never) to one day.
pub const STUCK_S_RANGE: RangeInclusive<u64> = 0..=86_400;
/// `thermal.max_step_c`: 0 (no jump check) to 190 °C (the whole plausible range).
pub const MAX_STEP_C_RANGE: RangeInclusive<f64> = 0.0..=190.0;

/// `fan.pin`: BCM GPIO numbers on the 40-pin header.
pub const FAN_PIN_RANGE: RangeInclusive<u8> = 0..=27;
/// `fan.pwm_channel`: the two hardware PWM channels of the BCM2711/BCM2835.
pub const PWM_CHANNEL_RANGE: RangeInclusive<u8> = 0..=1;
/// `fan.pwm_frequency_hz`: 1 Hz to 100 kHz.
pub const PWM_FREQUENCY_HZ_RANGE: RangeInclusive<f64> = 1.0..=100_000.0;
/// `fan.pwm_frequency_hz` with `fan.driver = "soft-pwm"`: software PWM cannot keep up beyond this.
pub const SOFT_PWM_FREQUENCY_HZ_RANGE: RangeInclusive<f64> = 1.0..=1000.0;
/// `fan.min_duty` and every `fan.curve` duty: a fraction of full speed.
pub const DUTY_RANGE: RangeInclusive<f64> = 0.0..=1.0;
/// `fan.kick_ms`: 0 (no kick) to ten seconds.
pub const KICK_MS_RANGE: RangeInclusive<u64> = 0..=10_000;
/// `fan.min_on_s` and `fan.min_off_s`: 0 (no dwell) to one hour.
pub const FAN_DWELL_S_RANGE: RangeInclusive<u64> = 0..=3600;
/// `fan.curve`: how many points the curve may have.
pub const FAN_CURVE_POINTS_RANGE: RangeInclusive<usize> = 1..=16;
/// `fan.curve_hysteresis_c`: 0 (none) to 50 °C.
pub const CURVE_HYSTERESIS_C_RANGE: RangeInclusive<f64> = 0.0..=50.0;

/// `status.workers`: threads answering status requests.
pub const STATUS_WORKERS_RANGE: RangeInclusive<usize> = 1..=64;
/// `status.request_timeout_ms`: 0.1 s to one minute.
pub const STATUS_REQUEST_TIMEOUT_MS_RANGE: RangeInclusive<u64> = 100..=60_000;
