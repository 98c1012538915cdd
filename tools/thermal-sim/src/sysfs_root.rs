//! The guard on `run --sysfs-root`: only a new, empty or earlier simulator directory, held
//! by one run at a time.
//!
//! `run` writes a whole fake sysfs tree under the directory it is given, so a typo there
//! could overwrite someone's files or, with `/` or `/sys`, write into the real sysfs. The
//! path is resolved first (symbolic links and `..` followed, as the kernel would follow
//! them when the tree is created), and refused if it is the filesystem root or lies in a
//! kernel filesystem (`/sys`, `/proc`, `/dev`). An existing directory must be empty or
//! hold [`MARKER_FILE`], which `run` writes into every directory it lays out, so a second
//! run may reuse its own tree and nothing else; a reused tree must hold only plain
//! directories and regular files, since a symbolic link in it would carry the writes
//! outside the root. [`claim`] then creates the root and takes an exclusive `flock` on the
//! marker for the whole run, so a second run on the same root is refused instead of
//! rewriting the files under the first; the kernel drops the lock when its holder exits,
//! however it exits, so a killed run never leaves a stale lock behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use warden_hw::describe_file_kind;

/// Written into every directory `run` lays a tree out in; its presence allows reuse, and
/// the run holding the root keeps an exclusive `flock` on it.
pub const MARKER_FILE: &str = ".warden-thermal-sim";
/// What the marker says, for whoever finds it; [`PID_LABEL`] and the holder's pid follow.
const MARKER_TEXT: &str =
    "Fake sysfs tree laid out by warden-thermal-sim run; safe to delete with this directory.\n";
/// Starts the marker's line naming the pid of the run that last claimed the root.
const PID_LABEL: &str = "claimed by pid ";
/// Most of the marker read back for the pid of the run holding it.
const MARKER_READ_CAP: u64 = 4096;
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

/// A root this process holds (see [`claim`]); dropping it, or exiting, releases it.
#[derive(Debug)]
pub struct ClaimedRoot {
    /// What was at the root before the claim.
    pub state: RootState,
    /// The marker, open and locked: its lock lasts as long as this descriptor.
    _locked_marker: File,
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

/// Checks `root` ([`check`]), creates it if needed, locks and marks it as this run's, and
/// for a reused tree refuses any symbolic link or special file in it. Refused, with the
/// path and why: a root that cannot be created, one another run holds (its pid named when
/// known), a link inside a reused tree.
pub fn claim(root: &Path) -> Result<ClaimedRoot> {
    let state = check(root)?;
    let shown = root.display();
    fs::create_dir_all(root).with_context(|| {
        format!("--sysfs-root {shown}: cannot create it; give a directory you can create files in")
    })?;
    let marker_path = root.join(MARKER_FILE);
    let mut marker = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // Never through a link, never blocking on a FIFO someone put there.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&marker_path)
        .with_context(|| {
            format!(
                "--sysfs-root {shown}: cannot open {}",
                marker_path.display()
            )
        })?;
    let kind = marker
        .metadata()
        .with_context(|| {
            format!(
                "--sysfs-root {shown}: cannot inspect {}",
                marker_path.display()
            )
        })?
        .file_type();
    if !kind.is_file() {
        bail!(
            "--sysfs-root {shown}: {} is {}, not the regular file run writes; remove it or \
             give another directory",
            marker_path.display(),
            describe_file_kind(kind)
        );
    }
    let locked = lock_exclusively(&marker).with_context(|| {
        format!(
            "--sysfs-root {shown}: cannot lock {}",
            marker_path.display()
        )
    })?;
    if !locked {
        let holder = holder_pid(&mut marker).map_or_else(
            || "its pid not recorded yet".to_string(),
            |pid| format!("pid {pid}"),
        );
        bail!(
            "--sysfs-root {shown} is in use by another warden-thermal-sim run ({holder}, which \
             holds a lock on {}): two runs would overwrite each other's files; wait for it to \
             end, stop it, or give another directory",
            marker_path.display()
        );
    }
    if state == RootState::LaidOutBefore {
        refuse_links_and_special_files(root)?;
    }
    marker
        .set_len(0)
        .and_then(|()| {
            let text = format!("{MARKER_TEXT}{PID_LABEL}{}\n", std::process::id());
            marker.write_all(text.as_bytes())
        })
        .with_context(|| format!("cannot write {}", marker_path.display()))?;
    Ok(ClaimedRoot {
        state,
        _locked_marker: marker,
    })
}

/// Takes an exclusive `flock` on `file` without waiting: `Ok(false)` when another open
/// file description holds one.
fn lock_exclusively(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock only operates on the descriptor, which `file` keeps open for the
        // whole call; it touches no memory of ours.
        let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if result == 0 {
            return Ok(true);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::WouldBlock => return Ok(false),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(error),
        }
    }
}

/// The pid the holder of `marker` wrote into it, if it has yet.
fn holder_pid(marker: &mut File) -> Option<u32> {
    let mut text = String::new();
    marker
        .take(MARKER_READ_CAP)
        .read_to_string(&mut text)
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(PID_LABEL))
        .and_then(|pid| pid.trim().parse().ok())
}

/// Refuses a reused tree holding a symbolic link (the tree's writes would follow it out of
/// the root) or anything but directories and regular files (a FIFO would block a write).
/// Links are not followed, so the walk ends; an entry gone meanwhile is skipped.
fn refuse_links_and_special_files(root: &Path) -> Result<()> {
    let mut directories = vec![root.to_path_buf()];
    while let Some(directory) = directories.pop() {
        let entries = fs::read_dir(&directory).with_context(|| {
            format!(
                "--sysfs-root {}: cannot list {}",
                root.display(),
                directory.display()
            )
        })?;
        for entry in entries {
            let path = entry
                .with_context(|| {
                    format!(
                        "--sysfs-root {}: cannot list {}",
                        root.display(),
                        directory.display()
                    )
                })?
                .path();
            let kind = match fs::symlink_metadata(&path) {
                Ok(metadata) => metadata.file_type(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "--sysfs-root {}: cannot inspect {}",
                            root.display(),
                            path.display()
                        )
                    })
                }
            };
            if kind.is_symlink() {
                bail!(
                    "--sysfs-root {}: {} is a symbolic link, and run would write through it, \
                     outside the root; remove it (run lays out plain directories and files) or \
                     give a new directory",
                    root.display(),
                    path.display()
                );
            }
            if kind.is_dir() {
                directories.push(path);
            } else if !kind.is_file() {
                bail!(
                    "--sysfs-root {}: {} is {}, not a directory or regular file as run lays \
                     out; remove it or give a new directory",
                    root.display(),
                    path.display(),
                    describe_file_kind(kind)
                );
            }
        }
    }
    Ok(())
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
    use warden_hw::fake_sysfs::FakeSysfsTree;

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
        assert_eq!(claim(&tree).unwrap().state, RootState::New);
        assert!(tree.join(MARKER_FILE).is_file());
        fs::write(tree.join("fan_duty"), "0.000").unwrap();
        assert_eq!(check(&tree).unwrap(), RootState::LaidOutBefore);
        assert_eq!(claim(&tree).unwrap().state, RootState::LaidOutBefore);

        std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling")).unwrap();
        assert!(refusal(&dir.join("dangling")).contains("symbolic link"));
        fs::remove_dir_all(&dir).unwrap();
    }

    fn claim_refusal(root: &Path) -> String {
        format!("{:#}", claim(root).expect_err("refused"))
    }

    #[test]
    fn a_root_is_held_by_one_claim_at_a_time_and_released_on_drop() {
        let dir = scratch("lock");
        let tree = dir.join("tree");
        let first = claim(&tree).unwrap();
        let marker = fs::read_to_string(tree.join(MARKER_FILE)).unwrap();
        assert!(
            marker.contains(&format!("{PID_LABEL}{}", std::process::id())),
            "{marker}"
        );
        // A second open of the marker is a second lock holder, even in this process.
        let refused = claim_refusal(&tree);
        assert!(
            refused.contains("in use by another warden-thermal-sim run")
                && refused.contains(&format!("pid {}", std::process::id()))
                && refused.contains(&*tree.to_string_lossy()),
            "{refused}"
        );
        drop(first);
        assert_eq!(claim(&tree).unwrap().state, RootState::LaidOutBefore);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_root_that_cannot_be_created_is_refused_naming_it() {
        let dir = scratch("create");
        fs::write(dir.join("file"), "a file, not a directory").unwrap();
        // `check` passes this one (the parent resolves, the root is new); only creating
        // it fails. Immutable as root, mode 0444 otherwise: unwritable either way.
        let locked_parent = dir.join("locked");
        fs::create_dir(&locked_parent).unwrap();
        let helper = FakeSysfsTree::create(&dir.join("helper")).unwrap();
        helper.make_unwritable(&locked_parent);
        for root in [dir.join("file/sub"), locked_parent.join("root")] {
            let refused = claim_refusal(&root);
            assert!(refused.contains(&*root.to_string_lossy()), "{refused}");
        }
        helper.make_writable(&locked_parent).unwrap();
        drop(helper);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reused_tree_with_a_link_or_special_file_inside_is_refused_naming_it() {
        let dir = scratch("links");
        let outside = dir.join("outside");
        fs::create_dir(&outside).unwrap();
        let tree = dir.join("tree");
        drop(claim(&tree).unwrap());
        fs::create_dir_all(tree.join("sys/class")).unwrap();
        let link = tree.join("sys/class/thermal");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let refused = claim_refusal(&tree);
        assert!(
            refused.contains(&format!("{} is a symbolic link", link.display())),
            "{refused}"
        );
        fs::remove_file(&link).unwrap();
        let file_link = tree.join("fan_duty");
        std::os::unix::fs::symlink(outside.join("victim"), &file_link).unwrap();
        assert!(claim_refusal(&tree).contains("fan_duty is a symbolic link"));
        fs::remove_file(&file_link).unwrap();
        let fifo = tree.join("sys/class/fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            claim_refusal(&tree).contains("is a FIFO"),
            "{}",
            claim_refusal(&tree)
        );
        fs::remove_file(&fifo).unwrap();
        assert_eq!(claim(&tree).unwrap().state, RootState::LaidOutBefore);
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing written outside"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
