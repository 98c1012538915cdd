//! Where `compare` writes: the `--charts` directory and the `--update-doc` document.
//!
//! A comparison of every bundled scenario takes a while, so both are checked before any
//! scenario runs ([`check`]): the charts directory must be a directory this process can
//! create files in (a missing one is created), no chart file may be in the way as a
//! directory or special file, an existing chart must be writable, and the document must be
//! a readable and writable regular file of at most [`MAX_DOC_BYTES`] holding [`DOC_BEGIN`]
//! then [`DOC_END`]. Writability is tried, not read from mode bits (root ignores them; a
//! read-only mount or an immutable file refuses root too). A refusal there exits 2,
//! naming the path, with nothing run. The writes afterwards re-check what they touch (the
//! files may have changed meanwhile) and their errors name the path as well.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use warden_hw::describe_file_kind;
use warden_hw::user_file::{self, MIB};

use crate::cli::CompareOptions;
use crate::scenario::Scenario;

/// Start marker of the generated region in a Markdown document.
pub const DOC_BEGIN: &str = "<!-- compare:begin -->";
/// End marker of the generated region.
pub const DOC_END: &str = "<!-- compare:end -->";
/// Largest `--update-doc` document read: a guard against a device or a runaway file, far
/// above any Markdown document this tool updates.
pub const MAX_DOC_BYTES: u64 = MIB;
/// What the document is called in errors.
const DOC: &str = "--update-doc file";

/// Checks every output `options` names, before any of `scenarios` runs (see the module
/// docs); creates a missing charts directory.
pub fn check(options: &CompareOptions, scenarios: &[Scenario]) -> Result<()> {
    if let Some(doc) = &options.update_doc {
        check_doc(doc)?;
    }
    if let Some(dir) = &options.charts {
        check_charts_dir(dir, scenarios)?;
    }
    Ok(())
}

/// The chart file of `scenario` in `dir`.
pub fn chart_path(dir: &Path, scenario: &Scenario) -> PathBuf {
    dir.join(format!("thermal-{}.svg", scenario.name))
}

/// Checks that `path` is a regular file of at most [`MAX_DOC_BYTES`] holding
/// [`DOC_BEGIN`] and, after it, [`DOC_END`], and that this process can write it.
pub fn check_doc(path: &Path) -> Result<()> {
    let text = read_doc(path)?;
    marked_region(path, &text)?;
    probe_writable_file(path).with_context(|| {
        format!(
            "{DOC} {}: cannot write it, so the table could not be put in; make it writable \
             or give another file",
            path.display()
        )
    })
}

/// Replaces the text between [`DOC_BEGIN`] and [`DOC_END`] in `path` with `generated`.
pub fn update_doc(path: &Path, generated: &str) -> Result<()> {
    let text = read_doc(path)?;
    let (begin, end) = marked_region(path, &text)?;
    let updated = format!("{}{DOC_BEGIN}\n{generated}{}", &text[..begin], &text[end..]);
    write_output(path, updated.as_bytes())
}

/// Replaces the contents of the regular file at `path` (the document or a chart) with
/// `bytes`, creating it if missing; a FIFO, a device or a directory there is refused
/// ([`user_file::write_regular`]). The error names the path.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    user_file::write_regular(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The text of the document at `path`, a regular file of at most [`MAX_DOC_BYTES`].
fn read_doc(path: &Path) -> Result<String> {
    user_file::read_text(path, MAX_DOC_BYTES)
        .with_context(|| format!("unreadable {DOC} {}", path.display()))
}

/// Byte offsets of [`DOC_BEGIN`] and of the first [`DOC_END`] after it in `text`, the
/// content of `path`; the error names the path and the marker that is missing.
fn marked_region(path: &Path, text: &str) -> Result<(usize, usize)> {
    let shown = path.display();
    let add_markers =
        format!("add a line {DOC_BEGIN} and, below it, a line {DOC_END} where the table goes");
    let Some(begin) = text.find(DOC_BEGIN) else {
        bail!("{DOC} {shown} has no {DOC_BEGIN} marker: {add_markers}");
    };
    let after_begin = begin + DOC_BEGIN.len();
    match text[after_begin..].find(DOC_END) {
        Some(offset) => Ok((begin, after_begin + offset)),
        None if text.contains(DOC_END) => {
            bail!("{DOC} {shown}: {DOC_END} comes before {DOC_BEGIN}: {add_markers}")
        }
        None => bail!("{DOC} {shown} has no {DOC_END} marker: {add_markers}"),
    }
}

/// Checks that `dir` is a directory files can be created in, creating it if missing, and
/// that no chart of `scenarios` would land on a directory or a special file.
pub fn check_charts_dir(dir: &Path, scenarios: &[Scenario]) -> Result<()> {
    let shown = dir.display();
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(metadata) => bail!(
            "--charts {shown} is {}, not a directory: give a directory for the charts \
             (a missing one is created)",
            describe_file_kind(metadata.file_type())
        ),
        Err(error) if error.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir)
            .with_context(|| format!("--charts {shown}: cannot create the directory"))?,
        Err(error) => {
            return Err(error).with_context(|| format!("--charts {shown}: cannot inspect it"))
        }
    }
    probe_writable(dir).with_context(|| format!("--charts {shown}: cannot create files in it"))?;
    for scenario in scenarios {
        let chart = chart_path(dir, scenario);
        if let Ok(metadata) = fs::metadata(&chart) {
            if !metadata.is_file() {
                bail!(
                    "--charts: {} is {}, not a regular file, and the chart of scenario {} \
                     goes there: move it away or give another directory",
                    chart.display(),
                    describe_file_kind(metadata.file_type()),
                    scenario.name
                );
            }
            probe_writable_file(&chart).with_context(|| {
                format!(
                    "--charts: cannot write {}, where the chart of scenario {} goes: make it \
                     writable, remove it, or give another directory",
                    chart.display(),
                    scenario.name
                )
            })?;
        }
    }
    Ok(())
}

/// Opens the existing file at `path` for writing, neither creating nor truncating it nor
/// waiting on a FIFO: the one sure test that a later write can replace it.
fn probe_writable_file(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map(drop)
}

/// Creates and removes an empty file in `dir`: the one sure test that charts can be
/// written there (permission bits do not tell a read-only mount, nor what root may do).
fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".warden-thermal-sim-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    fs::remove_file(&probe)
}

#[cfg(test)]
#[path = "outputs_tests.rs"]
mod tests;
