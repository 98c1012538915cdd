//! A forgiving scan of TOML text into its statements, for naming where a syntax error is.
//!
//! The `toml` parser reports where it gave up but not which key or table it was reading,
//! and it stops at the first fault. This scan never fails: it splits the text into table
//! headers and `key = value` statements the way TOML does (strings, multi-line strings,
//! arrays spanning lines and comments are stepped over), tolerating the very mistakes it
//! is used to explain: an unclosed string ends at its line, an unclosed array at the end
//! of the file. Only ASCII bytes steer it, so multi-byte UTF-8 text is never split.

/// What one statement is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum StatementKind {
    /// `[name]` or `[[name]]`, with the dotted name normalised.
    Header { name: String },
    /// `key = value` (or a key whose `=` is missing) inside the table `table` ("" at the top).
    Assignment {
        table: String,
        key: String,
        /// Byte offset just after the `=`, if there is one.
        value_start: Option<usize>,
    },
}

/// One statement of the text and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Statement {
    /// What it is.
    pub kind: StatementKind,
    /// Byte offset of its first character.
    pub start: usize,
    /// 1-based line it starts on.
    pub line: usize,
}

impl Statement {
    /// The dotted path it defines: the header's name, or the table and key of an assignment.
    pub fn path(&self) -> Option<String> {
        match &self.kind {
            StatementKind::Header { name } => (!name.is_empty()).then(|| name.clone()),
            StatementKind::Assignment { table, key, .. } => join_key(table, key),
        }
    }
}

/// Every statement of `text`, in order.
pub(super) fn statements(text: &str) -> Vec<Statement> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        text,
        at: 0,
        line: 1,
    };
    let mut table = String::new();
    let mut found = Vec::new();
    loop {
        scanner.skip_blanks();
        let Some(byte) = scanner.peek() else { break };
        let (start, line) = (scanner.at, scanner.line);
        match byte {
            b'\n' => scanner.newline(),
            b'\r' => scanner.at += 1,
            b'#' => scanner.skip_to_line_end(),
            b'[' => {
                let name = scanner.header_name();
                table.clone_from(&name);
                found.push(Statement {
                    kind: StatementKind::Header { name },
                    start,
                    line,
                });
                scanner.skip_to_line_end();
            }
            _ => {
                let key = scanner.key();
                let value_start = (scanner.peek() == Some(b'=')).then(|| {
                    scanner.at += 1;
                    scanner.at
                });
                if value_start.is_some() {
                    scanner.skip_value();
                } else {
                    scanner.skip_to_line_end();
                }
                found.push(Statement {
                    kind: StatementKind::Assignment {
                        table: table.clone(),
                        key,
                        value_start,
                    },
                    start,
                    line,
                });
            }
        }
    }
    found
}

/// The statement that holds byte `offset`: the last one starting at or before it.
pub(super) fn statement_at(statements: &[Statement], offset: usize) -> Option<&Statement> {
    statements.iter().rev().find(|s| s.start <= offset)
}

/// Normalises a dotted key as written (`a . "b"`) to `a."b"`, keeping quoted parts whole.
fn normalise_dotted(written: &str) -> String {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quote: Option<char> = None;
    for c in written.chars() {
        match (quote, c) {
            (None, '.') => parts.push(std::mem::take(&mut part)),
            (None, '"' | '\'') => {
                quote = Some(c);
                part.push(c);
            }
            (Some(open), _) if c == open => {
                quote = None;
                part.push(c);
            }
            _ => part.push(c),
        }
    }
    parts.push(part);
    parts
        .iter()
        .map(|part| part.trim())
        .collect::<Vec<_>>()
        .join(".")
}

/// A cursor over the text.
struct Scanner<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn starts_with(&self, pattern: &str) -> bool {
        self.bytes[self.at..].starts_with(pattern.as_bytes())
    }

    fn newline(&mut self) {
        self.at += 1;
        self.line += 1;
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Moves to the next `\n` (left unconsumed) or the end.
    fn skip_to_line_end(&mut self) {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.at += 1;
        }
    }

    /// Reads `[name]` / `[[name]]` and returns the name; stops at the line's end if unclosed.
    fn header_name(&mut self) -> String {
        let brackets = if self.starts_with("[[") { 2 } else { 1 };
        self.at += brackets;
        let begin = self.at;
        while let Some(byte) = self.peek() {
            match byte {
                b']' | b'\n' | b'#' => break,
                b'"' | b'\'' => self.single_line_string(byte),
                _ => self.at += 1,
            }
        }
        let name = normalise_dotted(&self.text[begin..self.at]);
        while self.peek() == Some(b']') {
            self.at += 1;
        }
        name
    }

    /// Reads a (possibly dotted, possibly quoted) key up to its `=` or the line's end.
    fn key(&mut self) -> String {
        let begin = self.at;
        while let Some(byte) = self.peek() {
            match byte {
                b'=' | b'\n' | b'#' => break,
                b'"' | b'\'' => self.single_line_string(byte),
                _ => self.at += 1,
            }
        }
        normalise_dotted(&self.text[begin..self.at])
    }

    /// Steps over a value: strings, nested arrays and inline tables (which may span lines,
    /// and hold comments), up to the end of its line.
    fn skip_value(&mut self) {
        let mut depth = 0usize;
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' if depth == 0 => break,
                b'\n' => self.newline(),
                b'#' => self.skip_to_line_end(),
                b'[' | b'{' => {
                    depth += 1;
                    self.at += 1;
                }
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.at += 1;
                }
                b'"' if self.starts_with("\"\"\"") => self.multi_line_string("\"\"\""),
                b'\'' if self.starts_with("'''") => self.multi_line_string("'''"),
                b'"' | b'\'' => self.single_line_string(byte),
                _ => self.at += 1,
            }
        }
    }

    /// Steps over a one-line string opened by `quote`; an unclosed one ends at its line.
    fn single_line_string(&mut self, quote: u8) {
        self.at += 1;
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' => return,
                b'\\' if quote == b'"' => {
                    // An escape covers the next character, but never the line's end.
                    self.at += 1;
                    if !matches!(self.peek(), None | Some(b'\n')) {
                        self.at += 1;
                    }
                }
                _ if byte == quote => {
                    self.at += 1;
                    return;
                }
                _ => self.at += 1,
            }
        }
    }

    /// Steps over a multi-line string; an unclosed one runs to the end of the text.
    fn multi_line_string(&mut self, delimiter: &str) {
        self.at += delimiter.len();
        while self.peek().is_some() {
            if self.starts_with(delimiter) {
                self.at += delimiter.len();
                // Up to two more quotes may end the content (`""""` closes after one `"`).
                while self.starts_with(&delimiter[..1]) {
                    self.at += 1;
                }
                return;
            }
            match self.peek() {
                Some(b'\n') => self.newline(),
                Some(b'\\') if delimiter == "\"\"\"" => {
                    self.at += 1;
                    if self.peek() == Some(b'\n') {
                        self.newline();
                    } else if self.peek().is_some() {
                        self.at += 1;
                    }
                }
                _ => self.at += 1,
            }
        }
    }
}

/// The dotted path of `key` in `table` ("server.backlog"); the table alone when the key
/// is empty, `None` when both are (a statement at the top naming nothing).
pub(super) fn join_key(table: &str, key: &str) -> Option<String> {
    match (table.is_empty(), key.is_empty()) {
        (_, true) => (!table.is_empty()).then(|| table.to_string()),
        (true, false) => Some(key.to_string()),
        (false, false) => Some(format!("{table}.{key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<(Option<String>, usize)> {
        statements(text)
            .iter()
            .map(|statement| (statement.path(), statement.line))
            .collect()
    }

    #[test]
    fn headers_set_the_table_of_the_keys_below_them() {
        let text = "top = 1\n[server]\n# note\nbacklog = 3 # x\n[ fan . \"a.b\" ]\npin = 4\n";
        assert_eq!(
            paths(text),
            vec![
                (Some("top".into()), 1),
                (Some("server".into()), 2),
                (Some("server.backlog".into()), 4),
                (Some("fan.\"a.b\"".into()), 5),
                (Some("fan.\"a.b\".pin".into()), 6),
            ]
        );
    }

    #[test]
    fn strings_arrays_and_comments_do_not_start_statements() {
        let text = "[fan]\ncurve = [\n  [50, 0.3], # a = 1\n  [60, \"]\"],\n]\nm = \"\"\"\nx = 2\n\"\"\"\npath = 'a#b'\n";
        assert_eq!(
            paths(text),
            vec![
                (Some("fan".into()), 1),
                (Some("fan.curve".into()), 2),
                (Some("fan.m".into()), 6),
                (Some("fan.path".into()), 9),
            ]
        );
    }

    #[test]
    fn broken_statements_are_still_found() {
        // An unclosed string ends at its line; a key without `=` is still a statement.
        let text = "[log]\nlevel = \"info\nformat\n[server\nbacklog =";
        let found = statements(text);
        assert_eq!(
            paths(text),
            vec![
                (Some("log".into()), 1),
                (Some("log.level".into()), 2),
                (Some("log.format".into()), 3),
                (Some("server".into()), 4),
                (Some("server.backlog".into()), 5),
            ]
        );
        assert!(matches!(
            found[2].kind,
            StatementKind::Assignment {
                value_start: None,
                ..
            }
        ));
        let last = statement_at(&found, text.len()).unwrap();
        assert_eq!(last.path().as_deref(), Some("server.backlog"));
    }
}
