//! Writing output so that a reader never sees half of it: a file goes to a
//! temporary sibling and is renamed over; a folder is filled beside the old
//! one and swapped in. Used by build, archive, the outbox and the subscriber
//! file, which all promise "complete or untouched".

use std::path::{Path, PathBuf};

/// A file-system operation that failed, with the path it was about.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}", path.display())]
pub struct Error {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Error {
    pub fn new(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// Attaches the action and path to an I/O result.
pub trait Context<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, Error>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, Error> {
        self.map_err(|e| Error::new(action, path, e))
    }
}

/// The temporary sibling of `path`: hidden, and unique to this process.
fn sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).at("create", parent)?;
    }
    let tmp = sibling(path, "tmp");
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::new("write", &tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::new("write", path, e)
    })
}

/// Replaces the folder `dir` with exactly `files` (paths relative to it).
/// The new folder is filled beside the old one; the old one is renamed
/// aside first, so `dir` is missing only between two renames, and a failure
/// at any point leaves the old folder in place.
pub fn replace_dir<P: AsRef<Path>>(
    dir: &Path,
    files: impl IntoIterator<Item = (P, Vec<u8>)>,
) -> Result<(), Error> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).at("create", parent)?;
    }
    let tmp = sibling(dir, "tmp");
    let old = sibling(dir, "old");
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = fill(&tmp, files) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&old);
    let had_old = dir.exists();
    if had_old && let Err(e) = std::fs::rename(dir, &old) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Error::new("replace", dir, e));
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Error::new("move the new files into", dir, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

fn fill<P: AsRef<Path>>(
    tmp: &Path,
    files: impl IntoIterator<Item = (P, Vec<u8>)>,
) -> Result<(), Error> {
    std::fs::create_dir_all(tmp).at("create", tmp)?;
    for (rel, bytes) in files {
        let path = tmp.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).at("create", parent)?;
        }
        std::fs::write(&path, bytes).at("write", &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_dir_swaps_whole_folders() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("site");
        replace_dir(&dir, [("a.txt", b"1".to_vec()), ("x/b.txt", b"2".to_vec())]).unwrap();
        replace_dir(&dir, [("c.txt", b"3".to_vec())]).unwrap();
        assert!(!dir.join("a.txt").exists());
        assert_eq!(std::fs::read(dir.join("c.txt")).unwrap(), b"3");
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary folders are left behind");
    }

    #[test]
    fn write_file_replaces_and_names_failures() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("list.csv");
        write_file(&f, b"a").unwrap();
        write_file(&f, b"b").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"b");
        let e = write_file(&f.join("below-a-file"), b"x").unwrap_err();
        assert!(e.to_string().starts_with("cannot "), "{e}");
    }
}
