//! The path keys (thermal.sensor, fan.path, hardware.sysfs_root, hardware.state_dir):
//! absolute, written without blanks around them, and free of NUL, which no path can hold.

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
