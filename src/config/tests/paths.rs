//! The path keys (thermal.sensor, fan.path, hardware.sysfs_root, hardware.state_dir):
//! absolute, written without blanks around them, free of NUL, which no path can hold, and
//! of every other control or invisible character.

use super::{assert_error, check_rows, config_of};
use crate::config::ConfigErrorKind::*;

#[test]
fn sensor_takes_exactly_auto_or_an_absolute_path() {
    for spelling in ["AUTO", "Auto", " auto", "auto ", "\tauto"] {
        let text = format!("[thermal]\nsensor = {spelling:?}\n");
        assert_error(
            &text,
            BadValue,
            Some("thermal.sensor"),
            &[
                &format!("{spelling:?} is not \"auto\": it is spelt exactly so"),
                "allowed \"auto\" or an absolute path such as",
            ],
        );
    }
    check_rows(&[
        (
            "[thermal]\nsensor = \"sys/class/thermal/thermal_zone0/temp\"\n",
            BadValue,
            Some("thermal.sensor"),
            &[
                "\"sys/class/thermal/thermal_zone0/temp\" is not an absolute path",
                "(resolved under hardware.sysfs_root)",
            ],
        ),
        (
            "[thermal]\nsensor = \"temp\"\n",
            BadValue,
            Some("thermal.sensor"),
            &["\"temp\" is not an absolute path"],
        ),
        (
            "[thermal]\nsensor = \"/sys/class/thermal/thermal_zone0/temp \"\n",
            BadValue,
            Some("thermal.sensor"),
            &["has blanks at its start or end"],
        ),
    ]);
}

#[test]
fn every_path_key_refuses_blanks_around_the_path() {
    for (text, key) in [
        (
            "[fan]\ndriver = \"file\"\npath = \" /run/fan\"\n",
            "fan.path",
        ),
        (
            "[hardware]\nsysfs_root = \"/tmp/root \"\n",
            "hardware.sysfs_root",
        ),
        (
            "[hardware]\nstate_dir = \" /run/warden\"\n",
            "hardware.state_dir",
        ),
    ] {
        assert_error(
            text,
            BadValue,
            Some(key),
            &["has blanks at its start or end", "allowed an absolute path"],
        );
    }
}

#[test]
fn every_path_key_refuses_a_nul_byte_naming_the_key() {
    // Written as the TOML escape \u0000: the parser accepts it, and the path could only
    // fail later, when warden run opens it (or, for state_dir, runs without crash state).
    for (section, key) in [
        ("thermal", "sensor"),
        ("fan", "path"),
        ("hardware", "sysfs_root"),
        ("hardware", "state_dir"),
    ] {
        let driver = if section == "fan" {
            "driver = \"file\"\n"
        } else {
            ""
        };
        let text = format!("[{section}]\n{driver}{key} = \"/x\\u0000y\"\n");
        assert_error(
            &text,
            BadValue,
            Some(&format!("{section}.{key}")),
            &[
                "\"/x\\0y\" holds a NUL character (\\0), which no path can contain",
                "allowed ",
            ],
        );
        // The same path without the NUL is accepted, so the NUL is what is refused.
        config_of(&format!("[{section}]\n{driver}{key} = \"/xy\"\n"));
    }
}

#[test]
fn every_path_key_refuses_a_control_or_invisible_character_naming_it_and_where() {
    // A newline or tab would split the log lines and the crash-restore state the path is
    // written into; an invisible character makes the path shown differ from the one
    // opened. Each is written as a TOML escape, so the file itself is valid.
    let cases = [
        (
            "/tmp/x/fd\\nFORGED",
            "\"/tmp/x/fd\\nFORGED\"",
            "a control character (\\n) at character 10",
        ),
        (
            "/run/a\\tb",
            "\"/run/a\\tb\"",
            "a control character (\\t) at character 7",
        ),
        (
            "/x\\ry",
            "\"/x\\ry\"",
            "a control character (\\r) at character 3",
        ),
        (
            "/x\\u001By",
            "\"/x\\u{1b}y\"",
            "a control character (\\u{1b}) at character 3",
        ),
        (
            "/x\\u007Fy",
            "\"/x\\u{7f}y\"",
            "a control character (\\u{7f}) at character 3",
        ),
        (
            "/x\\u0085y",
            "\"/x\\u{85}y\"",
            "a control character (\\u{85}) at character 3",
        ),
        (
            "/é\\u200By",
            "\"/é\\u{200b}y\"",
            "an invisible character (\\u{200b}) at character 3",
        ),
        (
            "/x\\u202Ey",
            "\"/x\\u{202e}y\"",
            "an invisible character (\\u{202e}) at character 3",
        ),
        (
            "/x\\uFEFF",
            "\"/x\\u{feff}\"",
            "an invisible character (\\u{feff}) at character 3",
        ),
    ];
    for (section, key) in [
        ("thermal", "sensor"),
        ("fan", "path"),
        ("hardware", "sysfs_root"),
        ("hardware", "state_dir"),
    ] {
        let driver = if section == "fan" {
            "driver = \"file\"\n"
        } else {
            ""
        };
        for (written, quoted, what) in cases {
            let text = format!("[{section}]\n{driver}{key} = \"{written}\"\n");
            assert_error(
                &text,
                BadValue,
                Some(&format!("{section}.{key}")),
                &[
                    &format!("{quoted} holds {what}, which a path must not hold"),
                    "allowed ",
                ],
            );
        }
        // The same paths with the character left out are accepted: it is what is refused.
        for clean in ["/tmp/x/fdFORGED", "/run/ab", "/é/y"] {
            config_of(&format!("[{section}]\n{driver}{key} = \"{clean}\"\n"));
        }
    }
}
