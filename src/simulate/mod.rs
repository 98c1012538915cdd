//! The live demo: `hardware.simulate = true` or `warden run --simulate` runs the thermal
//! controller against warden-hw's simulated Pi 4 instead of real hardware.
//!
//! [`start_with_options`] builds the simulated backends (sensor, fan, cpufreq, throttle flags,
//! all over one shared [`SimBoard`]) and starts a thread that advances the model in real
//! time every [`STEP`]. The load on the simulated CPU is warden's own CPU use, measured
//! with `CLOCK_PROCESS_CPUTIME_ID` (nanosecond resolution, every thread of the process;
//! `/proc/self/stat` counts in 10 ms ticks, too coarse for a 100 ms step), scaled to the
//! Pi: a host core does the work of about [`DEFAULT_CPU_SCALE`] Pi 4 cores at 1.5 GHz, and
//! the Pi has four. So one busy host core running warden's event loop (a loadgen pingpong)
//! keeps the simulated Pi about fully busy and heats the die visibly. An optional
//! synthetic load (environment, see [`SIM_LOAD_ENV`]) is added on top. Work is fixed, so
//! a throttled simulated CPU gets busier (demand ÷ clock), up to fully busy.
//!
//! It is loud about what is real: [`SIMULATED_WARNING`] is logged at start-up and the
//! sensor describes itself as simulated on the status page. The no-config default never
//! simulates by itself when no thermal zone exists (see `docs/THERMAL.md`): simulated
//! temperatures would shed real connections.
//!
//! Settings come from the environment rather than the config file, because `[hardware]`
//! has only the `simulate` switch; they are demo knobs, not deployment settings. They
//! are read by one parser, [`SimulationOptions::from_lookup`]: `warden run` calls it (via
//! [`options_for_run`]) before anything is bound, so a bad value stops the start with
//! exit 2 and nothing listening; `warden check-config` calls it (via
//! [`check_environment`]) whenever the file simulates or any `WARDEN_SIM_*` is set.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use warden_hw::sim::{PiThermalModel, SimBoard};
use warden_hw::Backends;

/// Logged (at warn level) when the simulation starts.
pub const SIMULATED_WARNING: &str =
    "SIMULATED Pi: temperature, fan and cpufreq are a model, not hardware";
/// How often the model advances, in simulated time: every `STEP / speed` of wall time,
/// but no more often than [`MIN_WALL_STEP`].
pub const STEP: Duration = Duration::from_millis(100);
/// The shortest wall-clock time between model steps (at high speeds a step then
/// covers more than [`STEP`] of simulated time).
pub const MIN_WALL_STEP: Duration = Duration::from_millis(5);
/// The longest wall gap the model catches up in one step (after a suspend or a stall).
pub const MAX_CATCH_UP: Duration = Duration::from_secs(1);

mod options;

pub use options::*;

/// Refuses a "governor" strategy whose governor the simulated Pi does not offer: every
/// throttle would fail. Its list is fixed, so `warden check-config` and `warden run` check
/// the same thing (exit 2).
pub fn check_governor(config: &crate::config::Config) -> Result<(), crate::exit::Failure> {
    if config.cpufreq.strategy != crate::config::CpuFreqStrategy::Governor {
        return Ok(());
    }
    warden_hw::sim::SimCpuFreq::check_governor(&config.cpufreq.powersave_governor).map_err(|e| {
        crate::exit::Failure::HardwareConfig(anyhow::Error::new(e).context("hardware"))
    })
}

/// The thread advancing the simulated Pi; stopping or dropping it ends the thread.
#[derive(Debug)]
pub struct Simulation {
    board: SimBoard,
    speed: f64,
    stop_tx: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Simulation {
    /// The simulated board (for tests and the curious).
    pub fn board(&self) -> &SimBoard {
        &self.board
    }

    /// Simulated seconds per wall second; the thermal controller runs its clock at
    /// the same speed, so control behaves as it would at 1×.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stop_tx.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("the simulation thread panicked");
            }
        }
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the simulation with `options` (as [`options_for_run`] read them) and warden's
/// own CPU use as the load, logs [`SIMULATED_WARNING`], the settings and any misspelt
/// `WARDEN_SIM_*` name, and returns the backends (their notes for the caller to log) to
/// hand to the thermal controller. Keep the [`Simulation`] alive until the controller
/// stopped.
pub fn start_with_options(
    options: &SimulationOptions,
) -> Result<(Backends, Simulation), SimulateError> {
    let mut cpu = ProcessCpuDemand::new(options.cpu_scale);
    let (backends, simulation) = start_simulation(options, move || cpu.sample())?;
    log::warn!("{SIMULATED_WARNING}");
    log::warn!("{}", options.describe());
    if let Some(note) = unknown_names_note(&env_names_set()) {
        log::warn!("{note}");
    }
    // The backends' notes are logged by the caller, as for real hardware.
    Ok((backends, simulation))
}

/// Starts the simulation with `demand` as the load source: each call returns the work
/// wanted since the previous call, as a fraction of the four simulated cores at the top
/// clock (the synthetic load is added to it). The model starts idle at its steady state.
pub fn start_simulation(
    options: &SimulationOptions,
    mut demand: impl FnMut() -> f64 + Send + 'static,
) -> Result<(Backends, Simulation), SimulateError> {
    let mut model = PiThermalModel::new(options.params.clone(), options.ambient_c)?;
    model.set_fan_failed(options.fan_broken);
    let board = SimBoard::new(model);
    let backends = board.backends();
    let (stop_tx, stop_rx) = mpsc::channel();
    let synthetic = options.synthetic_load;
    let speed = options.speed;
    let stepped = board.clone();
    let thread = thread::Builder::new()
        .name("warden-sim".to_owned())
        .spawn(move || advance(&stepped, &stop_rx, speed, move || demand() + synthetic))
        .map_err(SimulateError::Spawn)?;
    Ok((
        backends,
        Simulation {
            board,
            speed,
            stop_tx: Some(stop_tx),
            thread: Some(thread),
        },
    ))
}

/// Advances `board` every [`STEP`] of simulated time (see [`MIN_WALL_STEP`]) until
/// `stop_rx` disconnects.
fn advance(board: &SimBoard, stop_rx: &Receiver<()>, speed: f64, mut demand: impl FnMut() -> f64) {
    let period = STEP.div_f64(speed).max(MIN_WALL_STEP);
    let mut last = Instant::now();
    loop {
        match stop_rx.recv_timeout(period) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        let wall = now.duration_since(last).min(MAX_CATCH_UP);
        last = now;
        let wanted = demand();
        let mut model = board.lock();
        let busy = busy_fraction(wanted, model.frequency_ratio());
        model.set_utilisation(busy);
        model.step(wall.mul_f64(speed));
    }
}

/// The busy fraction of a CPU asked for `demand` (work as a fraction of full speed) while
/// running at `frequency_ratio` of its top clock: slower clocks stay busy longer, up to 1.
pub fn busy_fraction(demand: f64, frequency_ratio: f64) -> f64 {
    if !(demand.is_finite() && demand > 0.0) {
        return 0.0;
    }
    (demand / frequency_ratio.max(f64::EPSILON)).min(1.0)
}

/// warden's own CPU use as simulated-Pi demand, from `CLOCK_PROCESS_CPUTIME_ID`.
#[derive(Debug)]
pub struct ProcessCpuDemand {
    scale: f64,
    last_cpu: Option<Duration>,
    last_wall: Instant,
}

impl ProcessCpuDemand {
    /// A source scaling host CPU-seconds by `scale` Pi cores each, over [`PI_CORES`].
    pub fn new(scale: f64) -> Self {
        ProcessCpuDemand {
            scale,
            last_cpu: process_cpu_time(),
            last_wall: Instant::now(),
        }
    }

    /// Demand since the previous call: host CPU-seconds per wall second × scale ÷ 4.
    /// 0 when the clock cannot be read.
    pub fn sample(&mut self) -> f64 {
        let now = Instant::now();
        let cpu = process_cpu_time();
        let wall = now.duration_since(self.last_wall).as_secs_f64();
        let used = match (cpu, self.last_cpu) {
            (Some(cpu), Some(last)) => cpu.saturating_sub(last).as_secs_f64(),
            _ => 0.0,
        };
        self.last_cpu = cpu;
        self.last_wall = now;
        if wall <= 0.0 {
            return 0.0;
        }
        used / wall * self.scale / PI_CORES
    }
}

/// CPU time used by every thread of this process so far.
fn process_cpu_time() -> Option<Duration> {
    let mut spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `spec` is a valid, writable timespec on this stack frame, and
    // CLOCK_PROCESS_CPUTIME_ID is a clock every Linux kernel supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut spec) };
    if rc != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(spec.tv_sec).ok()?,
        u32::try_from(spec.tv_nsec).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_cpu_stays_busy_longer() {
        assert_eq!(busy_fraction(0.2, 1.0), 0.2);
        assert!((busy_fraction(0.2, 0.4) - 0.5).abs() < 1e-12);
        assert_eq!(busy_fraction(0.9, 0.4), 1.0);
        assert_eq!(busy_fraction(f64::NAN, 1.0), 0.0);
        assert_eq!(busy_fraction(-1.0, 1.0), 0.0);
    }

    #[test]
    fn demand_heats_the_simulated_die_and_the_backends_say_simulated() {
        let options = SimulationOptions {
            speed: MAX_SPEED,
            ..SimulationOptions::default()
        };
        let (mut backends, simulation) = start_simulation(&options, || 1.0).unwrap();
        assert!(backends.sensor.describe().contains("simulated"));
        assert_eq!(backends.fan.driver(), "sim");
        let start = backends.sensor.read_celsius().unwrap();
        // Wall time passes whatever the scheduler does; the model follows wall time × speed.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut now_c = start;
        while now_c < start + 5.0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
            now_c = backends.sensor.read_celsius().unwrap();
        }
        assert!(now_c >= start + 5.0, "{start} -> {now_c}");
        assert!(simulation.board().lock().utilisation() > 0.99);
        backends.fan.set_duty(1.0).unwrap();
        assert_eq!(simulation.board().lock().fan_duty(), 1.0);
        simulation.stop();
    }

    #[test]
    fn process_cpu_demand_sees_this_process_working() {
        let mut demand = ProcessCpuDemand::new(DEFAULT_CPU_SCALE);
        let until = Instant::now() + Duration::from_millis(200);
        let mut spin = 0u64;
        while Instant::now() < until {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        assert!(demand.sample() > 0.0);
    }
}
