//! The outbox transport: each message becomes `<dir>/<message-id>.eml`,
//! written to a temporary name and renamed, so a crash never leaves half a
//! message. The default when no SMTP server is configured.

use std::path::{Path, PathBuf};

/// A file name from a Message-ID: `<a.b@c>` → `a.b@c.eml`.
pub fn file_name(message_id: &str) -> String {
    let clean: String = message_id
        .trim_matches(|c| c == '<' || c == '>')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{clean}.eml")
}

pub fn write(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the outbox {}: {e}", dir.display()))?;
    let path = dir.join(file_name(message_id));
    let tmp = dir.join(format!(".{}.tmp", file_name(message_id)));
    std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_safe() {
        assert_eq!(
            super::file_name("<2026-11-25-midweek.ab12@x.example>"),
            "2026-11-25-midweek.ab12@x.example.eml"
        );
        assert_eq!(
            super::file_name("<../../etc/passwd>"),
            ".._.._etc_passwd.eml"
        );
    }
}
