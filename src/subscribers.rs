//! The subscriber list: a CSV file with a header row
//! `email,name,editions[,subscribed_at]`. Bad rows are reported with their
//! line numbers and skipped; they never stop the others. Duplicates that
//! differ only in case collapse to the first one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::domain::{EditionId, Email, Line};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wants {
    /// `both`, `all` or empty: every edition.
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub email: Email,
    pub name: Option<Line>,
    pub wants: Wants,
    pub subscribed_at: Option<String>,
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
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for RowError {}

/// Why the list could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} is already on the list")]
    AlreadyListed(Email),
    #[error("{0} is not on the list")]
    NotListed(Email),
    #[error("{} has no email column", .0.display())]
    NoEmailColumn(PathBuf),
    #[error("{} has no header row", .0.display())]
    NoHeader(PathBuf),
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error(transparent)]
    File(#[from] crate::fsx::Error),
}

#[derive(Debug, Default)]
pub struct List {
    pub subscribers: Vec<Subscriber>,
    pub errors: Vec<RowError>,
}

const MAX_NAME: usize = 100;
const COLUMNS: [&str; 4] = ["email", "name", "editions", "subscribed_at"];

/// Reads the list. A file that can't be read at all, or has no usable
/// header, is an `Err`; bad rows are in `List::errors`.
pub fn load(path: &Path, editions: &[EditionId]) -> Result<List, RowError> {
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
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(email_col) = col("email") else {
        return Err(fail(
            1,
            format!(
                "the header row has no `email` column (found: {}); expected `email,name,editions,subscribed_at`",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    };
    if let Some(h) = headers
        .iter()
        .find(|h| !COLUMNS.iter().any(|c| h.eq_ignore_ascii_case(c)))
    {
        return Err(fail(
            1,
            format!("unknown column `{h}`; the columns are email, name, editions, subscribed_at"),
        ));
    }
    let (name_col, ed_col, at_col) = (col("name"), col("editions"), col("subscribed_at"));
    let mut list = List::default();
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
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("");
        match row(
            get(Some(email_col)),
            get(name_col),
            get(ed_col),
            get(at_col),
            editions,
        ) {
            Ok(mut s) => {
                s.line = line;
                if seen.insert(s.email.key()) {
                    list.subscribers.push(s);
                } else {
                    list.errors.push(fail(line, format!("{} is listed more than once (addresses are compared without case); this row is ignored", s.email)));
                }
            }
            Err(m) => list.errors.push(fail(line, m)),
        }
    }
    Ok(list)
}

fn row(
    email: &str,
    name: &str,
    editions: &str,
    at: &str,
    known: &[EditionId],
) -> Result<Subscriber, String> {
    let email: Email = email.parse()?;
    let name = if name.is_empty() {
        None
    } else {
        Some(Line::new(name, "the name", MAX_NAME)?)
    };
    let wants = parse_wants(editions, known)?;
    if !at.is_empty()
        && chrono::NaiveDate::parse_from_str(at.get(..10).unwrap_or(at), "%Y-%m-%d").is_err()
    {
        return Err(format!(
            "subscribed_at `{at}` is not a date (YYYY-MM-DD or RFC 3339)"
        ));
    }
    Ok(Subscriber {
        email,
        name,
        wants,
        subscribed_at: (!at.is_empty()).then(|| at.to_owned()),
        line: 0,
    })
}

pub fn parse_wants(s: &str, known: &[EditionId]) -> Result<Wants, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() || s == "both" || s == "all" {
        return Ok(Wants::All);
    }
    let mut v = Vec::new();
    for part in s.split(['|', ';', ' ', '+']).filter(|p| !p.is_empty()) {
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

/// Appends a subscriber, keeping the file's header and quoting intact.
pub fn add(
    path: &Path,
    email: &Email,
    name: Option<&str>,
    editions: &str,
    today: &str,
) -> Result<(), Error> {
    let exists = path.exists();
    let mut records = if exists {
        read_raw(path)?
    } else {
        vec![COLUMNS.iter().map(|s| s.to_string()).collect()]
    };
    let header = records[0].clone();
    let key = email.key();
    let ecol = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("email"))
        .ok_or_else(|| Error::NoEmailColumn(path.to_owned()))?;
    if records
        .iter()
        .skip(1)
        .any(|r| r.get(ecol).is_some_and(|e| e.trim().to_lowercase() == key))
    {
        return Err(Error::AlreadyListed(email.clone()));
    }
    let row: Vec<String> = header
        .iter()
        .map(|h| match h.to_ascii_lowercase().as_str() {
            "email" => email.to_string(),
            "name" => name.unwrap_or("").to_owned(),
            "editions" => editions.to_owned(),
            "subscribed_at" => today.to_owned(),
            _ => String::new(),
        })
        .collect();
    records.push(row);
    write_raw(path, &records)
}

/// Removes a subscriber (compared without case). Returns whether it was there.
pub fn remove(path: &Path, email: &Email) -> Result<bool, Error> {
    let mut records = read_raw(path)?;
    let ecol = records[0]
        .iter()
        .position(|h| h.eq_ignore_ascii_case("email"))
        .ok_or_else(|| Error::NoEmailColumn(path.to_owned()))?;
    let key = email.key();
    let before = records.len();
    let header = records.remove(0);
    records.retain(|r| r.get(ecol).is_none_or(|e| e.trim().to_lowercase() != key));
    let removed = records.len() + 1 != before;
    records.insert(0, header);
    if removed {
        write_raw(path, &records)?;
    }
    Ok(removed)
}

fn read_raw(path: &Path) -> Result<Vec<Vec<String>>, Error> {
    let read = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(read)?;
    let mut out = Vec::new();
    for r in rdr.records() {
        out.push(r.map_err(read)?.iter().map(str::to_owned).collect());
    }
    if out.is_empty() {
        return Err(Error::NoHeader(path.to_owned()));
    }
    Ok(out)
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written list.
fn write_raw(path: &Path, records: &[Vec<String>]) -> Result<(), Error> {
    let write = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for r in records {
        w.write_record(r).map_err(write)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| write(csv::Error::from(e.into_error())))?;
    Ok(crate::fsx::write_file(path, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eds() -> Vec<EditionId> {
        vec!["midweek".parse().unwrap(), "sunday".parse().unwrap()]
    }

    #[test]
    fn rows_are_checked_and_reported_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.csv");
        std::fs::write(
            &f,
            "email,name,editions,subscribed_at\nada@example.com,Ada,both,2026-01-02\nnot-an-address,X,,\nbob@example.com,,monthly,\nADA@example.com,Dup,,\n\"cy@example.com\",\"Cy, Jr.\",sunday,\n",
        )
        .unwrap();
        let l = load(&f, &eds()).unwrap();
        assert_eq!(l.subscribers.len(), 2);
        assert_eq!(l.subscribers[1].name.as_ref().unwrap().as_str(), "Cy, Jr.");
        let lines: Vec<u64> = l.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{:?}", l.errors);
        assert!(l.errors[1].message.contains("monthly"));
    }

    #[test]
    fn add_and_remove_keep_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.csv");
        std::fs::write(
            &f,
            "email,name,editions\nada@example.com,\"Lovelace, Ada\",both\n",
        )
        .unwrap();
        let bob: Email = "bob@example.com".parse().unwrap();
        add(&f, &bob, Some("Bob \"B\""), "sunday", "2026-11-24").unwrap();
        assert!(add(&f, &"BOB@example.com".parse().unwrap(), None, "", "").is_err());
        let l = load(&f, &eds()).unwrap();
        assert_eq!(l.subscribers.len(), 2);
        assert_eq!(
            l.subscribers[1].name.as_ref().unwrap().as_str(),
            "Bob \"B\""
        );
        assert!(remove(&f, &"ADA@example.com".parse().unwrap()).unwrap());
        let l = load(&f, &eds()).unwrap();
        assert_eq!(l.subscribers.len(), 1);
        assert!(l.errors.is_empty());
    }
}
