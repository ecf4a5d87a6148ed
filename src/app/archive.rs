//! The web archive in `out/site/` (see `crate::archive`): every issue is
//! built and linted first; if any has errors nothing is written. The site
//! is swapped in whole, so `almanac serve` never sees half of it.

use std::path::PathBuf;

use super::{Built, Project, Result};
use crate::archive::{self, Page};
use crate::diag::{Problem, Problems};

pub struct Report {
    pub issues: usize,
    pub dir: PathBuf,
    pub warnings: Problems,
}

/// The site folder, shared with `almanac serve`.
pub fn site_dir(project: &Project) -> PathBuf {
    project.config.paths.out.join("site")
}

pub fn publish(project: &Project) -> Result<Report> {
    let mut problems = Problems::default();
    let mut built: Vec<Built> = Vec::new();
    for id in project.issue_ids()? {
        match project.built(Some(id.as_str())) {
            Ok(b) => built.push(b),
            Err(e) => match e.problems() {
                Some(p) => problems.extend(p.clone()),
                None => problems.push(Problem::error(
                    &project.issue_dir(&id),
                    crate::send::chain(&e),
                )),
            },
        }
    }
    for b in &built {
        problems.extend(b.warnings.clone());
    }
    if problems.has_errors() {
        return Err(problems.into());
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
    let files = archive::site(&project.config, &pages)?;
    let dir = site_dir(project);
    crate::fsx::replace_dir(&dir, files)?;
    Ok(Report {
        issues: built.len(),
        dir,
        warnings: problems,
    })
}
