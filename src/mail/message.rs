//! RFC 5322 messages, built as bytes. The multipart body is quoted-printable
//! encoded once per issue, with holes for personal fields; personalising a
//! message is copying those bytes and encoding a few short values. The result
//! has CRLF line endings and no line over 76 octets in the body.

use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use email_encoding::headers::writer::EmailWriter;
use sha2::{Digest, Sha256};

use super::dkim::{self, Signer};
use super::token::{Purpose, TokenKey};
use crate::domain::{EditionId, Email, IssueId, Line, Mailbox};
use crate::render::{Field, Rendered, Template, personal::Piece, personal::html_escape};

/// What every message of one issue shares.
pub struct Identity<'a> {
    pub issue: &'a IssueId,
    /// Each edition is its own list: its List-Id and its unsubscribe.
    pub edition: &'a EditionId,
    pub edition_name: &'a str,
    pub subject: &'a Line,
    pub from: &'a Mailbox,
    pub reply_to: Option<&'a Mailbox>,
    pub list_name: &'a str,
    pub list_id: &'a str,
    pub unsubscribe_url: &'a str,
    pub manage_url: &'a str,
    pub unsubscribe_mailto: &'a Email,
    pub greeting_fallback: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Html = 0,
    Text = 1,
}

#[derive(Debug, Clone)]
enum Chunk {
    Bytes(Vec<u8>),
    Field(Field, Part),
}

/// One issue, ready to be personalised for any number of recipients.
pub struct Prepared {
    /// Headers that are the same for everyone (ending in CRLF).
    common: String,
    body: Vec<Chunk>,
    issue: String,
    edition: EditionId,
    id_domain: String,
    unsubscribe_url: String,
    manage_url: String,
    unsubscribe_mailto: String,
    greeting_fallback: String,
    proof: bool,
    /// For DKIM, made the first time a message is signed.
    canonical: OnceLock<Canonical>,
}

/// A recipient as the message needs it.
pub struct Recipient<'a> {
    /// The subscriber's id, which their tokens name.
    pub id: i64,
    pub email: &'a Email,
    pub name: Option<&'a str>,
}

/// The personal bytes of one message, for the transport and the journal.
pub struct Personal {
    pub message_id: String,
    pub bytes: Vec<u8>,
}

impl Prepared {
    /// The issue id these messages carry.
    pub fn issue(&self) -> &str {
        &self.issue
    }

    pub fn is_proof(&self) -> bool {
        self.proof
    }

    /// `date` is the Date header for every message of this run.
    pub fn new(
        id: &Identity<'_>,
        rendered: &Rendered,
        date: DateTime<FixedOffset>,
        proof: bool,
    ) -> Prepared {
        let boundary = boundary(rendered);
        let mut h = String::new();
        header(&mut h, "Date", &date.to_rfc2822());
        mailbox_header(&mut h, "From", id.from);
        if let Some(r) = id.reply_to {
            mailbox_header(&mut h, "Reply-To", r);
        }
        let subject = if proof {
            format!("[PROOF] {}", id.subject)
        } else {
            id.subject.to_string()
        };
        unstructured_header(&mut h, "Subject", &subject);
        let list_name = format!("{} ({})", id.list_name, id.edition_name);
        let mut list = String::new();
        if list_name.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            // Printable ASCII reads best as a quoted string.
            let escaped = list_name.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(list, "\"{escaped}\"");
        } else {
            phrase(&mut list, &list_name, "List-Id: ".len());
        }
        header(
            &mut h,
            "List-Id",
            &format!("{list} <{}.{}>", id.edition, id.list_id),
        );
        header(
            &mut h,
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click",
        );
        header(&mut h, "MIME-Version", "1.0");
        header(
            &mut h,
            "Content-Type",
            &format!("multipart/alternative; boundary=\"{boundary}\""),
        );
        if proof {
            header(&mut h, "X-Almanac-Proof", "yes");
        }
        let mut body = Vec::new();
        let part_head = |ct: &str| {
            format!(
                "--{boundary}\r\nContent-Type: {ct}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            )
        };
        body.push(Chunk::Bytes(part_head("text/plain").into_bytes()));
        encode_template(&rendered.text, Part::Text, &mut body);
        body.push(Chunk::Bytes(
            format!("\r\n{}", part_head("text/html")).into_bytes(),
        ));
        encode_template(&rendered.html, Part::Html, &mut body);
        body.push(Chunk::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()));
        Prepared {
            common: h,
            body,
            issue: id.issue.to_string(),
            edition: id.edition.clone(),
            id_domain: id.from.email.domain().to_owned(),
            unsubscribe_url: id.unsubscribe_url.to_owned(),
            manage_url: id.manage_url.to_owned(),
            unsubscribe_mailto: id.unsubscribe_mailto.to_string(),
            greeting_fallback: id.greeting_fallback.to_owned(),
            proof,
            canonical: OnceLock::new(),
        }
    }

    /// Deterministic per (issue, recipient): a resend after a crash carries
    /// the same Message-ID, so it is recognisably the same message.
    pub fn message_id(&self, email: &Email) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.issue.as_bytes());
        hasher.update([0]);
        hasher.update(email.key().as_bytes());
        if self.proof {
            hasher.update(b"\0proof");
        }
        let digest = hasher.finalize();
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("<{}.{hex}@{}>", self.issue, self.id_domain)
    }

    /// The one-click link that takes subscriber `id` off this edition.
    pub fn unsubscribe_link(&self, key: &TokenKey, id: i64) -> String {
        with_token(
            &self.unsubscribe_url,
            &key.make(id, &Purpose::Unsubscribe(self.edition.clone())),
        )
    }

    /// The link to subscriber `id`'s manage page.
    pub fn manage_link(&self, key: &TokenKey, id: i64) -> String {
        with_token(&self.manage_url, &key.make(id, &Purpose::Manage))
    }

    /// The complete message for one recipient.
    pub fn personalise(&self, r: &Recipient<'_>, key: &TokenKey) -> Personal {
        let mut p = self.personal(r, key);
        let mut bytes = Vec::with_capacity(self.len_hint());
        bytes.extend_from_slice(self.common.as_bytes());
        bytes.extend_from_slice(p.headers.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_body(&mut p, &mut bytes);
        Personal {
            message_id: p.message_id,
            bytes,
        }
    }

    /// The complete message for one recipient, DKIM-signed: the same bytes
    /// as `personalise` with the DKIM-Signature header first. The body is
    /// hashed from the issue's chunks, canonicalised once per issue, with
    /// the hash of everything before the first personal field taken once
    /// and cloned; only the personal values are canonicalised per message,
    /// and the message is written once, signature first.
    pub fn personalise_signed(
        &self,
        r: &Recipient<'_>,
        key: &TokenKey,
        signer: &Signer,
    ) -> Result<Personal, dkim::Error> {
        let mut p = self.personal(r, key);
        let canonical = self.canonical.get_or_init(|| Canonical::of(&self.body));
        let mut hasher = canonical.prefix.clone();
        let mut scratch = Vec::with_capacity(256);
        for (chunk, lines) in self
            .body
            .iter()
            .zip(&canonical.chunks)
            .skip(canonical.first_field)
        {
            match chunk {
                Chunk::Bytes(_) => hasher.canonical(lines),
                Chunk::Field(f, part) => hasher.lines(p.value(*f, *part), &mut scratch),
            }
        }
        let mut head = Vec::with_capacity(self.common.len() + p.headers.len());
        head.extend_from_slice(self.common.as_bytes());
        head.extend_from_slice(p.headers.as_bytes());
        let signature = signer.header(&head, &hasher.finish(), crate::clock::now().timestamp())?;
        let mut bytes = Vec::with_capacity(signature.len() + self.len_hint());
        bytes.extend_from_slice(signature.as_bytes());
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(b"\r\n");
        self.write_body(&mut p, &mut bytes);
        Ok(Personal {
            message_id: p.message_id,
            bytes,
        })
    }

    /// One recipient's headers and values.
    fn personal<'r>(&'r self, r: &'r Recipient<'r>, key: &TokenKey) -> Values<'r> {
        let message_id = self.message_id(r.email);
        let token = key.make(r.id, &Purpose::Unsubscribe(self.edition.clone()));
        let unsubscribe = with_token(&self.unsubscribe_url, &token);
        let manage = self.manage_link(key, r.id);
        let mut h = String::with_capacity(512);
        match r.name {
            Some(n) => {
                h.push_str("To: ");
                phrase(&mut h, n, 4);
                let _ = write!(h, " <{}>\r\n", r.email);
            }
            None => header(&mut h, "To", r.email.as_str()),
        }
        header(&mut h, "Message-ID", &message_id);
        let _ = write!(
            h,
            "List-Unsubscribe: <mailto:{}?subject=unsubscribe%20{token}>,\r\n <{unsubscribe}>\r\n",
            self.unsubscribe_mailto
        );
        Values {
            message_id,
            headers: h,
            name: r.name.unwrap_or(&self.greeting_fallback),
            email: r.email.as_str(),
            unsubscribe,
            manage,
            encoded: Default::default(),
        }
    }

    fn write_body(&self, p: &mut Values<'_>, bytes: &mut Vec<u8>) {
        for chunk in &self.body {
            match chunk {
                Chunk::Bytes(b) => bytes.extend_from_slice(b),
                Chunk::Field(f, part) => bytes.extend_from_slice(p.value(*f, *part)),
            }
        }
    }

    fn len_hint(&self) -> usize {
        self.common.len()
            + 1024
            + self
                .body
                .iter()
                .map(|c| match c {
                    Chunk::Bytes(b) => b.len(),
                    Chunk::Field(..) => 128,
                })
                .sum::<usize>()
    }
}

/// A one-off message to one reader (a sign-up confirmation, a notice):
/// no personal fields to splice, so it is built whole.
pub struct Single<'a> {
    pub from: &'a Mailbox,
    pub reply_to: Option<&'a Mailbox>,
    pub to: &'a Email,
    pub to_name: Option<&'a str>,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
    pub date: DateTime<FixedOffset>,
    /// What the message is, for its Message-ID (`confirm`, `welcome`).
    pub kind: &'a str,
    /// Extra headers, each a complete `Name: value` line without CRLF.
    pub headers: Vec<String>,
}

impl Single<'_> {
    /// The RFC 5322 bytes, with a Message-ID unique to (kind, reader, date).
    pub fn build(&self) -> Personal {
        let mut hasher = Sha256::new();
        for part in [self.kind, &self.to.key(), &self.date.to_rfc3339()] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let digest = hasher.finalize();
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let message_id = format!("<{}.{hex}@{}>", self.kind, self.from.email.domain());
        let rendered = Rendered {
            html: Template::parse(self.html),
            text: Template::parse(self.text),
            web: String::new(),
            warnings: Default::default(),
            timings: Default::default(),
        };
        let boundary = boundary(&rendered);
        let mut h = String::new();
        header(&mut h, "Date", &self.date.to_rfc2822());
        mailbox_header(&mut h, "From", self.from);
        if let Some(r) = self.reply_to {
            mailbox_header(&mut h, "Reply-To", r);
        }
        match self.to_name {
            Some(n) => {
                h.push_str("To: ");
                phrase(&mut h, n, 4);
                let _ = write!(h, " <{}>\r\n", self.to);
            }
            None => header(&mut h, "To", self.to.as_str()),
        }
        unstructured_header(&mut h, "Subject", self.subject);
        header(&mut h, "Message-ID", &message_id);
        for extra in &self.headers {
            h.push_str(extra);
            h.push_str("\r\n");
        }
        header(&mut h, "MIME-Version", "1.0");
        header(
            &mut h,
            "Content-Type",
            &format!("multipart/alternative; boundary=\"{boundary}\""),
        );
        h.push_str("\r\n");
        let mut chunks = Vec::new();
        let part_head = |ct: &str| {
            format!(
                "--{boundary}\r\nContent-Type: {ct}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            )
        };
        chunks.push(Chunk::Bytes(part_head("text/plain").into_bytes()));
        encode_template(&rendered.text, Part::Text, &mut chunks);
        chunks.push(Chunk::Bytes(
            format!("\r\n{}", part_head("text/html")).into_bytes(),
        ));
        encode_template(&rendered.html, Part::Html, &mut chunks);
        chunks.push(Chunk::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()));
        let mut bytes = h.into_bytes();
        for c in chunks {
            if let Chunk::Bytes(b) = c {
                bytes.extend_from_slice(&b);
            }
        }
        Personal { message_id, bytes }
    }
}

/// One recipient's personal headers and field values; each value is
/// encoded for a part the first time that part needs it.
struct Values<'r> {
    message_id: String,
    /// To, Message-ID and List-Unsubscribe, each ending in CRLF.
    headers: String,
    name: &'r str,
    email: &'r str,
    unsubscribe: String,
    manage: String,
    /// By field and part: the value quoted-printable encoded, then a soft
    /// line break, so it is a run of whole lines.
    encoded: [[Option<Vec<u8>>; 2]; 4],
}

impl Values<'_> {
    fn value(&mut self, f: Field, part: Part) -> &[u8] {
        let (i, value) = match f {
            Field::Name => (0, self.name),
            Field::Email => (1, self.email),
            Field::UnsubscribeUrl => (2, self.unsubscribe.as_str()),
            Field::ManageUrl => (3, self.manage.as_str()),
        };
        self.encoded[i][part as usize].get_or_insert_with(|| {
            let value = match part {
                Part::Html => html_escape(value),
                Part::Text => value.to_owned(),
            };
            let mut enc = quoted_printable::encode(value.as_bytes());
            enc.extend_from_slice(b"=\r\n");
            enc
        })
    }
}

/// The body as DKIM's relaxed canonicalisation sees it (RFC 6376 §3.4.4),
/// made once per issue. Every chunk is a run of whole lines (a literal
/// chunk ends in CRLF, a field in a soft line break), so each can be
/// canonicalised on its own.
struct Canonical {
    /// Each literal chunk canonicalised (empty for a field).
    chunks: Vec<Vec<u8>>,
    /// The first field's index: the body is the same for everyone up to it.
    first_field: usize,
    /// The hash after the chunks before the first field.
    prefix: dkim::BodyHasher,
}

impl Canonical {
    fn of(body: &[Chunk]) -> Canonical {
        let chunks: Vec<Vec<u8>> = body
            .iter()
            .map(|c| {
                let mut lines = Vec::new();
                if let Chunk::Bytes(b) = c {
                    dkim::relax_lines(b, |s| lines.extend_from_slice(s));
                }
                lines
            })
            .collect();
        let first_field = body
            .iter()
            .position(|c| matches!(c, Chunk::Field(..)))
            .unwrap_or(body.len());
        let mut prefix = dkim::BodyHasher::new();
        for lines in &chunks[..first_field] {
            prefix.canonical(lines);
        }
        Canonical {
            chunks,
            first_field,
            prefix,
        }
    }
}

/// `url` with `t=TOKEN` added to its query.
pub fn with_token(url: &str, token: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}t={token}")
}

/// A boundary derived from the content, so builds are reproducible; QP
/// output never contains "=_" followed by this, so it cannot collide.
fn boundary(r: &Rendered) -> String {
    let mut hasher = Sha256::new();
    for t in [&r.text, &r.html] {
        for p in &t.pieces {
            if let Piece::Text(s) = p {
                hasher.update(s.as_bytes());
            }
        }
    }
    let d = hasher.finalize();
    let hex: String = d[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("=_almanac_{hex}")
}

/// QP-encodes the literal parts once. A field always starts a fresh encoded
/// line (soft break before it) and is followed by a soft break, so the
/// personal value's length never pushes a line past 76 octets.
fn encode_template(t: &Template, part: Part, out: &mut Vec<Chunk>) {
    for p in &t.pieces {
        match p {
            Piece::Text(s) => {
                let crlf = s.replace("\r\n", "\n").replace('\n', "\r\n");
                let mut enc = quoted_printable::encode(crlf.as_bytes());
                if !enc.ends_with(b"\r\n") {
                    enc.extend_from_slice(b"=\r\n");
                }
                out.push(Chunk::Bytes(enc));
            }
            Piece::Field(f) => out.push(Chunk::Field(*f, part)),
        }
    }
}

fn header(h: &mut String, name: &str, value: &str) {
    let _ = write!(h, "{name}: {value}\r\n");
}

/// A display name: atom, quoted string or RFC 2047 as needed.
fn phrase(out: &mut String, s: &str, line_len: usize) {
    let mut w = EmailWriter::new(out, line_len, 0, false);
    let _ = email_encoding::headers::quoted_string::encode(s, &mut w);
}

fn mailbox_header(h: &mut String, name: &str, m: &Mailbox) {
    match &m.name {
        Some(n) => {
            let _ = write!(h, "{name}: ");
            phrase(h, n.as_str(), name.len() + 2);
            let _ = write!(h, " <{}>\r\n", m.email);
        }
        None => header(h, name, m.email.as_str()),
    }
}

/// Subject-style text: folded at spaces when ASCII, RFC 2047 otherwise.
fn unstructured_header(h: &mut String, name: &str, value: &str) {
    let _ = write!(h, "{name}: ");
    if value.is_ascii() {
        let mut line_len = name.len() + 2;
        for (i, word) in value.split(' ').enumerate() {
            if i > 0 {
                if line_len + 1 + word.len() > 78 {
                    h.push_str("\r\n");
                    line_len = 0;
                }
                h.push(' ');
                line_len += 1;
            }
            h.push_str(word);
            line_len += word.len();
        }
    } else {
        let mut w = EmailWriter::new(h, name.len() + 2, 0, false);
        let _ = email_encoding::headers::rfc2047::encode(value, &mut w);
    }
    h.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_subject_folds_and_unicode_is_encoded() {
        let mut h = String::new();
        unstructured_header(&mut h, "Subject", &"word ".repeat(30));
        assert!(h.lines().all(|l| l.len() <= 78), "{h}");
        let mut h = String::new();
        unstructured_header(&mut h, "Subject", "Überblick — KI");
        assert!(h.starts_with("Subject: =?utf-8?b?"));
        assert!(h.is_ascii());
    }

    #[test]
    fn names_are_quoted_or_encoded() {
        let mut s = String::new();
        phrase(&mut s, "Ada \"The\" Lovelace", 4);
        assert_eq!(s, "\"Ada \\\"The\\\" Lovelace\"");
    }
}
