//! A scratch directory for the thermal guard's tests: a fresh path under the system temp
//! directory, named by test and process, removed when dropped.

use std::path::{Path, PathBuf};

/// A fresh directory path (not created), removed with everything in it on drop.
pub(super) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `<temp>/warden-guard-<tag>-<pid>`, emptied of anything an earlier run left.
    pub(super) fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("warden-guard-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&dir);
        ScratchDir(dir)
    }

    /// The directory's path.
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}
