//! `almanac check [ISSUE] [--all]`: validates the config, the layouts and
//! issues, builds each one in memory and lints the result (sizes, tags, CSS,
//! links, images, message line lengths). Prints every problem found.

use std::process::ExitCode;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::content;
use crate::diag::Problems;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder (default: the newest issue).
    pub issue: Option<String>,
    /// Check every issue.
    #[arg(long, conflicts_with = "issue")]
    pub all: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let ids: Vec<Option<String>> = if args.all {
        content::list_issue_ids(&project.config.paths.issues)?
            .into_iter()
            .map(|id| Some(id.to_string()))
            .collect()
    } else {
        vec![args.issue.clone()]
    };
    let mut problems = Problems::default();
    let mut ok = Vec::new();
    for id in &ids {
        match check_one(&project, id.as_deref()) {
            Ok((name, p)) => {
                problems.extend(p);
                ok.push(name);
            }
            Err(Failure::Problems(p)) => problems.extend(p),
            Err(other) => return Err(other),
        }
    }
    if !problems.is_empty() {
        eprint!("{}", problems.render(super::fancy()));
    }
    for name in &ok {
        println!("ok: {name}");
    }
    println!("{}", super::summary(&problems));
    Ok(ExitCode::from(if problems.has_errors() {
        exit::INVALID
    } else {
        exit::OK
    }))
}

/// Checks one issue: returns its summary line and its warnings.
fn check_one(project: &Project, id: Option<&str>) -> Result<(String, Problems), Failure> {
    let issue = project.issue(id)?;
    let built = project.build(issue)?;
    let mut problems = built.warnings.clone();
    let eml = super::build::files(project, &built)
        .into_iter()
        .find(|(n, _)| *n == "message.eml")
        .map(|(_, b)| b)
        .unwrap_or_default();
    problems.extend(project.message_problems(&built.issue.id, &eml));
    let news = crate::render::select_news(
        &built.issue.news,
        project
            .layouts
            .edition(&built.issue.edition)
            .expect("checked on load"),
    );
    let name = format!(
        "{} ({}, {} of {} news items, html {:.1} KB of {} KB, style {:.1} KB of {} KB, {} links, {} images)",
        built.issue.id,
        built.issue.edition,
        news.len(),
        built.issue.news.len(),
        built.lint.html_bytes as f64 / 1000.0,
        crate::render::lint::GMAIL_CLIP_BYTES / 1000,
        built.lint.style_bytes as f64 / 1000.0,
        crate::render::lint::GMAIL_STYLE_BYTES / 1024,
        built.lint.links,
        built.lint.images,
    );
    if problems.has_errors() {
        return Err(problems.into());
    }
    Ok((name, problems))
}
