//! Small, error-mapping helpers for reading and writing sysfs-style files.
//!
//! Sysfs attributes are short text values; a write must be a single `write(2)` on a file
//! opened without `O_CREAT` (sysfs cannot create files, and a missing attribute must be
//! reported as missing, not silently created in a fake tree).

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::{Access, HwError};

/// Longest piece of offending text quoted in a parse error.
const QUOTE_MAX_CHARS: usize = 64;

/// Resolves a path under `root` (the filesystem root that stands for `/`).
///
/// The rule, which never escapes `root`:
/// - a relative path is joined to `root` (`sys/class/thermal/...`);
/// - an absolute path that already lies under `root` is used as given;
/// - any other absolute path is re-rooted: `/sys/x` becomes `<root>/sys/x`.
///
/// With the default root `/` every path is used as given.
pub fn resolve_under_root(root: &Path, path: &Path) -> PathBuf {
    if path.is_relative() {
        return root.join(path);
    }
    if path.starts_with(root) {
        return path.to_path_buf();
    }
    let tail: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    root.join(tail)
}

/// Reads a whole file as text.
pub(crate) fn read_text(path: &Path) -> Result<String, HwError> {
    fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            HwError::Parse {
                path: path.to_path_buf(),
                text: "<not UTF-8>".into(),
                expected: "text",
            }
        } else {
            HwError::from_io(path, Access::Read, e)
        }
    })
}

/// Reads a file and trims whitespace; an empty result is [`HwError::Empty`].
pub(crate) fn read_trimmed(path: &Path, expected: &'static str) -> Result<String, HwError> {
    let text = read_text(path)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(HwError::Empty {
            path: path.to_path_buf(),
            expected,
        });
    }
    Ok(trimmed.to_string())
}

/// Builds a parse error quoting (a bounded prefix of) the offending text.
pub(crate) fn parse_error(path: &Path, text: &str, expected: &'static str) -> HwError {
    HwError::Parse {
        path: path.to_path_buf(),
        text: text.chars().take(QUOTE_MAX_CHARS).collect(),
        expected,
    }
}

/// Reads a file holding one unsigned integer.
pub(crate) fn read_u64(path: &Path, expected: &'static str) -> Result<u64, HwError> {
    let text = read_trimmed(path, expected)?;
    text.parse().map_err(|_| parse_error(path, &text, expected))
}

/// Writes `text` to an existing file in one `write(2)`, never creating it.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), HwError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| HwError::from_io(path, Access::Write, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| HwError::from_io(path, Access::Write, e))
}

/// Writes `text` to a regular file atomically (temp file in the same directory + rename),
/// so a concurrent reader sees the old or the new content, never a torn one.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), HwError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".warden-tmp");
    let tmp = path.with_file_name(tmp_name);
    fs::write(&tmp, text).map_err(|e| HwError::from_io(&tmp, Access::Write, e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        HwError::from_io(path, Access::Write, e)
    })
}

/// Entries of `dir` named `<prefix><number>`, sorted by number; a missing dir gives none.
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(u32, PathBuf)> {
    let Ok(read_dir) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = read_dir
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let number = name.to_str()?.strip_prefix(prefix)?.parse().ok()?;
            Some((number, entry.path()))
        })
        .collect();
    found.sort_by_key(|(number, _)| *number);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_root() {
        let root = Path::new("/tmp/fake");
        assert_eq!(
            resolve_under_root(root, Path::new("sys/a")),
            Path::new("/tmp/fake/sys/a")
        );
    }

    #[test]
    fn absolute_paths_inside_the_root_are_kept() {
        let root = Path::new("/tmp/fake");
        let inside = Path::new("/tmp/fake/sys/a");
        assert_eq!(resolve_under_root(root, inside), inside);
    }

    #[test]
    fn absolute_paths_outside_the_root_are_rerooted() {
        let root = Path::new("/tmp/fake");
        assert_eq!(
            resolve_under_root(root, Path::new("/sys/class/thermal/thermal_zone1/temp")),
            Path::new("/tmp/fake/sys/class/thermal/thermal_zone1/temp")
        );
    }

    #[test]
    fn the_default_root_keeps_every_path() {
        let root = Path::new("/");
        let real = Path::new("/sys/class/thermal/thermal_zone0/temp");
        assert_eq!(resolve_under_root(root, real), real);
        assert_eq!(
            resolve_under_root(root, Path::new("sys/x")),
            Path::new("/sys/x")
        );
    }
}
