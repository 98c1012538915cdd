//! The command line of the real binary: each subcommand takes only its own
//! options, each once (exit 2 otherwise), and `warden status` refuses a
//! status document of a schema it does not understand (exit 1).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::util::{run_warden, TempDir};

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
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
