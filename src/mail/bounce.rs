//! Mail that comes back: delivery status notifications (RFC 3464), abuse
//! complaints (ARF, RFC 5965) and unsubscribe requests sent to the
//! `mailto:` address of `List-Unsubscribe`. Pure functions from message
//! bytes to what they say; recording it is the caller's business.
//!
//! Only what is unambiguous is acted on: a DSN counts as a hard bounce when a
//! recipient's `Action` is `failed` and its `Status` is 5.x.x; 4.x.x and
//! delays are reported but not suppressed. An unsubscribe mail needs a
//! genuine token, so nobody can unsubscribe somebody else by mail.

use mail_parser::{Message, MessageParser, MimeHeaders};

use super::token::{Opened, TokenKey};
use crate::domain::Email;

/// Who a finding is about: an address the report names, or one of our
/// tokens it quotes (which names a subscriber, and maybe an edition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Address(Email),
    Token(Opened),
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Address(e) | Who::Token(Opened::Legacy(e)) => write!(f, "{e}"),
            Who::Token(Opened::Subscriber { id, .. }) => write!(f, "subscriber #{id}"),
        }
    }
}

/// What one message says about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A mail to the unsubscribe address carrying a genuine token.
    Unsubscribe { token: Opened },
    /// A permanent failure (DSN `Action: failed`, `Status: 5.x.x`).
    HardBounce {
        email: Email,
        status: String,
        diagnostic: Option<String>,
    },
    /// A DSN that is not a permanent failure (a 4.x.x soft bounce, a delay,
    /// a delivery notice): nothing to record.
    NotPermanent {
        email: Email,
        action: String,
        status: String,
    },
    /// An abuse report (ARF) about a message to this reader.
    Complaint { who: Who, feedback_type: String },
}

impl Finding {
    pub fn who(&self) -> Who {
        match self {
            Finding::Unsubscribe { token } => Who::Token(token.clone()),
            Finding::HardBounce { email, .. } | Finding::NotPermanent { email, .. } => {
                Who::Address(email.clone())
            }
            Finding::Complaint { who, .. } => who.clone(),
        }
    }

    /// The suppression reason to record, if any.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Finding::Unsubscribe { .. } => Some("unsubscribed"),
            Finding::HardBounce { .. } => Some("bounced"),
            Finding::Complaint { .. } => Some("complaint"),
            Finding::NotPermanent { .. } => None,
        }
    }

    /// What happened, in a few words, for output.
    pub fn summary(&self) -> String {
        match self {
            Finding::Unsubscribe { .. } => "unsubscribe request".into(),
            Finding::HardBounce { status, .. } => format!("hard bounce {status}"),
            Finding::NotPermanent { action, status, .. } => {
                format!("delivery report ({action}, {status})")
            }
            Finding::Complaint { feedback_type, .. } => format!("complaint ({feedback_type})"),
        }
    }

    /// A short description for the suppression's `detail`.
    pub fn detail(&self) -> String {
        match self {
            Finding::Unsubscribe { .. } => "unsubscribe mail with a valid token".into(),
            Finding::HardBounce {
                status, diagnostic, ..
            } => match diagnostic {
                Some(d) => format!("DSN {status}: {d}"),
                None => format!("DSN {status}"),
            },
            Finding::NotPermanent { action, status, .. } => {
                format!("DSN action {action}, status {status}")
            }
            Finding::Complaint { feedback_type, .. } => {
                format!("complaint (feedback type {feedback_type})")
            }
        }
    }
}

/// Reads one message. `Ok` with the findings (possibly none, e.g. a
/// `not-spam` feedback report), or `Err` saying why the message was not
/// understood.
pub fn classify(raw: &[u8], key: &TokenKey) -> Result<Vec<Finding>, String> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or("not an email message (no headers)")?;
    if let Some(ct) = msg.content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        let report_type = ct
            .attribute("report-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        return match report_type.as_str() {
            "delivery-status" | "global-delivery-status" => dsn(&msg),
            "feedback-report" => complaint(&msg, key),
            other => Err(format!(
                "a report of type `{other}`, neither a delivery status notification nor a complaint"
            )),
        };
    }
    unsubscribe_mail(&msg, key)
}

/// The first part of a message with this `message/<subtype>` type.
fn part_text(msg: &Message<'_>, subtypes: &[&str]) -> Option<String> {
    msg.parts.iter().find_map(|p| {
        let ct = p.content_type()?;
        let st = ct.subtype()?;
        (ct.ctype().eq_ignore_ascii_case("message")
            && subtypes.iter().any(|s| st.eq_ignore_ascii_case(s)))
        .then(|| String::from_utf8_lossy(p.contents()).into_owned())
    })
}

/// Groups of `Name: value` fields separated by blank lines (the body of a
/// `message/delivery-status` or `message/feedback-report` part), with
/// folded lines unfolded and names lowercased.
pub fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            current.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `rfc822; user@example.com` (or `utf-8;`) → the address.
fn typed_address(value: &str) -> Option<Email> {
    let (kind, addr) = value.split_once(';')?;
    let kind = kind.trim();
    if !(kind.eq_ignore_ascii_case("rfc822") || kind.eq_ignore_ascii_case("utf-8")) {
        return None;
    }
    bare_address(addr)
}

fn bare_address(s: &str) -> Option<Email> {
    s.trim()
        .trim_matches(|c| c == '<' || c == '>')
        .trim()
        .parse()
        .ok()
}

/// `5.1.1` (optionally followed by a comment) → `5.1.1`, if well formed.
fn status_code(value: &str) -> Option<String> {
    let code = value.split_whitespace().next()?;
    let parts: Vec<&str> = code.split('.').collect();
    let ok = parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| code.to_owned())
}

fn dsn(msg: &Message<'_>) -> Result<Vec<Finding>, String> {
    let text = part_text(msg, &["delivery-status", "global-delivery-status"])
        .ok_or("a delivery report without a message/delivery-status part")?;
    let mut findings = Vec::new();
    for group in field_groups(&text) {
        let Some(email) = field(&group, "final-recipient")
            .and_then(typed_address)
            .or_else(|| field(&group, "original-recipient").and_then(typed_address))
        else {
            continue;
        };
        let action = field(&group, "action")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let status = field(&group, "status").and_then(status_code);
        let finding = match status {
            Some(status) if action == "failed" && status.starts_with('5') => Finding::HardBounce {
                email,
                status,
                diagnostic: field(&group, "diagnostic-code").map(|d| {
                    // `smtp; 550 5.1.1 ...` → `550 5.1.1 ...`
                    d.split_once(';')
                        .map_or(d, |(_, rest)| rest)
                        .trim()
                        .chars()
                        .take(200)
                        .collect()
                }),
            },
            status => Finding::NotPermanent {
                email,
                action: if action.is_empty() {
                    "none".into()
                } else {
                    action
                },
                status: status.unwrap_or_else(|| "none".into()),
            },
        };
        findings.push(finding);
    }
    if findings.is_empty() {
        return Err("a delivery report that names no recipient (no Final-Recipient)".into());
    }
    Ok(findings)
}

fn complaint(msg: &Message<'_>, key: &TokenKey) -> Result<Vec<Finding>, String> {
    let text = part_text(msg, &["feedback-report"])
        .ok_or("a complaint report without a message/feedback-report part")?;
    let fields: Vec<(String, String)> = field_groups(&text).into_iter().flatten().collect();
    let feedback_type = field(&fields, "feedback-type")
        .unwrap_or("abuse")
        .trim()
        .to_ascii_lowercase();
    if feedback_type == "not-spam" {
        return Ok(Vec::new());
    }
    // The original message: a message/rfc822 part, or only its headers.
    let original_headers: Option<Vec<u8>> = msg.parts.iter().find_map(|p| {
        let ct = p.content_type()?;
        let st = ct.subtype().unwrap_or("");
        let is_message = ct.ctype().eq_ignore_ascii_case("message")
            && (st.eq_ignore_ascii_case("rfc822") || st.eq_ignore_ascii_case("global"));
        let is_headers =
            ct.ctype().eq_ignore_ascii_case("text") && st.eq_ignore_ascii_case("rfc822-headers");
        (is_message || is_headers).then(|| p.contents().to_vec())
    });
    let original = original_headers
        .as_deref()
        .and_then(|b| MessageParser::default().parse_headers(b));
    // Best first: our own token in the original's List-Unsubscribe (exact
    // even when the provider redacts the To), then the envelope recipient,
    // then the original's To.
    let from_token = original.as_ref().and_then(|m| {
        m.header_raw("List-Unsubscribe")
            .and_then(|v| token_in_header(v, key))
    });
    let address = || {
        field(&fields, "original-rcpt-to")
            .and_then(bare_address)
            .or_else(|| {
                original.as_ref().and_then(|m| {
                    m.to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .and_then(bare_address)
                })
            })
    };
    let who = from_token
        .map(Who::Token)
        .or_else(|| address().map(Who::Address))
        .ok_or(
            "a complaint report that names no recipient (no Original-Rcpt-To, no To in the original message)",
        )?;
    Ok(vec![Finding::Complaint { who, feedback_type }])
}

/// A genuine token in a `List-Unsubscribe` header value (`?t=TOKEN` or
/// `subject=unsubscribe%20TOKEN`).
fn token_in_header(value: &str, key: &TokenKey) -> Option<Opened> {
    for marker in ["?t=", "&t=", "%20"] {
        for (i, _) in value.match_indices(marker) {
            let rest = &value[i + marker.len()..];
            let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
            if let Some(o) = key.open(&rest[..end]) {
                return Some(o);
            }
        }
    }
    None
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Candidate tokens after the word "unsubscribe": separated by white space
/// (or `%20` when `allow_encoded`, for clients that don't decode the mailto
/// subject), with trailing dots (end of a sentence) dropped.
pub fn candidates(text: &str, allow_encoded: bool) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for (i, _) in lower.match_indices("unsubscribe") {
        let mut rest = &text[i + "unsubscribe".len()..];
        let before = rest.len();
        loop {
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n', ':']);
            let trimmed = if allow_encoded {
                trimmed.strip_prefix("%20").unwrap_or(trimmed)
            } else {
                trimmed
            };
            if trimmed.len() == rest.len() {
                break;
            }
            rest = trimmed;
        }
        if rest.len() == before {
            continue; // "unsubscribed", "unsubscribe-me": not followed by a separator
        }
        let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches('.');
        if !token.is_empty() {
            out.push(token.to_owned());
        }
    }
    out
}

fn unsubscribe_mail(msg: &Message<'_>, key: &TokenKey) -> Result<Vec<Finding>, String> {
    // A bounce that is not a proper DSN quotes our headers, including the
    // mailto link with its token; it must not count as an unsubscribe.
    let auto = msg
        .header_raw("Auto-Submitted")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    if auto {
        return Err(
            "an automatic message (Auto-Submitted) that is not a delivery status notification or a complaint report"
                .into(),
        );
    }
    let subject = msg.subject().unwrap_or("");
    let mut seen = candidates(subject, true);
    seen.extend(
        msg.body_text(0)
            .map(|b| candidates(&b, false))
            .unwrap_or_default(),
    );
    for c in &seen {
        if let Some(token) = key.open(c) {
            return Ok(vec![Finding::Unsubscribe { token }]);
        }
    }
    if seen.iter().any(|c| c.contains('.') && c.len() > 20) {
        return Err("an unsubscribe request whose token is not valid (altered, truncated or made with another secret)".into());
    }
    Err("not recognised: neither a delivery status notification, a complaint report, nor an unsubscribe request with a token".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new("test-secret")
    }

    fn email(s: &str) -> Email {
        s.parse().unwrap()
    }

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    fn dsn_sample(action: &str, status: &str, rcpt: &str) -> String {
        format!(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: letters@almanac.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary=\"B0UND\"

--B0UND
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Sun, 29 Nov 2026 07:00:01 +0000

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{rcpt}>: Recipient address rejected:
    User unknown in virtual mailbox table

--B0UND
Content-Type: text/rfc822-headers

From: Call Me Almanac <letters@almanac.example>
To: {rcpt}
Subject: Sparse autoencoders

--B0UND--
"
        )
    }

    #[test]
    fn hard_bounce() {
        let f = classify(
            &crlf(&dsn_sample("failed", "5.1.1", "gone@example.com")),
            &key(),
        )
        .unwrap();
        assert_eq!(f.len(), 1);
        match &f[0] {
            Finding::HardBounce {
                email: e,
                status,
                diagnostic,
            } => {
                assert_eq!(e, &email("gone@example.com"));
                assert_eq!(status, "5.1.1");
                let d = diagnostic.as_deref().unwrap();
                assert!(d.starts_with("550 5.1.1"), "{d}");
                assert!(d.contains("User unknown"), "folded line unfolded: {d}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f[0].reason(), Some("bounced"));
    }

    #[test]
    fn soft_bounces_and_delays_are_not_permanent() {
        for (action, status) in [
            ("failed", "4.2.2"),
            ("delayed", "4.4.1"),
            ("delivered", "2.0.0"),
        ] {
            let f = classify(
                dsn_sample(action, status, "full@example.com").as_bytes(),
                &key(),
            )
            .unwrap();
            assert_eq!(
                f,
                vec![Finding::NotPermanent {
                    email: email("full@example.com"),
                    action: action.into(),
                    status: status.into()
                }]
            );
            assert_eq!(f[0].reason(), None);
        }
        // 5.x.x with another action is not a failure either.
        let f = classify(
            dsn_sample("delayed", "5.0.0", "x@example.com").as_bytes(),
            &key(),
        )
        .unwrap();
        assert!(matches!(f[0], Finding::NotPermanent { .. }));
    }

    #[test]
    fn several_recipients_in_one_dsn() {
        let raw = dsn_sample("failed", "5.1.1", "a@example.com").replace(
            "--B0UND\nContent-Type: text/rfc822-headers",
            "Final-Recipient: rfc822; <b@example.com>\nAction: failed\nStatus: 4.7.1\n\n--B0UND\nContent-Type: text/rfc822-headers",
        );
        let f = classify(raw.as_bytes(), &key()).unwrap();
        assert_eq!(f.len(), 2);
        assert!(
            matches!(&f[0], Finding::HardBounce { email: e, .. } if e.as_str() == "a@example.com")
        );
        assert!(
            matches!(&f[1], Finding::NotPermanent { email: e, .. } if e.as_str() == "b@example.com")
        );
    }

    #[test]
    fn dsn_without_recipient_is_an_error() {
        let raw = dsn_sample("failed", "5.1.1", "a@example.com")
            .replace("Final-Recipient", "X-Final")
            .replace("Original-Recipient", "X-Original");
        assert!(classify(raw.as_bytes(), &key()).is_err());
    }

    fn arf(fields: &str, original: &str) -> String {
        format!(
            "From: feedback@isp.example
To: abuse@almanac.example
Subject: Complaint about message from 192.0.2.1
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary=\"part\"

--part
Content-Type: text/plain

This is an email abuse report.

--part
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
{fields}

--part
Content-Type: message/rfc822
Content-Disposition: inline

{original}
--part--
"
        )
    }

    #[test]
    fn complaints() {
        let original =
            "From: letters@almanac.example\nTo: Reader <victim@example.com>\nSubject: Hi\n\nbody\n";
        // From the original's To.
        let f = classify(arf("", original).as_bytes(), &key()).unwrap();
        assert_eq!(
            f,
            vec![Finding::Complaint {
                who: Who::Address(email("victim@example.com")),
                feedback_type: "abuse".into()
            }]
        );
        assert_eq!(f[0].reason(), Some("complaint"));
        // Original-Rcpt-To wins over a redacted To.
        let redacted = original.replace("victim@example.com", "redacted@isp.example");
        let f = classify(
            arf("Original-Rcpt-To: victim@example.com", &redacted).as_bytes(),
            &key(),
        )
        .unwrap();
        assert_eq!(f[0].who(), Who::Address(email("victim@example.com")));
        // Our own token in List-Unsubscribe wins over everything.
        let token = key().make(9, &super::super::token::Purpose::Manage);
        let with_token = format!(
            "List-Unsubscribe: <mailto:unsubscribe@almanac.example?subject=unsubscribe%20{token}>,\n <https://almanac.example/unsubscribe?t={token}>\n{redacted}"
        );
        let f = classify(
            arf("Original-Rcpt-To: other@example.com", &with_token).as_bytes(),
            &key(),
        )
        .unwrap();
        assert_eq!(
            f[0].who(),
            Who::Token(Opened::Subscriber {
                id: 9,
                purpose: super::super::token::Purpose::Manage
            })
        );
        // not-spam records nothing; no recipient at all is an error.
        let f = classify(
            arf("", original)
                .replace("Feedback-Type: abuse", "Feedback-Type: not-spam")
                .as_bytes(),
            &key(),
        )
        .unwrap();
        assert!(f.is_empty());
        let none = "From: letters@almanac.example\nSubject: Hi\n\nbody\n";
        assert!(classify(arf("", none).as_bytes(), &key()).is_err());
    }

    #[test]
    fn unsubscribe_mails() {
        let ada = email("ada@example.com");
        let token = key().legacy_token(&ada);
        let mail = |subject: &str, body: &str| {
            format!(
                "From: Ada <ada@example.com>\nTo: unsubscribe@almanac.example\nSubject: {subject}\n\n{body}\n"
            )
        };
        let ok = |raw: String| {
            assert_eq!(
                classify(raw.as_bytes(), &key()).unwrap(),
                vec![Finding::Unsubscribe {
                    token: Opened::Legacy(ada.clone())
                }],
                "{raw}"
            )
        };
        ok(mail(&format!("unsubscribe {token}"), ""));
        ok(mail(&format!("Unsubscribe%20{token}"), ""));
        ok(mail("please", &format!("Unsubscribe: {token}.\nThanks")));
        // Another secret, truncated, or the address part swapped.
        let other = TokenKey::new("other").legacy_token(&ada);
        let truncated = &token[..token.len() - 3];
        let bob = key().legacy_token(&email("bob@example.com"));
        let swapped = format!(
            "{}.{}",
            bob.split('.').next().unwrap(),
            token.split('.').nth(1).unwrap()
        );
        for bad in [other.as_str(), truncated, swapped.as_str()] {
            let e =
                classify(mail(&format!("unsubscribe {bad}"), "").as_bytes(), &key()).unwrap_err();
            assert!(e.contains("not valid"), "{e}");
        }
        // No token at all.
        let e = classify(mail("hello", "please unsubscribe me").as_bytes(), &key()).unwrap_err();
        assert!(e.contains("not recognised"), "{e}");
        // A plain-text bounce quoting our mailto link is not an unsubscribe.
        let quoted = format!(
            "From: MAILER-DAEMON@mx.example\nTo: letters@almanac.example\nAuto-Submitted: auto-replied\nSubject: failure\n\nList-Unsubscribe: <mailto:unsubscribe@almanac.example?subject=unsubscribe%20{token}>\n"
        );
        assert!(classify(quoted.as_bytes(), &key()).is_err());
        // Not a message at all.
        assert!(classify(b"", &key()).is_err());
    }

    #[test]
    fn candidate_extraction() {
        assert_eq!(candidates("unsubscribe abc.def", false), ["abc.def"]);
        assert_eq!(candidates("UNSUBSCRIBE%20abc.def", true), ["abc.def"]);
        assert!(candidates("unsubscribe%20abc.def", false).is_empty());
        assert!(candidates("you are unsubscribed", false).is_empty());
        assert_eq!(candidates("unsubscribe:\n  x-y_z.", false), ["x-y_z"]);
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_code("5.1.1 (bad)").as_deref(), Some("5.1.1"));
        assert_eq!(status_code("4.7.100").as_deref(), Some("4.7.100"));
        assert_eq!(status_code("5.1"), None);
        assert_eq!(status_code("x.1.1"), None);
        assert_eq!(status_code(""), None);
    }
}
