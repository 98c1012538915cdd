//! The controller's published state, for the status page and metrics: the
//! latest [`ThermalSnapshot`], a ten-minute history at one sample a second,
//! and the "first reading done" signal the daemon waits on before telling
//! systemd it is ready. A mutex guards it; it is written once per tick and
//! read per status request, never on the per-message path.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use warden_hw::ThrottleFlags;

use crate::config::Thresholds;
use crate::policy::{AdmissionDecision, AdmissionReason, Level};
use crate::sensor_health::SensorFaultCause;

/// History samples kept: ten minutes at one a second.
pub const HISTORY_CAPACITY: usize = 600;
/// Spacing of history samples.
pub const HISTORY_PERIOD: Duration = Duration::from_secs(1);

/// Health of the temperature sensor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SensorStatus {
    /// Human description from the backend, e.g. "thermal_zone0 (cpu-thermal)".
    pub description: String,
    /// False during a sensor fault or while the last read failed.
    pub healthy: bool,
    /// Why the sensor is distrusted, during a sensor fault.
    pub fault: Option<SensorFaultCause>,
    /// Read errors since the last successful read.
    pub consecutive_errors: u32,
    /// Read errors since start.
    pub total_errors: u64,
    /// The most recent read error's message.
    pub last_error: Option<String>,
}

/// Fan driver and what was applied to it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FanStatus {
    /// Driver name from the backend ("gpio", "pwm", "hwmon", "file", "none", ...).
    pub driver: &'static str,
    /// True when the policy drives it with the proportional curve.
    pub proportional: bool,
    /// Duty last written successfully (0.0–1.0); `None` before the first successful write.
    pub duty: Option<f64>,
    /// Duty the policy asks for now.
    pub requested_duty: f64,
    /// Successful writes that changed the duty (the fan is taken as off before the first).
    pub switches: u64,
    /// Failed writes since start.
    pub errors: u64,
}

/// cpufreq state, when a cpufreq backend is in use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpuStatus {
    /// Strategy name: "max-freq", "governor" or "off".
    pub strategy: &'static str,
    /// Current scaling_governor, as last read or written.
    pub governor: Option<String>,
    /// The lowest cap (kHz) any policy is held under: a policy at its own original counts
    /// as uncapped, so this equals `original_max_khz` when nothing is capped; while a write
    /// is in doubt, the lowest cap any policy may hold.
    pub max_khz: Option<u64>,
    /// The highest scaling_max_freq before warden touched it (kHz): the cap that leaves
    /// every policy at its own original.
    pub original_max_khz: u64,
    /// scaling_governor before warden touched it.
    pub original_governor: String,
    /// True while warden holds, or may still hold, the CPU below its original settings (a
    /// cpufreq write that failed on some policy counts until one succeeds on every policy).
    pub throttled: bool,
    /// Failed cpufreq reads and writes since start.
    pub errors: u64,
}

/// Everything the status page shows about the thermal side.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalSnapshot {
    /// Last raw reading (°C), implausible ones included; `None` while the last read failed.
    pub temp_c: Option<f64>,
    /// Filtered temperature (°C); `None` before the first trusted reading and during a fault.
    pub filtered_c: Option<f64>,
    /// Trend of the filtered temperature (°C/s); `None` whenever `filtered_c` is (before
    /// the first trusted reading and during a sensor fault): there is no trend to report.
    pub trend_c_per_s: Option<f64>,
    /// Temperature compared with the on thresholds (°C).
    pub predicted_c: Option<f64>,
    /// Hottest active stage or sensor fault.
    pub level: Level,
    /// Stage thresholds in use.
    pub thresholds: Thresholds,
    /// Sensor health.
    pub sensor: SensorStatus,
    /// Fan state.
    pub fan: FanStatus,
    /// cpufreq state; `None` without a cpufreq backend.
    pub cpu: Option<CpuStatus>,
    /// Firmware throttle flags, read at most every 2 s; `None` when unavailable: no such
    /// file, or the last read failed (the last flags read may no longer hold).
    pub throttle_flags: Option<ThrottleFlags>,
    /// Why the last read of the firmware throttle flags failed; `None` when it succeeded,
    /// when there is no such file (not a Pi), or before the first read.
    pub throttle_flags_error: Option<String>,
    /// Admission decision last sent to the event loop.
    pub admission: AdmissionDecision,
    /// Why admission is what it is.
    pub admission_reason: AdmissionReason,
    /// Controller ticks completed.
    pub ticks: u64,
    /// Wall-clock time of the last tick; `None` before the first.
    pub updated_at: Option<SystemTime>,
    /// Time since the controller started, at the last tick.
    pub uptime: Duration,
}

impl Default for ThermalSnapshot {
    fn default() -> Self {
        ThermalSnapshot {
            temp_c: None,
            filtered_c: None,
            trend_c_per_s: None,
            predicted_c: None,
            level: Level::Normal,
            thresholds: Thresholds::default(),
            sensor: SensorStatus::default(),
            fan: FanStatus::default(),
            cpu: None,
            throttle_flags: None,
            throttle_flags_error: None,
            admission: AdmissionDecision::Open,
            admission_reason: AdmissionReason::Cool,
            ticks: 0,
            updated_at: None,
            uptime: Duration::ZERO,
        }
    }
}

/// One history point, recorded once a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistorySample {
    /// Wall-clock time of the sample.
    pub at: SystemTime,
    /// Time since the controller started.
    pub uptime: Duration,
    /// Raw reading (°C), if the last read succeeded; implausible ones included.
    pub temp_c: Option<f64>,
    /// Why the controller did not trust `temp_c` (a sensor fault, recovery included);
    /// `None` when the reading was trusted.
    pub sensor_fault: Option<SensorFaultCause>,
    /// Filtered temperature (°C).
    pub filtered_c: Option<f64>,
    /// Fan duty requested by the policy.
    pub fan_duty: f64,
    /// Level.
    pub level: Level,
    /// Admission.
    pub admission: AdmissionDecision,
    /// Established connections at that moment.
    pub active_connections: u64,
}

/// Fixed-capacity ring of history samples, oldest overwritten first.
#[derive(Debug)]
struct HistoryRing {
    samples: Vec<HistorySample>,
    next: usize,
}

impl HistoryRing {
    fn push(&mut self, sample: HistorySample) {
        if self.samples.len() < HISTORY_CAPACITY {
            self.samples.push(sample);
        } else {
            self.samples[self.next] = sample;
        }
        self.next = (self.next + 1) % HISTORY_CAPACITY;
    }

    fn oldest_first(&self) -> Vec<HistorySample> {
        if self.samples.len() < HISTORY_CAPACITY {
            return self.samples.clone();
        }
        let (newer, older) = self.samples.split_at(self.next);
        older.iter().chain(newer).copied().collect()
    }
}

#[derive(Debug)]
struct Shared {
    current: ThermalSnapshot,
    history: HistoryRing,
    first_reading: bool,
}

/// The snapshot shared between the controller thread and its readers.
#[derive(Debug)]
pub struct SharedSnapshot {
    state: Mutex<Shared>,
    first_reading: Condvar,
}

impl Default for SharedSnapshot {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedSnapshot {
    /// An empty snapshot (default values, no history, no reading yet).
    pub fn new() -> Self {
        SharedSnapshot {
            state: Mutex::new(Shared {
                current: ThermalSnapshot::default(),
                history: HistoryRing {
                    samples: Vec::with_capacity(HISTORY_CAPACITY),
                    next: 0,
                },
                first_reading: false,
            }),
            first_reading: Condvar::new(),
        }
    }

    /// A copy of the latest snapshot.
    pub fn current(&self) -> ThermalSnapshot {
        self.lock().current.clone()
    }

    /// The history, oldest first (at most [`HISTORY_CAPACITY`] samples).
    pub fn history(&self) -> Vec<HistorySample> {
        self.lock().history.oldest_first()
    }

    /// Replaces the latest snapshot (the controller does this every tick).
    pub fn publish(&self, snapshot: &ThermalSnapshot) {
        self.lock().current.clone_from(snapshot);
    }

    /// Appends a history sample, dropping the oldest beyond [`HISTORY_CAPACITY`].
    pub fn push_history(&self, sample: HistorySample) {
        self.lock().history.push(sample);
    }

    /// Marks the first reading as done and wakes every waiter.
    pub fn mark_first_reading(&self) {
        self.lock().first_reading = true;
        self.first_reading.notify_all();
    }

    /// True once the controller has completed its first tick.
    pub fn has_first_reading(&self) -> bool {
        self.lock().first_reading
    }

    /// Waits until the controller has completed its first tick (a reading, or a read
    /// error, processed and the fan set); returns false if `timeout` passed first.
    pub fn wait_first_reading(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.first_reading {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .first_reading
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere must not take the status page down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sample(seconds: u64) -> HistorySample {
        HistorySample {
            at: SystemTime::UNIX_EPOCH,
            uptime: Duration::from_secs(seconds),
            temp_c: Some(50.0),
            sensor_fault: None,
            filtered_c: Some(50.0),
            fan_duty: 0.0,
            level: Level::Normal,
            admission: AdmissionDecision::Open,
            active_connections: seconds,
        }
    }

    #[test]
    fn history_keeps_the_newest_600_oldest_first() {
        let shared = SharedSnapshot::new();
        for s in 0..1000 {
            shared.push_history(sample(s));
        }
        let history = shared.history();
        assert_eq!(history.len(), HISTORY_CAPACITY);
        assert_eq!(history.first().unwrap().uptime, Duration::from_secs(400));
        assert_eq!(history.last().unwrap().uptime, Duration::from_secs(999));
        assert!(history.windows(2).all(|w| w[0].uptime < w[1].uptime));
    }

    #[test]
    fn wait_first_reading_times_out_then_wakes() {
        let shared = Arc::new(SharedSnapshot::new());
        assert!(!shared.wait_first_reading(Duration::from_millis(10)));
        let marker = Arc::clone(&shared);
        let thread = std::thread::spawn(move || marker.mark_first_reading());
        assert!(shared.wait_first_reading(Duration::from_secs(10)));
        thread.join().unwrap();
        assert!(shared.has_first_reading());
    }
}
