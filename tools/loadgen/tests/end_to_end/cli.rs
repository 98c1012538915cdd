//! Command-line errors and help, through the real binary.

use crate::run::loadgen;

#[test]
fn help_lists_every_mode_and_option() {
    let run = loadgen(&["--help"]);
    assert_eq!(run.code, 0);
    for word in [
        "pingpong",
        "churn",
        "hold",
        "--addr",
        "--connections",
        "--workers",
        "--size",
        "--duration",
        "--rate",
        "--threads",
        "--sources",
        "--warmup",
        "--hold",
        "--timeout",
        "--server-pid",
        "--json",
    ] {
        assert!(run.stdout.contains(word), "help lacks {word}");
    }
}

#[test]
fn bad_arguments_exit_2_naming_the_argument() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["pingpong", "--addr", "127.0.0.1:9", "--size", "big"],
            "--size",
        ),
        (
            &["churn", "--addr", "127.0.0.1:9", "--size", "4096"],
            "--size 4096",
        ),
        (&["hold", "--addr", "127.0.0.1:9"], "--connections"),
        (&["stampede"], "unknown mode"),
    ];
    for (args, expected) in cases {
        let run = loadgen(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn more_connections_than_descriptors_is_refused_up_front() {
    let run = loadgen(&["hold", "--addr", "127.0.0.1:9", "--connections", "5000000"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("--connections 5000000 needs about"),
        "{}",
        run.stderr
    );
}
