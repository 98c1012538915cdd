//! A controller over the real sysfs cpufreq backend on a fake tree, and a recorder that
//! keeps every call the controller makes on it, with what the hardware held at that
//! moment: for the tests of the originals and of the throttle episodes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::fake::{FakeFan, FakeSensor};
use warden_hw::fake_sysfs::{read_settled, FakeSysfsLayout, FakeSysfsTree};
use warden_hw::{RestoreEntry, SysfsCpuFreq};
use warden_thermal::controller::OriginalsRecorder;
use warden_thermal::{
    Controller, ControllerConfig, ControllerHandle, CpuStrategy, FanOnExit, SharedSnapshot,
};

use super::{reactive_policy, spawn_until_first_reading};

/// A fake tree in its own temp dir, removed on drop.
pub struct Tree {
    tree: Option<FakeSysfsTree>,
    dir: PathBuf,
}

impl Tree {
    pub fn new(name: &str, layout: &FakeSysfsLayout) -> Self {
        let dir = std::env::temp_dir()
            .join("warden-thermal-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let tree = FakeSysfsTree::create_with(&dir, layout).unwrap();
        Tree {
            tree: Some(tree),
            dir,
        }
    }

    pub fn tree(&self) -> &FakeSysfsTree {
        self.tree.as_ref().unwrap()
    }

    pub fn max_freq(&self) -> u64 {
        self.tree().scaling_max_freq(0).unwrap()
    }

    pub fn governor(&self) -> String {
        self.tree().governor(0).unwrap()
    }

    /// A controller over the tree's real cpufreq at 50 °C, ticking every 10 ms, with
    /// `recorder` told of each throttle episode.
    pub fn spawn(
        &self,
        strategy: CpuStrategy,
        sensor: &FakeSensor,
        recorder: Option<Box<dyn OriginalsRecorder>>,
    ) -> (ControllerHandle, Arc<SharedSnapshot>) {
        let cpufreq = SysfsCpuFreq::open(self.tree().root()).unwrap();
        let mut controller = Controller::new(
            reactive_policy(),
            Box::new(sensor.clone()),
            Box::new(FakeFan::on_off()),
        )
        .unwrap()
        .with_cpufreq(Box::new(cpufreq));
        if let Some(recorder) = recorder {
            controller = controller.with_originals_recorder(recorder);
        }
        let config = ControllerConfig {
            interval: Duration::from_millis(10),
            cpu_strategy: strategy,
            fan_on_exit: FanOnExit::Full,
        };
        spawn_until_first_reading(controller, config)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        drop(self.tree.take());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// One call on a [`recording`] recorder, with what the observed hardware held then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `throttle_starts(originals)`.
    Starts {
        originals: Vec<RestoreEntry>,
        held: String,
    },
    /// `throttle_released()`.
    Released { held: String },
}

impl Call {
    /// True for a [`Call::Starts`].
    pub fn is_start(&self) -> bool {
        matches!(self, Call::Starts { .. })
    }

    /// What the observed hardware held when the call was made.
    pub fn held(&self) -> &str {
        match self {
            Call::Starts { held, .. } | Call::Released { held } => held,
        }
    }
}

/// Every call a [`recording`] recorder received, in order.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The calls so far.
    pub fn all(&self) -> Vec<Call> {
        self.lock().clone()
    }

    /// The calls so far, `S` for a start and `R` for a release, e.g. "SRSR".
    pub fn letters(&self) -> String {
        self.lock()
            .iter()
            .map(|call| if call.is_start() { 'S' } else { 'R' })
            .collect()
    }
}

/// How a [`recording`] recorder answers a call (the calls before it are in the slice).
pub type Answer = Box<dyn FnMut(&Call, &[Call]) -> Result<(), String> + Send>;

struct Recording {
    observe: Box<dyn Fn() -> String + Send>,
    calls: Calls,
    answer: Answer,
}

impl Recording {
    fn keep(&mut self, call: Call) -> Result<(), String> {
        let mut calls = self.calls.lock();
        let answer = (self.answer)(&call, &calls);
        calls.push(call);
        answer
    }
}

impl OriginalsRecorder for Recording {
    fn throttle_starts(
        &mut self,
        originals: &[RestoreEntry],
        _files: CpuFreqFiles,
    ) -> Result<(), String> {
        let held = (self.observe)();
        self.keep(Call::Starts {
            originals: originals.to_vec(),
            held,
        })
    }

    fn throttle_released(&mut self) -> Result<(), String> {
        let held = (self.observe)();
        self.keep(Call::Released { held })
    }
}

/// A recorder keeping each call with what `observe` returned at that moment, answering
/// with `answer`.
pub fn recording(
    observe: impl Fn() -> String + Send + 'static,
    answer: impl FnMut(&Call, &[Call]) -> Result<(), String> + Send + 'static,
) -> (Box<dyn OriginalsRecorder>, Calls) {
    let calls = Calls::default();
    let recorder = Recording {
        observe: Box::new(observe),
        calls: calls.clone(),
        answer: Box::new(answer),
    };
    (Box::new(recorder), calls)
}

/// What the file at `path` holds, trimmed, for [`recording`]'s `observe`.
pub fn watching(path: PathBuf) -> impl Fn() -> String + Send + 'static {
    move || read_settled(&path).unwrap().trim().to_string()
}

/// An answer that accepts every call.
pub fn accept(_: &Call, _: &[Call]) -> Result<(), String> {
    Ok(())
}

/// The value `entries` give for `path`.
pub fn value_for(entries: &[RestoreEntry], path: &Path) -> Option<String> {
    entries
        .iter()
        .find(|e| e.path == path)
        .map(|e| e.value.clone())
}
