//! Checking issues: the config, the layouts and each issue, built in memory
//! and linted (sizes, tags, CSS, links, images, message line lengths).

use super::{Error, Project, Result};
use crate::diag::Problems;
use crate::render::lint::{GMAIL_CLIP_BYTES, GMAIL_STYLE_BYTES};

/// Every problem found, and a summary line per issue that passed.
#[derive(Default)]
pub struct Report {
    pub ok: Vec<String>,
    pub problems: Problems,
}

/// Checks one issue (`arg`, or the newest) or, with `all`, every issue.
pub fn check(project: &Project, arg: Option<&str>, all: bool) -> Result<Report> {
    let ids: Vec<Option<String>> = if all {
        project
            .issue_ids()?
            .into_iter()
            .map(|id| Some(id.to_string()))
            .collect()
    } else {
        vec![arg.map(str::to_owned)]
    };
    let mut report = Report::default();
    for p in project.config.placeholders() {
        report.problems.push(
            crate::diag::Problem::warning(&project.config.file, p)
                .hint("fine for previews and the outbox; a send over SMTP refuses to go out until it is fixed"),
        );
    }
    let history = History::read(project);
    for (edition, span) in &project.config.news.roundup {
        if project.layouts.edition(edition).is_none() {
            report.problems.push(
                crate::diag::Problem::warning(
                    &project.config.file,
                    format!("`roundup` names `{edition}`, which is not an edition"),
                )
                .at(&project.config.source, span.clone())
                .hint(format!(
                    "known editions are {}",
                    project.layouts.edition_names()
                )),
            );
        }
    }
    // The themes are data, checked before any issue is built: a colour
    // that fails does so in every issue of its edition.
    report.problems.extend(crate::render::contrast::check_all(
        &project.config,
        &project.layouts,
    ));
    for id in &ids {
        report
            .problems
            .extend(history.problems(project, id.as_deref()));
        match check_one(project, id.as_deref()) {
            Ok((line, p)) => {
                report.problems.extend(p);
                report.ok.push(line);
            }
            Err(e) => match e.problems() {
                Some(p) => report.problems.extend(p.clone()),
                None => return Err(e),
            },
        }
    }
    Ok(report)
}

/// Every issue's links, read once for the checks across issues.
struct History(Vec<crate::content::links::IssueLinks>);

impl History {
    fn read(project: &Project) -> History {
        // No issues folder is `check_one`'s error to report, with its hint.
        let ids = project.issue_ids().unwrap_or_default();
        History(crate::content::links::all(
            &project.config.paths.issues,
            &ids,
        ))
    }

    /// An issue's links against every issue before it (ids sort by date).
    fn problems(&self, project: &Project, arg: Option<&str>) -> Problems {
        let Ok(id) = project.resolve(arg) else {
            return Problems::default();
        };
        let Some(at) = self.0.iter().position(|i| i.id == id) else {
            return Problems::default();
        };
        let this = &self.0[at];
        let news = &project.config.news;
        let roundup = this.edition.as_deref().is_some_and(|e| news.is_roundup(e));
        Problems(crate::content::links::history(
            this,
            &self.0[..at],
            news.max_age,
            roundup,
        ))
    }
}

/// Checks one issue: returns its summary line and its warnings.
fn check_one(project: &Project, id: Option<&str>) -> Result<(String, Problems)> {
    let built = project.built(id)?;
    let mut problems = built.warnings.clone();
    let eml = project
        .files(&built)
        .into_iter()
        .find(|(n, _)| *n == "message.eml")
        .map(|(_, b)| b)
        .unwrap_or_default();
    problems.extend(project.message_problems(&built.issue.id, &eml));
    let edition = project
        .layouts
        .edition(&built.issue.edition)
        .expect("checked on load");
    let news = crate::render::select_news(&built.issue.news, edition);
    let line = format!(
        "{} ({}, {} of {} news items, html {:.1} KB of {} KB, style {:.1} KB of {} KB, {} links, {} images)",
        built.issue.id,
        built.issue.edition,
        news.len(),
        built.issue.news.len(),
        built.lint.html_bytes as f64 / 1000.0,
        GMAIL_CLIP_BYTES / 1000,
        built.lint.style_bytes as f64 / 1000.0,
        GMAIL_STYLE_BYTES / 1024,
        built.lint.links,
        built.lint.images,
    );
    if problems.has_errors() {
        return Err(Error::Problems(problems));
    }
    Ok((line, problems))
}
