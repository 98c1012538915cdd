//! The place of a syntax fault: the text around it and the statement that holds it,
//! with the small readings of that text every diagnosis uses.

use super::super::statements::{Statement, StatementKind};
use crate::config::error::ConfigErrorKind;
use crate::config::schema;

/// What to tell the user about one fault.
pub(super) struct Diagnosis {
    /// Which rule the text broke: `Syntax`, or `OutOfRange` for a number TOML cannot hold.
    pub kind: ConfigErrorKind,
    /// The key path or table the fault concerns, if it can be told.
    pub key: Option<String>,
    /// What is wrong, in words.
    pub problem: String,
    /// How to write it instead.
    pub hint: String,
}

/// Where the parser stopped, with the statements around it.
pub(super) struct Place<'a> {
    /// The whole text.
    pub text: &'a str,
    /// Byte offset of the fault, at most the text's length.
    pub at: usize,
    /// The statement holding the fault.
    pub statement: Option<&'a Statement>,
    /// Every statement of the text.
    pub statements: &'a [Statement],
}

impl Place<'_> {
    /// The key path the fault concerns, from its statement.
    pub fn key(&self) -> Option<String> {
        match self.statement.and_then(Statement::path) {
            Some(path) if is_key_path(&path) => Some(path),
            _ => Some(self.table()).filter(|table| is_key_path(table)),
        }
    }

    /// The table the fault lies in ("" at the top level).
    pub fn table(&self) -> String {
        match self.statement.map(|s| &s.kind) {
            Some(StatementKind::Header { name }) => name.clone(),
            Some(StatementKind::Assignment { table, .. }) => table.clone(),
            None => String::new(),
        }
    }

    /// The key as written in its assignment, if the fault lies in one.
    pub fn written_key(&self) -> Option<&str> {
        match self.statement.map(|s| &s.kind) {
            Some(StatementKind::Assignment { key, .. }) if !key.is_empty() => Some(key),
            _ => None,
        }
    }

    /// The text from the fault to its line's end, trimmed.
    pub fn rest_of_line(&self) -> &str {
        let rest = &self.text[self.at..];
        rest[..rest.find('\n').unwrap_or(rest.len())].trim()
    }

    /// The same without a trailing `# comment` (a `#` at the start or after a blank).
    pub fn rest_before_comment(&self) -> &str {
        let rest = self.rest_of_line();
        if rest.starts_with('#') {
            return "";
        }
        rest[..rest.find(" #").unwrap_or(rest.len())].trim_end()
    }

    /// The word at the fault: up to a blank, a separator or a comment.
    pub fn token(&self) -> &str {
        let rest = self.rest_of_line();
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#'))
            .unwrap_or(rest.len());
        if end == 0 {
            &rest[..rest.chars().next().map_or(0, char::len_utf8)]
        } else {
            &rest[..end]
        }
    }

    /// The last non-blank character before the fault.
    pub fn previous_char(&self) -> Option<char> {
        self.text[..self.at].trim_end().chars().next_back()
    }

    /// The character at the fault, if the text does not end there.
    pub fn char_here(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    /// True if nothing but blanks and comments follows the fault.
    pub fn only_comments_follow(&self) -> bool {
        self.text[self.at..]
            .lines()
            .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'))
    }

    /// The value of the fault's assignment as written on its line, if the fault lies in it.
    pub fn value_as_written(&self) -> Option<&str> {
        let Some(StatementKind::Assignment {
            value_start: Some(start),
            ..
        }) = self.statement.map(|s| &s.kind)
        else {
            return None;
        };
        if self.at < *start {
            return None;
        }
        let rest = &self.text[*start..];
        let value = rest[..rest.find('\n').unwrap_or(rest.len())].trim();
        let value = value[..value.find(" #").unwrap_or(value.len())].trim();
        (!value.is_empty()).then_some(value)
    }

    /// The line of the statement's first character, as written.
    pub fn statement_line(&self) -> &str {
        let start = self.statement.map_or(self.at, |s| s.start);
        let rest = &self.text[start..];
        rest[..rest.find('\n').unwrap_or(rest.len())].trim()
    }

    /// "; allowed <what the key takes>", or nothing for a key warden does not know.
    pub fn allowed_suffix(&self) -> String {
        self.key()
            .as_deref()
            .and_then(schema::expected_value)
            .map(|expected| format!("; allowed {expected}"))
            .unwrap_or_default()
    }

    /// A diagnosis at this place's key.
    pub fn say(&self, problem: impl Into<String>, hint: impl Into<String>) -> Diagnosis {
        Diagnosis {
            kind: ConfigErrorKind::Syntax,
            key: self.key(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }
}

/// True if `path` reads as a dotted TOML key: each part bare (letters, digits, `_`, `-`)
/// or a closed quoted string; a fault inside the key itself makes anything else.
fn is_key_path(path: &str) -> bool {
    let mut rest = path;
    loop {
        let part_len = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => match rest[1..].find(quote) {
                Some(close) => close + 2,
                None => return false,
            },
            _ => rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len()),
        };
        if part_len == 0 {
            return false;
        }
        match rest[part_len..].strip_prefix('.') {
            Some(next) => rest = next,
            None => return part_len == rest.len(),
        }
    }
}
