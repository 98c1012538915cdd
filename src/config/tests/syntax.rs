//! Text that is not TOML: every message says in words what is wrong, names the key or
//! table when the line shows it, and gives the line and column.

use super::{check_rows, error_of};
use crate::config::ConfigErrorKind::*;

#[test]
fn a_missing_value_at_the_end_of_the_file_is_said_in_words() {
    // toml reports this one with an empty message.
    let error = error_of("[server]\nbacklog =");
    assert_eq!(
        error.to_string(),
        "server.backlog: invalid TOML: a value is missing after `backlog =`; write the value \
         on the same line as its key; allowed an integer 1 to 65535 (line 2, column 10)"
    );
    assert_eq!(error.kind(), Syntax);
    assert_eq!(error.key(), Some("server.backlog"));
}

#[test]
fn missing_values_and_bare_words_name_the_key() {
    check_rows(&[
        (
            "[server]\nbacklog = 1\nmax_connections =\n",
            Syntax,
            Some("server.max_connections"),
            &[
                "a value is missing after `max_connections =`",
                "(line 3, column 18)",
            ],
        ),
        (
            "[server]\n  backlog =     # later\n",
            Syntax,
            Some("server.backlog"),
            &["a value is missing after `backlog =`"],
        ),
        (
            "backlog = \n",
            Syntax,
            Some("backlog"),
            &["a value is missing after `backlog =`"],
        ),
        (
            "[log]\nlevel = loud\n",
            Syntax,
            Some("log.level"),
            &[
                "`loud` is not a value: text must be quoted",
                "write \"loud\"; allowed one of \"error\", \"warn\"",
                "(line 2, column 9)",
            ],
        ),
        (
            // toml reads `inf` as a float and stops at the `o`: the whole word is quoted back.
            "[log]\nlevel = info\n",
            Syntax,
            Some("log.level"),
            &[
                "`info` is not a value: text must be quoted",
                "write \"info\"",
            ],
        ),
        (
            "[server]\nlisten = [nowhere]\n",
            Syntax,
            Some("server.listen"),
            &["`nowhere` is not a value: text must be quoted"],
        ),
        (
            "[fan]\nactive_low = True\n",
            Syntax,
            Some("fan.active_low"),
            &[
                "`True` is not a value",
                "booleans are written in lower case: true",
            ],
        ),
        (
            "[server]\nbacklog = = 3\n",
            Syntax,
            Some("server.backlog"),
            &[
                "`=` is not a value",
                "a value is a number, a \"quoted string\"",
            ],
        ),
        (
            "[server]\nbacklog = 07\n",
            Syntax,
            Some("server.backlog"),
            &[
                "`07` is not a number: TOML numbers have no leading zeros",
                "write 7",
            ],
        ),
        (
            "[server]\nbacklog = 3 4 # two\n",
            Syntax,
            Some("server.backlog"),
            &[
                "unexpected `4` after the value `3`",
                "optionally followed by a # comment",
            ],
        ),
    ]);
}

#[test]
fn unclosed_strings_headers_arrays_and_tables_say_what_is_missing() {
    check_rows(&[
        (
            "[log]\nlevel = \"info\n",
            Syntax,
            Some("log.level"),
            &[
                "the string is not closed: its closing \" is missing",
                "(line 2, column 14)",
            ],
        ),
        (
            "[log]\nlevel = 'info\n",
            Syntax,
            Some("log.level"),
            &["its closing ' is missing"],
        ),
        (
            "[log]\nformat = \"\"\"text\n",
            Syntax,
            Some("log.format"),
            &[
                "the multi-line string opened on line 2 is not closed",
                "end it with \"\"\"",
            ],
        ),
        (
            "[server\nbacklog = 3\n",
            Syntax,
            Some("server"),
            &[
                "the table header `[server` is not closed",
                "end it with ]: [server]",
            ],
        ),
        (
            "[server]]\n",
            Syntax,
            Some("server"),
            &["unexpected `]` after the table header"],
        ),
        (
            "[server]\nlisten = [\"127.0.0.1:7000\",\nbacklog = 3\n",
            Syntax,
            Some("server.listen"),
            &["the array opened on line 2 is not closed", "end it with ]"],
        ),
        (
            "[server]\nlisten = [\"127.0.0.1:7000\" \"127.0.0.2:7000\"]\n",
            Syntax,
            Some("server.listen"),
            &["a comma is missing before `\"127.0.0.2:7000\"` in the array"],
        ),
        (
            "[fan]\ncurve = [\n  [50, 0.3]\n  [60, 0.5],\n]\n",
            Syntax,
            Some("fan.curve"),
            &[
                "a comma is missing before `[60, 0.5]`",
                "(line 4, column 3)",
            ],
        ),
        (
            "[fan]\ncurve = [[50, 0.3],, [60, 0.5]]\n",
            Syntax,
            Some("fan.curve"),
            &["the array has an empty item"],
        ),
        (
            "server = {backlog = 3,}\n",
            Syntax,
            Some("server"),
            &["an inline table may not end with a comma"],
        ),
        (
            "server = {backlog = 3\n",
            Syntax,
            Some("server"),
            &["the inline table is not closed on its line"],
        ),
    ]);
}

#[test]
fn duplicates_name_the_first_definition() {
    check_rows(&[
        (
            "[server]\nbacklog = 1\nbacklog = 2\n",
            Syntax,
            Some("server.backlog"),
            &[
                "`backlog` is set twice in [server] (first on line 2)",
                "(line 3, column 1)",
            ],
        ),
        (
            "[server]\nbacklog = 1\n[log]\n[server]\n",
            Syntax,
            Some("server"),
            &[
                "the table [server] is defined twice (first on line 1)",
                "(line 4, column 1)",
            ],
        ),
        (
            "[fan]\npin = 4\n[fan.pin]\n",
            Syntax,
            Some("fan.pin"),
            &["the table [fan.pin] clashes with the key `fan.pin` set on line 2"],
        ),
    ]);
}

#[test]
fn keys_without_equals_and_bad_escapes_are_explained() {
    check_rows(&[
        (
            "[server]\nbacklog 4096\n",
            Syntax,
            Some("server.backlog"),
            &[
                "the = is missing between `backlog` and `4096`",
                "write `backlog = value`",
            ],
        ),
        (
            "[server]\nbacklog\n",
            Syntax,
            Some("server.backlog"),
            &["`backlog` has no = and no value"],
        ),
        (
            "[server]\n= 3\n",
            Syntax,
            Some("server"),
            &["a key is missing before ="],
        ),
        (
            "[thermal]\nsensor = \"C:\\temp\\q\"\n",
            Syntax,
            Some("thermal.sensor"),
            &[
                "`\\q` is not an escape sequence that TOML knows",
                "write \\\\ for a backslash",
            ],
        ),
        (
            "[server]\nbacklog = 1_\n",
            Syntax,
            Some("server.backlog"),
            &[
                "invalid integer, expected digit in `1_`",
                "see https://toml.io",
            ],
        ),
    ]);
}

#[test]
fn a_fault_outside_any_key_names_none() {
    let error = error_of("[\n");
    assert_eq!(error.kind(), Syntax);
    assert_eq!(error.key(), None, "{error}");
    assert!(
        error
            .to_string()
            .starts_with("invalid TOML: the table header `[` has no name"),
        "{error}"
    );
    // A key broken by an unclosed quote is not quoted back as a key.
    let error = error_of("\"a = 1\n");
    assert_eq!(error.key(), None, "{error}");
    assert!(
        error.to_string().contains("the string is not closed"),
        "{error}"
    );
}

#[test]
fn no_syntax_message_is_left_empty() {
    // Each ends the file in the middle of a statement, where toml's own phrase may be empty.
    for text in [
        "[server]\nbacklog =",
        "[server]\nlisten = [",
        "[server]\nlisten = [\"a\",",
        "[log]\nlevel = \"",
        "[",
        "[server",
        "x = {",
        "x = {a =",
        "x = 1.",
        "x = +",
    ] {
        let error = error_of(text);
        assert_eq!(error.kind(), Syntax, "{text:?}: {error}");
        let message = error.to_string();
        let problem = message
            .split_once("invalid TOML: ")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        assert!(
            problem
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '`'),
            "{text:?} gives no description: {message}"
        );
        assert!(error.position().is_some(), "{text:?}: {message}");
    }
}

#[test]
fn every_cut_of_a_file_gets_a_described_error_or_parses() {
    // Cut at every character: each kind of statement is left unfinished somewhere,
    // including inside multi-byte text, strings, arrays and comments.
    let file = "# réglage\n[server]\nlisten = [\"127.0.0.1:7000\", # é\n  \"[::1]:7000\"]\n\
                backlog = 4096\n[log]\nlevel = 'info'\nformat = \"\"\"text\"\"\"\n\
                [fan]\ncurve = [[50, 0.3], [60.5, 1.0]]\n\"quoted key\" = { a = 1 }\n";
    for (cut, _) in file.char_indices() {
        let text = &file[..cut];
        let Err(error) = crate::config::Config::from_toml_str(text) else {
            continue;
        };
        if error.kind() != Syntax {
            continue;
        }
        let message = error.to_string();
        let problem = message.split_once("invalid TOML: ").map_or("", |(_, p)| p);
        assert!(
            !problem.is_empty() && !problem.starts_with(';') && !problem.starts_with(' '),
            "{text:?}: {message}"
        );
    }
}

#[test]
fn leading_zeros_get_a_fix_that_is_valid_toml() {
    // (value written, fix advised); every fix must itself be a TOML number.
    for (written, fix) in [
        ("00", "0"),
        ("000.0", "0.0"),
        ("00.2", "0.2"),
        ("0012", "12"),
        ("060", "60"),
        ("-060", "-60"),
        ("+060.5", "+60.5"),
        ("-00", "-0"),
        ("00e2", "0e2"),
        ("007_000", "7_000"),
    ] {
        let text = format!("[thermal]\nfan_on_c = {written}\n");
        let message = error_of(&text).to_string();
        let expected = format!(
            "thermal.fan_on_c: invalid TOML: `{written}` is not a number: TOML numbers have no \
             leading zeros; write {fix}; allowed a number -40 to 150"
        );
        assert!(message.starts_with(&expected), "{written}: {message}");
        let fixed = format!("n = {fix}").parse::<toml::Table>();
        assert!(fixed.is_ok(), "the advised {fix:?} is not TOML: {fixed:?}");
    }
    // A date-like word is not advised as a number.
    let message = error_of("[server]\nbacklog = 0999-01-01x\n").to_string();
    assert!(!message.contains("leading zeros"), "{message}");
}

#[test]
fn a_bare_word_is_advised_by_the_type_the_key_takes() {
    check_rows(&[
        (
            "[fan]\nactive_low = tru\n",
            Syntax,
            Some("fan.active_low"),
            &["`tru` is not a boolean; allowed true or false, in lower case and without quotes"],
        ),
        (
            "[status]\nenabled = yes\n",
            Syntax,
            Some("status.enabled"),
            &["`yes` is not a boolean; allowed true or false"],
        ),
        (
            "[server]\nbacklog = big\n",
            Syntax,
            Some("server.backlog"),
            &[
                "`big` is not a number; write a whole number in digits, without quotes; \
                 allowed an integer 1 to 65535",
            ],
        ),
        (
            "[thermal]\nfan_on_c = hot\n",
            Syntax,
            Some("thermal.fan_on_c"),
            &["`hot` is not a number; write a number in digits, without quotes; allowed a number"],
        ),
        (
            "[fan]\ncurve = [[50, hi]]\n",
            Syntax,
            Some("fan.curve"),
            &["`hi` is not a number"],
        ),
        (
            "server = big\n",
            Syntax,
            Some("server"),
            &["`big` is not a value this key takes; allowed a table [server]"],
        ),
        // `True` is a miswritten boolean only where a boolean is expected.
        (
            "[server]\nbacklog = True\n",
            Syntax,
            Some("server.backlog"),
            &["`True` is not a number"],
        ),
        (
            "[log]\nlevel = True\n",
            Syntax,
            Some("log.level"),
            &["`True` is not a value: text must be quoted; write \"True\""],
        ),
        // Text keys, and keys warden does not know, are still told to quote.
        (
            "[log]\nlevel = loud\n",
            Syntax,
            Some("log.level"),
            &["`loud` is not a value: text must be quoted; write \"loud\""],
        ),
        (
            "[server]\nfoo = bar\n",
            Syntax,
            Some("server.foo"),
            &["`bar` is not a value: text must be quoted; write \"bar\""],
        ),
    ]);
    for text in [
        "[fan]\nactive_low = tru\n",
        "[server]\nbacklog = big\n",
        "[thermal]\nfan_on_c = hot\n",
    ] {
        let message = error_of(text).to_string();
        assert!(!message.contains("quoted"), "{text:?}: {message}");
    }
}

#[test]
fn a_header_after_a_dotted_key_names_the_key_that_made_the_table() {
    check_rows(&[
        (
            "server.backlog = 5\n[server]\nmax_connections = 3\n",
            Syntax,
            Some("server"),
            &[
                "the dotted key `server.backlog` on line 1 already defined the table \
                 [server], so [server] cannot start it again",
                "move that key under [server] as `backlog = ...`",
                "(line 2, column 1)",
            ],
        ),
        (
            "[fan]\ncurve.x = 1\n[fan.curve]\n",
            Syntax,
            Some("fan.curve"),
            &["the dotted key `fan.curve.x` on line 2 already defined the table [fan.curve]"],
        ),
    ]);
    let message = error_of("server.backlog = 5\n[server]\n").to_string();
    assert!(!message.contains("defined twice"), "{message}");
}

#[test]
fn an_integer_beyond_64_bits_is_out_of_range_with_the_keys_range() {
    check_rows(&[
        (
            "[server]\nbacklog = 99999999999999999999\n",
            OutOfRange,
            Some("server.backlog"),
            &[
                "server.backlog: 99999999999999999999 is out of range (beyond the 64-bit \
                 integers TOML can hold); allowed an integer 1 to 65535 (line 2, column 11)",
            ],
        ),
        (
            "[server]\nmax_connections = -99999999999999999999\n",
            OutOfRange,
            Some("server.max_connections"),
            &[
                "-99999999999999999999 is out of range",
                "allowed an integer 1 to 1000000",
            ],
        ),
        (
            "[server]\nfoo = 9223372036854775808\n",
            OutOfRange,
            Some("server.foo"),
            &[
                "9223372036854775808 is out of range",
                "allowed integers from -9223372036854775808 to 9223372036854775807",
            ],
        ),
    ]);
    let message = error_of("[server]\nbacklog = 99999999999999999999\n").to_string();
    assert!(!message.contains("toml.io"), "{message}");
}
