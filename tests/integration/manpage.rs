//! The manual page (`packaging/debian/warden.8`, installed as warden(8)) cannot
//! drift from the binary. Rendered by groff's man macros with every warning on
//! (a warning fails), it must show each usage line the real binary's `--help`
//! texts print, word for word, in SYNOPSIS; an entry in COMMANDS for each
//! subcommand; an entry in OPTIONS for each option spelling and each long and
//! short option the help texts name; each environment variable `warden --help`
//! lists; and in EXIT STATUS exactly the exit codes the sources use
//! (`src/exit.rs`, `main.rs`, anything else under `src/`) and the help texts list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{repo_root, run_warden, tool};

/// The page, relative to the repository root.
const PAGE: &str = "packaging/debian/warden.8";

/// The page as plain text: groff's man macros, every warning enabled, lines
/// 250 columns wide (so no usage line wraps), no bold or underline, and the
/// Unicode hyphen and minus that a terminal font may use mapped to '-'.
/// Fails when groff warns or errs.
fn rendered_page() -> String {
    let page = repo_root().join(PAGE);
    let out = Command::new(tool("groff", "groff-base"))
        .args(["-man", "-Tutf8", "-ww", "-rLL=250n", "-P-cbou"])
        .arg(&page)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run groff: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "groff -man -ww {}: {}\n{stderr}",
        page.display(),
        out.status
    );
    String::from_utf8(out.stdout)
        .expect("groff -Tutf8 writes UTF-8")
        .replace(['\u{2010}', '\u{2011}', '\u{2212}'], "-")
}

/// A section of the rendered page: its lines at the section's own indentation
/// (entry tags and paragraph starts), each trimmed; indented body lines left out.
#[derive(Debug, Default)]
struct Section {
    /// Lines at the section's smallest indentation, trimmed.
    base_lines: Vec<String>,
    /// Every line, trimmed (for messages).
    text: String,
}

/// The rendered page's sections by heading (a line at column 0).
fn sections(rendered: &str) -> BTreeMap<String, Section> {
    let mut raw: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in rendered.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            current = Some(line.trim().to_string());
            raw.entry(line.trim().to_string()).or_default();
        } else if let Some(heading) = &current {
            raw.entry(heading.clone()).or_default().push(line);
        }
    }
    raw.into_iter()
        .map(|(heading, lines)| {
            let indent = |line: &&str| line.len() - line.trim_start().len();
            let base = lines.iter().map(indent).min().unwrap_or(0);
            let section = Section {
                base_lines: lines
                    .iter()
                    .filter(|line| indent(line) == base)
                    .map(|line| line.trim().to_string())
                    .collect(),
                text: lines
                    .iter()
                    .map(|line| line.trim())
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            (heading, section)
        })
        .collect()
}

/// The section `heading` of the page; fails naming the headings there are.
fn section<'s>(sections: &'s BTreeMap<String, Section>, heading: &str) -> &'s Section {
    sections.get(heading).unwrap_or_else(|| {
        panic!(
            "{PAGE} has no {heading} section; it has {:?}",
            sections.keys().collect::<Vec<_>>()
        )
    })
}

/// True when `line` starts with `start` followed by a blank or nothing.
fn starts_with_word(line: &str, start: &str) -> bool {
    line.strip_prefix(start)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// Collapses runs of blanks to one space.
fn single_spaced(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What `warden <args>` prints on standard output; it must exit 0.
fn help(args: &[&str]) -> String {
    let out = run_warden(args);
    assert!(
        out.status.success(),
        "warden {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The lines of the block under the line `title` ("Usage:"), up to a blank line.
fn block<'t>(text: &'t str, title: &str) -> Vec<&'t str> {
    text.lines()
        .skip_while(|line| line.trim() != title)
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .collect()
}

/// The usage lines of a help text: each `warden ...` line of its Usage block,
/// without the description after a gap of two blanks, and with the angle
/// brackets of a placeholder (`<subcommand>`: italics on the page) dropped.
fn usage_lines(help_text: &str) -> Vec<String> {
    let lines: Vec<String> = block(help_text, "Usage:")
        .into_iter()
        .map(str::trim)
        .filter(|line| line.starts_with("warden"))
        .map(|line| {
            line.split("  ")
                .next()
                .unwrap_or(line)
                .replace(['<', '>'], "")
        })
        .collect();
    assert!(!lines.is_empty(), "no usage line in:\n{help_text}");
    lines
}

/// The subcommands `warden --help` names: the second word of its usage lines
/// (`[run]` is run), except placeholders and options.
fn subcommands(main_help: &str) -> Vec<String> {
    let words: Vec<String> = block(main_help, "Usage:")
        .into_iter()
        .filter_map(|line| line.trim().strip_prefix("warden "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|word| word.trim_matches(['[', ']']).to_string())
        .filter(|word| !word.starts_with(['<', '-']))
        .collect();
    assert!(!words.is_empty(), "no subcommand in:\n{main_help}");
    words
}

/// The option spellings of a subcommand's help ("-c, --config FILE"): each
/// line of its Options block, up to the gap before the meaning.
fn option_rows(sub_help: &str) -> Vec<String> {
    block(sub_help, "Options:")
        .into_iter()
        .filter(|line| line.trim_start().starts_with('-'))
        .map(|line| {
            line.trim()
                .split("  ")
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Every `--long` and `-s` option named anywhere in `text`.
fn options_named(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut long = BTreeSet::new();
    let mut short = BTreeSet::new();
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if let Some(name) = token.strip_prefix("--") {
            if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                long.insert(token.to_string());
            }
        } else if token.len() == 2
            && token.starts_with('-')
            && token[1..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            short.insert(token.to_string());
        }
    }
    (long, short)
}

/// The codes a help text's Exit codes block lists.
fn help_exit_codes(help_text: &str) -> BTreeSet<u8> {
    block(help_text, "Exit codes:")
        .into_iter()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Every Rust file under `dir`.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The numbers written right after `call` in `text` (`ExitCode::from(` 2 `)`).
fn numbers_after(text: &str, call: &str) -> Vec<u8> {
    text.match_indices(call)
        .filter_map(|(at, _)| {
            let digits: String = text[at + call.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// Every exit code the sources use: `ExitCode::from(N)`, `process::exit(N)`,
/// `ExitCode::SUCCESS`/`FAILURE` in any file under `src/`, and the rows of the
/// table in `src/exit.rs`'s module doc.
fn source_exit_codes() -> BTreeSet<u8> {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let mut codes = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        codes.extend(numbers_after(&text, "ExitCode::from("));
        codes.extend(numbers_after(&text, "process::exit("));
        if text.contains("ExitCode::SUCCESS") {
            codes.insert(0);
        }
        if text.contains("ExitCode::FAILURE") {
            codes.insert(1);
        }
    }
    let exit_rs = std::fs::read_to_string(repo_root().join("src/exit.rs")).unwrap();
    let table: BTreeSet<u8> = exit_rs
        .lines()
        .filter_map(|line| line.strip_prefix("//! | ")?.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        !table.is_empty(),
        "src/exit.rs has no '//! | code | meaning |' table rows"
    );
    codes.extend(table);
    codes
}

#[test]
fn every_usage_line_subcommand_and_option_of_the_help_is_in_the_page() {
    let page = sections(&rendered_page());
    let synopsis = section(&page, "SYNOPSIS");
    let commands = section(&page, "COMMANDS");
    let options = section(&page, "OPTIONS");
    let synopsis_lines: Vec<String> = synopsis
        .base_lines
        .iter()
        .map(|l| single_spaced(l))
        .collect();

    let main_help = help(&["--help"]);
    let mut helps = vec![main_help.clone()];
    let mut usages = usage_lines(&main_help);
    let mut rows = Vec::new();
    for sub in subcommands(&main_help) {
        let sub_help = help(&[&sub, "--help"]);
        usages.extend(usage_lines(&sub_help));
        rows.extend(option_rows(&sub_help));
        assert!(
            commands
                .base_lines
                .iter()
                .any(|l| starts_with_word(l, &sub)),
            "COMMANDS of {PAGE} has no entry for '{sub}':\n{}",
            commands.text
        );
        helps.push(sub_help);
    }

    for usage in &usages {
        let usage = single_spaced(usage);
        assert!(
            synopsis_lines.contains(&usage),
            "SYNOPSIS of {PAGE} lacks the usage line '{usage}' that warden's --help prints:\n{}",
            synopsis.text
        );
    }
    assert!(!rows.is_empty(), "no Options rows in the subcommands' help");
    for row in &rows {
        assert!(
            options.base_lines.iter().any(|l| starts_with_word(l, row)),
            "OPTIONS of {PAGE} has no entry '{row}' (as the subcommands' --help spell it):\n{}",
            options.text
        );
    }
    let (long, short) = options_named(&helps.join("\n"));
    for opt in &long {
        let documented = options.base_lines.iter().any(|line| {
            let after_short = match line.split_once(", ") {
                Some((first, rest)) if first.len() == 2 && first.starts_with('-') => rest,
                _ => line,
            };
            starts_with_word(after_short, opt)
                || after_short
                    .strip_prefix(opt.as_str())
                    .is_some_and(|rest| rest.starts_with('='))
        });
        assert!(
            documented,
            "OPTIONS of {PAGE} has no entry for {opt}, which warden's --help names:\n{}",
            options.text
        );
    }
    for opt in &short {
        assert!(
            options
                .base_lines
                .iter()
                .any(|l| l.starts_with(&format!("{opt}, --"))),
            "OPTIONS of {PAGE} has no '{opt}, --long' entry for {opt}, which warden's --help names:\n{}",
            options.text
        );
    }
}

#[test]
fn every_environment_variable_of_the_help_is_in_the_page() {
    let page = sections(&rendered_page());
    let environment = section(&page, "ENVIRONMENT");
    let main_help = help(&["--help"]);
    let names: Vec<&str> = block(&main_help, "Environment:")
        .into_iter()
        .filter_map(|line| line.split_whitespace().next())
        .map(|spec| spec.split('=').next().unwrap_or(spec))
        .collect();
    assert!(!names.is_empty(), "no Environment block in:\n{main_help}");
    for name in names {
        assert!(
            environment
                .base_lines
                .iter()
                .any(|l| starts_with_word(l, name)),
            "ENVIRONMENT of {PAGE} has no entry for {name}, which warden --help lists:\n{}",
            environment.text
        );
    }
}

#[test]
fn exit_status_lists_exactly_the_exit_codes_the_binary_uses() {
    let page = sections(&rendered_page());
    let exit_status = section(&page, "EXIT STATUS");
    let listed: BTreeSet<u8> = exit_status
        .base_lines
        .iter()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect();

    let mut used = source_exit_codes();
    let main_help = help(&["--help"]);
    used.extend(help_exit_codes(&main_help));
    for sub in subcommands(&main_help) {
        let codes = help_exit_codes(&help(&[&sub, "--help"]));
        assert!(
            !codes.is_empty(),
            "'warden {sub} --help' lists no exit code"
        );
        used.extend(codes);
    }

    let missing: Vec<&u8> = used.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "EXIT STATUS of {PAGE} lacks exit code(s) {missing:?} the binary uses:\n{}",
        exit_status.text
    );
    let unused: Vec<&u8> = listed.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "EXIT STATUS of {PAGE} lists exit code(s) {unused:?} that neither src/ nor any --help uses:\n{}",
        exit_status.text
    );
}
