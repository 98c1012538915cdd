//! The guard on `run --sysfs-root`: only a new, empty or earlier simulator directory.
//!
//! `run` writes a whole fake sysfs tree under the directory it is given, so a typo there
//! could overwrite someone's files or, with `/` or `/sys`, write into the real sysfs. The
//! path is resolved first (symbolic links and `..` followed, as the kernel would follow
//! them when the tree is created), and refused if it is the filesystem root or lies in a
//! kernel filesystem (`/sys`, `/proc`, `/dev`). An existing directory must be empty or
//! hold [`MARKER_FILE`], which `run` writes into every directory it lays out, so a second
//! run may reuse its own tree and nothing else.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Written into every directory `run` lays a tree out in; its presence allows reuse.
pub const MARKER_FILE: &str = ".warden-thermal-sim";
/// What the marker says, for whoever finds it.
const MARKER_TEXT: &str =
    "Fake sysfs tree laid out by warden-thermal-sim run; safe to delete with this directory.\n";
/// Kernel filesystems `run` never writes into (besides `/` itself).
const KERNEL_DIRS: [&str; 3] = ["/sys", "/proc", "/dev"];

/// What [`check`] found at an acceptable root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootState {
    /// Nothing there yet: it will be created.
    New,
    /// An empty directory.
    Empty,
    /// A directory an earlier `run` laid out (it holds [`MARKER_FILE`]).
    LaidOutBefore,
}

/// Checks that `root` is safe to lay a tree out in; the error names the path and why not.
pub fn check(root: &Path) -> Result<RootState> {
    let resolved = resolve(root)?;
    let shown = root.display();
    if resolved.parent().is_none() {
        bail!(
            "--sysfs-root {shown} is the filesystem root: give a scratch directory such as \
             /tmp/sim-root"
        );
    }
    if let Some(kernel) = KERNEL_DIRS.iter().find(|dir| resolved.starts_with(dir)) {
        bail!(
            "--sysfs-root {shown} resolves to {}, inside the kernel's {kernel}: the simulator \
             would write into the real system; give a scratch directory such as /tmp/sim-root",
            resolved.display()
        );
    }
    let metadata = match fs::metadata(&resolved) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(RootState::New),
        Err(error) => {
            return Err(error).with_context(|| format!("--sysfs-root {shown}: cannot inspect it"))
        }
    };
    if !metadata.is_dir() {
        bail!("--sysfs-root {shown} exists and is not a directory: give a directory");
    }
    let marker = fs::symlink_metadata(resolved.join(MARKER_FILE));
    if marker.is_ok_and(|m| m.is_file()) {
        return Ok(RootState::LaidOutBefore);
    }
    let mut entries =
        fs::read_dir(&resolved).with_context(|| format!("--sysfs-root {shown}: cannot list it"))?;
    if entries.next().is_some() {
        bail!(
            "--sysfs-root {shown} is a non-empty directory that warden-thermal-sim did not lay \
             out (it has no {MARKER_FILE} file): give a new or empty directory, so that nothing \
             in it is overwritten"
        );
    }
    Ok(RootState::Empty)
}

/// Checks `root` again, creates it if needed and marks it as the simulator's.
pub fn claim(root: &Path) -> Result<RootState> {
    let state = check(root)?;
    fs::create_dir_all(root)
        .with_context(|| format!("--sysfs-root {}: cannot create it", root.display()))?;
    let marker = root.join(MARKER_FILE);
    fs::write(&marker, MARKER_TEXT)
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(state)
}

/// `path` as the kernel will resolve it once `run` has created whatever is missing: the
/// longest existing prefix canonicalised (links followed), the missing rest applied
/// lexically, since it will be created as plain directories where `..` means the parent.
fn resolve(path: &Path) -> Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current directory")?
            .join(path)
    };
    let components: Vec<Component<'_>> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let prefix: PathBuf = components[..existing].iter().collect();
        match prefix.canonicalize() {
            Ok(mut resolved) => {
                for component in &components[existing..] {
                    match component {
                        Component::ParentDir => {
                            resolved.pop();
                        }
                        Component::Normal(name) => resolved.push(name),
                        Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                    }
                }
                return Ok(resolved);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if fs::symlink_metadata(&prefix).is_ok() {
                    bail!(
                        "--sysfs-root {}: {} is a symbolic link to nothing; give a real directory",
                        path.display(),
                        prefix.display()
                    );
                }
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "--sysfs-root {}: cannot resolve {}",
                        path.display(),
                        prefix.display()
                    )
                })
            }
        }
    }
    bail!("--sysfs-root {}: cannot resolve it", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("thermal-sim-root-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn refusal(root: &Path) -> String {
        format!("{:#}", check(root).expect_err("refused"))
    }

    #[test]
    fn the_real_sysfs_and_the_filesystem_root_are_refused() {
        let dir = scratch("kernel");
        std::os::unix::fs::symlink("/sys", dir.join("link")).unwrap();
        let sneaky = dir.join("new/../../../../../../../../../sys/class");
        for (root, says) in [
            (PathBuf::from("/"), "filesystem root"),
            (PathBuf::from("/sys"), "/sys"),
            (PathBuf::from("/sys/class/thermal"), "/sys"),
            (PathBuf::from("/proc/self"), "/proc"),
            (dir.join("link"), "/sys"),
            (dir.join("link/fake/tree"), "/sys"),
            (sneaky, "/sys"),
        ] {
            let message = refusal(&root);
            assert!(message.contains(&*root.to_string_lossy()), "{message}");
            assert!(message.contains(says), "{message}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_new_empty_or_marked_directories_are_accepted() {
        let dir = scratch("dirs");
        assert_eq!(check(&dir.join("a/b")).unwrap(), RootState::New);
        assert_eq!(check(&dir).unwrap(), RootState::Empty);
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        assert!(refusal(&dir).contains("non-empty"), "{}", refusal(&dir));
        assert!(refusal(&dir.join("notes.txt")).contains("not a directory"));

        let tree = dir.join("tree");
        assert_eq!(claim(&tree).unwrap(), RootState::New);
        assert!(tree.join(MARKER_FILE).is_file());
        fs::write(tree.join("fan_duty"), "0.000").unwrap();
        assert_eq!(check(&tree).unwrap(), RootState::LaidOutBefore);
        assert_eq!(claim(&tree).unwrap(), RootState::LaidOutBefore);

        std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling")).unwrap();
        assert!(refusal(&dir.join("dangling")).contains("symbolic link"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
