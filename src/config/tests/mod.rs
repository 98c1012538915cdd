//! Unit tests of the configuration pipeline, by concern: accepted input,
//! rejected input (one table row per failure kind and key), text that is not
//! TOML, the thermal stage rules, and files (loading, the shipped default
//! file, the docs).

mod files;
mod good;
mod messages;
mod paths;
mod shape;
mod stages;
mod syntax;
mod values;

use super::{Config, ConfigError, ConfigErrorKind};

/// Parses `text`, which the test expects to be valid.
fn config_of(text: &str) -> Config {
    Config::from_toml_str(text)
        .unwrap_or_else(|error| panic!("expected {text:?} to parse, got: {error}"))
}

/// Parses `text`, which the test expects to be rejected.
fn error_of(text: &str) -> ConfigError {
    match Config::from_toml_str(text) {
        Ok(config) => panic!("expected {text:?} to be rejected, got {config:?}"),
        Err(error) => error,
    }
}

/// Checks an error's kind, key and that its message holds every fragment.
fn assert_error(text: &str, kind: ConfigErrorKind, key: Option<&str>, fragments: &[&str]) {
    let error = error_of(text);
    let message = error.to_string();
    assert_eq!(error.kind(), kind, "kind for {text:?}: {message}");
    assert_eq!(error.key(), key, "key for {text:?}: {message}");
    if let Some(key) = key {
        assert!(
            message.starts_with(&format!("{key}: ")),
            "message for {text:?} should start with the key: {message}"
        );
    }
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "message for {text:?} lacks {fragment:?}: {message}"
        );
    }
}

/// One rejected snippet: text, expected kind, expected key, fragments the message must hold.
type Row = (
    &'static str,
    ConfigErrorKind,
    Option<&'static str>,
    &'static [&'static str],
);

/// Checks every row with [`assert_error`].
fn check_rows(rows: &[Row]) {
    for &(text, kind, key, fragments) in rows {
        assert_error(text, kind, key, fragments);
    }
}
