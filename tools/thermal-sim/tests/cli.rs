//! The built `warden-thermal-sim` binary: help texts, exit statuses, refused inputs that
//! once panicked, hung or ate memory, the guard on `run --sysfs-root`, `run`'s duration,
//! and `compare`'s output paths checked before anything runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Exit status of a command line or input refused before anything ran.
const EXIT_USAGE: i32 = 2;

const SCENARIO: &str = "name = \"t\"\nduration_s = 600\n[ambient]\npoints = [[0.0, 22.0]]\n\
                        [load]\nkind = \"constant\"\nlevel = 1.0\n";

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden-thermal-sim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("thermal-sim-cli-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn every_command_prints_its_help_and_exits_0() {
    for (args, expected) in [
        (&["run", "--help"][..], "--sysfs-root DIR"),
        (&["run", "-h"], "--report-every"),
        (&["compare", "--help"], "--update-doc"),
        (&["compare", "-h"], "--charts"),
        (&["help"], "EXIT STATUS"),
        (&["--help"], "EXIT STATUS"),
    ] {
        let output = sim(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).contains(expected), "{args:?}");
    }
    let twice = sim(&[
        "run",
        "--scenario",
        "a",
        "--scenario",
        "b",
        "--sysfs-root",
        "/tmp/x",
    ]);
    assert_eq!(twice.status.code(), Some(EXIT_USAGE));
    assert!(
        stderr(&twice).contains("--scenario is given twice"),
        "{}",
        stderr(&twice)
    );
}

#[test]
fn huge_or_useless_inputs_are_refused_with_status_2_not_a_panic() {
    let dir = scratch("huge");
    let huge = write(&dir, "huge.toml", &SCENARIO.replace("600", "1e20"));
    let fan = write(
        &dir,
        "fan.toml",
        &format!("{SCENARIO}[fan]\nfails_at_s = 1e30\n"),
    );
    let tiny = write(&dir, "tiny.toml", &SCENARIO.replace("600", "1e-9"));
    let good = write(&dir, "good.toml", SCENARIO);
    let root = dir.join("root").to_string_lossy().into_owned();
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["compare", "--scenario", &huge], "duration_s"),
        (vec!["compare", "--scenario", &fan], "fan.fails_at_s"),
        (vec!["compare", "--scenario", &tiny], "at least 60"),
        (
            vec!["run", "--scenario", &huge, "--sysfs-root", &root],
            "duration_s",
        ),
        (
            vec![
                "run",
                "--scenario",
                &good,
                "--sysfs-root",
                &root,
                "--speed",
                "1e30",
            ],
            "--speed 1e30",
        ),
    ];
    for (args, expected) in cases {
        let output = sim(&args);
        assert_eq!(
            output.status.code(),
            Some(EXIT_USAGE),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"), "{args:?}");
    }
    assert!(!dir.join("root").exists(), "a refused run writes nothing");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_lays_out_only_a_new_empty_or_its_own_tree() {
    let dir = scratch("roots");
    let scenario = write(&dir, "s.toml", SCENARIO);
    let run = |root: &Path| sim(&run_args(&scenario, &root.to_string_lossy(), "1"));
    let mine = dir.join("mine");
    fs::create_dir_all(&mine).unwrap();
    fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let refused = run(&mine);
    assert_eq!(refused.status.code(), Some(EXIT_USAGE));
    assert!(
        stderr(&refused).contains("non-empty"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !mine.join("fan_duty").exists(),
        "nothing written into someone's directory"
    );

    std::os::unix::fs::symlink("/sys", dir.join("sys-link")).unwrap();
    let refused = run(&dir.join("sys-link"));
    assert_eq!(refused.status.code(), Some(EXIT_USAGE));
    assert!(
        stderr(&refused).contains("resolves to /sys"),
        "{}",
        stderr(&refused)
    );

    let tree = dir.join("tree");
    for attempt in ["first", "reuse"] {
        let output = run(&tree);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{attempt}: {}",
            stderr(&output)
        );
        assert!(tree.join(".warden-thermal-sim").is_file(), "{attempt}");
        assert!(tree.join("fan_duty").is_file(), "{attempt}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// Runs the binary with stdout and stderr in files of `dir`; a run still going after
/// [`HANG_LIMIT`] is killed and fails the test (it hung, e.g. opening a FIFO).
fn sim_or_hang(dir: &Path, args: &[&str]) -> Output {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden-thermal-sim"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("the binary runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG_LIMIT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{args:?} still running after {HANG_LIMIT:?}: it hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: fs::read(out_path).unwrap(),
        stderr: fs::read(err_path).unwrap(),
    }
}

/// Far longer than any refusal takes, however loaded the machine: only a hang reaches it.
const HANG_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn special_or_huge_scenario_files_are_refused_at_once_naming_file_and_cap() {
    let dir = scratch("unreadable");
    let fifo = dir.join("fifo.toml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo = fifo.to_string_lossy().into_owned();
    // A valid scenario padded past the 1 MiB cap: read whole, it would run.
    let padding = format!("# {}\n", "x".repeat(1 << 20));
    let huge = write(&dir, "huge.toml", &format!("{SCENARIO}{padding}"));
    let root = dir.join("root").to_string_lossy().into_owned();
    let cases: [(&str, &str); 3] = [
        (&fifo, "a FIFO (named pipe), not a regular file"),
        ("/dev/null", "a character device, not a regular file"),
        (&huge, "more than 1 MiB (1048576 bytes)"),
    ];
    for (file, expected) in cases {
        for args in [
            vec!["run", "--scenario", file, "--sysfs-root", &root],
            vec!["compare", "--scenario", file],
        ] {
            let output = sim_or_hang(&dir, &args);
            let error = stderr(&output);
            assert_eq!(output.status.code(), Some(EXIT_USAGE), "{args:?}: {error}");
            assert!(
                error.contains(&format!("unreadable scenario {file}: it"))
                    && error.contains(expected),
                "{args:?}: {error}"
            );
            assert!(stdout(&output).is_empty(), "{args:?}: nothing ran");
        }
    }
    assert!(!dir.join("root").exists(), "a refused run writes nothing");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_stops_exactly_at_the_duration_when_it_is_not_a_whole_number_of_steps() {
    let dir = scratch("duration");
    let scenario = write(&dir, "s.toml", SCENARIO);
    // (speed, step ms, duration): steps of 10 s and 10000 s, both past the duration.
    for (speed, step_ms, duration) in [("100", "100", "5"), ("1000", "10000", "1")] {
        let root = dir.join(format!("root-{duration}"));
        let root = root.to_string_lossy().into_owned();
        let args = [
            "run",
            "--scenario",
            &scenario,
            "--sysfs-root",
            &root,
            "--speed",
            speed,
            "--step-ms",
            step_ms,
            "--duration",
            duration,
        ];
        let output = sim(&args);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {error}");
        let expected = format!("simulation over after {duration} simulated s");
        assert!(error.contains(&expected), "{args:?}: {error}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unusable_compare_outputs_are_refused_before_any_scenario_runs() {
    let dir = scratch("outputs");
    let scenario = write(&dir, "s.toml", SCENARIO);
    let file = write(&dir, "charts-file", "not a directory");
    let unmarked = write(&dir, "doc.md", "# a doc without the markers\n");
    let cases = [
        (
            vec!["compare", "--scenario", &scenario, "--charts", &file],
            format!("--charts {file} is a regular file, not a directory"),
        ),
        (
            vec![
                "compare",
                "--scenario",
                &scenario,
                "--update-doc",
                &unmarked,
            ],
            format!("--update-doc file {unmarked} has no <!-- compare:begin --> marker"),
        ),
        (
            vec![
                "compare",
                "--scenario",
                &scenario,
                "--update-doc",
                "/dev/null",
            ],
            "unreadable --update-doc file /dev/null: it is a character device".to_string(),
        ),
    ];
    for (args, expected) in cases {
        let output = sim(&args);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(EXIT_USAGE), "{args:?}: {error}");
        assert!(error.contains(&expected), "{args:?}: {error}");
        assert!(
            stdout(&output).is_empty(),
            "{args:?}: no table, nothing ran: {}",
            stdout(&output)
        );
    }
    assert_eq!(
        fs::read_to_string(&unmarked).unwrap(),
        "# a doc without the markers\n"
    );

    let charts = dir.join("new-charts");
    let doc = write(
        &dir,
        "marked.md",
        "intro\n<!-- compare:begin -->\nold\n<!-- compare:end -->\nend\n",
    );
    let charts_arg = charts.to_string_lossy().into_owned();
    let args = [
        "compare",
        "--scenario",
        &scenario,
        "--charts",
        &charts_arg,
        "--update-doc",
        &doc,
    ];
    let output = sim(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(charts.join("thermal-t.svg").is_file());
    let updated = fs::read_to_string(&doc).unwrap();
    assert!(
        updated.starts_with("intro\n<!-- compare:begin -->\n| scenario |")
            && updated.ends_with("<!-- compare:end -->\nend\n")
            && !updated.contains("old"),
        "{updated}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The arguments of a `run` of `scenario` on `root` for `duration` simulated s at 1000x.
fn run_args<'a>(scenario: &'a str, root: &'a str, duration: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--scenario",
        scenario,
        "--sysfs-root",
        root,
        "--speed",
        "1000",
        "--duration",
        duration,
        "--report-every",
        "100000",
    ]
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_run_on_a_root_in_use_is_refused_naming_it_and_the_holder() {
    let dir = scratch("in-use");
    let scenario = write(&dir, "s.toml", SCENARIO);
    let root = dir.join("root");
    let root_arg = root.to_string_lossy().into_owned();
    // 600 simulated s at 1x: far longer than the test, killed below.
    let mut first = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_warden-thermal-sim"))
            .args(["run", "--scenario", &scenario, "--sysfs-root", &root_arg])
            .args(["--report-every", "100000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let first_pid = first.0.id();
    let holder = format!("claimed by pid {first_pid}");
    let started = Instant::now();
    while !fs::read_to_string(root.join(".warden-thermal-sim")).is_ok_and(|t| t.contains(&holder)) {
        assert!(
            started.elapsed() < HANG_LIMIT,
            "the first run never claimed the root"
        );
        assert!(
            first.0.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = sim_or_hang(&dir, &run_args(&scenario, &root_arg, "5"));
    let still_running = first.0.try_wait().unwrap().is_none();
    drop(first);
    let error = stderr(&second);
    assert_eq!(second.status.code(), Some(EXIT_USAGE), "{error}");
    assert!(
        error.contains(&format!("--sysfs-root {root_arg} is in use by another"))
            && error.contains(&format!("pid {first_pid}")),
        "{error}"
    );
    assert!(still_running, "the refused run left the first one alone");
    // The killed run's lock went with it.
    let third = sim_or_hang(&dir, &run_args(&scenario, &root_arg, "1"));
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_root_that_cannot_be_created_or_is_empty_is_refused_with_status_2() {
    let dir = scratch("uncreatable");
    let scenario = write(&dir, "s.toml", SCENARIO);
    let file = write(&dir, "file", "a regular file");
    let locked = dir.join("locked");
    fs::create_dir(&locked).unwrap();
    // Immutable as root (who ignores mode bits), mode 0444 otherwise.
    let helper = warden_hw::fake_sysfs::FakeSysfsTree::create(&dir.join("helper")).unwrap();
    helper.make_unwritable(&locked);
    let under_locked = locked.join("root").to_string_lossy().into_owned();
    let under_file = format!("{file}/root");
    let outputs: Vec<(String, Output)> = [under_locked, under_file]
        .into_iter()
        .map(|root| {
            let output = sim(&run_args(&scenario, &root, "1"));
            (root, output)
        })
        .collect();
    helper.make_writable(&locked).unwrap();
    drop(helper);
    for (root, output) in outputs {
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(EXIT_USAGE), "{root}: {error}");
        assert!(error.contains(&format!("--sysfs-root {root}")), "{error}");
        assert!(stdout(&output).is_empty(), "{root}: nothing ran");
    }
    let empty = sim(&run_args(&scenario, "", "1"));
    assert_eq!(empty.status.code(), Some(EXIT_USAGE));
    assert!(
        stderr(&empty).contains("--sysfs-root is empty"),
        "{}",
        stderr(&empty)
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reused_root_with_a_symbolic_link_inside_is_refused_naming_it() {
    let dir = scratch("inner-link");
    let scenario = write(&dir, "s.toml", SCENARIO);
    let root = dir.join("root");
    let root_arg = root.to_string_lossy().into_owned();
    let laid_out = sim(&run_args(&scenario, &root_arg, "1"));
    assert_eq!(laid_out.status.code(), Some(0), "{}", stderr(&laid_out));
    let victim = write(&dir, "victim", "keep me");
    fs::remove_file(root.join("fan_duty")).unwrap();
    std::os::unix::fs::symlink(&victim, root.join("fan_duty")).unwrap();
    let refused = sim(&run_args(&scenario, &root_arg, "1"));
    let error = stderr(&refused);
    assert_eq!(refused.status.code(), Some(EXIT_USAGE), "{error}");
    assert!(
        error.contains(&format!("{root_arg}/fan_duty is a symbolic link")),
        "{error}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_refuses_two_scenarios_of_one_name_and_outputs_it_cannot_write() {
    let dir = scratch("compare-refusals");
    let scenario = write(&dir, "s.toml", SCENARIO);
    let copy = write(&dir, "copy.toml", SCENARIO);
    let charts = dir.join("charts");
    fs::create_dir(&charts).unwrap();
    let chart = charts.join("thermal-t.svg");
    fs::write(&chart, "<svg/>").unwrap();
    let doc = write(
        &dir,
        "doc.md",
        "<!-- compare:begin -->\nold\n<!-- compare:end -->\n",
    );
    let charts_arg = charts.to_string_lossy().into_owned();
    let helper = warden_hw::fake_sysfs::FakeSysfsTree::create(&dir.join("helper")).unwrap();
    helper.make_unwritable(Path::new(&doc));
    helper.make_unwritable(&chart);
    let cases = [
        (
            vec!["compare", "--scenario", &scenario, "--scenario", &copy],
            format!("scenarios {scenario} and {copy} are both named \"t\""),
        ),
        (
            vec!["compare", "--scenario", &scenario, "--scenario", &scenario],
            "(the same file, given twice)".to_string(),
        ),
        (
            vec!["compare", "--scenario", &scenario, "--update-doc", &doc],
            format!("--update-doc file {doc}: cannot write it"),
        ),
        (
            vec!["compare", "--scenario", &scenario, "--charts", &charts_arg],
            format!("--charts: cannot write {}", chart.display()),
        ),
    ];
    let outputs: Vec<Output> = cases.iter().map(|(args, _)| sim(args)).collect();
    helper.make_writable(Path::new(&doc)).unwrap();
    helper.make_writable(&chart).unwrap();
    drop(helper);
    for ((args, expected), output) in cases.iter().zip(outputs) {
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(EXIT_USAGE), "{args:?}: {error}");
        assert!(error.contains(expected), "{args:?}: {error}");
        assert!(stdout(&output).is_empty(), "{args:?}: nothing ran");
    }
    assert_eq!(fs::read_to_string(&chart).unwrap(), "<svg/>");
    fs::remove_dir_all(&dir).unwrap();
}
