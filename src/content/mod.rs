//! The content model: an issue folder (`issue.toml` + `guide.md`) parsed into
//! an `Issue`. Everything here is validated on the way in; this module knows
//! nothing about HTML, email or sending.

pub mod fields;
pub mod guide;
pub mod issue;
pub mod links;
pub mod markdown;
pub mod placeholders;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, de};

use crate::diag::{Problem, Problems};
use crate::domain::IssueId;
use crate::layouts::Layouts;
pub use guide::Guide;
pub use issue::{Issue, NewsItem};

/// A calendar date. TOML's bare local dates (`2026-11-25`) and quoted
/// strings are both accepted; impossible dates are rejected at their position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Toml(toml::value::Datetime),
            Text(String),
        }
        let text = match Either::deserialize(d)? {
            Either::Toml(dt) => {
                if dt.time.is_some() || dt.offset.is_some() {
                    return Err(de::Error::custom(
                        "expected a date without a time, e.g. 2026-11-25",
                    ));
                }
                dt.to_string()
            }
            Either::Text(s) => s,
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(Date)
            .map_err(|_| de::Error::custom(format!("`{text}` is not a real date (YYYY-MM-DD)")))
    }
}

/// Every issue folder under `issues_dir`, oldest first (ids sort by date).
pub fn list_issue_ids(issues_dir: &Path) -> Result<Vec<IssueId>, Problem> {
    let entries = std::fs::read_dir(issues_dir).map_err(|e| {
        Problem::error(issues_dir, format!("cannot list the issues folder: {e}"))
            .hint("create it, or set `paths.issues` in newsletter.toml")
    })?;
    let mut ids: Vec<IssueId> = entries
        .flatten()
        .filter(|e| e.path().join("issue.toml").is_file())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Resolves an issue argument: an id, a path to an issue folder, or the
/// newest issue when none is given.
pub fn resolve_issue(issues_dir: &Path, arg: Option<&str>) -> Result<(IssueId, PathBuf), Problem> {
    let id: IssueId = match arg {
        None => list_issue_ids(issues_dir)?.pop().ok_or_else(|| {
            Problem::error(issues_dir, "there are no issues yet")
                .hint("create one with `almanac new midweek` or `almanac new sunday`")
        })?,
        Some(a) => {
            let name = Path::new(a.trim_end_matches('/'))
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(a);
            name.parse()
                .map_err(|e: String| Problem::error(issues_dir, e))?
        }
    };
    let dir = issues_dir.join(id.as_str());
    if !dir.join("issue.toml").is_file() {
        let known = list_issue_ids(issues_dir)
            .map(|ids| {
                ids.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return Err(Problem::error(
            &dir,
            format!("there is no issue `{id}` (no {}/issue.toml)", dir.display()),
        )
        .hint(if known.is_empty() {
            "create one with `almanac new`".to_string()
        } else {
            format!("known issues: {known}")
        }));
    }
    Ok((id, dir))
}

/// More problems than this in one file are counted, not listed.
pub const MAX_PROBLEMS_PER_FILE: usize = 100;

/// Loads one issue folder, collecting every problem in it.
pub fn load_issue(id: IssueId, dir: &Path, layouts: &Layouts) -> Result<Issue, Problems> {
    issue::load(id, dir, layouts).map_err(|p| p.capped(MAX_PROBLEMS_PER_FILE))
}
