//! The outbox transport: each message becomes `<dir>/<message-id>.eml`,
//! written to a temporary name and renamed, so a crash never leaves half a
//! message. For previews and local runs: the journal records these
//! deliveries as the outbox's, never as sent to anybody.

use std::path::{Path, PathBuf};

use super::reply::Reply;
use super::transport::{Attempt, Envelope, Session, Transport, TransportError, Via};

#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Outbox { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Transport for Outbox {
    type Session = Outbox;

    fn via(&self) -> Via {
        Via::Outbox
    }

    fn describe(&self) -> String {
        format!("the outbox {}", self.dir.display())
    }

    async fn connect(&self) -> Result<Outbox, TransportError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| TransportError::Outbox {
            path: self.dir.clone(),
            source,
        })?;
        Ok(self.clone())
    }
}

impl Session for Outbox {
    async fn send(&mut self, envelope: &Envelope<'_>, message: &[u8]) -> Attempt {
        let path = self.dir.join(file_name(envelope.message_id));
        match crate::fsx::write_file(&path, message) {
            Ok(()) => Attempt::Accepted(Reply::new(250, "written to the outbox")),
            Err(e) => Attempt::Unusable(format!("{e}: {}", e.source)),
        }
    }

    fn is_broken(&self) -> bool {
        false
    }

    async fn quit(self) {}
}

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
