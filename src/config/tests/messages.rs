//! How messages show what the file holds: control characters escaped wherever file text
//! is quoted (a key, a value, a header, the file's path), and numbers in their shortest
//! form, never hundreds of digits.

use super::{assert_error, error_of};
use crate::config::error::escape_controls;
use crate::config::number::{compact_f64, MessageNumber};
use crate::config::ConfigErrorKind::*;
use crate::config::{check_file, ConfigErrorKind};

#[test]
fn escape_controls_escapes_control_and_invisible_characters_only() {
    assert_eq!(
        escape_controls("a\0b\u{1b}[2J\rc\td\u{7f}\u{85}"),
        "a\\0b\\u{1b}[2J\\rc\\td\\u{7f}\\u{85}"
    );
    // Bidirectional overrides, zero-width characters and the BOM hide or reorder text.
    assert_eq!(
        escape_controls("x\u{202e}y\u{200b}z\u{feff}"),
        "x\\u{202e}y\\u{200b}z\\u{feff}"
    );
    // Ordinary text, accents, quotes and backslashes are left alone: `{:?}`-quoted
    // values keep their form.
    let plain = "é °C \"q\" \\u{1b} [::]:7000";
    assert_eq!(escape_controls(plain), plain);
}

/// The message for `text`, checked to hold no raw control character and no line break.
fn one_clean_line(text: &str) -> String {
    let message = error_of(text).to_string();
    assert!(
        !message.chars().any(|c| c.is_control()),
        "raw control character in the message for {text:?}: {message:?}"
    );
    message
}

#[test]
fn no_message_echoes_a_raw_control_character() {
    // (file text, what the message must show instead)
    let cases: &[(&str, &str)] = &[
        // A bare value holding ESC (a terminal "clear screen").
        (
            "[log]\nlevel = x\u{1b}[2J\n",
            "`x\\u{1b}[2J` is not a value",
        ),
        // A NUL after a number.
        ("[server]\nbacklog = 3\0\n", "`3\\0` is not a value"),
        // A table header and a key holding control characters.
        ("[lo\u{1b}g]\n", "`[lo\\u{1b}g]`"),
        ("[server]\nbac\0klog = 3\n", "`\\0klog = 3`"),
        // A quoted key (escaped in TOML) that warden does not know: key and message.
        (
            "[server]\n\"fo\\u001bo\" = 1\n",
            "server.fo\\u{1b}o: unknown key `fo\\u{1b}o`",
        ),
        // A quoted value (escaped in TOML) that validation refuses.
        (
            "[log]\nlevel = \"a\\u001b[2Jb\"\n",
            "\"a\\u{1b}[2Jb\" is not a valid choice",
        ),
        // A bare carriage return inside a line: said in words, not split across lines.
        (
            "[server]\nbacklog = 3 x\ry\n",
            "unexpected `x\\ry` after the value `3`",
        ),
    ];
    for (text, shown) in cases {
        let message = one_clean_line(text);
        assert!(
            message.contains(shown),
            "{text:?}: expected {shown:?} in {message:?}"
        );
    }
}

#[test]
fn a_lone_carriage_return_is_named_wherever_it_stands() {
    for text in [
        "[server]\n\rbacklog = 3\n",
        "[lo\rg]\n",
        "[server]\nbacklog = 3\rx\n",
        "[server]\nlisten = [\"a\rb\"]\n",
    ] {
        let message = one_clean_line(text);
        assert!(
            message.contains("a carriage return (\\r) stands alone, not followed by a line feed")
                && message.contains("TOML ends a line with \\n or \\r\\n"),
            "{text:?}: {message}"
        );
    }
    // Windows line ends are fine.
    super::config_of("[server]\r\nbacklog = 3\r\n");
}

#[test]
fn a_control_character_in_the_file_path_is_escaped() {
    let dir = std::env::temp_dir().join(format!("warden-config-escape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad\u{1b}[2J.toml");
    std::fs::write(&path, "[server]\nbacklog = 0\n").unwrap();
    let message = check_file(&path).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        message.contains("bad\\u{1b}[2J.toml: server.backlog: 0 is out of range")
            && !message.contains('\u{1b}'),
        "{message:?}"
    );
}

#[test]
fn compact_f64_is_short_and_reads_back_as_the_same_number() {
    for (value, text) in [
        (60.0, "60"),
        (62.5, "62.5"),
        (0.1, "0.1"),
        (-40.0, "-40"),
        (0.0, "0"),
        (-0.0, "-0.0"),
        (1e308, "1e308"),
        (5e-324, "5e-324"),
        (-5e-324, "-5e-324"),
        (1e16, "1e16"),
        (123_456_789.125, "123456789.125"),
        (0.0001, "0.0001"),
        (f64::NAN, "nan"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        assert_eq!(compact_f64(value), text, "{value:?}");
        if value.is_finite() {
            let back: f64 = text.parse().unwrap();
            assert_eq!(
                back.to_bits(),
                value.to_bits(),
                "{text} reads back differently"
            );
        }
    }
    assert_eq!(65_535_u32.message_text(), "65535");
}

#[test]
fn numbers_in_messages_are_compact() {
    let rows: &[(&str, ConfigErrorKind, &str, &[&str])] = &[
        (
            "[thermal]\nfan_on_c = 1e308\n",
            OutOfRange,
            "thermal.fan_on_c",
            &["thermal.fan_on_c: 1e308 is out of range; allowed -40 to 150"],
        ),
        (
            "[fan]\nmin_duty = -5e-324\n",
            OutOfRange,
            "fan.min_duty",
            &["fan.min_duty: -5e-324 is out of range; allowed 0 to 1"],
        ),
        (
            "[fan]\ncurve = [[50, 0.5], [5e-324, 0.6]]\n",
            BadValue,
            "fan.curve[1][0]",
            &["5e-324 is not above fan.curve[0][0] (50)"],
        ),
        (
            "[thermal]\nfan_on_c = -0.0\nfan_off_c = 0.0\n",
            Conflict,
            "thermal.fan_off_c",
            &["0 is not below thermal.fan_on_c (-0.0)"],
        ),
        (
            "[thermal]\nshed_on_c = 1e-300\n",
            Conflict,
            "thermal.shed_on_c",
            &[
                "1e-300 is not above thermal.shed_off_c, whose default is 70",
                "set thermal.shed_off_c below 1e-300 too",
            ],
        ),
    ];
    for &(text, kind, key, fragments) in rows {
        assert_error(text, kind, Some(key), fragments);
        let message = error_of(text).to_string();
        assert!(message.len() < 300, "{text:?}: message too long: {message}");
    }
}
