//! Text from outside (a config file, a status server's answer) made safe to show on a
//! terminal or in the journal: control characters and the invisible characters that
//! reorder or hide text are escaped, so a stray or hostile byte cannot clear a
//! terminal, recolour it, split a message across lines or reverse what it shows.

use std::borrow::Cow;

/// `text` with every control character (and every invisible character that reorders or
/// hides text: zero-width, bidirectional overrides, line separators, BOM) written as
/// Rust's escape_debug writes it (`\0`, `\r`, `\u{1b}`, `\u{202e}`); other text, quotes and
/// backslashes included, is left as it is, so `{:?}`-quoted values are not changed.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else if needs_escape(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// True for a character a message must not show raw.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}
