//! Where returned mail is read from: one message on standard input (an
//! MTA's pipe), a Maildir, an mbox, a single file, or an IMAP mailbox. A
//! source hands over messages one at a time and is told which were
//! handled: a Maildir moves those to `cur/` flagged seen, an IMAP mailbox
//! to a folder; everything else is left exactly where it was. Nothing is
//! ever deleted.

pub mod imap;
mod maildir;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::domain::ImapUrl;

/// Larger than any bounce worth reading: they quote at most our message,
/// which is ~100 KB.
pub const MAX_MESSAGE_BYTES: u64 = 10 << 20;

/// A place to read returned mail from, as named on the command line.
#[derive(Debug, Clone)]
pub enum Source {
    Stdin,
    Maildir(PathBuf),
    Mbox(PathBuf),
    /// One message in a file (`.eml`).
    File(PathBuf),
    Imap(ImapUrl),
}

impl Source {
    /// `-`, an `imaps://` URL, a Maildir folder, an mbox or a message file.
    pub fn parse(arg: &str) -> Result<Source, String> {
        if arg == "-" {
            return Ok(Source::Stdin);
        }
        if arg.contains("://") {
            return arg.parse().map(Source::Imap);
        }
        let path = PathBuf::from(arg);
        if path.is_dir() {
            return if path.join("new").is_dir() && path.join("cur").is_dir() {
                Ok(Source::Maildir(path))
            } else {
                Err(format!(
                    "{arg} is a folder but not a Maildir (it needs new/ and cur/)"
                ))
            };
        }
        let mut head = [0u8; 5];
        let n = std::fs::File::open(&path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| format!("cannot read {arg}: {e}"))?;
        Ok(if &head[..n] == b"From " {
            Source::Mbox(path)
        } else {
            Source::File(path)
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Stdin => write!(f, "standard input"),
            Source::Maildir(p) | Source::Mbox(p) | Source::File(p) => write!(f, "{}", p.display()),
            Source::Imap(u) => write!(f, "{u}"),
        }
    }
}

/// One message from a source.
pub struct Item {
    /// Where it is, for the report: `new/1700.abc`, `message 3`, `UID 17`.
    pub label: String,
    /// Its bytes, or why they could not be had (too large, unreadable).
    pub raw: Result<Vec<u8>, String>,
    at: At,
}

enum At {
    Nowhere,
    File(PathBuf),
    Uid(u32),
}

/// An open source.
pub trait Mailbox {
    /// The next message; `Err` when the source itself fails.
    fn next(&mut self) -> Result<Option<Item>, String>;
    /// `item` was handled: move it aside, if the source can.
    fn handled(&mut self, item: &Item) -> Result<(), String>;
    /// Ends the session (IMAP logs out).
    fn close(self: Box<Self>) -> Result<(), String>;
}

/// How to reach an IMAP server, from the config and the environment.
pub struct ImapAccess<'a> {
    pub password: Option<&'a str>,
    pub tls_ca: Option<&'a [u8]>,
    pub folder: &'a str,
    pub timeout: std::time::Duration,
}

/// Opens `source` for reading.
pub fn open(source: &Source, imap: &ImapAccess<'_>) -> Result<Box<dyn Mailbox>, String> {
    Ok(match source {
        Source::Stdin => Box::new(Once(Some(Item {
            label: "standard input".into(),
            raw: read_limited(std::io::stdin().lock()),
            at: At::Nowhere,
        }))),
        Source::File(p) => Box::new(Once(Some(Item {
            label: p.display().to_string(),
            raw: read_file(p),
            at: At::Nowhere,
        }))),
        Source::Maildir(p) => Box::new(maildir::Maildir::open(p)?),
        Source::Mbox(p) => Box::new(Mbox::open(p)?),
        Source::Imap(url) => Box::new(imap_box(url, imap)?),
    })
}

/// An IMAP mailbox: listed once when opened, each message downloaded when
/// its turn comes (a full bounce mailbox need not fit in memory), each
/// handled one moved to the configured folder.
fn imap_box(url: &ImapUrl, access: &ImapAccess<'_>) -> Result<ImapBox, String> {
    let password = access
        .password
        .ok_or("reading an IMAP mailbox needs its password (ALMANAC_IMAP_PASSWORD)")?;
    let mut mailbox = imap::Mailbox::connect(url, password, access.tls_ca, access.timeout)?;
    let mut listed = mailbox.list()?;
    listed.reverse();
    Ok(ImapBox {
        mailbox,
        listed,
        folder: access.folder.to_owned(),
    })
}

struct ImapBox {
    mailbox: imap::Mailbox,
    /// Still to read, the next last.
    listed: Vec<(u32, u32)>,
    folder: String,
}

impl Mailbox for ImapBox {
    fn next(&mut self) -> Result<Option<Item>, String> {
        let Some((uid, size)) = self.listed.pop() else {
            return Ok(None);
        };
        let raw = self.mailbox.read(uid, size, MAX_MESSAGE_BYTES)?;
        Ok(Some(Item {
            label: format!("UID {uid}"),
            raw,
            at: At::Uid(uid),
        }))
    }
    fn handled(&mut self, item: &Item) -> Result<(), String> {
        match item.at {
            At::Uid(uid) => self.mailbox.handled(uid, &self.folder),
            _ => Ok(()),
        }
    }
    fn close(self: Box<Self>) -> Result<(), String> {
        self.mailbox.logout()
    }
}

/// A single message (standard input, a file): nothing to move.
struct Once(Option<Item>);

impl Mailbox for Once {
    fn next(&mut self) -> Result<Option<Item>, String> {
        Ok(self.0.take())
    }
    fn handled(&mut self, _: &Item) -> Result<(), String> {
        Ok(())
    }
    fn close(self: Box<Self>) -> Result<(), String> {
        Ok(())
    }
}

/// At most `MAX_MESSAGE_BYTES`; more is an error, not a truncated message.
fn read_limited(r: impl Read) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    r.take(MAX_MESSAGE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if buf.len() as u64 > MAX_MESSAGE_BYTES {
        return Err(too_large(None));
    }
    Ok(buf)
}

fn too_large(size: Option<u64>) -> String {
    match size {
        Some(n) => {
            format!("{n} bytes is too large for a bounce (the limit is {MAX_MESSAGE_BYTES})")
        }
        None => format!("more than {MAX_MESSAGE_BYTES} bytes is too large for a bounce"),
    }
}

fn read_file(p: &Path) -> Result<Vec<u8>, String> {
    match std::fs::metadata(p) {
        Ok(m) if m.len() > MAX_MESSAGE_BYTES => Err(too_large(Some(m.len()))),
        Ok(_) => std::fs::File::open(p)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(read_limited),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// Every message of an mbox, in order. The file is only read: an mbox
/// can't be edited safely while an MTA may append to it.
struct Mbox {
    messages: mail_parser::mailbox::mbox::MessageIterator<std::io::BufReader<std::fs::File>>,
    n: usize,
}

impl Mbox {
    fn open(p: &Path) -> Result<Mbox, String> {
        let f = std::fs::File::open(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        Ok(Mbox {
            messages: mail_parser::mailbox::mbox::MessageIterator::new(std::io::BufReader::new(f)),
            n: 0,
        })
    }
}

impl Mailbox for Mbox {
    fn next(&mut self) -> Result<Option<Item>, String> {
        let Some(m) = self.messages.next() else {
            return Ok(None);
        };
        self.n += 1;
        let m = m.map_err(|e| format!("reading message {}: {e}", self.n))?;
        let raw = m.unwrap_contents();
        Ok(Some(Item {
            label: format!("message {}", self.n),
            raw: if raw.len() as u64 > MAX_MESSAGE_BYTES {
                Err(too_large(Some(raw.len() as u64)))
            } else {
                Ok(raw)
            },
            at: At::Nowhere,
        }))
    }
    fn handled(&mut self, _: &Item) -> Result<(), String> {
        Ok(())
    }
    fn close(self: Box<Self>) -> Result<(), String> {
        Ok(())
    }
}
