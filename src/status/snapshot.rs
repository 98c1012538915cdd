//! What a status request looks at: the [`StatusSources`] the daemon hands
//! the server (the event loop's atomics, the thermal controller's published
//! snapshot, a few fixed facts), and the plain [`StatusSnapshot`] copied out
//! of them once per request. Routes only ever see the copy, so they are pure
//! functions and the sources are read without holding anything across the
//! rendering. Reading the loop's side is a handful of relaxed atomic loads;
//! the thermal side is one short mutex the controller takes once per tick.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use warden_thermal::{AdmissionReason, HistorySample, SharedSnapshot, ThermalSnapshot};

use crate::engine::stats::LocalStats;
use crate::engine::{GateState, LoopShared, HEARTBEAT_INTERVAL};
use crate::thermal_guard::FIRST_READING_TIMEOUT;

/// The event loop counts as alive while its last heartbeat is younger than this
/// (three of its ticks).
pub const HEARTBEAT_STALE_AFTER: Duration =
    Duration::from_millis(3 * HEARTBEAT_INTERVAL.as_millis() as u64);

/// Where the thermal part of the status comes from.
#[derive(Debug, Clone)]
pub enum ThermalSource {
    /// The running controller's published snapshot and history.
    Controller(Arc<SharedSnapshot>),
    /// No thermal control runs; `reason` says why (shown in place of the readings).
    Absent {
        /// Human explanation, e.g. "no thermal zone under /sys/class/thermal".
        reason: String,
    },
}

/// Everything the status server reads, built once by the daemon.
#[derive(Debug, Clone)]
pub struct StatusSources {
    /// The event loop's published counters, gate and heartbeat.
    pub loop_shared: Arc<LoopShared>,
    /// The thermal controller's state, or why there is none.
    pub thermal: ThermalSource,
    /// Name of the service the loop runs (`server.service`, e.g. "echo").
    pub service: String,
    /// warden's version.
    pub version: &'static str,
    /// True when the thermal side drives the simulated Pi (`warden run --simulate`
    /// or `hardware.simulate`): its readings are a model, not hardware.
    pub simulated: bool,
}

impl StatusSources {
    /// Sources for this build's version, on real hardware (see [`simulated`](Self::simulated())).
    pub fn new(loop_shared: Arc<LoopShared>, thermal: ThermalSource, service: &str) -> Self {
        StatusSources {
            loop_shared,
            thermal,
            service: service.to_string(),
            version: env!("CARGO_PKG_VERSION"),
            simulated: false,
        }
    }

    /// Marks the thermal side as the simulated Pi (`yes`) or real hardware, so
    /// every report says which.
    pub fn simulated(mut self, yes: bool) -> Self {
        self.simulated = yes;
        self
    }

    /// Copies the current state out of the sources; the thermal history (600
    /// samples) only when `with_history`.
    pub fn snapshot(&self, with_history: bool) -> StatusSnapshot {
        let now = Instant::now();
        let shared = &self.loop_shared;
        // The gate first: the loop publishes the counters before each gate change
        // (release/acquire), so these counters are never older than this state.
        let gate = shared.gate();
        let counters = shared.stats.load();
        // Before the heartbeat's age (acquire): once it says beaten, the age is a real one.
        let loop_starting = !shared.has_beaten();
        let thermal = match &self.thermal {
            ThermalSource::Controller(snapshot) => ThermalView::Available {
                current: Box::new(snapshot.current()),
                history: if with_history {
                    snapshot.history()
                } else {
                    Vec::new()
                },
            },
            ThermalSource::Absent { reason } => ThermalView::Unavailable {
                reason: reason.clone(),
            },
        };
        StatusSnapshot {
            taken_at: SystemTime::now(),
            version: self.version.to_string(),
            service: self.service.clone(),
            listen: shared.listen_addrs(),
            uptime: now.saturating_duration_since(shared.started()),
            counters,
            gate,
            max_connections: shared.max_connections(),
            loop_starting,
            heartbeat_age: shared.heartbeat_age(now),
            thermal,
            simulated: self.simulated,
        }
    }
}

/// The thermal part of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum ThermalView {
    /// The controller runs.
    Available {
        /// Its latest published state.
        current: Box<ThermalSnapshot>,
        /// Its history, oldest first (empty unless asked for).
        history: Vec<HistorySample>,
    },
    /// No thermal control.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// One request's copy of the status: plain data, no locks, no atomics.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSnapshot {
    /// Wall-clock time the copy was taken.
    pub taken_at: SystemTime,
    /// warden's version.
    pub version: String,
    /// Service name.
    pub service: String,
    /// Service listen addresses.
    pub listen: Vec<SocketAddr>,
    /// Time since the event loop started.
    pub uptime: Duration,
    /// Connection and traffic counters.
    pub counters: LocalStats,
    /// The admission gate.
    pub gate: GateState,
    /// `server.max_connections` in force.
    pub max_connections: u64,
    /// The event loop has not beaten yet: warden is starting (waiting for the
    /// first thermal reading), and `heartbeat_age` is the time since start.
    pub loop_starting: bool,
    /// Time since the event loop's last heartbeat.
    pub heartbeat_age: Duration,
    /// Thermal state.
    pub thermal: ThermalView,
    /// The thermal state comes from the simulated Pi, not hardware.
    pub simulated: bool,
}

impl StatusSnapshot {
    /// True while the process counts as alive (what `/healthz` reports): still
    /// starting, or the event loop's heartbeat is fresh.
    pub fn loop_alive(&self) -> bool {
        self.loop_starting || self.heartbeat_age < HEARTBEAT_STALE_AFTER
    }

    /// True while new connections are admitted (what `/ready` reports): the loop
    /// has started, beats, and the gate is open.
    pub fn ready(&self) -> bool {
        !self.loop_starting && self.loop_alive() && self.gate == GateState::Open
    }

    /// Why `/ready` says what it says: a short code and a sentence. Starting and
    /// a stalled loop come before the admission gate's own reason.
    pub fn readiness_reason(&self) -> (&'static str, String) {
        if self.loop_starting {
            (
                "starting",
                format!(
                    "warden is starting: waiting for its first thermal reading (at most {} s) \
                     before the event loop runs",
                    FIRST_READING_TIMEOUT.as_secs()
                ),
            )
        } else if !self.loop_alive() {
            (
                "event_loop_stalled",
                format!(
                    "the event loop has not beaten for {:.1} s",
                    self.heartbeat_age.as_secs_f64()
                ),
            )
        } else {
            self.admission_reason()
        }
    }

    /// The thermal controller's state, if it runs.
    pub fn thermal_current(&self) -> Option<&ThermalSnapshot> {
        match &self.thermal {
            ThermalView::Available { current, .. } => Some(current),
            ThermalView::Unavailable { .. } => None,
        }
    }

    /// "running", or "draining" once shutdown has begun.
    pub fn state(&self) -> &'static str {
        if self.gate == GateState::Draining {
            "draining"
        } else {
            "running"
        }
    }

    /// Why the gate is what it is: a short code and a sentence.
    pub fn admission_reason(&self) -> (&'static str, String) {
        match self.gate {
            GateState::Open => ("admitting", "admitting new connections".to_string()),
            GateState::ShedPause | GateState::ShedReject => {
                let mode = if self.gate == GateState::ShedPause { "paused" } else { "rejected" };
                match self.thermal_current() {
                    // No temperature to come down: admission returns with the sensor.
                    Some(t) if t.admission_reason == AdmissionReason::SensorFault => (
                        t.admission_reason.as_str(),
                        format!(
                            "thermal shedding (sensor_fault): new connections {mode}; the sensor gives no \
                             trusted reading (thermal.on_sensor_fault), admitting again once it does"
                        ),
                    ),
                    Some(t) => {
                        let code = t.admission_reason.as_str();
                        let temp = t.filtered_c.or(t.temp_c).map(|c| format!("{c:.1} °C")).unwrap_or("unknown".into());
                        (
                            code,
                            format!(
                                "thermal shedding ({code}): new connections {mode}; temperature {temp}, shed at {:.1} °C, \
                                 admitting again at {:.1} °C",
                                t.thresholds.shed.on_c, t.thresholds.shed.off_c
                            ),
                        )
                    }
                    None => ("thermal", format!("thermal shedding: new connections {mode}")),
                }
            }
            GateState::AtCapacityPause => (
                "max_connections",
                format!(
                    "at server.max_connections ({}): new connections wait in the kernel backlog until fewer than 90 % are open",
                    self.max_connections
                ),
            ),
            GateState::AtCapacityReject => (
                "max_connections",
                format!(
                    "at server.max_connections ({}): new connections are accepted and closed at once until fewer than 90 % are open",
                    self.max_connections
                ),
            ),
            GateState::FdBackoff => (
                "out_of_descriptors",
                "out of file descriptors (EMFILE/ENFILE): accepting again after a short back-off".to_string(),
            ),
            GateState::Draining => ("shutdown", "draining for shutdown: no new connections".to_string()),
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Snapshots for the route tests.

    use super::*;
    use warden_thermal::{
        AdmissionDecision, AdmissionReason, CpuStatus, FanStatus, Level, SensorStatus,
    };

    /// A running warden with thermal control at 55 °C and some traffic.
    pub fn with_thermal() -> StatusSnapshot {
        let taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let current = ThermalSnapshot {
            temp_c: Some(55.25),
            filtered_c: Some(55.0),
            trend_c_per_s: Some(0.05),
            predicted_c: Some(55.5),
            level: Level::Normal,
            sensor: SensorStatus {
                description: "thermal_zone0 (cpu-thermal)".into(),
                healthy: true,
                ..SensorStatus::default()
            },
            fan: FanStatus {
                driver: "pwm",
                proportional: true,
                duty: Some(0.3),
                requested_duty: 0.3,
                switches: 2,
                errors: 0,
            },
            cpu: Some(CpuStatus {
                strategy: "max-freq",
                governor: Some("ondemand".into()),
                max_khz: Some(1_500_000),
                original_max_khz: 1_500_000,
                original_governor: "ondemand".into(),
                throttled: false,
                errors: 0,
            }),
            throttle_flags: Some(warden_hw::ThrottleFlags::from_raw(0x50000)),
            admission: AdmissionDecision::Open,
            admission_reason: AdmissionReason::Cool,
            ticks: 42,
            updated_at: Some(taken_at - Duration::from_millis(300)),
            uptime: Duration::from_secs(42),
            ..ThermalSnapshot::default()
        };
        let history = (0..5)
            .map(|i| HistorySample {
                at: taken_at - Duration::from_secs(5 - i),
                uptime: Duration::from_secs(37 + i),
                temp_c: Some(54.0 + i as f64 * 0.25),
                sensor_fault: None,
                filtered_c: Some(54.0 + i as f64 * 0.2),
                fan_duty: 0.3,
                level: Level::Normal,
                admission: AdmissionDecision::Open,
                active_connections: 10 + i,
            })
            .collect();
        StatusSnapshot {
            taken_at,
            version: "0.1.0".into(),
            service: "echo".into(),
            listen: vec!["127.0.0.1:7000".parse().unwrap()],
            uptime: Duration::from_millis(42_500),
            counters: LocalStats {
                active: 12,
                accepted: 100,
                rejected_capacity: 3,
                rejected_thermal: 4,
                closed: 88,
                timed_out: 5,
                bytes_in: 1234,
                bytes_out: 1200,
                accept_emfile: 1,
                ..LocalStats::default()
            },
            gate: GateState::Open,
            max_connections: 10_000,
            loop_starting: false,
            heartbeat_age: Duration::from_millis(200),
            thermal: ThermalView::Available {
                current: Box::new(current),
                history,
            },
            simulated: false,
        }
    }

    /// The same warden driving the simulated Pi (`warden run --simulate`).
    pub fn simulated() -> StatusSnapshot {
        let mut snapshot = with_thermal();
        snapshot.simulated = true;
        if let ThermalView::Available { current, .. } = &mut snapshot.thermal {
            current.sensor.description =
                "simulated Pi 4 SoC (two-node RC model) - NOT a hardware sensor".into();
            current.fan.driver = "sim";
        }
        snapshot
    }

    /// The same warden during a sensor fault (the temperature file unreadable):
    /// no reading, no filtered temperature, hence no trend or prediction either.
    pub fn sensor_fault() -> StatusSnapshot {
        let mut snapshot = with_thermal();
        if let ThermalView::Available { current, .. } = &mut snapshot.thermal {
            current.temp_c = None;
            current.filtered_c = None;
            current.trend_c_per_s = None;
            current.predicted_c = None;
            current.level = Level::SensorFault;
            current.sensor.healthy = false;
            current.sensor.fault = Some(warden_thermal::SensorFaultCause::ReadErrors);
            current.sensor.consecutive_errors = 5;
            current.sensor.total_errors = 5;
            current.sensor.last_error =
                Some("cannot parse \"garbage\" in thermal_zone0/temp".into());
        }
        snapshot
    }

    /// The same warden while starting: the status page is up, the event loop has
    /// not run yet (its "heartbeat" is as old as the process).
    pub fn starting() -> StatusSnapshot {
        StatusSnapshot {
            loop_starting: true,
            uptime: Duration::from_millis(2_068),
            heartbeat_age: Duration::from_millis(2_068),
            ..with_thermal()
        }
    }

    /// The same warden without a sensor.
    pub fn without_thermal() -> StatusSnapshot {
        StatusSnapshot {
            thermal: ThermalView::Unavailable {
                reason: "no thermal zone under /x/sys/class/thermal".into(),
            },
            ..with_thermal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_copies_the_loop_state_and_skips_history_unless_asked() {
        let shared = Arc::new(LoopShared::new(500));
        let local = LocalStats {
            active: 7,
            bytes_in: 99,
            ..LocalStats::default()
        };
        shared.stats.publish(&local);
        shared.set_gate(GateState::AtCapacityReject);
        shared.beat(Instant::now());
        let thermal = Arc::new(SharedSnapshot::new());
        thermal.push_history(HistorySample {
            at: SystemTime::now(),
            uptime: Duration::ZERO,
            temp_c: Some(40.0),
            sensor_fault: None,
            filtered_c: Some(40.0),
            fan_duty: 0.0,
            level: warden_thermal::Level::Normal,
            admission: warden_thermal::AdmissionDecision::Open,
            active_connections: 7,
        });
        let sources = StatusSources::new(shared, ThermalSource::Controller(thermal), "echo");
        let without = sources.snapshot(false);
        assert!(!without.simulated, "real hardware unless told otherwise");
        assert_eq!(without.counters.active, 7);
        assert_eq!(without.counters.bytes_in, 99);
        assert_eq!(without.gate, GateState::AtCapacityReject);
        assert_eq!(without.max_connections, 500);
        assert!(without.loop_alive());
        assert!(
            matches!(&without.thermal, ThermalView::Available { history, .. } if history.is_empty())
        );
        let with = sources.snapshot(true);
        assert!(
            matches!(&with.thermal, ThermalView::Available { history, .. } if history.len() == 1)
        );
        assert!(sources.simulated(true).snapshot(false).simulated);
    }

    #[test]
    fn the_loop_counts_as_starting_until_its_first_beat() {
        let shared = Arc::new(LoopShared::new(16));
        let sources = StatusSources::new(
            Arc::clone(&shared),
            ThermalSource::Absent {
                reason: "none".into(),
            },
            "echo",
        );
        // However long the wait for the first reading, the age is no verdict yet.
        let mut before = sources.snapshot(false);
        assert!(before.loop_starting);
        before.heartbeat_age = HEARTBEAT_STALE_AFTER * 4;
        assert!(before.loop_alive(), "a starting warden is alive");
        assert!(!before.ready(), "a starting warden is not ready");
        assert_eq!(before.readiness_reason().0, "starting");
        assert!(before.readiness_reason().1.contains("5 s"));

        shared.beat(shared.started());
        let mut after = sources.snapshot(false);
        assert!(!after.loop_starting);
        after.heartbeat_age = HEARTBEAT_STALE_AFTER;
        assert!(!after.loop_alive(), "a loop that stops beating is stalled");
        assert_eq!(after.readiness_reason().0, "event_loop_stalled");
        after.heartbeat_age = Duration::ZERO;
        assert!(after.ready());
        assert_eq!(after.readiness_reason().0, "admitting");
    }

    #[test]
    fn stale_heartbeat_means_not_alive() {
        let mut snapshot = fixtures::with_thermal();
        snapshot.heartbeat_age = HEARTBEAT_STALE_AFTER;
        assert!(!snapshot.loop_alive());
        snapshot.heartbeat_age = HEARTBEAT_STALE_AFTER - Duration::from_millis(1);
        assert!(snapshot.loop_alive());
    }

    #[test]
    fn admission_reasons_name_the_cause() {
        let mut snapshot = fixtures::with_thermal();
        assert_eq!(snapshot.admission_reason().0, "admitting");
        snapshot.gate = GateState::ShedReject;
        if let ThermalView::Available { current, .. } = &mut snapshot.thermal {
            current.admission_reason = warden_thermal::AdmissionReason::Predicted;
        }
        let (code, text) = snapshot.admission_reason();
        assert_eq!(code, "predicted");
        assert!(
            text.contains("rejected") && text.contains("75.0 °C"),
            "{text}"
        );
        snapshot.gate = GateState::AtCapacityPause;
        let (code, text) = snapshot.admission_reason();
        assert_eq!(code, "max_connections");
        assert!(text.contains("10000") && text.contains("wait"), "{text}");
        snapshot.gate = GateState::AtCapacityReject;
        let (code, text) = snapshot.admission_reason();
        assert_eq!(code, "max_connections");
        assert!(
            text.contains("10000") && text.contains("closed at once") && !text.contains("wait"),
            "{text}"
        );
        snapshot.gate = GateState::Draining;
        assert_eq!(snapshot.state(), "draining");
        assert_eq!(fixtures::without_thermal().state(), "running");
    }

    #[test]
    fn shedding_for_a_sensor_fault_ends_with_the_fault_not_at_a_temperature() {
        let mut snapshot = fixtures::sensor_fault();
        snapshot.gate = GateState::ShedPause;
        if let ThermalView::Available { current, .. } = &mut snapshot.thermal {
            current.admission_reason = warden_thermal::AdmissionReason::SensorFault;
        }
        let (code, text) = snapshot.admission_reason();
        assert_eq!(code, "sensor_fault");
        assert!(
            text.contains("new connections paused")
                && text.contains("admitting again once it does")
                && !text.contains("°C"),
            "{text}"
        );
    }
}
