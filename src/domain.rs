//! Validated newtypes. Each has private fields and a fallible constructor, and
//! its `Deserialize` goes through that constructor, so a bad value in a TOML
//! file is reported at its own line and column and can never travel further.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, de};

/// Characters that must never reach a header or a template: C0/C1 controls
/// (CR/LF would allow header injection) and the private-use sentinels the
/// renderer uses to mark personal fields.
pub fn forbidden_char(c: char) -> bool {
    (c.is_control() && c != '\t') || ('\u{E000}'..='\u{E0FF}').contains(&c)
}

fn check_line(s: &str, what: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|&c| forbidden_char(c) || c == '\t') {
        return Err(format!(
            "{what} contains the control character {:?}; it must be a single line of text",
            c
        ));
    }
    Ok(())
}

macro_rules! via_from_str {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(de::Error::custom)
            }
        }
    };
}

/// A single line of text: no CR, LF or other control characters. Used for
/// everything that may end up in a header (subject, names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Line(String);

impl Line {
    pub fn new(s: &str, what: &str, max_chars: usize) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(format!("{what} is empty"));
        }
        check_line(trimmed, what)?;
        let n = trimmed.chars().count();
        if n > max_chars {
            return Err(format!(
                "{what} is {n} characters long; keep it to {max_chars} or fewer"
            ));
        }
        Ok(Line(trimmed.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Line {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Line::new(&s, "this text", 300).map_err(de::Error::custom)
    }
}

/// Multi-line prose (summaries, notes): newlines allowed, other controls not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prose(String);

impl Prose {
    pub fn new(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("this text is empty".into());
        }
        if let Some(c) = s
            .chars()
            .find(|&c| c != '\n' && c != '\r' && forbidden_char(c))
        {
            return Err(format!("contains the control character {c:?}"));
        }
        Ok(Prose(s.replace("\r\n", "\n")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Paragraphs separated by blank lines, each folded onto one line.
    pub fn paragraphs(&self) -> Vec<String> {
        self.0
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .collect()
    }
}

impl<'de> Deserialize<'de> for Prose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Prose::new(&s).map_err(de::Error::custom)
    }
}

/// An email address (addr-spec), validated by lettre's parser and stored with
/// the domain lower-cased. `key()` is the case-folded identity used for
/// de-duplication, journal rows and unsubscribe tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl FromStr for Email {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the email address is empty".into());
        }
        check_line(s, "the email address")?;
        if s.len() > 254 {
            return Err("the email address is longer than 254 characters".into());
        }
        let addr = lettre::Address::from_str(s)
            .map_err(|e| format!("`{s}` is not a valid email address ({e})"))?;
        if !addr.domain().contains('.') && addr.domain() != "localhost" {
            return Err(format!("`{s}` has no top-level domain after the @"));
        }
        Ok(Email(format!(
            "{}@{}",
            addr.user(),
            addr.domain().to_lowercase()
        )))
    }
}
via_from_str!(Email);

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox: an address with an optional display name, written either as
/// `Name <addr@example.com>` or as a bare address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<Line>,
    pub email: Email,
}

impl FromStr for Mailbox {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_line(s, "the mailbox")?;
        let s = s.trim();
        match (s.find('<'), s.strip_suffix('>')) {
            (Some(lt), Some(inner)) => {
                let name = s[..lt].trim().trim_matches('"').trim();
                let email: Email = inner[lt + 1..].parse()?;
                let name = if name.is_empty() {
                    None
                } else {
                    Some(Line::new(name, "the display name", 100)?)
                };
                Ok(Mailbox { name, email })
            }
            _ => Ok(Mailbox {
                name: None,
                email: s.parse().map_err(|e| {
                    format!("{e}; write `Name <address@example.com>` or a bare address")
                })?,
            }),
        }
    }
}
via_from_str!(Mailbox);

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} <{}>", self.email),
            None => write!(f, "{}", self.email),
        }
    }
}

/// An issue's identifier: its folder name, a lowercase slug such as
/// `2026-11-25-midweek`. It appears in paths, URLs and Message-IDs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssueId(String);

impl IssueId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_slug(s: &str, what: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid {what}: use 1-64 lowercase letters, digits and inner hyphens, e.g. `{}`",
            if what.contains("edition") {
                "midweek"
            } else {
                "2026-11-25-midweek"
            }
        ))
    }
}

impl FromStr for IssueId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_slug(s, "issue id")?;
        Ok(IssueId(s.to_owned()))
    }
}
via_from_str!(IssueId);

impl fmt::Display for IssueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An edition's identifier (`midweek`, `sunday`, ...): the file stem of its
/// definition in `layouts/editions/`. Which ids exist is data, not code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EditionId(String);

impl EditionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EditionId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_slug(s, "edition name")?;
        Ok(EditionId(s.to_owned()))
    }
}
via_from_str!(EditionId);

impl fmt::Display for EditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An editor's score for a news item, 1 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score(u8);

impl Score {
    pub fn new(n: i64) -> Result<Self, String> {
        if (1..=10).contains(&n) {
            Ok(Score(n as u8))
        } else {
            Err(format!(
                "score must be a whole number from 1 to 10, got {n}"
            ))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Score;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number from 1 to 10")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Score, E> {
                Score::new(n).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Score, E> {
                Score::new(i64::try_from(n).unwrap_or(i64::MAX)).map_err(E::custom)
            }
        }
        d.deserialize_i64(V)
    }
}

/// An absolute `https` URL with a host: the only kind of link an email may
/// carry (no `javascript:`, no relative paths, no plain http).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl(String);

impl HttpsUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HttpsUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        check_line(s, "the URL")?;
        let url = url::Url::parse(s).map_err(|e| match e {
            url::ParseError::RelativeUrlWithoutBase => format!(
                "`{s}` is a relative URL; emails need absolute links such as `https://example.com/page`"
            ),
            e => format!("`{s}` is not a valid URL ({e})"),
        })?;
        if url.scheme() != "https" {
            return Err(format!(
                "`{s}` uses the `{}:` scheme; only absolute `https://` links are allowed",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{s}` has no host"));
        }
        Ok(HttpsUrl(url.to_string()))
    }
}
via_from_str!(HttpsUrl);

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rejects_injection_and_garbage() {
        assert!("a@example.com\r\nBcc: x@y.z".parse::<Email>().is_err());
        assert!("not-an-address".parse::<Email>().is_err());
        assert!("a@nodot".parse::<Email>().is_err());
        let e: Email = "Ada@Example.COM".parse().unwrap();
        assert_eq!(e.as_str(), "Ada@example.com");
        assert_eq!(e.key(), "ada@example.com");
    }

    #[test]
    fn mailbox_forms() {
        let m: Mailbox = "Call Me Almanac <letters@almanac.example>".parse().unwrap();
        assert_eq!(m.name.unwrap().as_str(), "Call Me Almanac");
        let m: Mailbox = "letters@almanac.example".parse().unwrap();
        assert!(m.name.is_none());
        assert!("Evil\n <a@b.c>".parse::<Mailbox>().is_err());
    }

    #[test]
    fn urls_must_be_absolute_https() {
        assert!("https://example.com/x".parse::<HttpsUrl>().is_ok());
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "http://example.com",
            "ftp://x.y",
        ] {
            assert!(bad.parse::<HttpsUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn score_and_slugs() {
        assert!(Score::new(0).is_err() && Score::new(11).is_err() && Score::new(10).is_ok());
        assert!("2026-11-25-midweek".parse::<IssueId>().is_ok());
        for bad in ["", "Upper", "../x", "a/b", "-x"] {
            assert!(bad.parse::<IssueId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_reject_controls() {
        assert!(Line::new("Hello\rBcc: x", "subject", 100).is_err());
        assert!(Line::new("  fine  ", "subject", 100).unwrap().as_str() == "fine");
    }
}

/// An IMAP mailbox over TLS: `imaps://user@host[:port]/MAILBOX` (port 993,
/// mailbox INBOX by default). Plain `imap://` is refused: the password
/// would cross the network in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub mailbox: String,
}

impl FromStr for ImapUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        match url.scheme() {
            "imaps" => {}
            "imap" => {
                return Err(format!(
                    "`{s}` is plain IMAP; almanac reads bounces only over TLS (imaps://)"
                ));
            }
            other => return Err(format!("`{s}`: `{other}` is not imaps")),
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{s}` names no server"))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let user = percent_decode(url.username())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| format!("`{s}` names no user (imaps://user@host/INBOX)"))?;
        if url.password().is_some() {
            return Err(format!(
                "`{s}` has a password in it; give it in ALMANAC_IMAP_PASSWORD instead"
            ));
        }
        let path = url.path().trim_start_matches('/');
        let mailbox = match percent_decode(path) {
            Some(m) if m.is_empty() => "INBOX".to_owned(),
            Some(m) if !m.chars().any(char::is_control) => m,
            _ => return Err(format!("`{s}` names a mailbox that can't be used")),
        };
        Ok(ImapUrl {
            host,
            port: url.port().unwrap_or(993),
            user,
            mailbox,
        })
    }
}

impl fmt::Display for ImapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imaps://{}@{}:{}/{}",
            self.user, self.host, self.port, self.mailbox
        )
    }
}

/// `%40` → `@`; `None` when the bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod imap_url_tests {
    use super::ImapUrl;

    #[test]
    fn parses_and_refuses() {
        let u: ImapUrl = "imaps://bounces%40almanac.example@mail.example"
            .parse()
            .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.user.as_str(), u.mailbox.as_str()),
            ("mail.example", 993, "bounces@almanac.example", "INBOX")
        );
        let u: ImapUrl = "imaps://b@127.0.0.1:9993/Bounces/2026".parse().unwrap();
        assert_eq!((u.port, u.mailbox.as_str()), (9993, "Bounces/2026"));
        for bad in [
            "imap://b@mail.example/",
            "imaps://mail.example/",
            "https://b@x/",
            "junk",
            "imaps://b:pw@x/",
        ] {
            assert!(bad.parse::<ImapUrl>().is_err(), "{bad}");
        }
    }
}
