//! Test doubles for every hardware trait, always compiled (the thermal crate's tests use them).
//!
//! Each fake is `Clone`; clones share state, so a test keeps one clone to script and
//! inspect while the code under test owns a boxed other. Every call is recorded, and each
//! fake fails on demand: the next N calls, or always, with a chosen [`FakeFailure`].

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Access, HwError};
use crate::fan::check_duty;
use crate::throttle::ThrottleFlags;
use crate::{CpuFreq, Fan, TempSensor, ThrottleReader};

/// The kind of error a fake returns when told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FakeFailure {
    /// [`HwError::Transient`] (ENODATA).
    Transient,
    /// [`HwError::NotFound`].
    NotFound,
    /// [`HwError::PermissionDenied`].
    #[default]
    PermissionDenied,
    /// [`HwError::Parse`] ("garbage").
    Garbage,
    /// [`HwError::Empty`].
    Empty,
    /// [`HwError::Io`] (EIO).
    Io,
}

impl FakeFailure {
    /// The error this failure stands for, about the fake file `path`.
    pub fn to_error(self, path: &str, access: Access) -> HwError {
        let path = PathBuf::from(path);
        match self {
            FakeFailure::Transient => HwError::Transient {
                path,
                access,
                os_error: io::Error::from_raw_os_error(libc::ENODATA),
            },
            FakeFailure::NotFound => HwError::NotFound { path },
            FakeFailure::PermissionDenied => HwError::permission_denied(&path, access),
            FakeFailure::Garbage => HwError::Parse {
                path,
                text: "garbage".into(),
                expected: "a number",
            },
            FakeFailure::Empty => HwError::Empty {
                path,
                expected: "a number",
            },
            FakeFailure::Io => HwError::Io {
                path,
                access,
                os_error: io::Error::from_raw_os_error(libc::EIO),
            },
        }
    }
}

/// When a fake fails: the next `n` calls, or every call until told to stop.
#[derive(Debug, Clone, Copy, Default)]
struct FailurePlan {
    next: u32,
    always: bool,
    kind: FakeFailure,
}

impl FailurePlan {
    /// Consumes one planned failure, if any.
    fn take(&mut self) -> Option<FakeFailure> {
        if self.always {
            return Some(self.kind);
        }
        if self.next > 0 {
            self.next -= 1;
            return Some(self.kind);
        }
        None
    }

    fn next(n: u32, kind: FakeFailure) -> Self {
        FailurePlan {
            next: n,
            always: false,
            kind,
        }
    }

    fn always(kind: FakeFailure) -> Self {
        FailurePlan {
            next: 0,
            always: true,
            kind,
        }
    }
}

/// Locks a fake's state, ignoring poisoning (a failed test must not hide the next one).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One reading from a [`FakeSensor`]: the value, or the failure returned.
pub type FakeReading = Result<f64, FakeFailure>;

#[derive(Debug)]
struct SensorState {
    current: f64,
    script: VecDeque<FakeReading>,
    failures: FailurePlan,
    reads: Vec<FakeReading>,
}

/// A scripted temperature sensor.
///
/// Each read returns, in order of precedence: a planned failure; the next scripted
/// reading (a scripted value also becomes the current one); else the current value.
#[derive(Debug, Clone)]
pub struct FakeSensor {
    state: Arc<Mutex<SensorState>>,
}

/// Fake path named in a [`FakeSensor`]'s errors.
pub const FAKE_SENSOR_PATH: &str = "fake/thermal_zone0/temp";

impl FakeSensor {
    /// A sensor reading `celsius` until told otherwise.
    pub fn new(celsius: f64) -> Self {
        let state = SensorState {
            current: celsius,
            script: VecDeque::new(),
            failures: FailurePlan::default(),
            reads: Vec::new(),
        };
        FakeSensor {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Sets the value returned once the script is exhausted.
    pub fn set_celsius(&self, celsius: f64) {
        lock(&self.state).current = celsius;
    }

    /// Appends a scripted reading.
    pub fn push_celsius(&self, celsius: f64) {
        lock(&self.state).script.push_back(Ok(celsius));
    }

    /// Appends a scripted failure.
    pub fn push_failure(&self, kind: FakeFailure) {
        lock(&self.state).script.push_back(Err(kind));
    }

    /// Appends several scripted readings or failures.
    pub fn script(&self, readings: impl IntoIterator<Item = FakeReading>) {
        lock(&self.state).script.extend(readings);
    }

    /// Makes the next `n` reads fail with `kind` (before any script).
    pub fn fail_next(&self, n: u32, kind: FakeFailure) {
        lock(&self.state).failures = FailurePlan::next(n, kind);
    }

    /// Makes every read fail with `kind` until [`FakeSensor::stop_failing`].
    pub fn fail_always(&self, kind: FakeFailure) {
        lock(&self.state).failures = FailurePlan::always(kind);
    }

    /// Cancels planned failures.
    pub fn stop_failing(&self) {
        lock(&self.state).failures = FailurePlan::default();
    }

    /// Every read so far and what it returned.
    pub fn reads(&self) -> Vec<FakeReading> {
        lock(&self.state).reads.clone()
    }

    /// Number of reads so far.
    pub fn read_count(&self) -> usize {
        lock(&self.state).reads.len()
    }
}

impl TempSensor for FakeSensor {
    fn read_celsius(&mut self) -> Result<f64, HwError> {
        let mut state = lock(&self.state);
        let reading = match state.failures.take() {
            Some(kind) => Err(kind),
            None => match state.script.pop_front() {
                Some(Ok(celsius)) => {
                    state.current = celsius;
                    Ok(celsius)
                }
                Some(Err(kind)) => Err(kind),
                None => Ok(state.current),
            },
        };
        state.reads.push(reading);
        reading.map_err(|kind| kind.to_error(FAKE_SENSOR_PATH, Access::Read))
    }

    fn describe(&self) -> String {
        "fake sensor".into()
    }
}

/// One [`FakeFan::set_duty`] call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FanCall {
    /// The duty asked for.
    pub duty: f64,
    /// Whether the call succeeded (and so the duty was applied).
    pub ok: bool,
}

#[derive(Debug)]
struct FanState {
    calls: Vec<FanCall>,
    failures: FailurePlan,
}

/// A fan that records every duty asked for. Like the real drivers, it rejects duties
/// outside `0.0..=1.0` with [`HwError::InvalidDuty`].
#[derive(Debug, Clone)]
pub struct FakeFan {
    driver: &'static str,
    proportional: bool,
    state: Arc<Mutex<FanState>>,
}

/// Fake path named in a [`FakeFan`]'s errors.
pub const FAKE_FAN_PATH: &str = "fake/fan";

impl FakeFan {
    /// A fake reporting `driver` and `proportional` like a real driver would.
    pub fn new(driver: &'static str, proportional: bool) -> Self {
        FakeFan {
            driver,
            proportional,
            state: Arc::new(Mutex::new(FanState {
                calls: Vec::new(),
                failures: FailurePlan::default(),
            })),
        }
    }

    /// An on/off fan, like `gpio`.
    pub fn on_off() -> Self {
        Self::new("gpio", false)
    }

    /// A proportional fan, like `pwm`.
    pub fn proportional() -> Self {
        Self::new("pwm", true)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<FanCall> {
        lock(&self.state).calls.clone()
    }

    /// The duties that were applied (successful calls), in order.
    pub fn applied(&self) -> Vec<f64> {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| c.ok)
            .map(|c| c.duty)
            .collect()
    }

    /// The duty currently applied, if any call succeeded.
    pub fn last_applied(&self) -> Option<f64> {
        lock(&self.state)
            .calls
            .iter()
            .rev()
            .find(|c| c.ok)
            .map(|c| c.duty)
    }

    /// Makes the next `n` calls fail with `kind`.
    pub fn fail_next(&self, n: u32, kind: FakeFailure) {
        lock(&self.state).failures = FailurePlan::next(n, kind);
    }

    /// Makes every call fail with `kind` until [`FakeFan::stop_failing`].
    pub fn fail_always(&self, kind: FakeFailure) {
        lock(&self.state).failures = FailurePlan::always(kind);
    }

    /// Cancels planned failures.
    pub fn stop_failing(&self) {
        lock(&self.state).failures = FailurePlan::default();
    }
}

impl Fan for FakeFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        let mut state = lock(&self.state);
        let result = match state.failures.take() {
            Some(kind) => Err(kind.to_error(FAKE_FAN_PATH, Access::Write)),
            None => check_duty(duty).map(|_| ()),
        };
        state.calls.push(FanCall {
            duty,
            ok: result.is_ok(),
        });
        result
    }

    fn driver(&self) -> &'static str {
        self.driver
    }

    fn is_proportional(&self) -> bool {
        self.proportional
    }
}

/// One call on a [`FakeCpuFreq`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuFreqCall {
    /// `max_khz()`.
    ReadMax,
    /// `set_max_khz(khz)`.
    SetMax(u64),
    /// `governor()`.
    ReadGovernor,
    /// `set_governor(name)`.
    SetGovernor(String),
    /// `restore()`.
    Restore,
}

#[derive(Debug)]
struct CpuFreqState {
    max_khz: u64,
    governor: String,
    calls: Vec<CpuFreqCall>,
    read_failures: FailurePlan,
    write_failures: FailurePlan,
}

/// A cpufreq backend that records every call; reads and writes fail on demand separately.
/// A failed write changes nothing.
#[derive(Debug, Clone)]
pub struct FakeCpuFreq {
    steps_khz: Vec<u64>,
    original: (u64, String),
    state: Arc<Mutex<CpuFreqState>>,
}

/// Fake path named in a [`FakeCpuFreq`]'s errors.
pub const FAKE_CPUFREQ_PATH: &str = "fake/cpufreq/policy0/scaling_max_freq";

impl FakeCpuFreq {
    /// Steps (sorted here), starting at `max_khz` with `governor`; those are the originals.
    pub fn new(mut steps_khz: Vec<u64>, max_khz: u64, governor: &str) -> Self {
        steps_khz.sort_unstable();
        steps_khz.dedup();
        let state = CpuFreqState {
            max_khz,
            governor: governor.to_string(),
            calls: Vec::new(),
            read_failures: FailurePlan::default(),
            write_failures: FailurePlan::default(),
        };
        FakeCpuFreq {
            steps_khz,
            original: (max_khz, governor.to_string()),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Pi 4 style: steps 600/1000/1500 MHz, at 1500 MHz with `ondemand`.
    pub fn pi4() -> Self {
        Self::new(vec![600_000, 1_000_000, 1_500_000], 1_500_000, "ondemand")
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<CpuFreqCall> {
        lock(&self.state).calls.clone()
    }

    /// The max frequency now in effect.
    pub fn current_max_khz(&self) -> u64 {
        lock(&self.state).max_khz
    }

    /// The governor now in effect.
    pub fn current_governor(&self) -> String {
        lock(&self.state).governor.clone()
    }

    /// Makes the next `n` writes (set_max, set_governor, restore) fail with `kind`.
    pub fn fail_writes_next(&self, n: u32, kind: FakeFailure) {
        lock(&self.state).write_failures = FailurePlan::next(n, kind);
    }

    /// Makes every write fail with `kind` (a read-only cpufreq) until [`FakeCpuFreq::stop_failing`].
    pub fn fail_writes_always(&self, kind: FakeFailure) {
        lock(&self.state).write_failures = FailurePlan::always(kind);
    }

    /// Makes the next `n` reads (max_khz, governor) fail with `kind`.
    pub fn fail_reads_next(&self, n: u32, kind: FakeFailure) {
        lock(&self.state).read_failures = FailurePlan::next(n, kind);
    }

    /// Makes every read fail with `kind` until [`FakeCpuFreq::stop_failing`].
    pub fn fail_reads_always(&self, kind: FakeFailure) {
        lock(&self.state).read_failures = FailurePlan::always(kind);
    }

    /// Cancels planned read and write failures.
    pub fn stop_failing(&self) {
        let mut state = lock(&self.state);
        state.read_failures = FailurePlan::default();
        state.write_failures = FailurePlan::default();
    }

    /// Records `call` and consumes a planned failure of the matching kind.
    fn record(
        &self,
        call: CpuFreqCall,
        is_write: bool,
    ) -> Result<MutexGuard<'_, CpuFreqState>, HwError> {
        let mut state = lock(&self.state);
        state.calls.push(call);
        let (plan, access) = if is_write {
            (&mut state.write_failures, Access::Write)
        } else {
            (&mut state.read_failures, Access::Read)
        };
        match plan.take() {
            Some(kind) => Err(kind.to_error(FAKE_CPUFREQ_PATH, access)),
            None => Ok(state),
        }
    }
}

impl CpuFreq for FakeCpuFreq {
    fn steps_khz(&self) -> &[u64] {
        &self.steps_khz
    }

    fn max_khz(&mut self) -> Result<u64, HwError> {
        Ok(self.record(CpuFreqCall::ReadMax, false)?.max_khz)
    }

    fn set_max_khz(&mut self, khz: u64) -> Result<(), HwError> {
        let mut state = self.record(CpuFreqCall::SetMax(khz), true)?;
        if khz == 0 {
            return Err(HwError::InvalidSpec {
                field: "cpufreq max",
                reason: "0 kHz is not a frequency".into(),
            });
        }
        state.max_khz = khz;
        Ok(())
    }

    fn governor(&mut self) -> Result<String, HwError> {
        Ok(self
            .record(CpuFreqCall::ReadGovernor, false)?
            .governor
            .clone())
    }

    fn set_governor(&mut self, governor: &str) -> Result<(), HwError> {
        self.record(CpuFreqCall::SetGovernor(governor.to_string()), true)?
            .governor = governor.to_string();
        Ok(())
    }

    fn original(&self) -> (u64, String) {
        self.original.clone()
    }

    fn restore(&mut self) -> Result<(), HwError> {
        let (max_khz, governor) = self.original.clone();
        let mut state = self.record(CpuFreqCall::Restore, true)?;
        state.max_khz = max_khz;
        state.governor = governor;
        Ok(())
    }
}

#[derive(Debug)]
struct ThrottleState {
    flags: Option<ThrottleFlags>,
    reads: usize,
    failures: FailurePlan,
}

/// Throttle flags set by the test; no rate limiting.
#[derive(Debug, Clone)]
pub struct FakeThrottle {
    state: Arc<Mutex<ThrottleState>>,
}

/// Fake path named in a [`FakeThrottle`]'s errors.
pub const FAKE_THROTTLE_PATH: &str = "fake/get_throttled";

impl FakeThrottle {
    /// A reader returning `flags` (`None`: no such file on this platform).
    pub fn new(flags: Option<ThrottleFlags>) -> Self {
        FakeThrottle {
            state: Arc::new(Mutex::new(ThrottleState {
                flags,
                reads: 0,
                failures: FailurePlan::default(),
            })),
        }
    }

    /// Changes what the next reads return.
    pub fn set(&self, flags: Option<ThrottleFlags>) {
        lock(&self.state).flags = flags;
    }

    /// Number of reads so far (failed ones included).
    pub fn read_count(&self) -> usize {
        lock(&self.state).reads
    }

    /// Makes the next `n` reads fail with `kind`.
    pub fn fail_next(&self, n: u32, kind: FakeFailure) {
        lock(&self.state).failures = FailurePlan::next(n, kind);
    }

    /// Makes every read fail with `kind` until [`FakeThrottle::stop_failing`].
    pub fn fail_always(&self, kind: FakeFailure) {
        lock(&self.state).failures = FailurePlan::always(kind);
    }

    /// Cancels planned failures.
    pub fn stop_failing(&self) {
        lock(&self.state).failures = FailurePlan::default();
    }
}

impl ThrottleReader for FakeThrottle {
    fn read(&mut self) -> Result<Option<ThrottleFlags>, HwError> {
        let mut state = lock(&self.state);
        state.reads += 1;
        match state.failures.take() {
            Some(kind) => Err(kind.to_error(FAKE_THROTTLE_PATH, Access::Read)),
            None => Ok(state.flags),
        }
    }
}
