//! Request paths → files of the archive folder, strictly: the path below the
//! archive prefix must be made of plain segments (`[A-Za-z0-9._-]`, not
//! starting with a dot), so `..`, percent-encoded tricks (`%2e%2e`, `%2f`),
//! backslashes and hidden files never reach the file system.

use std::path::{Path, PathBuf};

/// Where a request path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A file to serve (not yet checked to exist).
    File(PathBuf),
    /// The same path with a trailing slash (a folder asked for without one).
    Slash(String),
    NotFound,
}

/// The longest segment accepted; issue ids and file names are far shorter.
const MAX_SEGMENT: usize = 100;

pub fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SEGMENT
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `prefix` starts and ends with `/` (e.g. `/issues/`); `path` is the raw,
/// still percent-encoded request path.
pub fn resolve(root: &Path, prefix: &str, path: &str) -> Resolved {
    let Some(rest) = path.strip_prefix(prefix) else {
        if format!("{path}/") == prefix {
            return Resolved::Slash(prefix.to_owned());
        }
        return Resolved::NotFound;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let (last, dirs) = segments.split_last().expect("split gives at least one");
    if !dirs.iter().all(|s| safe_segment(s)) || !(last.is_empty() || safe_segment(last)) {
        return Resolved::NotFound;
    }
    let mut file = root.to_path_buf();
    for d in dirs {
        file.push(d);
    }
    if last.is_empty() {
        file.push("index.html");
        return Resolved::File(file);
    }
    file.push(last);
    // A folder without the trailing slash: relative links need it.
    if !last.contains('.') && file.is_dir() {
        return Resolved::Slash(format!("{path}/"));
    }
    Resolved::File(file)
}

/// The content type to serve a file with, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("xml") => "application/atom+xml; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Reads a regular file (never through a symbolic link).
pub fn read(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let root = Path::new("/srv/site");
        let f = |p: &str| resolve(root, "/issues/", p);
        assert_eq!(f("/issues/"), Resolved::File("/srv/site/index.html".into()));
        assert_eq!(
            f("/issues/feed.xml"),
            Resolved::File("/srv/site/feed.xml".into())
        );
        assert_eq!(
            f("/issues/2026-11-25-midweek/"),
            Resolved::File("/srv/site/2026-11-25-midweek/index.html".into())
        );
        assert_eq!(f("/issues"), Resolved::Slash("/issues/".into()));
        for bad in [
            "/issues/../newsletter.toml",
            "/issues/%2e%2e/newsletter.toml",
            "/issues/..%2fnewsletter.toml",
            "/issues/%2E%2E%2Fstate/almanac.db",
            "/issues/.hidden",
            "/issues//etc/passwd",
            "/issues/a\\b",
            "/issues/./index.html",
            "/other/index.html",
            "/",
        ] {
            assert_eq!(f(bad), Resolved::NotFound, "{bad}");
        }
        assert_eq!(
            resolve(root, "/", "/index.html"),
            Resolved::File("/srv/site/index.html".into())
        );
    }

    #[test]
    fn segments() {
        assert!(safe_segment("2026-11-25-midweek"));
        assert!(safe_segment("index.html"));
        for s in ["", ".", "..", ".git", "a%2f", "a b", "ä", &"x".repeat(101)] {
            assert!(!safe_segment(s), "{s}");
        }
    }
}
