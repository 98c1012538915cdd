//! The one error type of the configuration pipeline.
//!
//! Every failure, from an unreadable file to a cross-field rule, becomes a
//! [`ConfigError`] whose message reads
//! `<file>: <key.path>: <what is wrong>; <what is allowed>` so an operator can
//! fix the file without reading the source. Line and column are appended when
//! the TOML parser knows them. Text copied from the file is shown with its control
//! characters escaped (see [`escape_controls`]), so a stray byte cannot clear a
//! terminal or split the message across lines.

use std::borrow::Cow;

pub(super) use crate::text::escape_controls;
use std::fmt;
use std::path::{Path, PathBuf};

/// Which rule a configuration file broke; lets callers and tests tell failures apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read (missing, permissions, not UTF-8, a directory).
    Unreadable,
    /// The text is not valid TOML.
    Syntax,
    /// A key or section that warden does not know.
    UnknownKey,
    /// A value of the wrong TOML type (string for a number, float for an integer...).
    WrongType,
    /// A number outside its documented range.
    OutOfRange,
    /// A string that is not one of the documented choices.
    BadChoice,
    /// A string that is not an `IP:port` socket address.
    BadAddress,
    /// A value that breaks a rule of its own (empty list, duplicate, relative path...).
    BadValue,
    /// A key that the chosen setting requires is absent.
    Missing,
    /// Two keys that are each valid but contradict each other.
    Conflict,
}

/// A configuration failure naming the key, the bad value and what is allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    // Boxed so `Result<Config, ConfigError>` stays small on the success path.
    details: Box<Details>,
}

/// Everything a `ConfigError` reports.
#[derive(Clone, Debug, PartialEq)]
struct Details {
    kind: ConfigErrorKind,
    file: Option<PathBuf>,
    key: Option<String>,
    problem: String,
    allowed: Option<String>,
    position: Option<(usize, usize)>,
}

impl ConfigError {
    fn new(details: Details) -> Self {
        ConfigError {
            details: Box::new(details),
        }
    }

    /// An error about `key` (a dotted path such as `server.backlog`).
    pub(crate) fn at_key(
        kind: ConfigErrorKind,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        ConfigError::new(Details {
            kind,
            file: None,
            key: Some(key.into()),
            problem: problem.into(),
            allowed: None,
            position: None,
        })
    }

    /// An error about the file as a whole (unreadable, syntax).
    pub(crate) fn whole_file(kind: ConfigErrorKind, problem: impl Into<String>) -> Self {
        ConfigError::new(Details {
            kind,
            file: None,
            key: None,
            problem: problem.into(),
            allowed: None,
            position: None,
        })
    }

    /// Adds the "what is allowed" half of the message.
    pub(crate) fn allowing(mut self, allowed: impl Into<String>) -> Self {
        self.details.allowed = Some(allowed.into());
        self
    }

    /// Adds the 1-based line and column of byte `offset` in `text`.
    pub(crate) fn located(mut self, text: &str, offset: usize) -> Self {
        self.details.position = Some(line_and_column(text, offset));
        self
    }

    /// Names the file the text came from, for the message prefix.
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        self.details.file = Some(file.to_path_buf());
        self
    }

    /// Which rule was broken.
    pub fn kind(&self) -> ConfigErrorKind {
        self.details.kind
    }

    /// The dotted key path at fault (`server.listen[1]`), if the error concerns one key.
    pub fn key(&self) -> Option<&str> {
        self.details.key.as_deref()
    }

    /// The file the configuration was read from, when it came from a file.
    pub fn file(&self) -> Option<&Path> {
        self.details.file.as_deref()
    }

    /// The 1-based (line, column) of the fault, when the TOML parser reported one.
    pub fn position(&self) -> Option<(usize, usize)> {
        self.details.position
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let details = &self.details;
        // An empty path would print as a bare ": "; the message then says the path is empty.
        // Every part may quote the file's own text (a key, a value, a path): each goes
        // through the one escaping helper here, so no message can carry a raw control
        // character whichever check produced it.
        if let Some(file) = details
            .file
            .as_ref()
            .filter(|file| !file.as_os_str().is_empty())
        {
            write!(f, "{}: ", escape_controls(&file.to_string_lossy()))?;
        }
        // A key or value as long as the file allows would make one line too long for the
        // journal (48 KiB) to keep its end: each part is clipped in its middle.
        if let Some(key) = &details.key {
            write!(
                f,
                "{}: ",
                clip_middle(&escape_controls(key), KEY_SHOWN_CHARS)
            )?;
        }
        f.write_str(&clip_middle(
            &escape_controls(&details.problem),
            PART_SHOWN_CHARS,
        ))?;
        if let Some(allowed) = &details.allowed {
            write!(
                f,
                "; {}",
                clip_middle(&escape_controls(allowed), PART_SHOWN_CHARS)
            )?;
        }
        if let Some((line, column)) = details.position {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

/// The most characters of a key shown in an error: far longer than any real key.
const KEY_SHOWN_CHARS: usize = 120;
/// The most characters of the problem or the allowed half shown in an error.
const PART_SHOWN_CHARS: usize = 1000;

/// `text`, or, when longer than `max` characters, its start and end around a note of how
/// many characters were left out.
fn clip_middle(text: &str, max: usize) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= max {
        return Cow::Borrowed(text);
    }
    let kept = max / 2;
    let head: String = text.chars().take(kept).collect();
    let tail: String = text.chars().skip(count - kept).collect();
    Cow::Owned(format!(
        "{head}…[{} characters left out]…{tail}",
        count - 2 * kept
    ))
}

// The OS error text is part of Display, so `source()` stays `None`: a caller
// printing the chain with `{:#}` would otherwise show it twice.
impl std::error::Error for ConfigError {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
