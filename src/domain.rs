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

const URL_SHAPE: &str = "expected imaps://user@host[:port]/MAILBOX";

/// `imaps://user@host[:port]/MAILBOX` (port default 993; mailbox default
/// INBOX; user percent-decoded)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub mailbox: String,
}

impl FromStr for ImapUrl {
    type Err = String;

    // Errors never quote the input: a mistyped URL may hold a password.
    fn from_str(s: &str) -> Result<ImapUrl, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("not a URL ({e}); {URL_SHAPE}"))?;
        match url.scheme() {
            "imaps" => {}
            "imap" => {
                return Err(
                    "imap:// is IMAP without TLS, which would send the password \
                            in the clear; TLS is required: use imaps:// (port 993)"
                        .into(),
                );
            }
            other => return Err(format!("the scheme is {other}://; {URL_SHAPE}")),
        }
        if url.password().is_some() {
            return Err("the URL holds a password; give it in the password setting \
                        instead, so it stays out of configuration and logs"
                .into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("the URL has a ?query or #fragment; {URL_SHAPE}"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(format!("the URL names no host; {URL_SHAPE}")),
        };
        if rustls_pki_types::ServerName::try_from(host.as_str()).is_err() {
            return Err(format!("{host:?} is not a valid host name"));
        }
        let port = match url.port() {
            Some(0) => return Err("port 0 is not a port to connect to".into()),
            Some(port) => port,
            None => 993,
        };
        let user = percent_decoded(url.username(), "user name")?;
        if user.is_empty() {
            return Err(format!("the URL names no user; {URL_SHAPE}"));
        }
        let path = url.path();
        let mailbox = percent_decoded(path.strip_prefix('/').unwrap_or(path), "mailbox")?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_owned()
        } else {
            mailbox
        };
        check_mailbox_name(&mailbox, "mailbox")?;
        Ok(ImapUrl {
            host,
            port,
            user,
            mailbox,
        })
    }
}

fn percent_decoded(s: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
}

/// Names outside printable ASCII travel as modified UTF-7, which this client
/// does not encode; wildcards would make `LIST` match other folders.
pub fn check_mailbox_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("the {what} name is empty"));
    }
    if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "the {what} name {name:?} contains {c:?}; only printable ASCII is supported"
        ));
    }
    if name.contains(['*', '%']) {
        return Err(format!(
            "the {what} name {name:?} contains an IMAP wildcard (* or %)"
        ));
    }
    Ok(())
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

#[cfg(test)]
mod imap_url_tests {
    use super::ImapUrl;

    fn parse(s: &str) -> Result<ImapUrl, String> {
        s.parse()
    }

    #[test]
    fn port_and_mailbox_default_to_993_and_inbox() {
        for s in [
            "imaps://bounces@mail.example",
            "imaps://bounces@mail.example/",
        ] {
            assert_eq!(
                parse(s).unwrap(),
                ImapUrl {
                    host: "mail.example".into(),
                    port: 993,
                    user: "bounces".into(),
                    mailbox: "INBOX".into(),
                },
                "{s}"
            );
        }
    }

    #[test]
    fn port_mailbox_and_user_are_taken_and_decoded() {
        let url = parse("imaps://bounces%40example.org@127.0.0.1:10993/Returned%20mail").unwrap();
        assert_eq!(
            url,
            ImapUrl {
                host: "127.0.0.1".into(),
                port: 10993,
                user: "bounces@example.org".into(),
                mailbox: "Returned mail".into(),
            }
        );
        let url = parse("imaps://me@[::1]/Lists.Bounces").unwrap();
        assert_eq!(
            (url.host.as_str(), url.mailbox.as_str()),
            ("::1", "Lists.Bounces")
        );
    }

    #[test]
    fn plain_imap_is_refused_because_tls_is_required() {
        let err = parse("imap://bounces@mail.example/INBOX").unwrap_err();
        assert!(err.contains("TLS is required"), "{err}");
        assert!(err.contains("imaps://"), "{err}");
    }

    #[test]
    fn junk_is_refused_with_the_expected_shape() {
        for s in [
            "",
            "mail.example",
            "bounces@mail.example",
            "https://bounces@mail.example/",
            "imaps://mail.example/INBOX",
            "imaps:///INBOX",
            "imaps://bounces@mail.example:0/",
            "imaps://bounces@mail.example:99999/",
            "imaps://bounces@mail.example/INBOX?x=1",
            "imaps://bounces@mail.example/Bo%C3%AEte",
            "imaps://bounces@mail.example/*",
            "imaps://bounces@mail.example/%FF",
        ] {
            assert!(parse(s).is_err(), "{s:?} was accepted");
        }
        let err = parse("smtp://bounces@mail.example/").unwrap_err();
        assert!(err.contains("imaps://user@host"), "{err}");
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_not_repeated() {
        let err = parse("imaps://bounces:hunter2@mail.example/").unwrap_err();
        assert!(err.contains("password setting"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = parse("imap://bounces:hunter2@mail.example/").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
