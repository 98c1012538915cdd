//! Command-line errors and help, through the real binary.

use crate::run::{count, loadgen, loadgen_with_limits};
use crate::servers::{refused_addr, Behaviour, TestServer};

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
    let cases: [(&[&str], &str); 6] = [
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
        (
            &["pingpong", "--addr", "127.0.0.1:9", "--rate", "1e-300"],
            "--rate 1e-300 is out of range",
        ),
        (
            &[
                "hold",
                "--addr",
                "127.0.0.1:9",
                "--connections",
                "1",
                "--rate",
                "1e-300",
            ],
            "--rate 1e-300 is out of range",
        ),
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

#[test]
fn event_loop_descriptors_count_against_the_open_file_limit() {
    let server = TestServer::start(Behaviour::Echo);
    let addr = server.addr();
    let pingpong = loadgen_with_limits(
        "ulimit -n 256",
        &[
            "pingpong",
            "--addr",
            &addr,
            "--connections",
            "190",
            "--threads",
            "64",
            "--duration",
            "0.5",
        ],
    );
    assert_eq!(pingpong.code, 2, "stderr:\n{}", pingpong.stderr);
    assert!(
        pingpong.stderr.contains(
            "--connections 190 with --threads 64 needs about 382 file descriptors \
             (190 sockets + 2 per event-loop thread x 64 + 64 spare) but RLIMIT_NOFILE allows 256"
        ),
        "{}",
        pingpong.stderr
    );
    let churn = loadgen_with_limits(
        "ulimit -n 256",
        &[
            "churn",
            "--addr",
            &addr,
            "--workers",
            "190",
            "--threads",
            "64",
            "--duration",
            "0.5",
        ],
    );
    assert_eq!(churn.code, 2, "stderr:\n{}", churn.stderr);
    assert!(
        churn
            .stderr
            .contains("--workers 190 with --threads 64 needs about 318 file descriptors"),
        "{}",
        churn.stderr
    );
    // The same connections on one thread fit, and the run ends with its summary.
    let fitting = loadgen_with_limits(
        "ulimit -n 256",
        &[
            "pingpong",
            "--addr",
            &addr,
            "--connections",
            "190",
            "--duration",
            "0.5",
            "--json",
        ],
    );
    assert_eq!(fitting.code, 0, "stderr:\n{}", fitting.stderr);
    assert_eq!(count(&fitting, "errors"), 0);
    assert!(count(&fitting, "msgs") > 0, "{}", fitting.json);
}

#[test]
fn buffers_beyond_the_address_space_limit_are_refused_up_front() {
    let run = loadgen_with_limits(
        "ulimit -v 2000000",
        &[
            "pingpong",
            "--addr",
            &refused_addr(),
            "--connections",
            "200",
            "--size",
            "16777216",
            "--duration",
            "0.5",
        ],
    );
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("--connections 200 x --size 16777216 needs about 3200 MiB"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("half the address-space limit, ulimit -v"),
        "{}",
        run.stderr
    );
}
