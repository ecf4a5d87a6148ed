//! The web archive in `out/site/` (see `crate::archive`): the issues that
//! went out over SMTP, or that the editor published, newest first. A draft
//! or an issue that does not build is skipped with a warning and never
//! blocks the others. The site is swapped in whole, so `almanac serve`
//! never sees half of it.

use std::path::PathBuf;

use super::{Built, Project, Result};
use crate::archive::{self, Page};
use crate::diag::{Problem, Problems};
use crate::domain::IssueId;
use crate::state::{Mark, State};

pub struct Report {
    /// Issues in the archive.
    pub issues: usize,
    /// Issues left out because they have not gone out yet.
    pub unsent: usize,
    pub dir: PathBuf,
    pub warnings: Problems,
}

/// The site folder, shared with `almanac serve`.
pub fn site_dir(project: &Project) -> PathBuf {
    project.config.paths.out.join("site")
}

/// Whether an issue belongs in the archive.
fn is_public(state: &State, id: &IssueId) -> Result<bool> {
    Ok(state.counts(id.as_str())?.sent > 0
        || matches!(state.mark_of(id.as_str())?, Some((Mark::Published, _))))
}

pub fn publish(project: &Project) -> Result<Report> {
    let state = State::open(&project.config.paths.state)?;
    let dir = site_dir(project);
    let mut warnings = Problems::default();
    let mut built: Vec<Built> = Vec::new();
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    let mut unsent = 0;
    for id in project.issue_ids()? {
        if !is_public(&state, &id)? {
            unsent += 1;
            continue;
        }
        let folder = project.issue_dir(&id);
        match project.built(Some(id.as_str())) {
            Ok(b) if b.issue.draft => warnings.push(Problem::warning(
                &folder.join("issue.toml"),
                format!("{id} is marked draft = true; it was left out of the archive"),
            )),
            Ok(b) => built.push(b),
            Err(e) => {
                let errors = e.problems().map_or(1, Problems::errors);
                // Its old page stays, so links in mail already sent still work.
                let page = format!("{id}/index.html");
                let old = std::fs::read(dir.join(&page)).ok();
                warnings.push(Problem::warning(
                    &folder,
                    format!(
                        "{id} does not build ({errors} errors; see `almanac check {id}`); {}",
                        if old.is_some() {
                            "its page from the last archive was kept, but it is not in the index or feed"
                        } else {
                            "it was left out of the archive"
                        }
                    ),
                ));
                kept.extend(old.map(|bytes| (page, bytes)));
            }
        }
    }
    for b in &built {
        warnings.extend(b.warnings.clone());
    }
    let pages: Vec<Page<'_>> = built
        .iter()
        .map(|b| Page {
            issue: &b.issue,
            web: &b.rendered.web,
            edition_name: project
                .layouts
                .edition(&b.issue.edition)
                .map_or(b.issue.edition.as_str(), |e| e.name.as_str()),
        })
        .collect();
    let mut files = archive::site(&project.config, &pages)?;
    files.extend(kept);
    crate::fsx::replace_dir(&dir, files)?;
    Ok(Report {
        issues: built.len(),
        unsent,
        dir,
        warnings,
    })
}
