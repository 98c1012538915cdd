//! Loading files, and the checks that keep init/warden.toml and docs/CONFIG.md in step with the code.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::config_of;
use crate::config::schema::{allowed_keys, expected_value};
use crate::config::{check_file, Config, ConfigErrorKind};

/// The shipped default file.
const SHIPPED_FILE: &str = include_str!("../../../init/warden.toml");
/// The configuration reference.
const CONFIG_DOC: &str = include_str!("../../../docs/CONFIG.md");

/// A fresh, empty directory for one test, removed by the test.
fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "warden-config-{}-{name}-{unique}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every `section.key` the parser accepts, in declaration order.
fn every_key() -> Vec<String> {
    let sections = allowed_keys("").unwrap();
    sections
        .iter()
        .flat_map(|section| {
            allowed_keys(section)
                .unwrap()
                .iter()
                .map(move |key| format!("{section}.{key}"))
        })
        .collect()
}

#[test]
fn shipped_file_is_exactly_the_defaults() {
    let mut shipped = config_of(SHIPPED_FILE);
    // It writes the default listen address out; only that fact differs.
    assert!(shipped.server.listen_given);
    shipped.server.listen_given = false;
    assert_eq!(shipped, Config::default());
}

#[test]
fn shipped_file_mentions_every_key() {
    // `pin` and `path` have no default, so they appear commented out.
    let table: toml::Table = SHIPPED_FILE.parse().unwrap();
    for key in every_key() {
        let (section, name) = key.split_once('.').unwrap();
        let written = table
            .get(section)
            .and_then(|value| value.get(name))
            .is_some();
        let commented = SHIPPED_FILE.contains(&format!("\n#{name} = "));
        assert!(written || commented, "init/warden.toml lacks {key}");
    }
}

#[test]
fn shipped_file_is_under_16_kib() {
    // The figure src/config/file.rs gives to show how much room MAX_CONFIG_BYTES leaves.
    assert!(
        SHIPPED_FILE.len() < 16 * 1024,
        "init/warden.toml is {} bytes; update the figure beside MAX_CONFIG_BYTES",
        SHIPPED_FILE.len()
    );
}

#[test]
fn docs_describe_every_key() {
    for key in every_key() {
        assert!(
            CONFIG_DOC.contains(&format!("`{key}`")),
            "docs/CONFIG.md lacks `{key}`"
        );
    }
}

#[test]
fn every_key_has_a_value_description() {
    for key in every_key() {
        assert!(
            expected_value(&key).is_some(),
            "no description of what {key} accepts"
        );
    }
    for section in allowed_keys("").unwrap() {
        assert_eq!(
            expected_value(section),
            Some(format!("a table [{section}]"))
        );
    }
    assert_eq!(expected_value("server.no_such_key"), None);
}

#[test]
fn every_key_has_a_value_kind_read_from_its_type() {
    use crate::config::schema::{value_kind, ValueKind::*};
    for key in every_key() {
        assert!(value_kind(&key).is_some(), "no value kind for {key}");
    }
    for (key, kind) in [
        ("server", Table),
        ("server.backlog", Integer),
        ("server.listen", Text),
        ("server.listen[2]", Text),
        ("fan.active_low", Boolean),
        ("fan.pin", Integer),
        ("fan.curve", Float),
        ("thermal.fan_on_c", Float),
        ("log.level", Text),
        ("status.enabled", Boolean),
    ] {
        assert_eq!(value_kind(key), Some(kind), "{key}");
    }
    for unknown in ["nowhere", "server.no_such_key", "server.backlog.deeper", ""] {
        assert_eq!(value_kind(unknown), None, "{unknown}");
    }
}

#[test]
fn load_reads_a_file_and_prefixes_errors_with_its_path() {
    let dir = scratch_dir("load");
    let good = dir.join("good.toml");
    fs::write(&good, "[server]\nbacklog = 77\n").unwrap();
    assert_eq!(Config::load(&good).unwrap().server.backlog, 77);
    assert_eq!(check_file(&good).unwrap().server.backlog, 77);

    let bad = dir.join("warden.toml");
    fs::write(&bad, "[server]\nmax_connections = 0\n").unwrap();
    let error = Config::load(&bad).unwrap_err();
    assert_eq!(error.file(), Some(bad.as_path()));
    assert_eq!(
        error.to_string(),
        format!(
            "{}: server.max_connections: 0 is out of range; allowed 1 to 1000000",
            bad.display()
        )
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_files_report_path_and_os_error() {
    let dir = scratch_dir("unreadable");
    let missing = dir.join("missing.toml");
    let error = check_file(&missing).unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Unreadable);
    assert_eq!(error.key(), None);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: cannot read the config file: ",
            missing.display()
        )),
        "{message}"
    );
    assert!(message.contains("No such file or directory"), "{message}");

    let directory_error = check_file(&dir).unwrap_err();
    assert_eq!(
        directory_error.kind(),
        ConfigErrorKind::Unreadable,
        "{directory_error}"
    );

    let not_utf8 = dir.join("latin1.toml");
    fs::write(&not_utf8, b"[log]\nlevel = \"\xe9\"\n").unwrap();
    let utf8_error = check_file(&not_utf8).unwrap_err();
    assert_eq!(
        utf8_error.kind(),
        ConfigErrorKind::Unreadable,
        "{utf8_error}"
    );
    assert!(utf8_error.to_string().contains("UTF-8"), "{utf8_error}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_error_in_a_file_names_file_line_and_column() {
    let dir = scratch_dir("syntax");
    let file = dir.join("warden.toml");
    fs::write(&file, "[server]\nbacklog = = 3\n").unwrap();
    let error = check_file(&file).unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Syntax);
    let message = error.to_string();
    assert_eq!(error.key(), Some("server.backlog"));
    assert!(
        message.starts_with(&format!(
            "{}: server.backlog: invalid TOML: `=` is not a value",
            file.display()
        )),
        "{message}"
    );
    assert!(message.contains("(line 2, column 11)"), "{message}");
    assert!(Path::new(&dir).exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_config_path_is_named_as_such() {
    let error = check_file(Path::new("")).unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Unreadable);
    assert_eq!(
        error.to_string(),
        "the config file path is empty; expected a readable UTF-8 TOML file"
    );
}
