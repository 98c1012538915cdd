//! Faults where a value belongs: nothing written, an unquoted word, a number TOML
//! cannot read (leading zeros, beyond 64 bits), or text left over after the value. The
//! advice follows the type the key takes, so a boolean key is never told to quote.

use super::super::statements::StatementKind;
use super::place::{Diagnosis, Place};
use super::{fallback, quote, VALUE_FORMS};
use crate::config::error::ConfigErrorKind;
use crate::config::schema::{self, ValueKind};

/// Where a value should start: nothing, a bare word, or something else.
pub(super) fn bad_value(place: &Place<'_>, message: &str) -> Diagnosis {
    let rest = place.rest_before_comment();
    let allowed = place.allowed_suffix();
    if rest.is_empty() {
        let Some(name) = place.written_key() else {
            return fallback(place, message);
        };
        return place.say(
            format!("a value is missing after `{name} =`"),
            format!("write the value on the same line as its key{allowed}"),
        );
    }
    let token = place.token();
    if token.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return bare_word(place, token, &allowed);
    }
    place.say(
        format!("`{}` is not a value", quote(token)),
        format!("{VALUE_FORMS}{allowed}"),
    )
}

/// An unquoted word where a value belongs: `level = info`, `active_low = yes`. Quoting
/// is advised only where the key takes text (or is unknown); a boolean or number key is
/// told what it takes instead.
pub(super) fn bare_word(place: &Place<'_>, word: &str, allowed: &str) -> Diagnosis {
    let kind = place.key().as_deref().and_then(schema::value_kind);
    let boolean_key = matches!(kind, Some(ValueKind::Boolean) | None);
    if boolean_key && (word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false")) {
        return place.say(
            format!("`{}` is not a value", quote(word)),
            format!(
                "booleans are written in lower case: {}{allowed}",
                word.to_ascii_lowercase()
            ),
        );
    }
    match kind {
        Some(ValueKind::Boolean) => place.say(
            format!("`{}` is not a boolean", quote(word)),
            "allowed true or false, in lower case and without quotes",
        ),
        Some(ValueKind::Integer) => place.say(
            format!("`{}` is not a number", quote(word)),
            format!("write a whole number in digits, without quotes{allowed}"),
        ),
        Some(ValueKind::Float) => place.say(
            format!("`{}` is not a number", quote(word)),
            format!("write a number in digits, without quotes{allowed}"),
        ),
        Some(ValueKind::Table) => place.say(
            format!("`{}` is not a value this key takes", quote(word)),
            allowed.trim_start_matches("; ").to_string(),
        ),
        Some(ValueKind::Text) | None => place.say(
            format!("`{}` is not a value: text must be quoted", quote(word)),
            format!("write \"{}\"{allowed}", quote(word)),
        ),
    }
}

/// Text left over after a value: `backlog = 3 4`, or a value TOML read only part of
/// (`info` starts like the float `inf`, `12abc` like the integer 12).
pub(super) fn after_value(place: &Place<'_>, message: &str) -> Diagnosis {
    let value_start = match place.statement.map(|s| &s.kind) {
        Some(StatementKind::Assignment {
            value_start: Some(start),
            ..
        }) => (*start).min(place.at),
        _ => return fallback(place, message),
    };
    let line_end = place.text[value_start..]
        .find('\n')
        .map_or(place.text.len(), |i| value_start + i);
    let whole = place.text[value_start..line_end].trim();
    let whole = whole[..whole.find(" #").unwrap_or(whole.len())].trim();
    let one_word = !whole.is_empty()
        && !whole.contains(|c: char| {
            c.is_whitespace() || matches!(c, '"' | '\'' | '[' | ']' | '{' | '}' | ',')
        });
    let allowed = place.allowed_suffix();
    if one_word && whole.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return bare_word(place, whole, &allowed);
    }
    if let Some(fixed) = one_word.then(|| without_leading_zeros(whole)).flatten() {
        return place.say(
            format!(
                "`{}` is not a number: TOML numbers have no leading zeros",
                quote(whole)
            ),
            format!("write {fixed}{allowed}"),
        );
    }
    if one_word {
        return place.say(
            format!("`{}` is not a value", quote(whole)),
            format!("{VALUE_FORMS}{allowed}"),
        );
    }
    let before = place.text[value_start..place.at].trim();
    place.say(
        format!(
            "unexpected `{}` after the value `{}`",
            quote(place.rest_before_comment()),
            quote(before)
        ),
        "a line holds one `key = value`, optionally followed by a # comment",
    )
}

/// `word` with the leading zeros of its integer part removed (`0012` → `12`, `-060` →
/// `-60`, `00.2` → `0.2`, `000` → `0`), if it has any and the result is a TOML number;
/// one zero stays before a dot or an exponent, or when every digit is zero.
fn without_leading_zeros(word: &str) -> Option<String> {
    let (sign, unsigned) = match word.strip_prefix(['+', '-']) {
        Some(rest) => (&word[..1], rest),
        None => ("", word),
    };
    let integer_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(unsigned.len());
    let (integer, tail) = unsigned.split_at(integer_end);
    let leading_zero = integer.starts_with('0')
        && integer[1..].starts_with(|c: char| c.is_ascii_digit() || c == '_');
    if !leading_zero {
        return None;
    }
    let trimmed = integer.trim_start_matches(['0', '_']);
    let integer = if trimmed.is_empty() { "0" } else { trimmed };
    let fixed = format!("{sign}{integer}{tail}");
    // Only advise what TOML reads as a number (not a date such as 0999-01-01).
    let reads_as_number = format!("n = {fixed}")
        .parse::<toml::Table>()
        .is_ok_and(|table| {
            table
                .get("n")
                .is_some_and(|n| n.is_integer() || n.is_float())
        });
    reads_as_number.then_some(fixed)
}

/// An integer beyond TOML's 64 bits (`backlog = 99999999999999999999`): out of range,
/// with the range the key takes.
pub(super) fn out_of_range(place: &Place<'_>) -> Diagnosis {
    let allowed = place.allowed_suffix();
    let hint = match allowed.strip_prefix("; ") {
        Some(allowed) => allowed.to_string(),
        None => format!("allowed integers from {} to {}", i64::MIN, i64::MAX),
    };
    Diagnosis {
        kind: ConfigErrorKind::OutOfRange,
        ..place.say(
            format!(
                "{} is out of range (beyond the 64-bit integers TOML can hold)",
                quote(place.token())
            ),
            hint,
        )
    }
}
