//! The subscriber list, which lives in the state database: import and
//! export, listing and counting, adding and removing by hand, and the
//! privacy requests (show everything held about someone, forget them).
//!
//! The CSV named by `paths.subscribers` (or `ALMANAC_SUBSCRIBERS`) is a
//! synced source: whenever the list is read, rows added there are imported
//! and readers whose row was removed stop receiving (an operator's removal:
//! adding the row back works), while a reader's own unsubscribe, a bounce
//! or a complaint always wins.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Error, Project, Reader, Result};
use crate::domain::{EditionId, Email, Line};
use crate::mail::token_key;
use crate::state::{Imported, Incoming, State, SubStatus, Subscriber};
use crate::subscribers::{self, Format, RowError, Wants};

/// What syncing the configured CSV did.
pub struct Synced {
    pub path: PathBuf,
    pub imported: Imported,
    pub errors: Vec<RowError>,
}

/// The state database, with the configured CSV (if any) synced in.
pub fn open(project: &Project, now: DateTime<Utc>) -> Result<(State, Option<Synced>)> {
    let mut state = State::open(&project.config.paths.state)?;
    let synced = match &project.config.paths.subscribers {
        Some(path) => Some(sync(project, &mut state, path, now)?),
        None => None,
    };
    Ok((state, synced))
}

fn sync(project: &Project, state: &mut State, path: &Path, now: DateTime<Utc>) -> Result<Synced> {
    let list = subscribers::read(path, &project.editions(), None)?;
    let rows = incoming(project, path, &list.rows);
    let source = format!("sync:{}", path.display());
    let imported = state.import(rows, &source, true, false, &now.to_rfc3339())?;
    Ok(Synced {
        path: path.to_owned(),
        imported,
        errors: list.errors,
    })
}

/// Rows as the database takes them, made one at a time as the import takes them: at a million rows the
/// whole list over again would be some hundreds of megabytes.
fn incoming<'a>(
    project: &Project,
    path: &'a Path,
    rows: &'a [subscribers::Row],
) -> impl Iterator<Item = Incoming> + 'a {
    let key = token_key(&project.config);
    rows.iter().map(move |r| Incoming {
        origin: format!("{}:{}", path.display(), r.line),
        email: r.email.key(),
        address: r.email.to_string(),
        name: r.name.as_ref().map(Line::to_string),
        editions: r.wants.stored(),
        status: r.status,
        consent_at: r.consent_at.clone(),
        hash: key.hash(&r.email),
    })
}

/// What `subscribers import` did.
pub struct ImportReport {
    pub format: Format,
    pub imported: Imported,
    pub errors: Vec<RowError>,
}

/// Imports a file (almanac's CSV or another tool's export). `editions`
/// says what the readers of a file without editions signed up for.
pub fn import(
    project: &Project,
    file: &Path,
    editions: Option<&str>,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let wants = editions
        .map(|e| subscribers::parse_wants(e, &project.editions()))
        .transpose()
        .map_err(Error::Usage)?;
    let list = subscribers::read(file, &project.editions(), wants.as_ref())?;
    let (mut state, _) = open(project, now)?;
    let rows = incoming(project, file, &list.rows);
    let source = format!("import:{}", file.display());
    let imported = state.import(rows, &source, false, dry_run, &now.to_rfc3339())?;
    Ok(ImportReport {
        format: list.format,
        imported,
        errors: list.errors,
    })
}

/// One reader as `list` and `export` show them.
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub email: String,
    pub name: String,
    /// The editions they get now: `both` (every one) or `a;b`; empty when
    /// none.
    pub editions: String,
    pub status: SubStatus,
    pub subscribed_at: String,
    pub source: String,
    pub changed_at: String,
    pub change_reason: String,
}

fn listed(project: &Project, s: &Subscriber) -> Listed {
    let all = project.editions();
    let on: Vec<&EditionId> = all.iter().filter(|e| s.wants(e.as_str())).collect();
    let editions = if s.status != SubStatus::Active {
        String::new()
    } else if on.len() == all.len() && s.choices.values().all(|&v| v) {
        "both".to_string()
    } else {
        on.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(";")
    };
    Listed {
        email: s.address.clone(),
        name: s.name.clone().unwrap_or_default(),
        editions,
        status: s.status,
        subscribed_at: s.consent_at.clone().unwrap_or_default(),
        source: s.source.clone(),
        changed_at: s.changed_at.clone(),
        change_reason: s.change_reason.clone(),
    }
}

/// Every reader with `status` who gets `edition` (either may be absent),
/// in the order they joined, to `f`.
pub fn each(
    project: &Project,
    status: Option<SubStatus>,
    edition: Option<&EditionId>,
    now: DateTime<Utc>,
    mut f: impl FnMut(Listed),
) -> Result<Option<Synced>> {
    let (state, synced) = open(project, now)?;
    state.each_subscriber(status, |s| {
        if edition.is_none_or(|e| s.wants(e.as_str())) {
            f(listed(project, &s));
        }
    })?;
    Ok(synced)
}

/// A stored name as a send uses it: one that is empty or no longer valid
/// counts as none, so the greeting falls back.
pub(crate) fn stored_name(name: Option<&str>) -> Option<Line> {
    name.and_then(|n| Line::new(n, "the name", 100).ok())
}

/// The subscriber with this address, as a send addresses them, whatever
/// their status: the preview shows anyone's email, and says whether a
/// send would reach them. The list is read as stored, not synced: the
/// preview asks for every frame and file, and its page has synced the
/// configured CSV (through `first`) before its frames ask.
pub fn reader(project: &Project, address: &str) -> Result<Reader> {
    let email: Email = address.parse().map_err(Error::Invalid)?;
    let state = State::open(&project.config.paths.state)?;
    let Some(s) = state.subscriber(&email.key())? else {
        return Err(Error::NotFound(format!(
            "no subscriber has the address {email}; `almanac subscribers list` shows who is on the list"
        )));
    };
    Ok(Reader {
        id: s.id,
        // As stored, as a send reads it; the key's case folding is for lookups.
        email: s.address.parse().unwrap_or(email),
        name: stored_name(s.name.as_deref()),
        status: Some(s.status),
        editions: project
            .editions()
            .into_iter()
            .filter(|e| s.status == SubStatus::Active && s.wants(e.as_str()))
            .collect(),
    })
}

/// The first `limit` active readers, in the order they joined: enough
/// to pick from without reading a large list whole.
pub fn first(project: &Project, limit: usize, now: DateTime<Utc>) -> Result<Vec<Listed>> {
    let (state, _) = open(project, now)?;
    Ok(state
        .subscribers_page(Some(SubStatus::Active), 0, limit)?
        .iter()
        .map(|s| listed(project, s))
        .collect())
}

/// Readers by edition and status: `(edition or "*", status) → count`.
pub struct Counts {
    pub by: std::collections::BTreeMap<(String, SubStatus), u64>,
    pub synced: Option<Synced>,
}

pub fn counts(project: &Project, now: DateTime<Utc>) -> Result<Counts> {
    let (state, synced) = open(project, now)?;
    let editions: Vec<String> = project.editions().iter().map(|e| e.to_string()).collect();
    Ok(Counts {
        by: state.subscriber_counts(&editions)?,
        synced,
    })
}

/// Adds a reader by hand. Someone who unsubscribed, bounced or complained
/// is only brought back with `resubscribe`, and that is recorded.
pub fn add(
    project: &Project,
    email: &Email,
    name: Option<&str>,
    editions: &str,
    resubscribe: bool,
    now: DateTime<Utc>,
) -> Result<&'static str> {
    let name = name
        .map(|n| Line::new(n, "the name", 100))
        .transpose()
        .map_err(Error::Invalid)?;
    let wants = subscribers::parse_wants(editions, &project.editions()).map_err(Error::Invalid)?;
    let (mut state, _) = open(project, now)?;
    let now = now.to_rfc3339();
    match state.subscriber(&email.key())? {
        None => {
            let row = Incoming {
                origin: "the command line".into(),
                email: email.key(),
                address: email.to_string(),
                name: name.map(|n| n.to_string()),
                editions: wants.stored(),
                status: SubStatus::Active,
                consent_at: Some(now.clone()),
                hash: token_key(&project.config).hash(email),
            };
            state.add_subscriber(&row, "cli", &now)?;
            Ok("added")
        }
        Some(s) if s.status.is_suppressed() && !resubscribe => Err(Error::Invalid(format!(
            "{email} is {} ({}); add --resubscribe if they asked to come back",
            s.status, s.change_reason
        ))),
        Some(s) if s.status == SubStatus::Active => {
            Err(subscribers_error(format!("{email} is already on the list")))
        }
        Some(s) => {
            let how = if resubscribe {
                "resubscribed by the operator (subscribers add --resubscribe)"
            } else {
                "added back by the operator (subscribers add)"
            };
            state.set_status(&s.email, &s.address, SubStatus::Active, how, &now)?;
            Ok("resubscribed")
        }
    }
}

fn subscribers_error(m: String) -> Error {
    Error::Invalid(m)
}

/// Takes a reader off every edition. Their unsubscribe is kept, so no
/// import brings them back.
pub fn remove(project: &Project, email: &Email, now: DateTime<Utc>) -> Result<()> {
    let (mut state, _) = open(project, now)?;
    let Some(s) = state.subscriber(&email.key())? else {
        return Err(Error::NotFound(format!("{email} is not on the list")));
    };
    state.set_status(
        &s.email,
        &s.address,
        SubStatus::Unsubscribed,
        "removed by the operator (subscribers remove)",
        &now.to_rfc3339(),
    )?;
    Ok(())
}

/// Everything held about one address, for a privacy request.
pub fn show(project: &Project, email: &Email, now: DateTime<Utc>) -> Result<serde_json::Value> {
    let (state, _) = open(project, now)?;
    match state.subscriber(&email.key())? {
        Some(s) => Ok(serde_json::json!({
            "subscriber": s,
            "events": state.events(s.id)?,
            "deliveries": state.deliveries_to(&s.email)?,
            "returned": state.bounces_of(s.id)?,
        })),
        None => {
            let hash = token_key(&project.config).hash(email);
            if state.is_forgotten(&hash)? {
                Ok(serde_json::json!({
                    "forgotten": true,
                    "hash": hash,
                    "note": "all personal data was erased; only this keyed hash is kept, so an import cannot add the address again",
                }))
            } else {
                Err(Error::NotFound(format!("nothing is held about {email}")))
            }
        }
    }
}

/// Erases a reader's personal data and deliveries, keeping a keyed hash
/// so that a later import cannot bring them back. False when unknown.
pub fn forget(project: &Project, email: &Email, now: DateTime<Utc>) -> Result<bool> {
    let (mut state, _) = open(project, now)?;
    let hash = token_key(&project.config).hash(email);
    Ok(state.forget(&email.key(), &hash, &now.to_rfc3339())?)
}

/// The list as CSV (almanac's columns, so it imports back) or JSON.
pub fn export(project: &Project, json: bool, now: DateTime<Utc>) -> Result<Vec<u8>> {
    let mut rows = Vec::new();
    each(project, None, None, now, |l| rows.push(l))?;
    if json {
        return Ok(serde_json::to_vec_pretty(&rows).unwrap_or_default());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| Error::Invalid(format!("cannot write the export: {e}"));
    w.write_record([
        "email",
        "name",
        "editions",
        "subscribed_at",
        "status",
        "source",
        "changed_at",
        "change_reason",
    ])
    .map_err(bad)?;
    for r in &rows {
        w.write_record([
            &r.email,
            &r.name,
            &r.editions,
            &r.subscribed_at,
            r.status.as_str(),
            &r.source,
            &r.changed_at,
            &r.change_reason,
        ])
        .map_err(bad)?;
    }
    w.into_inner()
        .map_err(|e| Error::Invalid(format!("cannot write the export: {e}")))
}

/// An edition filter given on the command line.
pub fn wants(project: &Project, s: &str) -> Result<Wants> {
    subscribers::parse_wants(s, &project.editions()).map_err(Error::Usage)
}
