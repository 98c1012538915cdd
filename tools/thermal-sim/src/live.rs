//! `run`: the model as a separate process against a fake sysfs tree, for a real warden.
//!
//! Every wall step it reads what warden wrote (the fan file, `scaling_max_freq` and
//! `scaling_governor` of policy0), applies the scenario at the current simulated time,
//! advances the model by `step × speed`, and writes the sensor reading to the thermal
//! zone's `temp` (atomically, temp file + rename) and the firmware flags to
//! `get_throttled`. Simulated time can run faster than wall time; warden's own timing
//! (filter, trend, dwell) stays in wall time, so at `--speed 10` the board looks ten times
//! as quick to warden as a real one would. In this mode the simulator cannot see warden's
//! admission decisions, so the offered load heats the die whether or not warden sheds.
//! Everything it is given is checked in [`prepare`] before anything is written; its last
//! step claims the root ([`sysfs_root::claim`]: checked, created, locked and marked), so it
//! never writes into the real sysfs, into a directory of someone else's, or under another
//! run, and a root it cannot create is refused with the other inputs (exit status 2).

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use warden_hw::fake_sysfs::{read_settled, FakeSysfsTree};
use warden_hw::sim::PiThermalModel;

use crate::cli::RunOptions;
use crate::scenario::Scenario;
use crate::sysfs_root::{self, ClaimedRoot, RootState};

/// What the live loop last read from warden's side of the tree.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Inputs {
    fan_duty: f64,
    cap_khz: u64,
}

/// A live run whose inputs have been checked: the scenario parsed, the model built, the
/// root claimed for this run alone.
#[derive(Debug)]
pub struct LiveRun {
    options: RunOptions,
    scenario: Scenario,
    model: PiThermalModel,
    duration_s: f64,
    root: ClaimedRoot,
}

/// Checks everything `run` is given before anything is written: the scenario file and its
/// model, then claims `--sysfs-root` ([`sysfs_root::claim`]), last, so that a refused input
/// leaves no directory behind.
pub fn prepare(options: &RunOptions) -> Result<LiveRun> {
    let scenario = Scenario::load(&options.scenario)?;
    let model = PiThermalModel::new(scenario.params.clone(), scenario.ambient.at(0.0))
        .with_context(|| format!("scenario {}", options.scenario.display()))?;
    let duration_s = options
        .duration_s
        .unwrap_or(scenario.duration.as_secs_f64());
    let root = sysfs_root::claim(&options.sysfs_root)?;
    Ok(LiveRun {
        options: options.clone(),
        scenario,
        model,
        duration_s,
        root,
    })
}

/// Runs the live simulation until the scenario (or `--duration`) ends, holding the root.
pub fn run(live: LiveRun) -> Result<()> {
    let LiveRun {
        options,
        scenario,
        mut model,
        duration_s,
        root,
    } = live;
    if root.state == RootState::LaidOutBefore {
        eprintln!(
            "reusing {}: an earlier run laid it out",
            options.sysfs_root.display()
        );
    }
    let tree = FakeSysfsTree::create(&options.sysfs_root).with_context(|| {
        format!(
            "cannot lay out a fake sysfs tree in {}",
            options.sysfs_root.display()
        )
    })?;
    write_reading(&tree, model.read_sensor_millic())?;

    let wall_step = Duration::from_millis(options.step_ms);
    let sim_step = wall_step.mul_f64(options.speed);
    let lowest_khz = scenario.params.min_khz();
    eprintln!(
        "SIMULATED Pi 4 (scenario {}): writing {}, reading {} and {}; {}x real time for {duration_s:.0} simulated s",
        scenario.name,
        tree.temp_path().display(),
        tree.fan_file_path().display(),
        tree.scaling_max_freq_path(0).display(),
        options.speed,
    );
    let mut inputs = Inputs {
        fan_duty: 0.0,
        cap_khz: scenario.params.max_khz(),
    };
    let mut input_errors = 0u64;
    let mut next_report_s = 0.0;
    let duration = Duration::from_secs_f64(duration_s);
    let mut sim_time = Duration::ZERO;
    let mut next_wake = Instant::now();
    while let Some(step) = next_step(sim_time, duration, sim_step) {
        match read_inputs(&tree, lowest_khz) {
            Ok(read) => inputs = read,
            Err(error) => {
                input_errors += 1;
                if input_errors == 1 || input_errors.is_multiple_of(100) {
                    eprintln!("warning: keeping the last fan duty and cap: {error:#} ({input_errors} so far)");
                }
            }
        }
        let t_s = sim_time.as_secs_f64();
        model.set_fan_duty(inputs.fan_duty);
        model.set_cpufreq_cap_khz(inputs.cap_khz);
        model.set_ambient_c(scenario.ambient.at(t_s));
        model.set_fan_failed(scenario.fan_failed_at(sim_time));
        model.set_sensor_fault(scenario.sensor_fault_at(sim_time));
        model.set_utilisation(scenario.load.at(t_s));
        model.step(step);
        sim_time += step;

        let reading = model.read_sensor_millic();
        write_reading(&tree, reading)?;
        write_throttle_flags(&tree, model.throttle_flags())?;
        if t_s >= next_report_s {
            next_report_s += options.report_every_s;
            println!(
                "t={:>6.0}s ambient {:>4.1} °C load {:.2} die {:>5.1} °C reads {} fan {:.3}{} cap {} kHz clock {:.2}",
                sim_time.as_secs_f64(),
                model.ambient_c(),
                model.utilisation(),
                model.die_c(),
                reading.map_or("error".to_string(), |m| format!("{:.3}", m as f64 / 1000.0)),
                inputs.fan_duty,
                if model.fan_failed() { " (failed)" } else { "" },
                inputs.cap_khz,
                model.frequency_ratio(),
            );
        }
        next_wake += if step == sim_step {
            wall_step
        } else {
            step.div_f64(options.speed)
        };
        let now = Instant::now();
        if next_wake > now {
            std::thread::sleep(next_wake - now);
        } else {
            next_wake = now;
        }
    }
    eprintln!(
        "simulation over after {:.0} simulated s; tree left in {}",
        sim_time.as_secs_f64(),
        options.sysfs_root.display()
    );
    Ok(())
}

/// The next simulated step after `elapsed` of `duration`: a full `step`, or the shorter
/// one that ends exactly at `duration`; `None` once the duration is reached.
fn next_step(elapsed: Duration, duration: Duration, step: Duration) -> Option<Duration> {
    (elapsed < duration).then(|| step.min(duration - elapsed))
}

/// Writes a reading (millidegrees) or, for a failed read, an empty `temp`.
fn write_reading(tree: &FakeSysfsTree, reading: Option<i64>) -> Result<()> {
    let text = reading.map_or_else(String::new, |millic| format!("{millic}\n"));
    tree.write_temp_raw(&text)
        .with_context(|| format!("cannot write {}", tree.temp_path().display()))
}

/// Writes the firmware throttle word to `get_throttled`; the error names its full path.
fn write_throttle_flags(tree: &FakeSysfsTree, flags: u32) -> Result<()> {
    tree.set_throttle_raw(flags)
        .with_context(|| format!("cannot write {}", tree.throttle_path().display()))
}

/// Reads warden's fan duty and effective cpufreq cap from the tree; an error names the
/// file's full path (the tree's readers put it in their errors).
fn read_inputs(tree: &FakeSysfsTree, lowest_khz: u64) -> Result<Inputs> {
    let fan_duty = parse_duty(&tree.fan_file_path())?;
    let max_khz = tree.scaling_max_freq(0)?;
    let governor = tree.governor(0)?;
    let cap_khz = if governor == "powersave" {
        lowest_khz
    } else {
        max_khz
    };
    Ok(Inputs { fan_duty, cap_khz })
}

fn parse_duty(path: &Path) -> Result<f64> {
    let text = read_settled(path).with_context(|| format!("reading {}", path.display()))?;
    let duty: f64 = text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds {:?}, expected a duty 0.000-1.000",
                path.display(),
                text.trim()
            ),
        )
    })?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&duty),
        "{} holds duty {duty}, outside 0.0-1.0",
        path.display()
    );
    Ok(duty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The steps `run` takes for `duration` in steps of `step`.
    fn steps(duration: Duration, step: Duration) -> Vec<Duration> {
        let mut elapsed = Duration::ZERO;
        let mut taken = Vec::new();
        while let Some(next) = next_step(elapsed, duration, step) {
            elapsed += next;
            taken.push(next);
        }
        taken
    }

    #[test]
    fn the_last_step_ends_exactly_at_the_duration() {
        let secs = Duration::from_secs;
        assert_eq!(steps(secs(5), secs(10)), [secs(5)]);
        assert_eq!(steps(secs(25), secs(10)), [secs(10), secs(10), secs(5)]);
        assert_eq!(steps(secs(20), secs(10)), [secs(10), secs(10)]);
        let odd = Duration::from_secs_f64(1.25);
        let total: Duration = steps(odd, Duration::from_millis(100)).iter().sum();
        assert_eq!(total, odd);
    }

    #[test]
    fn inputs_follow_the_files_and_powersave_pins_the_lowest_step() {
        let dir = std::env::temp_dir().join(format!("thermal-sim-live-{}", std::process::id()));
        let tree = FakeSysfsTree::create(&dir).unwrap();
        assert_eq!(
            read_inputs(&tree, 600_000).unwrap(),
            Inputs {
                fan_duty: 0.0,
                cap_khz: 1_500_000
            }
        );
        fs::write(tree.fan_file_path(), "0.700").unwrap();
        fs::write(tree.scaling_max_freq_path(0), "1000000\n").unwrap();
        assert_eq!(
            read_inputs(&tree, 600_000).unwrap(),
            Inputs {
                fan_duty: 0.7,
                cap_khz: 1_000_000
            }
        );
        fs::write(tree.policy_dir(0).join("scaling_governor"), "powersave\n").unwrap();
        assert_eq!(read_inputs(&tree, 600_000).unwrap().cap_khz, 600_000);
        fs::write(tree.fan_file_path(), "fast").unwrap();
        assert!(read_inputs(&tree, 600_000).is_err());
        write_reading(&tree, None).unwrap();
        assert_eq!(fs::read_to_string(tree.temp_path()).unwrap(), "");
        write_reading(&tree, Some(61_234)).unwrap();
        assert_eq!(fs::read_to_string(tree.temp_path()).unwrap(), "61234\n");
        drop(tree);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn read_and_write_errors_name_the_full_path() {
        let dir =
            std::env::temp_dir().join(format!("thermal-sim-live-paths-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let tree = FakeSysfsTree::create(&dir).unwrap();
        let full = |path: &Path| path.display().to_string();
        fs::write(tree.scaling_max_freq_path(0), "abc\n").unwrap();
        let error = format!("{:#}", read_inputs(&tree, 600_000).unwrap_err());
        let expected = format!("{} holds \"abc\\n\"", full(&tree.scaling_max_freq_path(0)));
        assert!(error.contains(&expected), "{error}");
        fs::write(tree.scaling_max_freq_path(0), "1500000\n").unwrap();
        let governor = tree.policy_dir(0).join("scaling_governor");
        fs::remove_file(&governor).unwrap();
        let error = format!("{:#}", read_inputs(&tree, 600_000).unwrap_err());
        assert!(error.contains(&full(&governor)), "{error}");

        // A directory no file can be created in: the temp file of the atomic write fails.
        let throttle_dir = tree.throttle_path().parent().unwrap().to_path_buf();
        tree.make_unwritable(&throttle_dir);
        let error = format!("{:#}", write_throttle_flags(&tree, 0x5).unwrap_err());
        tree.make_writable(&throttle_dir).unwrap();
        assert!(
            error.contains(&format!("cannot write {}", full(&tree.throttle_path()))),
            "{error}"
        );
        drop(tree);
        fs::remove_dir_all(&dir).unwrap();
    }
}
