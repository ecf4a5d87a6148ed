//! How `subscribers check`, `list` and `import` print what they found.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::CmdResult;
use crate::app::subscribers::{ImportReport, Synced};
use crate::app::{self, Project, exit};
use crate::state::SubStatus;

/// At most this many addresses are named in a line; the rest are counted.
const NAMED: usize = 10;

fn names(v: &[String]) -> String {
    let mut s = v.iter().take(NAMED).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > NAMED {
        s.push_str(&format!(" and {} more", v.len() - NAMED));
    }
    s
}

/// The configured CSV's bad rows and what syncing it changed.
fn synced(s: &Option<Synced>) -> usize {
    let Some(s) = s else { return 0 };
    for e in &s.errors {
        eprintln!("{e}");
    }
    if !s.imported.removed.is_empty() {
        eprintln!(
            "note: no longer in {}, so taken off the list: {}",
            s.path.display(),
            names(&s.imported.removed)
        );
    }
    s.errors.len()
}

pub fn check(project: &Project, now: DateTime<Utc>) -> CmdResult {
    let c = app::subscribers::counts(project, now)?;
    let bad = synced(&c.synced);
    let mut editions: Vec<String> = project.editions().iter().map(|e| e.to_string()).collect();
    editions.push("*".into());
    for ed in &editions {
        let parts: Vec<String> = SubStatus::ALL
            .iter()
            .filter_map(|st| c.by.get(&(ed.clone(), *st)).map(|n| format!("{st} {n}")))
            .collect();
        let active =
            c.by.get(&(ed.clone(), SubStatus::Active))
                .copied()
                .unwrap_or(0);
        let label = if ed == "*" { "all" } else { ed.as_str() };
        println!("{label}: {active} subscribers ({})", parts.join(", "));
    }
    if let Some(s) = &c.synced {
        println!("{}: {bad} bad row(s)", s.path.display());
    }
    Ok(if bad == 0 { exit::OK } else { exit::INVALID })
}

pub fn list(
    project: &Project,
    status: Option<SubStatus>,
    edition: Option<&str>,
    json: bool,
    now: DateTime<Utc>,
) -> CmdResult {
    let edition = edition.map(|e| project.edition(e)).transpose()?;
    let mut rows = Vec::new();
    let synced_list = app::subscribers::each(project, status, edition.as_ref(), now, |l| {
        if json {
            rows.push(l);
        } else {
            println!("{}\t{}\t{}\t{}", l.email, l.name, l.editions, l.status);
        }
    })?;
    synced(&synced_list);
    if json {
        super::print_json(&rows);
    }
    Ok(exit::OK)
}

pub fn imported(file: &Path, r: &ImportReport, dry_run: bool, json: bool) -> u8 {
    for e in &r.errors {
        eprintln!("{e}");
    }
    let i = &r.imported;
    if json {
        super::print_json(&serde_json::json!({
            "format": r.format,
            "dry_run": dry_run,
            "imported": i,
            "bad_rows": r.errors,
        }));
    } else {
        let would = if dry_run { "would be " } else { "" };
        println!(
            "{} ({} export){}: {} {would}added, {} {would}updated, {} {would}added back, {} {would}marked as gone, {} unchanged, {} bad row(s)",
            file.display(),
            r.format.name(),
            if dry_run {
                ", dry run: nothing was changed"
            } else {
                ""
            },
            i.added.len(),
            i.updated.len(),
            i.readded.len(),
            i.left.len(),
            i.unchanged,
            r.errors.len()
        );
        if !i.kept.is_empty() {
            let kept: Vec<String> = i.kept.iter().map(|(a, s)| format!("{a} ({s})")).collect();
            println!(
                "  kept as they are, since they left and an import never brings anyone back: {}",
                names(&kept)
            );
        }
        if i.forgotten > 0 {
            println!(
                "  {} address(es) skipped: erased on request (subscribers forget)",
                i.forgotten
            );
        }
    }
    if r.errors.is_empty() {
        exit::OK
    } else {
        exit::INVALID
    }
}
