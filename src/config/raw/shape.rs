//! Shape errors in words: a key warden does not know, or a value of the wrong type.
//!
//! serde says what it found in its own terms ("invalid type: map, expected u32"). A TOML
//! date, an inline table, a `[table]` header and a `[[table]]` header all reach it as a
//! "map", and an array as a "sequence"; the text at the position `toml` reports says
//! which the user wrote, so the message can name it and say what the key takes.

use serde_path_to_error::{Path, Segment};

use super::syntax::quote;
use crate::config::error::{ConfigError, ConfigErrorKind};
use crate::config::schema::{self, ValueKind};

/// Classifies a serde failure at `path`: an unknown key, or a value of the wrong type.
/// `at` is the byte offset in `text` that `toml` blamed, if it gave one.
pub(super) fn shape_error(
    path: &Path,
    serde_message: &str,
    text: &str,
    at: Option<usize>,
) -> ConfigError {
    let key = path.to_string();
    if let Some((table, name)) = table_and_key(path) {
        if let Some(allowed) = schema::allowed_keys(&table) {
            if !allowed.contains(&name) {
                return schema::unknown_key_error(&table, name, allowed);
            }
        }
    }
    let written = at.and_then(|at| written_at(text, at, serde_message));
    if let Some(Written::Header { header, array }) = written {
        return header_for_value(&key, header, array);
    }
    // serde ends with ", expected u32"; the description below says it in the user's terms.
    let found = serde_message
        .rfind(", expected ")
        .map_or(serde_message, |end| &serde_message[..end]);
    let problem = match written {
        Some(Written::Value { what, value }) => format!("`{}` is {what}", quote(value)),
        _ => found.to_string(),
    };
    let error = ConfigError::at_key(ConfigErrorKind::WrongType, key.as_str(), problem);
    match schema::expected_value(&key) {
        Some(expected) => error.allowing(format!("allowed {expected}")),
        None => error,
    }
}

/// What the file holds where serde found a map or a sequence.
enum Written<'a> {
    /// A `[name]` (or `[[name]]` if `array`) header line.
    Header { header: &'a str, array: bool },
    /// A value: `what` it is ("a date") and its text.
    Value { what: &'static str, value: &'a str },
}

/// Reads what was written at byte `at`, for the "map" and "sequence" serde reports.
fn written_at<'a>(text: &'a str, at: usize, serde_message: &str) -> Option<Written<'a>> {
    let map = serde_message.starts_with("invalid type: map");
    let sequence = serde_message.starts_with("invalid type: sequence");
    if !(map || sequence) || !text.is_char_boundary(at) {
        return None;
    }
    let rest = &text[at..];
    let line = rest[..rest.find('\n').unwrap_or(rest.len())].trim_end();
    let line_start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let starts_line = text[line_start..at].trim().is_empty();
    if starts_line && line.starts_with('[') {
        let array = line.starts_with("[[");
        let close = if array { "]]" } else { "]" };
        let end = line.find(close).map_or(line.len(), |i| i + close.len());
        return Some(Written::Header {
            header: &line[..end],
            array,
        });
    }
    let value = line[..line.find(" #").unwrap_or(line.len())].trim_end();
    let (what, value) = match value.chars().next() {
        Some('{') if map => ("an inline table", closed_on_line(value, '{', '}')),
        Some('[') if sequence => ("an array", closed_on_line(value, '[', ']')),
        Some(c) if map && c.is_ascii_digit() => {
            let end = value.find([',', ']', '}']).unwrap_or(value.len());
            let value = value[..end].trim_end();
            // `07:32:00` is a local time; anything with a `-` holds a date.
            let what = if value.contains('-') {
                "a date"
            } else {
                "a time"
            };
            (what, value)
        }
        _ => return None,
    };
    Some(Written::Value { what, value })
}

/// The bracketed value at the start of `value` if it closes on this line, else `[...]`.
fn closed_on_line(value: &str, open: char, close: char) -> &str {
    let mut depth = 0usize;
    for (i, c) in value.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return &value[..=i];
            }
        }
    }
    if open == '{' {
        "{...}"
    } else {
        "[...]"
    }
}

/// A `[table]` or `[[array of tables]]` header whose name is a key taking a value, or
/// `[[name]]` for a section that is one table.
fn header_for_value(path: &str, header: &str, array: bool) -> ConfigError {
    // serde numbers the tables of `[[name]]` (`server[0]`); the key is the name.
    let key = path.split('[').next().unwrap_or(path);
    let declared = if array {
        "an array of tables"
    } else {
        "a table"
    };
    let expected = schema::expected_value(key);
    let (problem, fix) = if schema::value_kind(key) == Some(ValueKind::Table) {
        (
            format!(
                "`{}` declares {declared}, where one table is expected",
                quote(header)
            ),
            format!("write [{key}], with single brackets"),
        )
    } else {
        let (parent, field) = key.rsplit_once('.').unwrap_or(("", key));
        (
            format!(
                "`{}` declares {declared}, where a value is expected",
                quote(header)
            ),
            format!("write `{field} = ...` under [{parent}]"),
        )
    };
    let allowed = match expected {
        Some(expected) if !expected.starts_with("a table") => {
            format!("{fix}; allowed {expected}")
        }
        _ => fix,
    };
    ConfigError::at_key(ConfigErrorKind::WrongType, key, problem).allowing(allowed)
}

/// Splits a path made only of table keys into (dotted parent table, last key).
///
/// Paths through arrays (`fan.curve[1]`) name no key and give `None`; segments are
/// used rather than the dotted text so a quoted key holding a dot stays one key.
fn table_and_key(path: &Path) -> Option<(String, &str)> {
    let mut keys = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } => keys.push(key.as_str()),
            _ => return None,
        }
    }
    let name = keys.pop()?;
    Some((keys.join("."), name))
}
