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
        ("[logging]\nlevel = \"debug\"\n", UnknownKey, Some("logging"), &["unknown section `logging` (did you mean `log`?)"]),
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

#[test]
fn dates_headers_tables_and_arrays_are_named_as_written() {
    check_rows(&[
        (
            "[server]\nbacklog = 1979-05-27\n",
            WrongType,
            Some("server.backlog"),
            &["server.backlog: `1979-05-27` is a date; allowed an integer 1 to 65535 (line 2"],
        ),
        (
            "[status]\nenabled = 1979-05-27 07:32:00 # when\n",
            WrongType,
            Some("status.enabled"),
            &["`1979-05-27 07:32:00` is a date; allowed true or false"],
        ),
        (
            "[log]\nlevel = 07:32:00\n",
            WrongType,
            Some("log.level"),
            &["`07:32:00` is a time; allowed one of"],
        ),
        (
            "[[server]]\nbacklog = 5\n",
            WrongType,
            Some("server"),
            &[
                "server: `[[server]]` declares an array of tables, where one table is \
                 expected; write [server], with single brackets (line 1, column 1)",
            ],
        ),
        (
            "[thermal.sensor]\npath = \"x\"\n",
            WrongType,
            Some("thermal.sensor"),
            &[
                "`[thermal.sensor]` declares a table, where a value is expected; write \
                 `sensor = ...` under [thermal]; allowed \"auto\" or an absolute path",
            ],
        ),
        (
            "[[fan.curve]]\n",
            WrongType,
            Some("fan.curve"),
            &["`[[fan.curve]]` declares an array of tables, where a value is expected"],
        ),
        (
            "[thermal]\nsensor = {path = \"x\"} # c\n",
            WrongType,
            Some("thermal.sensor"),
            &["`{path = \"x\"}` is an inline table; allowed \"auto\""],
        ),
        (
            "[server]\nbacklog = [1]\n",
            WrongType,
            Some("server.backlog"),
            &["`[1]` is an array; allowed an integer 1 to 65535"],
        ),
        (
            "[server]\nbacklog = [\n  1,\n]\n",
            WrongType,
            Some("server.backlog"),
            &["`[...]` is an array"],
        ),
    ]);
    for text in [
        "[server]\nbacklog = 1979-05-27\n",
        "[[server]]\n",
        "[thermal.sensor]\n",
        "[thermal]\nsensor = {path = \"x\"}\n",
    ] {
        let message = error_of(text).to_string();
        assert!(
            !message.contains("invalid type: map"),
            "{text:?}: {message}"
        );
    }
}

#[test]
fn a_key_in_the_wrong_table_names_the_table_it_belongs_in() {
    check_rows(&[
        (
            "[server]\nlevel = \"info\"\n",
            UnknownKey,
            Some("server.level"),
            &["unknown key `level` (`level` belongs in [log]); allowed keys in [server]"],
        ),
        (
            "[thermal]\non_exit = \"full\"\n",
            UnknownKey,
            Some("thermal.on_exit"),
            &["(`on_exit` belongs in [fan])"],
        ),
        (
            "[fan]\nlisten = [\"127.0.0.1:1\"]\n",
            UnknownKey,
            Some("fan.listen"),
            &["(`listen` belongs in [server] or [status])"],
        ),
        (
            "backlog = 5\n",
            UnknownKey,
            Some("backlog"),
            &["unknown section `backlog` (`backlog` belongs in [server])"],
        ),
        // A misspelling that is no other table's key keeps the did-you-mean.
        (
            "[server]\nbaclog = 5\n",
            UnknownKey,
            Some("server.baclog"),
            &["(did you mean `backlog`?)"],
        ),
    ]);
}
