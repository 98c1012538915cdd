//! warden-thermal-sim: a simulated Raspberry Pi 4 for closed-loop thermal evaluation.
//!
//! `run` drives warden-hw's two-node RC model in (scaled) real time as a separate process
//! against a fake sysfs tree, so a real `warden run` can control it. `compare` steps the
//! same model with warden's pure policy and two reference regimes in simulated time and
//! reports, per scenario, peak temperature, time above 80 °C, fan switches, refused
//! connections and served work, with SVG charts. This file wires the commands.

mod bounds;
mod chart;
mod cli;
mod compare;
mod ideal;
mod live;
mod outputs;
mod regime;
mod report;
mod scenario;
mod scenario_model;
mod sysfs_root;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use cli::{Command, CompareOptions};
use report::ScenarioRuns;
use scenario::Scenario;

/// Exit status: done.
const EXIT_OK: u8 = 0;
/// Exit status: the run failed while it ran.
const EXIT_FAILED: u8 = 1;
/// Exit status: refused before anything ran (command line, scenario, --sysfs-root,
/// compare's --charts and --update-doc).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(usage) => {
            eprintln!("error: {usage}\n\n{}", cli::help(usage.topic));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match command {
        Command::Help(topic) => {
            print!("{}", cli::help(topic));
            ExitCode::from(EXIT_OK)
        }
        Command::Run(options) => checked_then_run(live::prepare(&options), live::run),
        Command::Compare(options) => checked_then_run(load_for_compare(&options), |scenarios| {
            run_compare(&options, scenarios)
        }),
    }
}

/// Maps the two phases of a command to exit statuses: a refused input (`checked` failed,
/// nothing ran) is [`EXIT_USAGE`], a failure while running is [`EXIT_FAILED`].
fn checked_then_run<T>(checked: Result<T>, run: impl FnOnce(T) -> Result<()>) -> ExitCode {
    let input = match checked {
        Ok(input) => input,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(input) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The bundled scenarios directory (this crate's `scenarios/`).
fn bundled_scenarios() -> Result<Vec<PathBuf>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every scenario `compare` was given (or the bundled ones), loaded and checked, their
/// names distinct, and the `--charts` and `--update-doc` paths checked
/// ([`outputs::check`]), before any runs.
fn load_for_compare(options: &CompareOptions) -> Result<Vec<Scenario>> {
    let files = if options.scenarios.is_empty() {
        bundled_scenarios()?
    } else {
        options.scenarios.clone()
    };
    let loaded = files
        .into_iter()
        .map(|file| {
            let scenario = Scenario::load(&file)?;
            compare::check_scenario(&scenario)
                .with_context(|| format!("scenario {}", file.display()))?;
            Ok((file, scenario))
        })
        .collect::<Result<Vec<_>>>()?;
    compare::check_distinct_names(&loaded)?;
    let scenarios: Vec<Scenario> = loaded.into_iter().map(|(_, scenario)| scenario).collect();
    outputs::check(options, &scenarios)?;
    Ok(scenarios)
}

fn run_compare(options: &CompareOptions, scenarios: Vec<Scenario>) -> Result<()> {
    let mut all: Vec<ScenarioRuns> = Vec::new();
    for scenario in scenarios {
        let runs = compare::run_all(&scenario)
            .with_context(|| format!("running scenario {}", scenario.name))?;
        if let Some(dir) = &options.charts {
            let path = chart::write(dir, &scenario, &runs)?;
            eprintln!("wrote {}", path.display());
        }
        all.push((scenario, runs));
    }
    if options.json {
        print!("{}", report::json_lines(&all));
        return Ok(());
    }
    let generated = format!(
        "{}\nTarget checks:\n\n{}\n{}",
        report::table(&all),
        report::checks_markdown(&report::checks(&all)),
        bounds::markdown(&bounds::bounds(&all)?)
    );
    print!("{generated}");
    if let Some(doc) = &options.update_doc {
        outputs::update_doc(doc, &generated)?;
        eprintln!("updated {}", doc.display());
    }
    Ok(())
}
