//! A report folder while a run writes it: the run writes into a hidden sibling `.NAME.tmp-PID` and renames it to
//! `NAME` only when the report is complete, holding an exclusive lock on the sibling `.NAME.lock` from start to
//! finish. Two runs into one `--out` never mix their files (the second is refused), a re-run replaces an earlier
//! report whole (no stale file survives), and a folder that is not a report is never replaced.

use crate::exit::Failure;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The folder being written, and where it goes when it is complete. Dropped without `commit`, it is removed.
pub struct Stage {
    dir: PathBuf,
    tmp: PathBuf,
    lock: Option<Lock>,
}

/// The exclusive lock on `.NAME.lock`; released (and the file removed) when dropped.
pub struct Lock {
    path: PathBuf,
    file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held: a run that opened this file meanwhile sees it is gone and locks a new one.
        drop(std::fs::remove_file(&self.path));
        // SAFETY: unlocking a descriptor this struct owns.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn cannot_write(dir: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::input(format!("cannot write the report folder {}: {e}; pass --out DIR", dir.display()))
}

impl Stage {
    /// Locks `dir`, checks that it is new, empty or a report folder (which the run will replace), and creates the
    /// folder the run writes into. Exit 2 if another run holds the lock or `dir` cannot be used.
    pub fn begin(dir: &Path) -> Result<Stage, Failure> {
        let dir = resolve(dir)?;
        let (parent, name) = split(&dir)?;
        std::fs::create_dir_all(&parent).map_err(|e| cannot_write(&dir, e))?;
        let lock = Lock::take(&parent.join(format!(".{name}.lock")), &dir)?;
        replaceable(&dir)?;
        clean_stale(&parent, &name);
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        super::prepare_dir(&tmp).map_err(|e| {
            drop(std::fs::remove_dir_all(&tmp));
            cannot_write(&dir, e)
        })?;
        Ok(Stage { dir, tmp, lock: Some(lock) })
    }

    /// Where the run writes.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Where the report ends up.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves the complete report into place, replacing an earlier report whole. Returns the lock, for a caller
    /// that goes on writing into the folder (`run --gate`).
    pub fn commit(mut self) -> Result<Lock, Failure> {
        // Taken first: from here on, a failure keeps the complete report where it is (the message says where).
        let lock = self.lock.take().expect("a stage holds its lock until committed");
        let fail = |e: std::io::Error, what: &str| {
            Failure::runtime(format!(
                "{what} {} failed: {e}; the complete report is in {}",
                self.dir.display(),
                self.tmp.display()
            ))
        };
        // Checked again: the lock keeps other runs out, not a person adding files meanwhile.
        replaceable(&self.dir)
            .map_err(|f| Failure::input(format!("{}; the complete report is in {}", f.message, self.tmp.display())))?;
        match std::fs::rename(&self.tmp, &self.dir) {
            Ok(()) => {}
            // A folder with files (an earlier report) cannot be renamed over: move it aside first.
            Err(e) if matches!(e.kind(), ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists) => {
                let (parent, name) = split(&self.dir)?;
                let old = parent.join(format!(".{name}.old-{}", std::process::id()));
                std::fs::rename(&self.dir, &old).map_err(|e| fail(e, "moving aside the earlier report in"))?;
                if let Err(e) = std::fs::rename(&self.tmp, &self.dir) {
                    drop(std::fs::rename(&old, &self.dir));
                    return Err(fail(e, "moving the report to"));
                }
                drop(std::fs::remove_dir_all(&old));
            }
            Err(e) => return Err(fail(e, "moving the report to")),
        }
        Ok(lock)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if self.lock.is_some() {
            // Not committed: the run failed before it had a report. Leave nothing half-written behind.
            drop(std::fs::remove_dir_all(&self.tmp));
        }
    }
}

impl Lock {
    fn take(path: &Path, dir: &Path) -> Result<Lock, Failure> {
        loop {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| cannot_write(dir, e))?;
            // SAFETY: flock(2) on a descriptor we own; LOCK_NB makes it return at once.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != ErrorKind::WouldBlock {
                    return Err(cannot_write(dir, e));
                }
                let mut pid = String::new();
                drop(file.read_to_string(&mut pid));
                let who = match pid.trim() {
                    p if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => format!(" (process {p})"),
                    _ => String::new(),
                };
                return Err(Failure::input(format!(
                    "another run{who} is writing to {} (it holds {}); wait for it to finish or pass another --out",
                    dir.display(),
                    path.display()
                )));
            }
            // The run that held it may have removed it meanwhile: only the file still at the path counts.
            let same = match (file.metadata(), std::fs::metadata(path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if same {
                drop(
                    file.set_len(0).and_then(|()| file.rewind()).and_then(|()| write!(file, "{}", std::process::id())),
                );
                return Ok(Lock { path: path.to_path_buf(), file });
            }
        }
    }
}

/// `--out .` or `--out ..` name the folder itself; a symbolic link is followed to the folder it names.
fn resolve(dir: &Path) -> Result<PathBuf, Failure> {
    let link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
    let named = matches!(dir.file_name(), Some(n) if n != "." && n != "..");
    if named && !link {
        return Ok(dir.to_path_buf());
    }
    std::fs::canonicalize(dir).map_err(|e| cannot_write(dir, e))
}

fn split(dir: &Path) -> Result<(PathBuf, String), Failure> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = name.filter(|n| n != "." && n != "..") else {
        return Err(cannot_write(dir, "it has no folder name"));
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// A run may replace nothing, an empty folder, or a report folder (one that holds summary.json).
fn replaceable(dir: &Path) -> Result<(), Failure> {
    let meta = match std::fs::metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(cannot_write(dir, e)),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(cannot_write(dir, "it is a file, not a folder"));
    }
    let empty = std::fs::read_dir(dir).map_err(|e| cannot_write(dir, e))?.next().is_none();
    if empty || dir.join(super::SUMMARY).is_file() {
        return Ok(());
    }
    Err(Failure::input(format!(
        "{} holds files but no {}: it is not a report folder, and a run replaces its report folder whole; \
         pass --out with a new or empty folder (or an earlier report)",
        dir.display(),
        super::SUMMARY
    )))
}

/// Folders that a run killed outright (SIGKILL, a second Ctrl-C) left behind; safe to remove under the lock.
fn clean_stale(parent: &Path, name: &str) {
    let prefixes = [format!(".{name}.tmp-"), format!(".{name}.old-")];
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let stale = prefixes.iter().any(|p| {
            file.strip_prefix(p.as_str()).is_some_and(|pid| !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()))
        });
        if stale {
            drop(std::fs::remove_dir_all(entry.path()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stage_per_folder_and_a_refused_commit_keeps_the_report() {
        let tmp = tempfile::TempDir::new().unwrap();
        let dir = tmp.path().join("out");
        let stage = Stage::begin(&dir).unwrap();
        let again = Stage::begin(&dir).err().expect("the folder is taken");
        assert!(again.message.contains("another run") && again.message.contains(&format!("{}", std::process::id())));
        std::fs::write(stage.path().join("summary.json"), "{}").unwrap();
        // Someone puts a file of their own where the report goes while the run writes it.
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let kept = stage.path().to_path_buf();
        let refused = stage.commit().err().expect("not a report folder");
        assert!(refused.message.contains("not a report folder"), "{}", refused.message);
        assert!(kept.join("summary.json").is_file(), "the complete report stays where the message says");
        assert!(dir.join("notes.txt").is_file() && !dir.join("summary.json").exists());
        // The lock went with the stage: the next run may begin, and clears what the refused one left.
        std::fs::remove_file(dir.join("notes.txt")).unwrap();
        let next = Stage::begin(&dir).unwrap();
        assert!(!next.path().join("summary.json").exists(), "stale temporary folders are removed");
        drop(next);
        assert!(!tmp.path().join(".out.lock").exists());
    }
}
