//! The built `warden-thermal-sim` binary: help texts, exit statuses, refused inputs that
//! once panicked, and the guard on `run --sysfs-root`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    let run = |root: &Path| {
        let root = root.to_string_lossy().into_owned();
        sim(&[
            "run",
            "--scenario",
            &scenario,
            "--sysfs-root",
            &root,
            "--speed",
            "1000",
            "--duration",
            "1",
            "--report-every",
            "1000",
        ])
    };
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
