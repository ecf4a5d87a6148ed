//! Subscriber files: almanac's own CSV (`email,name,editions[,subscribed_at]`)
//! and the exports of the tools people leave (Mailchimp, Buttondown,
//! listmonk, Substack), recognised from their header rows. A bad row is
//! reported with its line and skipped; it never stops the others.
//! Duplicates that differ only in case collapse to the first one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::domain::{EditionId, Email, Line};
use crate::state::SubStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wants {
    /// `both`, `all`, `*` or empty: every edition.
    All,
    Some(Vec<EditionId>),
}

impl Wants {
    pub fn includes(&self, e: &EditionId) -> bool {
        match self {
            Wants::All => true,
            Wants::Some(v) => v.contains(e),
        }
    }

    /// As the database stores it: `*` or `a;b`.
    pub fn stored(&self) -> String {
        match self {
            Wants::All => "*".into(),
            Wants::Some(v) => v
                .iter()
                .map(EditionId::as_str)
                .collect::<Vec<_>>()
                .join(";"),
        }
    }
}

/// Which tool wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Almanac,
    Mailchimp,
    Buttondown,
    Listmonk,
    Substack,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Almanac => "almanac",
            Format::Mailchimp => "Mailchimp",
            Format::Buttondown => "Buttondown",
            Format::Listmonk => "listmonk",
            Format::Substack => "Substack",
        }
    }
}

/// One usable row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub email: Email,
    pub name: Option<Line>,
    pub wants: Wants,
    /// What the file says of them: active, or gone in one of the ways.
    pub status: SubStatus,
    pub consent_at: Option<String>,
    /// 1-based line in the file, for messages.
    pub line: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub file: PathBuf,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Line 0 is the file as a whole (it could not be read at all).
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            n => write!(f, "{}:{n}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for RowError {}

#[derive(Debug)]
pub struct List {
    pub format: Format,
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
}

const MAX_NAME: usize = 100;
/// Longer than any real row; a longer one is junk, reported, not parsed.
const MAX_ROW_BYTES: usize = 64 * 1024;
/// almanac's own columns: the first four are written by hand, the rest by
/// `subscribers export`, so an export imports back as it was.
const ALMANAC: [&str; 8] = [
    "email",
    "name",
    "editions",
    "subscribed_at",
    "status",
    "source",
    "changed_at",
    "change_reason",
];

fn almanac_status(v: &str) -> SubStatus {
    SubStatus::parse(v.trim()).unwrap_or(SubStatus::Active)
}

/// Reads a status column's value.
type StatusOf = fn(&str) -> SubStatus;

/// The columns a format reads, found in the header row.
struct Columns {
    format: Format,
    email: usize,
    name: Vec<usize>,
    editions: Option<usize>,
    consent: Vec<usize>,
    /// The column whose value says whether they left, and how to read it.
    status: Option<(usize, StatusOf)>,
    /// Without such a column, the status of every row (Mailchimp exports
    /// subscribed, unsubscribed and cleaned members as separate files).
    file_status: SubStatus,
}

fn find(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

fn buttondown_status(v: &str) -> SubStatus {
    match v.trim().to_ascii_lowercase().as_str() {
        "unsubscribed" | "removed" | "churned" => SubStatus::Unsubscribed,
        "undeliverable" => SubStatus::Bounced,
        "complained" | "spammy" => SubStatus::Complained,
        "unactivated" => SubStatus::Pending,
        _ => SubStatus::Active,
    }
}

fn listmonk_status(v: &str) -> SubStatus {
    match v.trim().to_ascii_lowercase().as_str() {
        "blocklisted" | "disabled" => SubStatus::Unsubscribed,
        _ => SubStatus::Active,
    }
}

fn substack_disabled(v: &str) -> SubStatus {
    if v.trim().eq_ignore_ascii_case("true") {
        SubStatus::Unsubscribed
    } else {
        SubStatus::Active
    }
}

/// Recognises the file's tool from its header row.
fn columns(h: &csv::StringRecord) -> Result<Columns, String> {
    let has = |n: &str| find(h, n);
    if let Some(email) = has("Email Address") {
        let file_status = if has("CLEAN_TIME").is_some() {
            SubStatus::Bounced
        } else if has("UNSUB_TIME").is_some() {
            SubStatus::Unsubscribed
        } else {
            SubStatus::Active
        };
        return Ok(Columns {
            format: Format::Mailchimp,
            email,
            name: [has("First Name"), has("Last Name")]
                .into_iter()
                .flatten()
                .collect(),
            editions: None,
            consent: [has("CONFIRM_TIME"), has("OPTIN_TIME")]
                .into_iter()
                .flatten()
                .collect(),
            status: None,
            file_status,
        });
    }
    let email = has("email").or(has("email_address"));
    if let (Some(email), Some(kind)) = (email, has("subscriber_type").or(has("type")))
        && (has("creation_date").is_some() || has("secondary_id").is_some())
    {
        return Ok(Columns {
            format: Format::Buttondown,
            email,
            name: has("name").into_iter().collect(),
            editions: None,
            consent: has("creation_date").into_iter().collect(),
            status: Some((kind, buttondown_status)),
            file_status: SubStatus::Active,
        });
    }
    if let (Some(email), Some(_), Some(status)) = (email, has("uuid"), has("status")) {
        return Ok(Columns {
            format: Format::Listmonk,
            email,
            name: has("name").into_iter().collect(),
            editions: None,
            consent: has("created_at").into_iter().collect(),
            status: Some((status, listmonk_status)),
            file_status: SubStatus::Active,
        });
    }
    if let (Some(email), Some(disabled)) = (email, has("email_disabled")) {
        return Ok(Columns {
            format: Format::Substack,
            email,
            name: has("name").into_iter().collect(),
            editions: None,
            consent: has("created_at").into_iter().collect(),
            status: Some((disabled, substack_disabled)),
            file_status: SubStatus::Active,
        });
    }
    let Some(email) = has("email") else {
        return Err(format!(
            "the header row is not one almanac reads (found: {}); expected almanac's `email,name,editions,subscribed_at`, \
             or an export of Mailchimp (`Email Address`, ...), Buttondown (`email`, `subscriber_type`, ...), \
             listmonk (`uuid`, `email`, `status`, ...) or Substack (`email`, `email_disabled`, ...)",
            h.iter().collect::<Vec<_>>().join(",")
        ));
    };
    if let Some(other) = h
        .iter()
        .find(|c| !ALMANAC.iter().any(|a| c.trim().eq_ignore_ascii_case(a)))
    {
        return Err(format!(
            "unknown column `{other}`; almanac's columns are email, name, editions, subscribed_at \
             (and status, source, changed_at, change_reason, as `subscribers export` writes them)"
        ));
    }
    Ok(Columns {
        format: Format::Almanac,
        email,
        name: has("name").into_iter().collect(),
        editions: has("editions"),
        consent: has("subscribed_at").into_iter().collect(),
        status: has("status").map(|c| (c, almanac_status as StatusOf)),
        file_status: SubStatus::Active,
    })
}

/// Reads a subscriber file. A file that can't be read at all, or whose
/// header row is not recognised, is an `Err`; bad rows are in `errors`.
/// `wants` overrides the editions of tools that have none of almanac's.
pub fn read(path: &Path, editions: &[EditionId], wants: Option<&Wants>) -> Result<List, RowError> {
    let fail = |line, message: String| RowError {
        file: path.to_owned(),
        line,
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| fail(0, format!("cannot read the subscriber list: {e}")))?;
    let headers = rdr
        .headers()
        .map_err(|e| fail(1, format!("cannot read the header row: {e}")))?
        .clone();
    let cols = columns(&headers).map_err(|m| fail(1, m))?;
    let mut list = List {
        format: cols.format,
        rows: Vec::new(),
        errors: Vec::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                list.errors.push(fail(line, format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.as_slice().len() > MAX_ROW_BYTES {
            list.errors.push(fail(
                line,
                format!(
                    "this row is {} bytes long; a subscriber row is far shorter",
                    record.as_slice().len()
                ),
            ));
            continue;
        }
        match row(&cols, &record, editions, wants) {
            Ok(mut r) => {
                r.line = line;
                if seen.insert(r.email.key()) {
                    list.rows.push(r);
                } else {
                    list.errors.push(fail(line, format!("{} is listed more than once (addresses are compared without case); this row is ignored", r.email)));
                }
            }
            Err(m) => list.errors.push(fail(line, m)),
        }
    }
    Ok(list)
}

fn row(
    cols: &Columns,
    record: &csv::StringRecord,
    known: &[EditionId],
    wants: Option<&Wants>,
) -> Result<Row, String> {
    let get = |c: usize| record.get(c).unwrap_or("").trim();
    let email: Email = get(cols.email).parse()?;
    let name: Vec<&str> = cols
        .name
        .iter()
        .map(|&c| get(c))
        .filter(|n| !n.is_empty())
        .collect();
    let name = if name.is_empty() {
        None
    } else {
        Some(Line::new(&name.join(" "), "the name", MAX_NAME)?)
    };
    let wants = match (cols.editions, wants) {
        (Some(c), _) => parse_wants(get(c), known)?,
        (None, Some(w)) => w.clone(),
        (None, None) => Wants::All,
    };
    let consent_at = cols.consent.iter().map(|&c| get(c)).find(|v| !v.is_empty());
    if let Some(at) = consent_at
        && chrono::NaiveDate::parse_from_str(at.get(..10).unwrap_or(at), "%Y-%m-%d").is_err()
    {
        return Err(format!(
            "the sign-up date `{at}` is not a date (YYYY-MM-DD or RFC 3339)"
        ));
    }
    let status = match cols.status {
        Some((c, read)) => read(get(c)),
        None => cols.file_status,
    };
    Ok(Row {
        email,
        name,
        wants,
        status,
        consent_at: consent_at.map(str::to_owned),
        line: 0,
    })
}

pub fn parse_wants(s: &str, known: &[EditionId]) -> Result<Wants, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() || s == "both" || s == "all" || s == "*" {
        return Ok(Wants::All);
    }
    let mut v = Vec::new();
    for part in s.split(['|', ';', ' ', '+', ',']).filter(|p| !p.is_empty()) {
        let id: EditionId = part.parse()?;
        if !known.contains(&id) {
            let names: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
            return Err(format!(
                "unknown edition `{part}`; use {}, `both` or leave it empty",
                names.join(", ")
            ));
        }
        if !v.contains(&id) {
            v.push(id);
        }
    }
    Ok(Wants::Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eds() -> Vec<EditionId> {
        vec!["midweek".parse().unwrap(), "sunday".parse().unwrap()]
    }

    fn read_str(text: &str) -> Result<List, RowError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.csv");
        std::fs::write(&f, text).unwrap();
        read(&f, &eds(), None)
    }

    #[test]
    fn rows_are_checked_and_reported_by_line() {
        let l = read_str(
            "email,name,editions,subscribed_at\nada@example.com,Ada,both,2026-01-02\nnot-an-address,X,,\nbob@example.com,,monthly,\nADA@example.com,Dup,,\n\"cy@example.com\",\"Cy, Jr.\",sunday,\n",
        )
        .unwrap();
        assert_eq!(l.format, Format::Almanac);
        assert_eq!(l.rows.len(), 2);
        assert_eq!(l.rows[1].name.as_ref().unwrap().as_str(), "Cy, Jr.");
        let lines: Vec<u64> = l.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{:?}", l.errors);
        assert!(l.errors[1].message.contains("monthly"));
    }

    #[test]
    fn other_tools_are_recognised_by_their_headers() {
        let mc = read_str("Email Address,First Name,Last Name,OPTIN_TIME,UNSUB_TIME\nu1@example.com,Ada,Lovelace,2018-02-12 10:54:27,2019-01-01 00:00:00\n").unwrap();
        assert_eq!(
            (mc.format, mc.rows[0].status),
            (Format::Mailchimp, SubStatus::Unsubscribed)
        );
        assert_eq!(mc.rows[0].name.as_ref().unwrap().as_str(), "Ada Lovelace");
        let lm = read_str("uuid,email,name,attributes,status,created_at,updated_at\nx,a@example.com,A,{},blocklisted,2024-01-01 10:00:00,2024-01-01\n").unwrap();
        assert_eq!(
            (lm.format, lm.rows[0].status),
            (Format::Listmonk, SubStatus::Unsubscribed)
        );
        let sb = read_str("email,active_subscription,expiry,email_disabled,created_at\na@example.com,,,false,2018-12-19T08:03:04.977Z\n").unwrap();
        assert_eq!(
            (sb.format, sb.rows[0].status),
            (Format::Substack, SubStatus::Active)
        );
        let bd = read_str("id,email,creation_date,subscriber_type\n1,a@example.com,2024-03-01T10:00:00Z,undeliverable\n").unwrap();
        assert_eq!(
            (bd.format, bd.rows[0].status),
            (Format::Buttondown, SubStatus::Bounced)
        );
        assert!(
            read_str("e-mail,who\nx,y\n")
                .unwrap_err()
                .message
                .contains("not one almanac reads")
        );
    }
}
