//! The state file's line format: writing a [`RestoreState`] out and reading one back.
//!
//! The writer ends every line with a newline, so the reader refuses a file whose last line
//! has none: it was cut short (a full disk, a crash mid-write), and its last value may be
//! a prefix of the real one (`60` of `600000`). [`CREATE_LINE`] marks the entry on the very
//! next line as a plain file to create when missing, and only one outside sysfs (no `sys`
//! directory in its path); older parsers skip it as a comment.
//!
//! The reader refuses, as not written by warden, what the writer never puts out: a create
//! line not directly followed by its entry, two entries for one path, a value longer than
//! [`STATE_VALUE_MAX_BYTES`].

use std::collections::HashMap;
use std::path::Path;

use super::{
    RestoreEntry, RestoreState, StateOwner, CREATE_LINE, OWNER_LINE_PREFIX, STATE_FILE_HEADER,
    STATE_VALUE_MAX_BYTES,
};
use crate::error::HwError;
use crate::sysfs_io::in_sysfs;

/// Serialises `state` to the line format (every entry was checked by
/// [`RestoreState::push`]).
pub(super) fn to_text(state: &RestoreState) -> String {
    let mut text = format!("{STATE_FILE_HEADER}\n");
    if let Some(owner) = &state.owner {
        text.push_str(&format!(
            "{OWNER_LINE_PREFIX}pid={} start_time={}",
            owner.pid, owner.start_time
        ));
        if let Some(boot_id) = &owner.boot_id {
            text.push_str(&format!(" boot_id={boot_id}"));
        }
        text.push('\n');
    }
    for entry in &state.entries {
        if entry.creates_file {
            text.push_str(CREATE_LINE);
            text.push('\n');
        }
        text.push_str(&format!("{}\t{}\n", entry.path.display(), entry.value));
    }
    text
}

/// Parses the line format (`path` names the file in errors).
pub(super) fn parse(path: &Path, text: &str) -> Result<RestoreState, HwError> {
    let error = |line: usize, reason: &str| HwError::StateFile {
        path: path.to_path_buf(),
        line,
        reason: reason.to_string(),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(error(
            text.lines().count(),
            "the last line does not end in a newline, so the file was cut short \
             (truncated) and its last value may be only the start of the real one; \
             nothing in it is replayed",
        ));
    }
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, first)) if first.trim_end() == STATE_FILE_HEADER => {}
        None => {
            return Err(error(
                0,
                "the file is empty, not even the header was written (a disk that lost the \
                 last save?), so what it held is unknown; check the fan and cpufreq by hand, \
                 then remove it",
            ))
        }
        _ => {
            return Err(error(
                1,
                &format!("expected the header {STATE_FILE_HEADER:?}"),
            ))
        }
    }
    let mut entries = Vec::new();
    let mut owner = None;
    // The line number of the create line just read, which the next line must answer.
    let mut create_line = None;
    // Each path's entry line, to refuse a second one.
    let mut entry_lines: HashMap<&str, usize> = HashMap::new();
    let lone_create = |line| error(line, "a create line not directly followed by its entry");
    for (index, line) in lines {
        let number = index + 1;
        let is_entry = !(line.starts_with('#') || line.trim().is_empty());
        if let (Some(create), false) = (create_line, is_entry) {
            return Err(lone_create(create));
        }
        if let Some(fields) = line.strip_prefix(OWNER_LINE_PREFIX) {
            if owner.is_some() {
                return Err(error(number, "a second owner line"));
            }
            owner = Some(parse_owner(fields).map_err(|reason| error(number, reason))?);
            continue;
        }
        if line.trim_end() == CREATE_LINE {
            create_line = Some(number);
            continue;
        }
        if !is_entry {
            continue;
        }
        let Some((file, value)) = line.split_once('\t') else {
            return Err(error(number, "expected <absolute path><TAB><value>"));
        };
        if !Path::new(file).is_absolute() || value.is_empty() {
            return Err(error(
                number,
                "expected an absolute path and a non-empty value",
            ));
        }
        if value.len() > STATE_VALUE_MAX_BYTES {
            return Err(error(
                number,
                &format!(
                    "a value of {} bytes, longer than the {STATE_VALUE_MAX_BYTES} any value \
                     warden writes",
                    value.len()
                ),
            ));
        }
        if let Some(first) = entry_lines.insert(file, number) {
            return Err(error(
                number,
                &format!(
                    "a second entry for {file} (the first is on line {first}); warden writes \
                     one per file"
                ),
            ));
        }
        let creates = create_line.take().is_some() && !in_sysfs(Path::new(file));
        entries.push(match creates {
            true => RestoreEntry::plain_file(file, value),
            false => RestoreEntry::new(file, value),
        });
    }
    if let Some(line) = create_line {
        return Err(lone_create(line));
    }
    Ok(RestoreState {
        owner,
        entries,
        skipped: Vec::new(),
    })
}

/// The owner from the fields of an owner line (`pid=.. start_time=.. [boot_id=..]`); other
/// `key=value` fields, from a newer version, are ignored.
fn parse_owner(fields: &str) -> Result<StateOwner, &'static str> {
    const EXPECTED: &str = "expected \"# owner pid=<pid> start_time=<ticks> [boot_id=<id>]\"";
    let (mut pid, mut start_time, mut boot_id) = (None, None, None);
    for field in fields.split_whitespace() {
        let (key, value) = field.split_once('=').ok_or(EXPECTED)?;
        match key {
            "pid" => pid = Some(value.parse::<u32>().map_err(|_| EXPECTED)?),
            "start_time" => start_time = Some(value.parse::<u64>().map_err(|_| EXPECTED)?),
            "boot_id" if !value.is_empty() => boot_id = Some(value.to_string()),
            _ => {}
        }
    }
    match (pid, start_time) {
        (Some(pid), Some(start_time)) if pid > 0 => Ok(StateOwner {
            pid,
            start_time,
            boot_id,
        }),
        _ => Err(EXPECTED),
    }
}
