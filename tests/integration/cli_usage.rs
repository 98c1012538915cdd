//! The command line of the real binary: each subcommand takes only its own
//! options, each once, values as `--opt VALUE` or `--opt=VALUE` (exit 2
//! otherwise), each has its own `--help`; `warden status` refuses a status
//! document of a schema it does not understand or missing what its table
//! shows, and quotes a non-warden answer briefly (exit 1); the daemon's last
//! log line says in words why it stopped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::util::{config_with, echo, run_warden, TempDir, Warden};

/// Runs warden with `args`, asserts exit 2 and returns its stderr.
fn usage_error(args: &[&str]) -> String {
    let out = run_warden(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

/// A config whose state and sysfs live in `dir`, so that even a parser that
/// wrongly accepted the command line could touch nothing outside it.
fn harmless_config(dir: &TempDir) -> String {
    let root = dir.path().display();
    let text = format!("[hardware]\nstate_dir = \"{root}/run\"\nsysfs_root = \"{root}/sysfs\"\n");
    dir.write("warden.toml", &text)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_option_given_twice_exits_2_naming_it() {
    let stderr = usage_error(&["run", "--config", "a.toml", "--config", "b.toml"]);
    assert!(
        stderr.contains("option '--config' given twice ('a.toml', then 'b.toml'); give it once"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Run 'warden run --help' for usage."),
        "{stderr}"
    );
    let stderr = usage_error(&["status", "--addr", "127.0.0.1:1", "--addr", "127.0.0.1:2"]);
    assert!(
        stderr.contains("option '--addr' given twice ('127.0.0.1:1', then '127.0.0.1:2')"),
        "{stderr}"
    );
    let stderr = usage_error(&["--simulate", "--simulate"]);
    assert!(
        stderr.contains("option '--simulate' given twice; give it once"),
        "{stderr}"
    );
}

#[test]
fn an_option_of_another_subcommand_exits_2_naming_both() {
    let dir = TempDir::new("cli-usage");
    let config = harmless_config(&dir);
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("--json", &["check-config", &config, "--json"]),
        (
            "--addr",
            &["check-config", &config, "--addr", "127.0.0.1:1"],
        ),
        (
            "--config",
            &["status", "--addr", "127.0.0.1:1", "--config", &config],
        ),
        (
            "--simulate",
            &["status", "--addr", "127.0.0.1:1", "--simulate"],
        ),
        ("--json", &["restore", "--config", &config, "--json"]),
        (
            "--addr",
            &["restore", "--config", &config, "--addr", "127.0.0.1:1"],
        ),
        (
            "--simulate",
            &["restore", "--config", &config, "--simulate"],
        ),
        ("--json", &["run", "--config", missing, "--json"]),
    ];
    for (flag, args) in cases {
        let sub = args[0];
        let stderr = usage_error(args);
        assert!(
            stderr.contains(&format!("option '{flag}' does not apply to 'warden {sub}'")),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("Run 'warden {sub} --help' for usage.")),
            "{args:?}: {stderr}"
        );
        // The help it points at exists and still lists the exit codes.
        let help = run_warden(&[sub, "--help"]);
        assert!(help.status.success(), "{sub} --help");
        assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes"));
    }
}

/// A one-shot HTTP server on 127.0.0.1:0 that answers each of `answers`
/// connections in turn with `body` as `200 application/json`.
fn fake_status_server(body: &'static str, answers: usize) -> (SocketAddr, JoinHandle<()>) {
    fake_http_server("200 OK", "application/json", body.to_string(), answers)
}

/// A one-shot HTTP server on 127.0.0.1:0 that answers each of `answers`
/// connections in turn with `status` and `body` of `content_type`.
fn fake_http_server(
    status: &'static str,
    content_type: &'static str,
    body: String,
    answers: usize,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        for _ in 0..answers {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(n @ 1..) => head.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    (addr, thread)
}

#[test]
fn warden_status_refuses_another_schema_and_names_both() {
    let body = r#"{"schema": 2, "version": "9.9.9", "state": "running"}"#;
    let (addr, server) = fake_status_server(body, 2);
    let addr = addr.to_string();
    for args in [
        vec!["status", "--addr", &addr],
        vec!["status", "--addr", &addr, "--json"],
    ] {
        let out = run_warden(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a document");
        assert!(
            stderr.contains(&format!(
                "the warden at {addr} (version 9.9.9) serves status schema 2, but this `warden status`"
            )) && stderr.contains("understands only schema 1")
                && stderr.contains("the client and the daemon are different warden versions"),
            "{args:?}: {stderr}"
        );
    }
    server.join().unwrap();
}

#[test]
fn warden_status_names_a_missing_schema() {
    let (addr, server) = fake_status_server(r#"{"version": "0.1.0"}"#, 1);
    let out = run_warden(&["status", "--addr", &addr.to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{addr} did not answer like a warden status server: its JSON has no \"schema\" field"
        )),
        "{stderr}"
    );
    server.join().unwrap();
}

#[test]
fn an_argument_that_is_not_utf8_exits_2_instead_of_panicking() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"bad\xff.toml");
    let out = std::process::Command::new(crate::util::warden_bin())
        .arg("check-config")
        .arg(bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("argument \"bad\u{fffd}.toml\" is not valid UTF-8"),
        "{stderr}"
    );
}

#[test]
fn a_value_may_follow_an_equals_sign_and_a_flag_takes_none() {
    let dir = TempDir::new("cli-equals");
    let config = harmless_config(&dir);
    let out = run_warden(&["check-config", &format!("--config={config}")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("{config}: ok")),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = usage_error(&["--simulate=x"]);
    assert!(
        stderr.contains("option '--simulate' takes no value, but was given one in '--simulate=x'"),
        "{stderr}"
    );
    let stderr = usage_error(&["status", "--json=yes"]);
    assert!(
        stderr.contains("option '--json' takes no value")
            && stderr.contains("Run 'warden status --help' for usage."),
        "{stderr}"
    );
    let stderr = usage_error(&["restore", "--config="]);
    assert!(
        stderr.contains("option '--config' needs a value, but it is empty"),
        "{stderr}"
    );
}

#[test]
fn a_value_option_followed_by_an_option_exits_2_saying_how_to_give_it() {
    let stderr = usage_error(&["run", "-c", "--simulate"]);
    assert!(
        stderr.contains(
            "option '--config' needs a value, but got the option '--simulate': write \
             '--config FILE', or '--config=FILE' for a FILE that starts with '-'"
        ),
        "{stderr}"
    );
    let stderr = usage_error(&["status", "--addr", "--json"]);
    assert!(
        stderr.contains("option '--addr' needs a value, but got the option '--json'"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_subcommand_exits_2_listing_the_real_ones() {
    let stderr = usage_error(&["frob"]);
    assert_eq!(
        stderr,
        "warden: unknown subcommand 'frob'; the subcommands are run, check-config, status, \
         restore\nRun 'warden --help' for usage.\n"
    );
    let stderr = usage_error(&["status", "frob"]);
    assert!(stderr.contains("unexpected argument 'frob'"), "{stderr}");
}

#[test]
fn each_subcommand_prints_its_own_help() {
    let full = run_warden(&["--help"]);
    assert!(full.status.success());
    let full = String::from_utf8_lossy(&full.stdout).into_owned();
    let synopses = [
        ("run", "warden [run] [--config FILE] [--simulate]"),
        ("check-config", "warden check-config FILE"),
        ("status", "warden status [--addr HOST:PORT] [--json]"),
        ("restore", "warden restore [--config FILE]"),
    ];
    for (sub, synopsis) in synopses {
        assert!(full.contains(synopsis), "{full}");
        let long = run_warden(&[sub, "--help"]);
        let short = run_warden(&[sub, "-h"]);
        assert!(long.status.success() && short.status.success(), "{sub}");
        assert_eq!(long.stdout, short.stdout, "{sub}");
        let help = String::from_utf8_lossy(&long.stdout);
        assert!(
            help.starts_with(&format!("warden {sub}: "))
                && help.contains(&format!("Usage:\n  {synopsis}\n"))
                && help.contains("Options:\n")
                && help.contains("Exit codes:\n  0  "),
            "{help}"
        );
        for (other, other_synopsis) in synopses {
            assert!(
                other == sub || !help.contains(other_synopsis),
                "{sub} --help shows {other}:\n{help}"
            );
        }
    }
    let status = String::from_utf8_lossy(&run_warden(&["status", "--help"]).stdout).into_owned();
    for line in [
        "  --addr HOST:PORT  the warden's status address (default 127.0.0.1:9181)\n",
        "  --json            print the raw /status JSON document instead of a table\n",
        "  -h, --help        print this help\n",
        "  2  bad usage, including an --addr that is not HOST:PORT\n",
    ] {
        assert!(status.contains(line), "missing {line:?} in\n{status}");
    }
    // A bad --addr is a usage error of `warden status`, and says so.
    let stderr = usage_error(&["status", "--addr", "no-port-here"]);
    assert!(
        stderr.contains("--addr \"no-port-here\"")
            && stderr.ends_with("Run 'warden status --help' for usage.\n"),
        "{stderr}"
    );
}

/// Runs `warden status --addr addr` plus `extra`, asserts exit 1, returns stderr.
fn status_fails(addr: SocketAddr, extra: &[&str]) -> String {
    let addr = addr.to_string();
    let mut args = vec!["status", "--addr", &addr];
    args.extend_from_slice(extra);
    let out = run_warden(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed something");
    stderr
}

#[test]
fn warden_status_quotes_a_non_json_answer_briefly_with_its_status() {
    let mut page =
        String::from("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n");
    page.push_str(&"<p>an error page from some other web server</p>\n".repeat(100));
    page.push_str("</html>\n");
    let (addr, server) = fake_http_server("404 Not Found", "text/html", page.clone(), 1);
    let stderr = status_fails(addr, &[]);
    assert!(
        stderr.starts_with(&format!(
            "warden: {addr} did not answer like a warden status server: it answered HTTP 404 \
             with a body that is not warden's JSON error: <!DOCTYPE html>\\n<html>"
        )) && stderr.ends_with(&format!("… ({} bytes in all)\n", page.len())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.len() < 400, "{} bytes: {stderr}", stderr.len());
    server.join().unwrap();

    let (addr, server) = fake_http_server("200 OK", "text/plain", "pong\r\n".into(), 2);
    for extra in [&[][..], &["--json"][..]] {
        let stderr = status_fails(addr, extra);
        assert!(
            stderr.contains(&format!(
                "{addr} did not answer like a warden status server: it answered HTTP 200 with a \
                 body that is not JSON ("
            )) && stderr.ends_with("): pong\n"),
            "{extra:?}: {stderr}"
        );
    }
    server.join().unwrap();
}

#[test]
fn warden_status_names_what_a_schema_1_document_lacks_but_json_prints_it() {
    let (addr, server) = fake_status_server(r#"{"schema":1}"#, 2);
    let stderr = status_fails(addr, &[]);
    assert!(
        stderr.contains(&format!(
            "the status document from {addr} says \"schema\": 1 but lacks the \"version\" field"
        )) && !stderr.contains('?'),
        "{stderr}"
    );
    let out = run_warden(&["status", "--addr", &addr.to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"schema\":1}\n");
    server.join().unwrap();
}

/// Starts warden with `drain_timeout_s` holding `held` open connections,
/// sends SIGTERM `signals` times and returns its "stopped:" log line.
fn stop_line(drain_timeout_s: u64, held: usize, signals: usize) -> String {
    let mut w = Warden::start(&config_with(
        &format!("drain_timeout_s = {drain_timeout_s}"),
        "",
    ));
    let mut streams: Vec<_> = (0..held).map(|_| echo::connect(w.addr())).collect();
    for s in streams.iter_mut() {
        echo::roundtrip(s, b"x");
    }
    for _ in 0..signals {
        w.signal(libc::SIGTERM);
        w.wait_log("draining", Duration::from_secs(5));
    }
    let status = w.wait_exit(Duration::from_secs(10)).expect("warden exits");
    assert!(status.success(), "{status:?}");
    w.wait_log("stopped: ", Duration::from_secs(2))
}

#[test]
fn the_stop_line_says_why_in_words() {
    let line = stop_line(10, 0, 1);
    assert!(
        line.ends_with("stopped: drained, every connection finished"),
        "{line}"
    );
    let line = stop_line(0, 2, 1);
    assert!(
        line.ends_with(
            "stopped: drain deadline (server.drain_timeout_s) reached, remaining connections cut"
        ),
        "{line}"
    );
    let line = stop_line(60, 2, 2);
    assert!(
        line.ends_with("stopped: second stop signal while draining, remaining connections cut"),
        "{line}"
    );
}
