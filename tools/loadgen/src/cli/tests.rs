//! Parser tests: defaults, every option, and one named error per mistake.

use super::*;

fn parse_line(line: &str) -> Result<Command, UsageError> {
    parse(line.split_whitespace().map(str::to_string))
}

fn error_of(line: &str) -> String {
    match parse_line(line) {
        Err(UsageError(message)) => message,
        Ok(command) => panic!("'{line}' parsed as {command:?}"),
    }
}

#[test]
fn pingpong_defaults() {
    let Command::Pingpong(options) = parse_line("pingpong --addr 127.0.0.1:7000").unwrap() else {
        panic!("not pingpong");
    };
    assert_eq!(options.target.addr, "127.0.0.1:7000".parse().unwrap());
    assert_eq!(options.connections, 100);
    assert_eq!(options.size, 64);
    assert_eq!(options.duration, Duration::from_secs(10));
    assert_eq!(options.rate, None);
    assert_eq!(options.threads, 1);
    assert_eq!(options.sources, 1);
    assert_eq!(options.warmup, Duration::ZERO);
    assert_eq!(options.target.timeout, DEFAULT_TIMEOUT);
    assert!(!options.target.json);
    assert_eq!(options.target.server_pid, None);
}

#[test]
fn pingpong_all_options_both_spellings() {
    let pid = std::process::id();
    let line = format!(
        "pingpong --addr=127.0.0.1:9 --connections 8 --size=512 --duration 0.5 --rate 1000 \
         --threads 2 --sources 3 --warmup 1 --timeout 2 --server-pid {pid} --json"
    );
    let Command::Pingpong(options) = parse_line(&line).unwrap() else {
        panic!("not pingpong");
    };
    assert_eq!(options.connections, 8);
    assert_eq!(options.size, 512);
    assert_eq!(options.duration, Duration::from_millis(500));
    assert_eq!(options.rate, Some(1000.0));
    assert_eq!(options.threads, 2);
    assert_eq!(options.sources, 3);
    assert_eq!(options.warmup, Duration::from_secs(1));
    assert_eq!(options.target.timeout, Duration::from_secs(2));
    assert_eq!(options.target.server_pid, Some(pid));
    assert!(options.target.json);
}

#[test]
fn rate_zero_means_saturation_and_threads_cap_at_connections() {
    let Command::Pingpong(options) =
        parse_line("pingpong --addr 127.0.0.1:9 --rate 0 --connections 3 --threads 8").unwrap()
    else {
        panic!("not pingpong");
    };
    assert_eq!(options.rate, None);
    assert_eq!(options.threads, 3);
}

#[test]
fn churn_and_hold_parse() {
    let Command::Churn(churn) =
        parse_line("churn --addr 127.0.0.1:9 --workers 7 --size 100").unwrap()
    else {
        panic!("not churn");
    };
    assert_eq!((churn.workers, churn.size, churn.threads), (7, 100, 1));
    let Command::Hold(hold) =
        parse_line("hold --addr 127.0.0.1:9 --connections 300 --sources 4 --hold 0").unwrap()
    else {
        panic!("not hold");
    };
    assert_eq!(hold.connections, 300);
    assert_eq!(hold.rate, DEFAULT_HOLD_RATE);
    assert_eq!(hold.sources, 4);
    assert_eq!(hold.hold, Duration::ZERO);
    assert_eq!(hold.size, 16);
}

#[test]
fn help_wins_anywhere() {
    assert_eq!(parse_line("--help"), Ok(Command::Help));
    assert_eq!(parse_line("help"), Ok(Command::Help));
    assert_eq!(parse_line("hold --bogus -h"), Ok(Command::Help));
}

#[test]
fn bad_arguments_name_the_argument() {
    let cases = [
        ("", "missing mode"),
        ("flood --addr 127.0.0.1:9", "unknown mode 'flood'"),
        ("pingpong", "--addr HOST:PORT is required"),
        ("pingpong --addr nonsense", "--addr 'nonsense'"),
        (
            "pingpong --addr 127.0.0.1:9 --connections",
            "--connections needs a value",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --connections --json",
            "--connections needs a value",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --connections ten",
            "--connections: expected a whole number, got 'ten'",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --connections 0",
            "--connections 0 is out of range",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --size -1",
            "--size: expected a whole number",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --duration 0",
            "--duration 0 is out of range",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --duration soon",
            "--duration: expected a number, got 'soon'",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --rate -5",
            "--rate -5 is out of range",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --rate NaN",
            "--rate: expected a number",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --rate 1e-300",
            "--rate 1e-300 is out of range: allowed 0 (saturation) or 0.001 up to 1000000000",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --rate inf",
            "--rate: expected a number, got 'inf'",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --rate 1e400",
            "--rate: expected a number, got '1e400'",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --warmup 1e-300",
            "--warmup 1e-300 is out of range: allowed 0 (no warmup) or 0.001 up to 86400",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --duration 0.0009",
            "--duration 0.0009 is out of range: allowed 0.001 up to 86400",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --duration -inf",
            "--duration: expected a number, got '-inf'",
        ),
        (
            "churn --addr 127.0.0.1:9 --timeout 1e-300",
            "--timeout 1e-300 is out of range: allowed 0.001 up to 86400",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --workers 3",
            "unknown option --workers for pingpong",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --size 1 --size 2",
            "--size given more than once",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --json=yes",
            "--json takes no value",
        ),
        (
            "pingpong --addr 127.0.0.1:9 stray",
            "unexpected argument 'stray'",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --sources 255",
            "--sources 255 is out of range",
        ),
        (
            "pingpong --addr [::1]:9 --sources 2",
            "--addr must be an IPv4 loopback",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --server-pid abc",
            "--server-pid: expected a process id",
        ),
        (
            "pingpong --addr 127.0.0.1:9 --server-pid 4294967295",
            "--server-pid 4294967295: no such process",
        ),
        (
            "churn --addr 127.0.0.1:9 --size 101",
            "--size 101 is out of range: allowed 1..=100",
        ),
        (
            "churn --addr 127.0.0.1:9 --connections 5",
            "unknown option --connections for churn",
        ),
        (
            "hold --addr 127.0.0.1:9",
            "--connections is required for hold",
        ),
        (
            "hold --addr 127.0.0.1:9 --connections 5 --rate 0",
            "--rate 0 is out of range",
        ),
        (
            "hold --addr 127.0.0.1:9 --connections 5 --timeout 0",
            "--timeout 0 is out of range",
        ),
        (
            "hold --addr 127.0.0.1:9 --connections 5 --rate 1e-300",
            "--rate 1e-300 is out of range: allowed 0.001 up to 10000000",
        ),
        (
            "hold --addr 127.0.0.1:9 --connections 5 --rate NaN",
            "--rate: expected a number, got 'NaN'",
        ),
        (
            "hold --addr 127.0.0.1:9 --connections 5 --hold 1e-300",
            "--hold 1e-300 is out of range: allowed 0 (no hold) or 0.001 up to 86400",
        ),
        (
            "hold --addr 127.0.0.1:9 --connections 87 --rate 0.001",
            "--connections 87 at --rate 0.001 would take 87000 s to open, over the 86400 s limit",
        ),
    ];
    for (line, expected) in cases {
        let message = error_of(line);
        assert!(
            message.contains(expected),
            "'{line}' gave '{message}', expected '{expected}'"
        );
    }
}

#[test]
fn extreme_accepted_rates_and_seconds_convert_without_panicking() {
    // The smallest rate with the most connections gives the longest interval
    // pingpong derives (connections / rate); it must fit a Duration and an Instant.
    let Command::Pingpong(options) = parse_line(&format!(
        "pingpong --addr 127.0.0.1:9 --rate {MIN_RATE} --connections {MAX_CONNECTIONS} \
         --duration {MAX_SECONDS} --warmup -0 --timeout {MIN_SECONDS}"
    ))
    .unwrap() else {
        panic!("not pingpong");
    };
    let rate = options.rate.expect("a positive rate is a cap");
    let interval = Duration::from_secs_f64(options.connections as f64 / rate);
    assert!(std::time::Instant::now().checked_add(interval).is_some());
    assert_eq!(options.duration, Duration::from_secs(86_400));
    assert_eq!(options.warmup, Duration::ZERO);
    assert_eq!(options.target.timeout, Duration::from_millis(1));

    // hold at its lowest rate: one connection per 1000 s, a ramp within a day.
    let Command::Hold(hold) =
        parse_line("hold --addr 127.0.0.1:9 --connections 86 --rate 0.001").unwrap()
    else {
        panic!("not hold");
    };
    let spacing = Duration::from_secs_f64(1.0 / hold.rate);
    assert_eq!(spacing, Duration::from_secs(1000));
    assert!(spacing.mul_f64(hold.connections as f64) <= Duration::from_secs(86_400));
}
