//! `log.format = "json"`: one JSON object per line, for Logstash or Loki.

use std::time::Duration;

use crate::util::{config_with, echo, Warden};

#[test]
fn json_log_lines_are_one_object_each_with_the_documented_fields() {
    let mut w = Warden::start(&config_with("", "[log]\nformat = \"json\"\n"));
    let mut s = echo::connect(w.addr());
    echo::roundtrip(&mut s, b"x");
    drop(s);
    w.signal(libc::SIGTERM);
    w.wait_exit(Duration::from_secs(10)).expect("exit");
    w.wait_log("final counters", Duration::from_secs(2));
    let lines = w.log();
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["time", "level", "target", "message", "fields"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(
            ["error", "warn", "info", "debug", "trace"].contains(&v["level"].as_str().unwrap()),
            "{line}"
        );
    }
    assert!(lines.iter().any(|l| l.contains("listening on")));
}

#[test]
fn a_bad_warden_log_is_named_and_the_configured_level_kept() {
    let w = Warden::start_with(
        &config_with("", "[log]\nlevel = \"debug\"\n"),
        crate::util::Launch {
            env: vec![("WARDEN_LOG".into(), "bogus".into())],
            ..Default::default()
        },
    );
    let line = w.wait_log("WARDEN_LOG", Duration::from_secs(5));
    assert!(
        line.contains("WARDEN_LOG=\"bogus\" is not a log level")
            && line.contains("log.level = debug"),
        "{line}"
    );
}
