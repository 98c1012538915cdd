//! Syntax errors in words: what is wrong, at which key or table, and how to write it.
//!
//! `toml` reports where it gave up with a parser's phrase (`expected newline, `#``,
//! `invalid string, expected `"`, `'``, or nothing at all at the end of the file). The
//! phrase says which construct failed; the text around the position says what the user
//! wrote; the [`statements`] scan says which key or table header holds it. Together they
//! give messages such as "a value is missing after `backlog =`". A fault this module does
//! not recognise keeps `toml`'s phrase, with the text it stopped at.

mod place;
mod value;

use self::place::{Diagnosis, Place};
use self::value::{after_value, bad_value, bare_word, out_of_range};
use super::statements::{join_key, statement_at, statements, StatementKind};
use crate::config::error::{ConfigError, ConfigErrorKind};
use crate::config::schema;

/// The hint when nothing more specific can be said.
const SYNTAX_REFERENCE: &str = "see https://toml.io for the syntax";
/// What a value may be, for text that is none.
const VALUE_FORMS: &str =
    "a value is a number, a \"quoted string\", true or false, a date, an [array] or an {inline table}";
/// Longest piece of the user's text quoted in a message.
const QUOTE_MAX_CHARS: usize = 40;

/// The error for text that is not TOML, naming the key or table it concerns when the
/// statement holding the fault can be found.
pub(super) fn syntax_error(text: &str, toml_error: &toml::de::Error) -> ConfigError {
    let offset = toml_error.span().map(|span| span.start);
    let message = toml_error.message().trim().replace('\n', ", ");
    let found = statements(text);
    let mut at = offset.unwrap_or(text.len()).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let place = Place {
        text,
        at,
        statement: statement_at(&found, at),
        statements: &found,
    };
    let diagnosis = diagnose(&place, &message);
    let problem = match diagnosis.kind {
        ConfigErrorKind::Syntax => format!("invalid TOML: {}", diagnosis.problem),
        _ => diagnosis.problem,
    };
    let error = match diagnosis.key {
        Some(key) => ConfigError::at_key(diagnosis.kind, key, problem),
        None => ConfigError::whole_file(diagnosis.kind, problem),
    }
    .allowing(diagnosis.hint);
    super::locate(error, text, toml_error)
}

/// Picks the explanation from `toml`'s phrase and the text at the fault.
fn diagnose(place: &Place<'_>, message: &str) -> Diagnosis {
    if place.text[place.at..].starts_with('\r') && !place.text[place.at..].starts_with("\r\n") {
        return place.say(
            "a carriage return (\\r) stands alone, not followed by a line feed",
            "TOML ends a line with \\n or \\r\\n; remove it (inside \"...\" write it as \\r)",
        );
    }
    if message.starts_with("number too large") || message.starts_with("number too small") {
        return out_of_range(place);
    }
    if message.contains("duplicate key") {
        return duplicate(place, message);
    }
    let in_header = matches!(
        place.statement.map(|s| &s.kind),
        Some(StatementKind::Header { .. })
    );
    if message.starts_with("invalid table header") || in_header {
        return header(place, message);
    }
    if message.starts_with("invalid escape sequence") {
        return escape(place);
    }
    if let Some(rest) = message.strip_prefix("invalid multiline ") {
        let delimiter = if rest.starts_with("literal") {
            "'''"
        } else {
            "\"\"\""
        };
        let line = place.statement.map_or(1, |s| s.line);
        return place.say(
            format!("the multi-line string opened on line {line} is not closed"),
            format!("end it with {delimiter}"),
        );
    }
    if message.starts_with("invalid basic string") || message.starts_with("invalid literal string")
    {
        return string(place, message);
    }
    if message.starts_with("invalid array") {
        return array(place, message);
    }
    if message.starts_with("invalid inline table") {
        return inline_table(place, message);
    }
    if message.starts_with("expected `.`, `=`") {
        return missing_equals(place);
    }
    if message == "invalid key" {
        return bad_key(place);
    }
    if message.is_empty() || message.starts_with("invalid string, expected") {
        return bad_value(place, message);
    }
    if message.starts_with("expected newline") {
        return after_value(place, message);
    }
    fallback(place, message)
}

/// A key or table written twice, with the line of its first definition.
fn duplicate(place: &Place<'_>, message: &str) -> Diagnosis {
    let Some(path) = place.key() else {
        return fallback(place, message);
    };
    let earlier = place
        .statements
        .iter()
        .filter(|s| place.statement.map_or(true, |here| s.start < here.start))
        .find(|s| s.path().as_deref() == Some(path.as_str()));
    if earlier.is_none() {
        if let Some(diagnosis) = table_made_by_dotted_key(place, &path) {
            return diagnosis;
        }
    }
    let first = earlier
        .map(|s| format!(" (first on line {})", s.line))
        .unwrap_or_default();
    match (place.statement.map(|s| &s.kind), earlier) {
        (Some(StatementKind::Header { name }), Some(key))
            if matches!(key.kind, StatementKind::Assignment { .. }) =>
        {
            place.say(
                format!(
                    "the table [{name}] clashes with the key `{path}` set on line {}",
                    key.line
                ),
                "a name is either a key with a value or a [table], not both",
            )
        }
        (Some(StatementKind::Header { name }), _) => place.say(
            format!("the table [{name}] is defined twice{first}"),
            format!("write [{name}] once, with all of its keys under it"),
        ),
        _ => {
            let table = place.table();
            let name = place.written_key().unwrap_or(&path);
            let within = if table.is_empty() {
                String::new()
            } else {
                format!(" in [{table}]")
            };
            place.say(
                format!("`{name}` is set twice{within}{first}"),
                "keep one of the two",
            )
        }
    }
}

/// A header `[name]` after a dotted key such as `name.key = 1` (at the top or in a parent
/// table) already made the table: TOML defines a table once, one way or the other.
fn table_made_by_dotted_key(place: &Place<'_>, name: &str) -> Option<Diagnosis> {
    let Some(StatementKind::Header { .. }) = place.statement.map(|s| &s.kind) else {
        return None;
    };
    let prefix = format!("{name}.");
    let (dotted, path) = place
        .statements
        .iter()
        .filter(|s| place.statement.map_or(true, |here| s.start < here.start))
        .filter(|s| matches!(s.kind, StatementKind::Assignment { .. }))
        .find_map(|s| Some((s, s.path()?)).filter(|(_, path)| path.starts_with(&prefix)))?;
    let key = &path[prefix.len()..];
    Some(place.say(
        format!(
            "the dotted key `{path}` on line {} already defined the table [{name}], so \
             [{name}] cannot start it again",
            dotted.line
        ),
        format!(
            "move that key under [{name}] as `{key} = ...` (a table is made either by its \
             [header] or by dotted keys, not both)"
        ),
    ))
}

/// A table header that is unclosed, empty, or followed by something.
fn header(place: &Place<'_>, message: &str) -> Diagnosis {
    let written = place.statement_line();
    let rest = place.rest_before_comment();
    if message.contains("expected newline") {
        return place.say(
            format!("unexpected `{}` after the table header", quote(rest)),
            "a header line holds only [name] and an optional # comment",
        );
    }
    let Some(StatementKind::Header { name }) = place.statement.map(|s| &s.kind) else {
        return fallback(place, message);
    };
    if name.is_empty() {
        return Diagnosis {
            kind: ConfigErrorKind::Syntax,
            key: None,
            problem: format!("the table header `{}` has no name", quote(written)),
            hint: "write a header as [name], e.g. [server]".to_string(),
        };
    }
    if rest.is_empty() {
        return place.say(
            format!("the table header `{}` is not closed", quote(written)),
            format!("end it with ]: [{name}]"),
        );
    }
    place.say(
        format!(
            "unexpected `{}` in the table header `{}`",
            quote(rest),
            quote(written)
        ),
        "a table name is letters, digits, _ and -, dotted as in [a.b]; quote any other name",
    )
}

/// An escape sequence that TOML does not know, such as `\q` in a Windows-style path.
fn escape(place: &Place<'_>) -> Diagnosis {
    let line_start = place.text[..place.at].rfind('\n').map_or(0, |i| i + 1);
    let end = place.at + place.char_here().map_or(0, char::len_utf8);
    let sequence = place.text[line_start..end]
        .rfind('\\')
        .map(|i| &place.text[line_start + i..])
        .map(|from| {
            let len = from.chars().take(2).map(char::len_utf8).sum::<usize>();
            &from[..len]
        })
        .unwrap_or("\\");
    place.say(
        format!(
            "`{}` is not an escape sequence that TOML knows",
            quote(sequence)
        ),
        "inside \"...\" write \\\\ for a backslash, or use '...' (a literal string, which takes \
         backslashes as they are)",
    )
}

/// A one-line string that is not closed, or holds a forbidden character.
fn string(place: &Place<'_>, message: &str) -> Diagnosis {
    let quote_char = if message.starts_with("invalid literal") {
        '\''
    } else {
        '"'
    };
    match place.char_here() {
        None | Some('\n' | '\r') => place.say(
            format!("the string is not closed: its closing {quote_char} is missing"),
            format!(
                "end it with {quote_char} on the same line (a string that spans lines is \
                 written between {0}{0}{0} and {0}{0}{0})",
                quote_char
            ),
        ),
        Some(c) if c.is_control() => place.say(
            format!(
                "the string holds the control character U+{:04X}, which TOML does not allow",
                u32::from(c)
            ),
            format!(
                "write it as \\u{:04X} inside \"...\", or remove it",
                u32::from(c)
            ),
        ),
        Some(_) => fallback(place, message),
    }
}

/// An array that is not closed, or whose items lack a comma between them.
fn array(place: &Place<'_>, message: &str) -> Diagnosis {
    let opened = place.statement.map_or(1, |s| s.line);
    let next_statement =
        place.rest_of_line().contains('=') && !place.rest_of_line().starts_with('"');
    if place.only_comments_follow() || next_statement {
        return place.say(
            format!("the array opened on line {opened} is not closed"),
            "end it with ]; items are separated by commas, and the array may span lines",
        );
    }
    if place.char_here() == Some(',') {
        return place.say(
            "the array has an empty item: a comma with no value before it",
            "remove the extra comma",
        );
    }
    let token = place.token();
    if token.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return bare_word(place, token, &place.allowed_suffix());
    }
    if !matches!(place.previous_char(), Some(',' | '[')) {
        let rest = place.rest_before_comment();
        let item = if rest.starts_with(['[', '{']) {
            rest.trim_end_matches(',')
        } else {
            token
        };
        return place.say(
            format!("a comma is missing before `{}` in the array", quote(item)),
            "separate array items with commas, as in [\"a\", \"b\"]",
        );
    }
    fallback(place, message)
}

/// An inline table that is not closed on its line, or ends with a comma.
fn inline_table(place: &Place<'_>, message: &str) -> Diagnosis {
    let after_comma = place.text[place.at..].trim_start_matches(',').trim_start();
    let trailing_comma = (place.char_here() == Some('}') && place.previous_char() == Some(','))
        || (place.char_here() == Some(',') && after_comma.starts_with('}'));
    if trailing_comma {
        return place.say(
            "an inline table may not end with a comma",
            "remove the comma before }",
        );
    }
    if place.rest_before_comment().is_empty() {
        return place.say(
            "the inline table is not closed on its line",
            "end it with } on the same line (an inline table must fit on one line; use a \
             [table] for more)",
        );
    }
    fallback(place, message)
}

/// A key with no `=` after it.
fn missing_equals(place: &Place<'_>) -> Diagnosis {
    let start = place.statement.map_or(place.at, |s| s.start).min(place.at);
    let (name, key) = match place.statement.map(|s| &s.kind) {
        // Inside an inline table: the key is the word after its `{` or last `,`.
        Some(StatementKind::Assignment {
            value_start: Some(value_start),
            ..
        }) if *value_start <= place.at => {
            let inside = &place.text[*value_start..place.at];
            let word = inside[inside.rfind(['{', ',']).map_or(0, |i| i + 1)..].trim();
            (word, place.key())
        }
        _ => {
            let name = place.text[start..place.at].trim();
            let table = place.table();
            let key = join_key(&table, name);
            (name, key)
        }
    };
    let rest = place.rest_before_comment();
    let problem = if rest.is_empty() {
        format!("`{}` has no = and no value", quote(name))
    } else {
        format!(
            "the = is missing between `{}` and `{}`",
            quote(name),
            quote(rest)
        )
    };
    let mut hint = format!("write `{name} = value`");
    if let Some((more, _)) = rest.split_once('=') {
        let spaced = format!("{name} {}", more.trim());
        hint.push_str(&format!(
            ", or quote a key holding a blank: `\"{}\" = value`",
            quote(&spaced)
        ));
    }
    if let Some(expected) = key.as_deref().and_then(schema::expected_value) {
        hint.push_str(&format!("; allowed {expected}"));
    }
    Diagnosis {
        kind: ConfigErrorKind::Syntax,
        key,
        problem,
        hint,
    }
}

/// A line that starts with no usable key.
fn bad_key(place: &Place<'_>) -> Diagnosis {
    let table = place.table();
    let key = (!table.is_empty()).then_some(table);
    let problem = if place.char_here() == Some('=') {
        "a key is missing before =".to_string()
    } else {
        format!("`{}` cannot start a key", quote(place.token()))
    };
    Diagnosis {
        kind: ConfigErrorKind::Syntax,
        key,
        problem,
        hint: "write `name = value`; a bare key is letters, digits, _ and -, any other key is \
               quoted"
            .to_string(),
    }
}

/// `toml`'s own phrase, with the text it stopped at.
fn fallback(place: &Place<'_>, message: &str) -> Diagnosis {
    let token = place.token();
    let at = if let Some(value) = place.value_as_written() {
        format!("in `{}`", quote(value))
    } else if !token.is_empty() {
        format!("at `{}`", quote(token))
    } else if place.only_comments_follow() {
        "at the end of the file".to_string()
    } else {
        "at the end of the line".to_string()
    };
    let problem = if message.is_empty() {
        format!("the text cannot be read {at}")
    } else {
        format!("{message} {at}")
    };
    place.say(problem, SYNTAX_REFERENCE)
}

/// `text`, cut to [`QUOTE_MAX_CHARS`] characters with "..." if longer.
pub(super) fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_MAX_CHARS {
        text.to_string()
    } else {
        let cut: String = text.chars().take(QUOTE_MAX_CHARS).collect();
        format!("{cut}...")
    }
}
