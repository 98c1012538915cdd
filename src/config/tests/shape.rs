//! Input the parser rejects before validation: unknown keys and wrong types (bad
//! syntax: `syntax.rs`).

use super::{check_rows, error_of};
use crate::config::schema::allowed_keys;
use crate::config::ConfigErrorKind::*;

#[test]
fn brief_example_message_is_exact() {
    let error = error_of("[server]\nmax_connections = 0\n");
    assert_eq!(
        error.to_string(),
        "server.max_connections: 0 is out of range; allowed 1 to 1000000"
    );
}

#[test]
fn unknown_keys_name_the_key_and_list_the_allowed_ones() {
    check_rows(&[
        (
            "[server]\nlisten_addr = []\n",
            UnknownKey,
            Some("server.listen_addr"),
            &[
                "unknown key `listen_addr`",
                "allowed keys in [server]: listen, service, backlog, max_connections, at_capacity, \
                 max_pending_bytes, read_buffer_bytes, idle_timeout_s, drain_timeout_s",
            ],
        ),
        (
            "[servr]\n",
            UnknownKey,
            Some("servr"),
            &["unknown section `servr`", "did you mean `server`?", "allowed sections: server, thermal, fan, cpufreq, hardware, status, log"],
        ),
        ("debug = true\n", UnknownKey, Some("debug"), &["unknown section `debug`", "allowed sections:"]),
        ("[fan]\npim = 3\n", UnknownKey, Some("fan.pim"), &["did you mean `pin`?", "allowed keys in [fan]: driver, pin,"]),
        ("[thermal]\nfan_on = 3\n", UnknownKey, Some("thermal.fan_on"), &["did you mean `fan_on_c`?"]),
        ("[log]\nzzzzzz = 1\n", UnknownKey, Some("log.zzzzzz"), &["allowed keys in [log]: level, format"]),
        ("[server.tls]\ncert = \"x\"\n", UnknownKey, Some("server.tls"), &["unknown key `tls`"]),
    ]);
}

#[test]
fn every_section_rejects_an_unknown_key() {
    for section in allowed_keys("").unwrap() {
        let text = format!("[{section}]\nno_such_key = 1\n");
        let error = error_of(&text);
        assert_eq!(error.kind(), UnknownKey, "{text:?}: {error}");
        assert_eq!(
            error.key(),
            Some(format!("{section}.no_such_key").as_str()),
            "{text:?}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains(&format!("allowed keys in [{section}]")),
            "{error}"
        );
    }
}

#[test]
fn wrong_types_name_the_key_and_what_is_allowed() {
    check_rows(&[
        (
            "[server]\nbacklog = \"big\"\n",
            WrongType,
            Some("server.backlog"),
            &[
                "string \"big\"",
                "allowed an integer 1 to 65535",
                "(line 2, column 11)",
            ],
        ),
        (
            "[server]\nlisten = \"0.0.0.0:7000\"\n",
            WrongType,
            Some("server.listen"),
            &["allowed a non-empty array of strings"],
        ),
        (
            "[server]\nlisten = [7000]\n",
            WrongType,
            Some("server.listen[0]"),
            &["integer `7000`", "allowed a non-empty array"],
        ),
        (
            "[server]\nmax_connections = -5\n",
            WrongType,
            Some("server.max_connections"),
            &["-5", "allowed an integer 1 to 1000000"],
        ),
        (
            "[server]\nservice = 1\n",
            WrongType,
            Some("server.service"),
            &["allowed only \"echo\""],
        ),
        (
            "[thermal]\ninterval_ms = 500.0\n",
            WrongType,
            Some("thermal.interval_ms"),
            &["floating point", "allowed an integer 50 to 60000"],
        ),
        (
            "[thermal]\nfan_on_c = \"hot\"\n",
            WrongType,
            Some("thermal.fan_on_c"),
            &["allowed a number -40 to 150 (°C)"],
        ),
        (
            "[thermal]\nsensor = 0\n",
            WrongType,
            Some("thermal.sensor"),
            &["allowed \"auto\" or an absolute path"],
        ),
        (
            "[fan]\npin = 300\n",
            WrongType,
            Some("fan.pin"),
            &["300", "allowed an integer 0 to 27 (BCM GPIO number)"],
        ),
        (
            "[fan]\nactive_low = 1\n",
            WrongType,
            Some("fan.active_low"),
            &["allowed true or false"],
        ),
        (
            "[fan]\ncurve = [[50, 0.5, \"junk\"]]\n",
            WrongType,
            Some("fan.curve[0][2]"),
            &["string \"junk\"", "[temp_c, duty] pairs"],
        ),
        (
            "[fan]\ncurve = [[50, \"x\"]]\n",
            WrongType,
            Some("fan.curve[0][1]"),
            &["string \"x\"", "[temp_c, duty] pairs"],
        ),
        (
            "[fan]\npath = 5\n",
            WrongType,
            Some("fan.path"),
            &["allowed an absolute path such as"],
        ),
        (
            "[cpufreq]\npowersave_governor = true\n",
            WrongType,
            Some("cpufreq.powersave_governor"),
            &["letters, digits"],
        ),
        (
            "[hardware]\nsimulate = \"yes\"\n",
            WrongType,
            Some("hardware.simulate"),
            &["allowed true or false"],
        ),
        (
            "[status]\nlisten = [\"127.0.0.1:9181\"]\n",
            WrongType,
            Some("status.listen"),
            &["allowed an \"IP:port\" string"],
        ),
        (
            "[log]\nlevel = 3\n",
            WrongType,
            Some("log.level"),
            &["allowed one of \"error\", \"warn\", \"info\", \"debug\", \"trace\""],
        ),
        (
            "server = 5\n",
            WrongType,
            Some("server"),
            &["allowed a table [server]"],
        ),
    ]);
}
#[test]
fn type_error_position_counts_characters_from_one() {
    let error = error_of("# é\n[server]\nbacklog = \"x\"\n");
    assert_eq!(error.position(), Some((3, 11)), "{error}");
}
