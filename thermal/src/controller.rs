//! The controller: a thread that ticks every interval, reads the sensor,
//! steps the [`ThermalPolicy`], applies fan and cpufreq through warden-hw's
//! traits, tells the event loop about admission changes through a sink, and
//! publishes a [`SharedSnapshot`]. Stopping it (or dropping its handle, or a
//! panic unwinding it) sets the fan to its exit duty and restores cpufreq.
//! Stopping waits at most [`STOP_TIMEOUT`]: a thread stuck in a hardware call
//! is left behind and reported, so the daemon can still exit. At debug level
//! every tick logs one line of what it read, decided and applied (`tick_log`).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use warden_hw::{Backends, CpuFreq, Fan, TempSensor, ThrottleReader};

pub use crate::actuators::OriginalsRecorder;
use crate::actuators::{Actuators, CpuActuator, CpuStrategy, FanActuator};
use crate::change_log::ChangeLimiter;
use crate::config::{PolicyConfig, PolicyConfigError};
pub use crate::controller_config::{ControllerConfig, ControllerError};
use crate::handle::Message;
pub use crate::handle::{ControllerHandle, STOP_TIMEOUT};
use crate::policy::{AdmissionDecision, CpuStep, Decision, Level, SampleError, ThermalPolicy};
use crate::rate_limit::{SuppressedNote, TextLimiter};
use crate::sensor_health::SensorFaultCause;
use crate::snapshot::{HistorySample, SharedSnapshot, ThermalSnapshot, HISTORY_PERIOD};
use crate::summaries::{log_change_summaries, log_repeat_summaries, FlushScope};
use crate::tick_log::TickLine;

/// Default tick interval (`thermal.interval_ms` = 500).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);
/// The shortest wall-clock time between ticks of a time-scaled controller.
pub const MIN_WALL_TICK: Duration = Duration::from_millis(1);
/// The firmware throttle flags are read at most this often.
pub const THROTTLE_FLAGS_PERIOD: Duration = Duration::from_secs(2);

/// Receives every admission change, on the controller thread (send it on and wake the loop).
pub type AdmissionSink = Box<dyn FnMut(AdmissionDecision) + Send>;
/// Returns the number of established connections, recorded in the history.
pub type ActiveConnections = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The backends and policy, ready to [`Controller::spawn`].
pub struct Controller {
    policy: ThermalPolicy,
    sensor: Box<dyn TempSensor>,
    fan: Box<dyn Fan>,
    cpu: Option<Box<dyn CpuFreq>>,
    originals_recorder: Option<Box<dyn OriginalsRecorder>>,
    throttle: Option<Box<dyn ThrottleReader>>,
    active_connections: Option<ActiveConnections>,
    time_scale: f64,
}

impl Controller {
    /// A controller over `sensor` and `fan`; `proportional_fan` is taken from the fan itself.
    pub fn new(
        mut policy_config: PolicyConfig,
        sensor: Box<dyn TempSensor>,
        fan: Box<dyn Fan>,
    ) -> Result<Self, PolicyConfigError> {
        policy_config.proportional_fan = fan.is_proportional();
        Ok(Controller {
            policy: ThermalPolicy::new(policy_config)?,
            sensor,
            fan,
            cpu: None,
            originals_recorder: None,
            throttle: None,
            active_connections: None,
            time_scale: 1.0,
        })
    }

    /// A controller over everything warden-hw's factory built (log `backends.notes` first).
    pub fn from_backends(
        policy_config: PolicyConfig,
        backends: Backends,
    ) -> Result<Self, PolicyConfigError> {
        let mut controller = Controller::new(policy_config, backends.sensor, backends.fan)?;
        controller.cpu = backends.cpufreq;
        controller.throttle = backends.throttle;
        Ok(controller)
    }

    /// Adds a cpufreq backend to throttle.
    pub fn with_cpufreq(mut self, cpu: Box<dyn CpuFreq>) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// Has `recorder` (the daemon's crash-restore state) told the cpufreq originals at the
    /// start of each throttle episode, before the throttle is written, and the end of the
    /// episode (see [`OriginalsRecorder`]).
    pub fn with_originals_recorder(mut self, recorder: Box<dyn OriginalsRecorder>) -> Self {
        self.originals_recorder = Some(recorder);
        self
    }

    /// Adds a reader for the firmware throttle flags.
    pub fn with_throttle_reader(mut self, reader: Box<dyn ThrottleReader>) -> Self {
        self.throttle = Some(reader);
        self
    }

    /// Records the established-connection count in each history sample.
    pub fn with_active_connections(mut self, count: ActiveConnections) -> Self {
        self.active_connections = Some(count);
        self
    }

    /// Runs the policy's clock `scale` times as fast as the wall clock, and ticks that
    /// much more often (at least [`MIN_WALL_TICK`] apart), for a simulated board that
    /// runs faster than real time: the filter, trend, horizon, dwell and tick then keep
    /// their configured lengths in the board's time, so control behaves as it would at
    /// 1×. Status uptime, history and log rate limits stay in wall time.
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// Starts the controller thread. The event loop is assumed to start open: the sink is
    /// called only when admission changes from the last value it was given.
    pub fn spawn(
        self,
        config: ControllerConfig,
        admission_sink: AdmissionSink,
        snapshot: Arc<SharedSnapshot>,
    ) -> Result<ControllerHandle, ControllerError> {
        config.validate()?;
        if !(self.time_scale.is_finite() && self.time_scale >= 1.0) {
            return Err(ControllerError::BadTimeScale(self.time_scale));
        }
        let (message_tx, message_rx) = mpsc::channel();
        // Never sent on: dropping it, as the thread ends or unwinds, wakes a waiting stop.
        let (ended_tx, ended_rx) = mpsc::channel::<()>();
        let interval = config.interval;
        let thread = thread::Builder::new()
            .name("warden-thermal".to_owned())
            .spawn(move || {
                let _ended = ended_tx;
                Worker::new(self, config, admission_sink, snapshot).run(interval, &message_rx)
            })
            .map_err(ControllerError::Spawn)?;
        Ok(ControllerHandle::new(message_tx, ended_rx, thread))
    }
}

/// The state living on the controller thread.
struct Worker {
    policy: ThermalPolicy,
    sensor: Box<dyn TempSensor>,
    actuators: Actuators,
    throttle: Option<Box<dyn ThrottleReader>>,
    active_connections: Option<ActiveConnections>,
    admission_sink: AdmissionSink,
    shared: Arc<SharedSnapshot>,
    snapshot: ThermalSnapshot,
    sent_admission: AdmissionDecision,
    started: Instant,
    time_scale: f64,
    last_slow_read: Option<Instant>,
    next_history_due: Option<Instant>,
    sensor_log: TextLimiter,
    throttle_log: TextLimiter,
    level_log: ChangeLimiter,
    admission_log: ChangeLimiter,
}

impl Worker {
    fn new(
        controller: Controller,
        config: ControllerConfig,
        admission_sink: AdmissionSink,
        shared: Arc<SharedSnapshot>,
    ) -> Self {
        let proportional = controller.policy.config().proportional_fan;
        let fan = FanActuator::new(controller.fan, proportional);
        let recorder = controller.originals_recorder;
        let cpu = controller
            .cpu
            .map(|cpu| CpuActuator::new(cpu, config.cpu_strategy, recorder));
        let mut snapshot = ThermalSnapshot {
            thresholds: *controller.policy.thresholds(),
            ..ThermalSnapshot::default()
        };
        snapshot.sensor.description = controller.sensor.describe();
        snapshot.sensor.healthy = true;
        snapshot.fan = fan.status.clone();
        snapshot.cpu = cpu.as_ref().map(|cpu| cpu.status.clone());
        Worker {
            policy: controller.policy,
            sensor: controller.sensor,
            actuators: Actuators::new(fan, cpu, config.fan_on_exit),
            throttle: controller.throttle,
            active_connections: controller.active_connections,
            admission_sink,
            shared,
            sent_admission: AdmissionDecision::Open,
            started: Instant::now(),
            time_scale: controller.time_scale,
            last_slow_read: None,
            next_history_due: None,
            sensor_log: TextLimiter::default(),
            throttle_log: TextLimiter::default(),
            level_log: ChangeLimiter::per_minute("thermal level"),
            admission_log: ChangeLimiter::per_minute("admission"),
            snapshot,
        }
    }

    /// Ticks until the handle disconnects, then restores the hardware and says whether
    /// that worked.
    fn run(
        mut self,
        mut interval: Duration,
        messages: &Receiver<Message>,
    ) -> Result<(), ControllerError> {
        let mut next_tick = Instant::now();
        'ticking: loop {
            self.tick(Instant::now());
            // Fixed rate; after an overrun, tick once at once rather than in a burst.
            next_tick = (next_tick + self.wall_period(interval)).max(Instant::now());
            loop {
                match messages.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
                    Err(RecvTimeoutError::Timeout) => break,
                    Ok(Message::Reconfigure(policy)) => self.reconfigure(policy),
                    Ok(Message::Retune {
                        interval: new_interval,
                        cpu_strategy,
                    }) => {
                        if new_interval != interval {
                            log::info!(
                                "thermal tick interval {} ms -> {} ms",
                                interval.as_millis(),
                                new_interval.as_millis()
                            );
                            // A shorter interval need not wait out the longer one.
                            next_tick =
                                next_tick.min(Instant::now() + self.wall_period(new_interval));
                            interval = new_interval;
                        }
                        self.retune_cpu(cpu_strategy);
                    }
                    Err(RecvTimeoutError::Disconnected) => break 'ticking,
                }
            }
        }
        // No held-back count is lost: what the last periods held is summarised now.
        let now = Instant::now();
        self.summarise_changes(now, FlushScope::All);
        self.flush_repeat_logs(now, FlushScope::All);
        let restored = self.actuators.restore();
        self.snapshot.fan = self.actuators.fan.status.clone();
        if let Some(cpu) = &self.actuators.cpu {
            self.snapshot.cpu = Some(cpu.status.clone());
        }
        self.shared.publish(&self.snapshot);
        restored.map_err(|what| ControllerError::RestoreFailed { what })
    }

    /// The wall-clock time between ticks for a tick `interval` of the policy's clock.
    fn wall_period(&self, interval: Duration) -> Duration {
        interval.div_f64(self.time_scale).max(MIN_WALL_TICK)
    }

    fn reconfigure(&mut self, policy: PolicyConfig) {
        match self.policy.reconfigure(policy) {
            Ok(()) => {
                let t = *self.policy.thresholds();
                self.snapshot.thresholds = t;
                self.shared.publish(&self.snapshot);
                log::info!(
                    "thermal policy reloaded: fan {}/{} °C, shed {}/{} °C, throttle {}/{} °C, critical {}/{} °C (on/off)",
                    t.fan.on_c, t.fan.off_c, t.shed.on_c, t.shed.off_c,
                    t.throttle.on_c, t.throttle.off_c, t.critical.on_c, t.critical.off_c
                );
            }
            Err(error) => log::error!("{}", ControllerError::Policy(error)),
        }
    }

    /// Switches the throttling method: cpufreq goes back to its originals, then a
    /// throttling policy applies the new method at once.
    fn retune_cpu(&mut self, strategy: CpuStrategy) {
        // No cpufreq policy was opened at start: nothing to switch. The daemon, which knows
        // where it looked, says so once per reload.
        let Some(cpu) = &mut self.actuators.cpu else {
            return;
        };
        if *cpu.strategy() == strategy {
            return;
        }
        let from = cpu.strategy().as_str();
        // A sensor fault holds the cap, so a throttled CPU stays throttled.
        let reapply = match self.snapshot.level {
            Level::Critical => CpuStep::ToMinimum,
            Level::Throttle => CpuStep::Down,
            Level::SensorFault if cpu.status.throttled => CpuStep::Down,
            _ => CpuStep::Hold,
        };
        log::info!(
            "cpu strategy {from} -> {}: cpufreq put back first{}",
            strategy.as_str(),
            if reapply == CpuStep::Hold {
                ""
            } else {
                ", then throttled again the new way"
            }
        );
        cpu.switch_strategy(strategy, reapply, Instant::now());
        self.snapshot.cpu = Some(cpu.status.clone());
        self.shared.publish(&self.snapshot);
    }

    /// Logs the summaries of the level and admission changes held back (`scope`: those
    /// whose period has ended, or all of them at stop), each ending in the state now.
    fn summarise_changes(&mut self, now: Instant, scope: FlushScope) {
        log_change_summaries(
            &mut self.level_log,
            self.snapshot.level,
            &mut self.admission_log,
            self.sent_admission,
            now,
            scope,
        );
    }

    fn tick(&mut self, now: Instant) {
        let uptime = now.duration_since(self.started);
        let sample = self.read_sensor(now);
        let decision = self.policy.step(sample, uptime.mul_f64(self.time_scale));
        // A summary of the changes held back comes before this tick's change.
        self.summarise_changes(now, FlushScope::Due);
        self.log_level_change(&decision, now);

        self.actuators.fan.apply(decision.fan_duty, now);
        if let Some(cpu) = &mut self.actuators.cpu {
            cpu.apply(decision.cpu_step, now);
        }
        if decision.admission != self.sent_admission {
            let (from, to) = (self.sent_admission.as_str(), decision.admission.as_str());
            if let Some(note) = self.admission_log.change(now, from, to) {
                log::info!(
                    "admission {from} -> {to} ({}){note}",
                    decision.admission_reason.as_str()
                );
            }
            (self.admission_sink)(decision.admission);
            self.sent_admission = decision.admission;
        }
        if self
            .last_slow_read
            .map_or(true, |at| now.duration_since(at) >= THROTTLE_FLAGS_PERIOD)
        {
            self.last_slow_read = Some(now);
            self.read_slow_status(now);
        }
        self.publish(&decision, now, uptime);
        self.flush_repeat_logs(now, FlushScope::Due);
        // log::debug! formats the line only when debug is enabled: nothing is spent at info.
        log::debug!(
            "{}",
            TickLine {
                snapshot: &self.snapshot,
                cpu_step: decision.cpu_step,
            }
        );
    }

    fn read_sensor(&mut self, now: Instant) -> Result<f64, SampleError> {
        let status = &mut self.snapshot.sensor;
        match self.sensor.read_celsius() {
            Ok(celsius) => {
                self.snapshot.temp_c = Some(celsius);
                status.consecutive_errors = 0;
                Ok(celsius)
            }
            Err(error) => {
                self.snapshot.temp_c = None;
                status.consecutive_errors += 1;
                status.total_errors += 1;
                let message = error.to_string();
                if let Some(suppressed) = self.sensor_log.allow(now, &message) {
                    log::warn!(
                        "temperature sensor: {message}{}",
                        SuppressedNote(suppressed)
                    );
                }
                status.last_error = Some(message);
                Err(if error.is_transient() {
                    SampleError::Transient
                } else {
                    SampleError::Failed
                })
            }
        }
    }

    /// Logs a level change, unless a flap has used up the period's lines (see
    /// [`ChangeLimiter`]).
    fn log_level_change(&mut self, decision: &Decision, now: Instant) {
        if decision.level == self.snapshot.level {
            return;
        }
        let (from, to) = (self.snapshot.level.as_str(), decision.level.as_str());
        let Some(note) = self.level_log.change(now, from, to) else {
            return;
        };
        match (decision.level, decision.sensor_fault) {
            (Level::SensorFault, Some(cause)) => log::warn!(
                "thermal level {from} -> {to}: sensor {} ({}){}; fan at full duty{note}",
                cause.as_str(),
                self.snapshot.sensor.description,
                self.fault_detail(cause)
            ),
            // The reading too: a stage is also entered on the raw reading alone.
            _ => log::info!(
                "thermal level {from} -> {to} (read {:.1} °C, filtered {:.1} °C, predicted {:.1} °C){note}",
                self.snapshot.temp_c.unwrap_or(f64::NAN),
                decision.filtered_c.unwrap_or(f64::NAN),
                decision.predicted_c.unwrap_or(f64::NAN)
            ),
        }
    }

    /// Logs a summary of each kind of line held back, over a period that has ended
    /// (`Due`, every tick) or at all (`All`, as the thread stops).
    fn flush_repeat_logs(&mut self, now: Instant, scope: FlushScope) {
        log_repeat_summaries(&mut self.sensor_log, &mut self.throttle_log, now, scope);
        let stopping = scope == FlushScope::All;
        self.actuators.fan.flush_logs(now, stopping);
        if let Some(cpu) = &mut self.actuators.cpu {
            cpu.flush_logs(now, stopping);
        }
    }

    /// The values behind a sensor fault, for its log line (this tick's reading is in
    /// the snapshot already).
    fn fault_detail(&self, cause: SensorFaultCause) -> String {
        let config = self.policy.config();
        let read = self.snapshot.temp_c;
        match (cause, read) {
            (SensorFaultCause::Implausible, Some(celsius)) => format!(
                ", read {celsius:.1} °C, outside {:.1}..{:.1} °C",
                config.plausible_min_c, config.plausible_max_c
            ),
            (SensorFaultCause::Jump, Some(celsius)) => match self.policy.last_trusted_c() {
                Some(trusted) => format!(", read {celsius:.1} °C, last trusted {trusted:.1} °C"),
                None => format!(", read {celsius:.1} °C"),
            },
            (SensorFaultCause::Stuck, Some(celsius)) => {
                format!(", read {celsius:.1} °C for {:.0} s", config.stuck_s)
            }
            (SensorFaultCause::ReadErrors, _) => format!(
                ", {} read errors in a row",
                self.snapshot.sensor.consecutive_errors
            ),
            (_, None) => String::new(),
        }
    }

    fn read_slow_status(&mut self, now: Instant) {
        if let Some(reader) = &mut self.throttle {
            match reader.read() {
                Ok(flags) => {
                    self.snapshot.throttle_flags = flags;
                    self.snapshot.throttle_flags_error = None;
                }
                Err(error) => {
                    // Unknown, as when the file is missing: the last flags read may no
                    // longer hold, and the status must not show them as current. Unlike a
                    // missing file, the status says why.
                    self.snapshot.throttle_flags = None;
                    let message = error.to_string();
                    self.snapshot.throttle_flags_error = Some(message.clone());
                    if let Some(suppressed) = self.throttle_log.allow(now, &message) {
                        log::warn!("throttle flags: {message}{}", SuppressedNote(suppressed));
                    }
                }
            }
        }
        if let Some(cpu) = &mut self.actuators.cpu {
            cpu.refresh_status(now);
        }
    }

    fn publish(&mut self, decision: &Decision, now: Instant, uptime: Duration) {
        let wall_clock = SystemTime::now();
        let snapshot = &mut self.snapshot;
        snapshot.filtered_c = decision.filtered_c;
        snapshot.trend_c_per_s = decision.trend_c_per_s;
        snapshot.predicted_c = decision.predicted_c;
        snapshot.level = decision.level;
        snapshot.sensor.fault = decision.sensor_fault;
        snapshot.sensor.healthy =
            decision.sensor_fault.is_none() && snapshot.sensor.consecutive_errors == 0;
        snapshot.fan.clone_from(&self.actuators.fan.status);
        if let (Some(status), Some(cpu)) = (&mut snapshot.cpu, &self.actuators.cpu) {
            status.clone_from(&cpu.status);
        }
        snapshot.admission = self.sent_admission;
        snapshot.admission_reason = decision.admission_reason;
        snapshot.ticks += 1;
        snapshot.updated_at = Some(wall_clock);
        snapshot.uptime = uptime;
        self.shared.publish(snapshot);

        // On a grid from the first tick, so 500 ms ticks give exactly one sample a second.
        if self.next_history_due.map_or(true, |due| now >= due) {
            let due = self.next_history_due.unwrap_or(now) + HISTORY_PERIOD;
            // After a stall, restart the grid rather than record a burst.
            self.next_history_due = Some(if due <= now {
                now + HISTORY_PERIOD
            } else {
                due
            });

            self.shared.push_history(HistorySample {
                at: wall_clock,
                uptime,
                temp_c: snapshot.temp_c,
                sensor_fault: decision.sensor_fault,
                filtered_c: decision.filtered_c,
                fan_duty: decision.fan_duty,
                level: decision.level,
                admission: self.sent_admission,
                active_connections: self.active_connections.as_ref().map_or(0, |count| count()),
            });
        }
        if snapshot.ticks == 1 {
            self.shared.mark_first_reading();
        }
    }
}
