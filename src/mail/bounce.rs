//! Mail that comes back: delivery status notifications (RFC 3464), the
//! common bounces that are not (Exim, qmail, Yahoo's plain text), abuse
//! complaints (ARF, RFC 5965), automatic replies, and unsubscribe requests
//! sent to the `mailto:` address of `List-Unsubscribe`. Pure functions from
//! message bytes to what they say; recording it is the caller's business.
//!
//! Who a message is about comes, best first, from its VERP envelope
//! recipient (see `verp.rs`: exact whatever the reporting server quotes),
//! then our token in a quoted `List-Unsubscribe`, then the addresses the
//! report names. A VERP address whose token does not verify makes the
//! whole message untrusted: nothing is acted on.

use mail_parser::{Message, MessageParser, MimeHeaders};

use super::token::{Opened, TokenKey};
use super::verp::{ReturnPath, Verp};
use crate::domain::{Email, IssueId};

/// Who a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// An address the report names.
    Address(Email),
    /// One of our link tokens it quotes (a subscriber, maybe an edition).
    Token(Opened),
    /// The subscriber its VERP envelope recipient names.
    Reader(i64),
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Address(e) | Who::Token(Opened::Legacy(e)) => write!(f, "{e}"),
            Who::Token(Opened::Subscriber { id, .. }) | Who::Reader(id) => {
                write!(f, "subscriber #{id}")
            }
        }
    }
}

/// Which issue a finding is about, when the message shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueRef {
    /// The tag in a VERP token.
    Tag(u32),
    /// The issue id in one of our Message-IDs, quoted.
    Id(String),
}

/// What kind of thing came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A permanent failure of the reader's mailbox: suppress as bounced.
    Hard,
    /// A temporary failure (4.x.x, a delay, a full mailbox): counted.
    Soft,
    /// A refusal by policy (5.7.x): about us, not the reader; recorded only.
    Policy,
    /// An abuse report: suppress as complained, never counted as a bounce.
    Complaint { feedback_type: String },
    /// A mail to the unsubscribe address with a genuine token.
    Unsubscribe,
    /// Out of office, vacation, challenge-response: changes nothing.
    AutoReply(&'static str),
    /// A report that needs nothing done (delivered, relayed, not-spam).
    Notice(String),
}

impl Kind {
    /// The class a run's report counts.
    pub fn class(&self) -> &'static str {
        match self {
            Kind::Hard => "hard bounce",
            Kind::Soft => "soft bounce",
            Kind::Policy => "policy refusal",
            Kind::Complaint { .. } => "complaint",
            Kind::Unsubscribe => "unsubscribe",
            Kind::AutoReply(_) => "auto-reply",
            Kind::Notice(_) => "notice",
        }
    }

    /// Worse first, for a VERP message that reports several things.
    fn severity(&self) -> u8 {
        match self {
            Kind::Complaint { .. } => 6,
            Kind::Hard => 5,
            Kind::Unsubscribe => 4,
            Kind::Policy => 3,
            Kind::Soft => 2,
            Kind::Notice(_) => 1,
            Kind::AutoReply(_) => 0,
        }
    }
}

/// What one message says about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// `None` when the message names nobody (an auto-reply, a notice).
    pub who: Option<Who>,
    pub issue: Option<IssueRef>,
    /// The enhanced status code (`5.1.1`), when there is one.
    pub status: Option<String>,
    /// The server's words, shortened, for the record.
    pub detail: String,
}

impl Finding {
    fn new(kind: Kind, who: Option<Who>, status: Option<String>, detail: String) -> Finding {
        Finding {
            kind,
            who,
            issue: None,
            status,
            detail,
        }
    }

    /// What happened, in a few words, for output.
    pub fn summary(&self) -> String {
        match (&self.kind, &self.status) {
            (Kind::Complaint { feedback_type }, _) => format!("complaint ({feedback_type})"),
            (Kind::AutoReply(what), _) => format!("automatic reply ({what})"),
            (Kind::Notice(what), _) => what.clone(),
            (Kind::Unsubscribe, _) => "unsubscribe request".into(),
            (k, Some(status)) => format!("{} {status}", k.class()),
            (k, None) => k.class().into(),
        }
    }
}

/// What classifying needs besides the bytes.
pub struct Context<'a> {
    pub key: &'a TokenKey,
    /// The configured bounce address, whose VERP addresses name readers.
    pub return_path: Option<&'a ReturnPath>,
    /// The envelope recipient the MTA handed the message to, when known
    /// (a pipe's argument or `ORIGINAL_RECIPIENT`).
    pub envelope_to: Option<&'a str>,
    /// The newsletter's own domain: its addresses are never the reader.
    pub own_domain: &'a str,
}

/// Reads one message. `Ok` with what it says (possibly nothing to do), or
/// `Err` saying why it was not understood.
pub fn classify(raw: &[u8], cx: &Context<'_>) -> Result<Vec<Finding>, String> {
    let msg = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or("not an email message (no headers)")?;
    let verp = match cx.return_path {
        Some(rp) => find_verp(rp, cx, &msg, raw)?,
        None => None,
    };
    let mut findings = if let Some(report) = report_type(&msg) {
        match report.as_str() {
            "delivery-status" | "global-delivery-status" => dsn(&msg)?,
            "feedback-report" => complaint(&msg, cx.key)?,
            other => {
                return Err(format!(
                    "a report of type `{other}`, neither a delivery status notification nor a complaint"
                ));
            }
        }
    } else if let Some(f) = plain_bounce(&msg, cx)? {
        f
    } else if let Some(what) = auto_reply(&msg) {
        vec![Finding::new(
            Kind::AutoReply(what),
            None,
            None,
            String::new(),
        )]
    } else {
        unsubscribe_mail(&msg, cx.key)?
    };
    if let Some((id, tag)) = verp {
        // One message went to one reader: keep the worst thing said.
        findings.sort_by_key(|f| std::cmp::Reverse(f.kind.severity()));
        findings.truncate(1);
        for f in &mut findings {
            if !matches!(f.kind, Kind::Unsubscribe) {
                f.who = Some(Who::Reader(id));
                f.issue = Some(IssueRef::Tag(tag));
            }
        }
    } else if let Some(issue) = quoted_issue(raw) {
        for f in findings.iter_mut().filter(|f| f.issue.is_none()) {
            f.issue = Some(IssueRef::Id(issue.clone()));
        }
    }
    Ok(findings)
}

/// The VERP reader and issue tag, from the envelope recipient, then the
/// headers that carry it, then anywhere in the message (a quoted
/// Return-Path). `Err` when the only VERP address there is forged.
fn find_verp(
    rp: &ReturnPath,
    cx: &Context<'_>,
    msg: &Message<'_>,
    raw: &[u8],
) -> Result<Option<(i64, u32)>, String> {
    let mut places: Vec<String> = cx.envelope_to.map(str::to_owned).into_iter().collect();
    for h in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
        "To",
    ] {
        places.extend(msg.header_values(h).filter_map(|v| {
            v.as_text().map(str::to_owned).or_else(|| {
                v.as_address()
                    .and_then(|a| a.first()?.address().map(str::to_owned))
            })
        }));
    }
    places.push(String::from_utf8_lossy(raw).into_owned());
    let mut forged = false;
    for p in &places {
        match rp.find(cx.key, p) {
            Some(Verp::Genuine { id, issue_tag }) => return Ok(Some((id, issue_tag))),
            Some(Verp::Forged) => forged = true,
            None => {}
        }
    }
    if forged {
        return Err(
            "sent to a VERP address whose token does not verify (forged, altered, or made with another secret)"
                .into(),
        );
    }
    Ok(None)
}

fn report_type(msg: &Message<'_>) -> Option<String> {
    let ct = msg.content_type()?;
    let is_report = ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    is_report.then(|| {
        ct.attribute("report-type")
            .unwrap_or("")
            .to_ascii_lowercase()
    })
}

/// The issue id in one of our Message-IDs (`<ISSUE.<24 hex>@domain>`)
/// quoted anywhere in the message.
fn quoted_issue(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.split('<').skip(1).find_map(|chunk| {
        let inner = chunk.split('>').next()?;
        let (local, _) = inner.split_once('@')?;
        let (issue, hex) = local.rsplit_once('.')?;
        let ok = hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        (ok && issue.parse::<IssueId>().is_ok()).then(|| issue.to_owned())
    })
}

/// Hard, soft or policy, from what a report or a server's words say.
/// `failed` is false for a DSN's `delayed`.
fn judge(failed: bool, status: Option<&str>, words: &str) -> Kind {
    let words = words.to_ascii_lowercase();
    let full = MAILBOX_FULL.iter().any(|p| words.contains(p))
        || status.is_some_and(|s| s.ends_with(".2.2"));
    match status.and_then(|s| s.chars().next()) {
        _ if !failed || full => Kind::Soft,
        Some('4') => Kind::Soft,
        Some('5') if status.is_some_and(|s| s.starts_with("5.7.")) => Kind::Policy,
        Some('5') => Kind::Hard,
        _ if TEMPORARY.iter().any(|p| words.contains(p)) => Kind::Soft,
        _ => Kind::Hard,
    }
}

/// A full mailbox is the reader's to fix, however the server codes it.
const MAILBOX_FULL: &[&str] = &[
    "mailbox full",
    "mailbox is full",
    "over quota",
    "quota exceeded",
    "exceeded storage",
    "insufficient storage",
    "out of storage",
    "mailbox size limit",
];

const TEMPORARY: &[&str] = &[
    "temporary",
    "temporarily",
    "has not yet been delivered",
    "not yet been delivered",
    "will continue trying",
    "will retry",
    "still trying",
    "deferred",
    "delayed",
];

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
        let diagnostic: String = field(&group, "diagnostic-code")
            .map(|d| {
                // `smtp; 550 5.1.1 ...` → `550 5.1.1 ...`
                d.split_once(';').map_or(d, |(_, rest)| rest).trim()
            })
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        let kind = match action.as_str() {
            "failed" => judge(true, status.as_deref(), &diagnostic),
            "delayed" => Kind::Soft,
            "" => return Err("a delivery report with no Action".into()),
            other => Kind::Notice(format!("delivery report ({other})")),
        };
        findings.push(Finding::new(
            kind,
            Some(Who::Address(email)),
            status,
            diagnostic,
        ));
    }
    if findings.is_empty() {
        return Err("a delivery report that names no recipient (no Final-Recipient)".into());
    }
    Ok(findings)
}

/// A bounce that is not a DSN: Exim's "Mail delivery failed", qmail's
/// "failure notice", Yahoo's and others' plain text. Only a message from a
/// mail server (by sender or subject) *and* in a bounce's words counts, so
/// a reader's reply that mentions a failed delivery is not one.
fn plain_bounce(msg: &Message<'_>, cx: &Context<'_>) -> Result<Option<Vec<Finding>>, String> {
    let sender = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let local = sender.split('@').next().unwrap_or("");
    let subject = msg.subject().unwrap_or("").to_ascii_lowercase();
    let from_server = ["mailer-daemon", "mailerdaemon", "postmaster", "mail-daemon"]
        .contains(&local)
        || BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s));
    if !from_server {
        return Ok(None);
    }
    let body: String = (0..msg.text_body_count())
        .filter_map(|i| msg.body_text(i))
        .collect::<Vec<_>>()
        .join("\n");
    // The quoted original is not the server's words (and names us).
    let own_words = ORIGINAL_MARKERS
        .iter()
        .filter_map(|m| body.to_ascii_lowercase().find(m))
        .min()
        .map_or(body.as_str(), |i| &body[..i]);
    let lower = own_words.to_ascii_lowercase();
    if !BOUNCE_WORDS.iter().any(|w| lower.contains(w)) {
        return Err(format!(
            "a message from a mail server ({}) in words we don't recognise as a bounce",
            if sender.is_empty() {
                "no sender"
            } else {
                &sender
            }
        ));
    }
    let status = enhanced_status(&lower);
    let kind = if lower.contains("permanent error") || lower.contains("permanently") {
        judge(true, status.as_deref().or(Some("5.0.0")), &lower)
    } else if TEMPORARY.iter().any(|p| lower.contains(p)) {
        Kind::Soft
    } else {
        judge(true, status.as_deref().or(smtp_class(&lower)), &lower)
    };
    let detail: String = failure_line(own_words).chars().take(200).collect();
    let mut out: Vec<Finding> = addresses(own_words, &sender, cx.own_domain)
        .into_iter()
        .map(|e| {
            Finding::new(
                kind.clone(),
                Some(Who::Address(e)),
                status.clone(),
                detail.clone(),
            )
        })
        .collect();
    if out.is_empty() {
        // Attributed later by VERP, or reported as naming nobody.
        out.push(Finding::new(kind, None, status, detail));
    }
    Ok(Some(out))
}

const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered mail",
    "delivery status notification",
    "delivery failure",
    "delivery has failed",
    "failure notice",
    "mail delivery failed",
    "returned mail",
    "delivery notification",
    "message not delivered",
    "could not be delivered",
];

const BOUNCE_WORDS: &[&str] = &[
    "could not be delivered",
    "couldn't be delivered",
    "wasn't able to deliver",
    "was not able to deliver",
    "unable to deliver",
    "delivery has failed",
    "delivery failed",
    "delivery to the following recipient",
    "following address(es) failed",
    "following addresses had permanent fatal errors",
    "has not yet been delivered",
    "permanent error",
    "user unknown",
    "no such user",
    "mailbox unavailable",
    "address rejected",
];

const ORIGINAL_MARKERS: &[&str] = &[
    "------ this is a copy of the message",
    "--- below this line is a copy of the message",
    "----- original message -----",
    "original message follows",
    "--- the header of the original message",
    "\nreturn-path:",
    "\nreceived: from",
];

/// The first enhanced status code (`5.1.1`, qmail's `#5.1.1`) in `text`.
fn enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_end_matches('.'))
        .find_map(status_code)
}

/// The class of the first SMTP reply code (`550`, `452`) in `text`.
fn smtp_class(text: &str) -> Option<&'static str> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 3)
        .find_map(|w| match w.as_bytes()[0] {
            b'5' if w.as_bytes()[1] <= b'5' => Some("5.0.0"),
            b'4' if w.as_bytes()[1] <= b'5' => Some("4.0.0"),
            _ => None,
        })
}

/// The line that says what went wrong, for the record.
fn failure_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| {
            let l = l.to_ascii_lowercase();
            (l.contains("550")
                || l.contains("554")
                || l.contains("552")
                || l.contains("5.")
                || l.contains("4."))
                && l.len() > 10
        })
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("")
}

/// The addresses a plain bounce names: not the reporting server's, not
/// ours, not role addresses.
fn addresses(text: &str, sender: &str, own_domain: &str) -> Vec<Email> {
    let mut out: Vec<Email> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "<>()[]\"',;".contains(c)) {
        let word = word.trim_end_matches([':', '.']);
        let Ok(e) = word.parse::<Email>() else {
            continue;
        };
        let local = e
            .as_str()
            .split('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let role = ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"]
            .contains(&local.as_str());
        if role || e.key() == sender || e.domain().eq_ignore_ascii_case(own_domain) {
            continue;
        }
        if !out.iter().any(|o| o.key() == e.key()) {
            out.push(e);
        }
    }
    out
}

/// Out of office, vacation and challenge-response mail: what it is.
fn auto_reply(msg: &Message<'_>) -> Option<&'static str> {
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let subject = msg.subject().unwrap_or("").to_ascii_lowercase();
    let challenge = [
        "X-Boxtrapper",
        "X-Challenge",
        "X-ChoiceMail-Registration-Request",
        "X-Spamarrest-Noauth",
    ]
    .iter()
    .any(|h| msg.header_raw(*h).is_some())
        || CHALLENGE_SUBJECTS.iter().any(|s| subject.contains(s));
    if challenge {
        return Some("challenge-response");
    }
    let auto = header("Auto-Submitted").is_some_and(|v| v != "no")
        || msg.header_raw("X-Autoreply").is_some()
        || msg.header_raw("X-Autorespond").is_some()
        || header("Precedence").is_some_and(|v| v == "auto_reply")
        || header("X-Auto-Response-Suppress")
            .is_some_and(|v| v.contains("all") && subject.contains("auto"));
    let vacation_subject = AUTO_SUBJECTS
        .iter()
        .any(|s| subject.starts_with(s) || subject.contains(&format!(": {s}")));
    (auto || vacation_subject).then_some("out of office")
}

const AUTO_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto:",
    "away from",
    "vacation",
    "on leave",
    "abwesenheitsnotiz",
    "réponse automatique",
    "respuesta automática",
];

const CHALLENGE_SUBJECTS: &[&str] = &[
    "please confirm your message",
    "verify your email to deliver",
    "confirm that you are a human",
    "sender verification",
    "approve your message",
];

fn complaint(msg: &Message<'_>, key: &TokenKey) -> Result<Vec<Finding>, String> {
    let text = part_text(msg, &["feedback-report"])
        .ok_or("a complaint report without a message/feedback-report part")?;
    let fields: Vec<(String, String)> = field_groups(&text).into_iter().flatten().collect();
    let feedback_type = field(&fields, "feedback-type")
        .unwrap_or("abuse")
        .trim()
        .to_ascii_lowercase();
    if feedback_type == "not-spam" {
        return Ok(vec![Finding::new(
            Kind::Notice("a not-spam report".into()),
            None,
            None,
            String::new(),
        )]);
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
    Ok(vec![Finding::new(
        Kind::Complaint { feedback_type },
        Some(who),
        None,
        String::new(),
    )])
}

fn unsubscribe_mail(msg: &Message<'_>, key: &TokenKey) -> Result<Vec<Finding>, String> {
    let subject = msg.subject().unwrap_or("");
    let mut seen = candidates(subject, true);
    seen.extend(
        msg.body_text(0)
            .map(|b| candidates(&b, false))
            .unwrap_or_default(),
    );
    for c in &seen {
        if let Some(token) = key.open(c) {
            return Ok(vec![Finding::new(
                Kind::Unsubscribe,
                Some(Who::Token(token)),
                None,
                String::new(),
            )]);
        }
    }
    if seen.iter().any(|c| c.contains('.') && c.len() > 20) {
        return Err("an unsubscribe request whose token is not valid (altered, truncated or made with another secret)".into());
    }
    Err("not recognised: not a bounce, a complaint, an automatic reply, or an unsubscribe request with a token".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new("test-secret")
    }

    fn classify(raw: &[u8], key: &TokenKey) -> Result<Vec<Finding>, String> {
        super::classify(
            raw,
            &Context {
                key,
                return_path: None,
                envelope_to: None,
                own_domain: "almanac.example",
            },
        )
    }

    fn one(kind: Kind, who: &str, status: Option<&str>) -> (Kind, Option<Who>, Option<String>) {
        (
            kind,
            Some(Who::Address(email(who))),
            status.map(str::to_owned),
        )
    }

    fn short(f: &[Finding]) -> Vec<(Kind, Option<Who>, Option<String>)> {
        f.iter()
            .map(|f| (f.kind.clone(), f.who.clone(), f.status.clone()))
            .collect()
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
        assert_eq!(
            short(&f),
            [one(Kind::Hard, "gone@example.com", Some("5.1.1"))]
        );
        assert!(f[0].detail.starts_with("550 5.1.1"), "{}", f[0].detail);
        assert!(
            f[0].detail.contains("User unknown"),
            "folded line unfolded: {}",
            f[0].detail
        );
    }

    #[test]
    fn soft_bounces_delays_policy_and_notices() {
        for (action, status, kind) in [
            ("failed", "4.2.2", Kind::Soft),
            ("delayed", "4.4.1", Kind::Soft),
            ("delayed", "5.0.0", Kind::Soft),
            ("failed", "5.2.2", Kind::Soft),
            ("failed", "5.7.1", Kind::Policy),
            (
                "delivered",
                "2.0.0",
                Kind::Notice("delivery report (delivered)".into()),
            ),
        ] {
            let f = classify(
                dsn_sample(action, status, "full@example.com").as_bytes(),
                &key(),
            )
            .unwrap();
            assert_eq!(
                short(&f),
                [one(kind, "full@example.com", Some(status))],
                "{action} {status}"
            );
        }
        // A full mailbox in words, whatever the code.
        let raw = dsn_sample("failed", "5.0.0", "full@example.com")
            .replace("User unknown in virtual mailbox table", "Mailbox full");
        assert_eq!(
            classify(raw.as_bytes(), &key()).unwrap()[0].kind,
            Kind::Soft
        );
    }

    #[test]
    fn several_recipients_in_one_dsn() {
        let raw = dsn_sample("failed", "5.1.1", "a@example.com").replace(
            "--B0UND\nContent-Type: text/rfc822-headers",
            "Final-Recipient: rfc822; <b@example.com>\nAction: failed\nStatus: 4.7.1\n\n--B0UND\nContent-Type: text/rfc822-headers",
        );
        let f = classify(raw.as_bytes(), &key()).unwrap();
        assert_eq!(
            short(&f),
            [
                one(Kind::Hard, "a@example.com", Some("5.1.1")),
                one(Kind::Soft, "b@example.com", Some("4.7.1"))
            ]
        );
    }

    #[test]
    fn verp_names_the_reader_whatever_the_report_quotes() {
        let k = key();
        let rp = ReturnPath::new(&email("bounces@almanac.example"));
        let to = rp.for_reader(&k, 42, "2026-11-29-sunday");
        // The report names some forwarding address, not the subscriber's.
        let raw = dsn_sample("failed", "5.1.1", "alias@forwarder.example")
            .replace("To: letters@almanac.example", &format!("To: {to}"));
        let cx = |envelope_to| Context {
            key: &k,
            return_path: Some(&rp),
            envelope_to,
            own_domain: "almanac.example",
        };
        let f = super::classify(raw.as_bytes(), &cx(None)).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].who, Some(Who::Reader(42)));
        assert_eq!(
            f[0].issue,
            Some(IssueRef::Tag(super::super::verp::issue_tag(
                "2026-11-29-sunday"
            )))
        );
        // The envelope alone is enough: no To, no quoted headers.
        let bare = dsn_sample("failed", "5.1.1", "x@example.net")
            .replace("To: letters@almanac.example\n", "");
        let f = super::classify(bare.as_bytes(), &cx(Some(&to))).unwrap();
        assert_eq!(f[0].who, Some(Who::Reader(42)));
        // A forged token changes nothing: the message is refused.
        let forged = to.replacen(&to[8..14], "zzzzzz", 1);
        let e = super::classify(bare.as_bytes(), &cx(Some(&forged))).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
    }

    #[test]
    fn our_quoted_message_id_names_the_issue() {
        let raw = dsn_sample("failed", "4.2.2", "a@example.com").replace(
            "Subject: Sparse autoencoders",
            "Subject: Sparse autoencoders\nMessage-ID: <2026-11-25-midweek.0123456789abcdef01234567@almanac.example>",
        );
        let f = classify(raw.as_bytes(), &key()).unwrap();
        assert_eq!(f[0].issue, Some(IssueRef::Id("2026-11-25-midweek".into())));
    }

    #[test]
    fn plain_text_bounces() {
        let exim = "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nTo: letters@almanac.example\nSubject: Mail delivery failed: returning message to sender\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  gone@example.org\n    host mx.example.org [192.0.2.7]\n    SMTP error from remote mail server after RCPT TO:<gone@example.org>:\n    550 5.1.1 User unknown\n\n------ This is a copy of the message, including all the headers. ------\n\nFrom: letters@almanac.example\nTo: gone@example.org\n";
        assert_eq!(
            short(&classify(exim.as_bytes(), &key()).unwrap()),
            [one(Kind::Hard, "gone@example.org", Some("5.1.1"))]
        );
        let delayed = exim
            .replace("could not be delivered", "has not yet been delivered")
            .replace(
                "This is a permanent error.",
                "Delivery will continue trying.",
            )
            .replace("550 5.1.1 User unknown", "451 4.3.0 Try again later");
        assert_eq!(
            classify(delayed.as_bytes(), &key()).unwrap()[0].kind,
            Kind::Soft
        );
        // A reader's reply that mentions a failed delivery is not a bounce.
        let reply = "From: Ada <ada@example.com>\nTo: letters@almanac.example\nSubject: Re: Sunday\n\nMy mail to you could not be delivered last week.\n";
        assert!(classify(reply.as_bytes(), &key()).is_err());
    }

    #[test]
    fn automatic_replies_change_nothing() {
        for (headers, what) in [
            (
                "Auto-Submitted: auto-replied\nSubject: Re: Sunday",
                "out of office",
            ),
            ("Subject: Out of Office: Sunday", "out of office"),
            ("Subject: Automatic reply: Sunday", "out of office"),
            ("X-Autoreply: yes\nSubject: Re: Sunday", "out of office"),
            ("Subject: Please confirm your message", "challenge-response"),
            (
                "X-Boxtrapper: abc\nSubject: Re: Sunday",
                "challenge-response",
            ),
        ] {
            let raw = format!(
                "From: Ada <ada@example.com>\nTo: letters@almanac.example\n{headers}\n\nI am away until Monday.\n"
            );
            let f = classify(raw.as_bytes(), &key()).unwrap();
            assert_eq!(f.len(), 1);
            assert_eq!(f[0].kind, Kind::AutoReply(what), "{headers}");
            assert_eq!(f[0].who, None);
        }
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
            short(&f),
            [one(
                Kind::Complaint {
                    feedback_type: "abuse".into()
                },
                "victim@example.com",
                None
            )]
        );
        // Original-Rcpt-To wins over a redacted To.
        let redacted = original.replace("victim@example.com", "redacted@isp.example");
        let f = classify(
            arf("Original-Rcpt-To: victim@example.com", &redacted).as_bytes(),
            &key(),
        )
        .unwrap();
        assert_eq!(f[0].who, Some(Who::Address(email("victim@example.com"))));
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
            f[0].who,
            Some(Who::Token(Opened::Subscriber {
                id: 9,
                purpose: super::super::token::Purpose::Manage
            }))
        );
        // not-spam records nothing; no recipient at all is an error.
        let f = classify(
            arf("", original)
                .replace("Feedback-Type: abuse", "Feedback-Type: not-spam")
                .as_bytes(),
            &key(),
        )
        .unwrap();
        assert!(matches!(f[0].kind, Kind::Notice(_)));
        assert_eq!(f[0].who, None);
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
            let f = classify(raw.as_bytes(), &key()).unwrap();
            assert_eq!(f[0].kind, Kind::Unsubscribe, "{raw}");
            assert_eq!(
                f[0].who,
                Some(Who::Token(Opened::Legacy(ada.clone()))),
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
        // A bounce quoting our mailto link is not an unsubscribe.
        let quoted = format!(
            "From: MAILER-DAEMON@mx.example\nTo: letters@almanac.example\nAuto-Submitted: auto-replied\nSubject: failure\n\nList-Unsubscribe: <mailto:unsubscribe@almanac.example?subject=unsubscribe%20{token}>\n"
        );
        assert!(classify(quoted.as_bytes(), &key()).is_err_and(|e| e.contains("mail server")));
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
