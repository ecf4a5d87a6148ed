//! The project on disk as the preview's `Source`: loaded afresh for every
//! render, through the same calls `build` and `check` make, so what is
//! previewed is what is sent.

use std::path::{Path, PathBuf};

use super::{Snapshot, Source, Watched};
use crate::app::lifecycle::IssueState;
use crate::app::subscribers::Listed;
use crate::app::{Error, Project, Reader};
use crate::config::Env;
use crate::diag::Problems;
use crate::domain::IssueId;

/// How many subscribers the reader picker offers; any other address can
/// still be typed in.
const READERS_OFFERED: usize = 50;

pub struct Live {
    pub config: PathBuf,
    pub env: Env,
}

impl Live {
    fn project(&self) -> Result<Project, Error> {
        Project::load(&self.config, &self.env)
    }
}

impl Source for Live {
    fn issues(&self) -> Result<Vec<IssueId>, Error> {
        self.project()?.issue_ids()
    }

    fn overview(&self) -> Result<Vec<IssueState>, Error> {
        let project = self.project()?;
        crate::app::lifecycle::all(&project, crate::clock::now(), usize::MAX)
    }

    fn render(&self, id: &IssueId, reader: &Reader) -> Result<Snapshot, Error> {
        let project = self.project()?;
        let built = project.built(Some(id.as_str()))?;
        let mut files = project.files_for(&built, reader);
        let mut take = |name: &str| {
            files
                .iter_mut()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| std::mem::take(b))
                .unwrap_or_default()
        };
        let utf8 = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        let email_html = utf8(take("email.html"));
        let email_txt = utf8(take("email.txt"));
        let web_html = utf8(take("web.html"));
        let message_eml = take("message.eml");
        let long_lines = project.message_problems(id, &message_eml);
        if long_lines.has_errors() {
            return Err(long_lines.into());
        }
        let from = &project.config.newsletter.from;
        Ok(Snapshot {
            edition: built.issue.edition.clone(),
            subject: built.issue.subject.as_str().to_owned(),
            preheader: built.issue.preheader.as_str().to_owned(),
            from: match &from.name {
                Some(name) => format!("{} <{}>", name.as_str(), from.email),
                None => from.email.to_string(),
            },
            email_html,
            email_txt,
            web_html,
            message_eml,
            lint: built.lint,
            warnings: built.warnings,
        })
    }

    fn reader(&self, address: &str) -> Result<Reader, Error> {
        let project = self.project()?;
        crate::app::subscribers::reader(&project, address)
    }

    fn readers(&self) -> Result<Vec<Listed>, Error> {
        let project = self.project()?;
        crate::app::subscribers::first(&project, READERS_OFFERED, crate::clock::now())
    }

    fn watched(&self) -> Watched {
        let (issues, layouts) = match Project::load(&self.config, &self.env) {
            Ok(p) => (p.config.paths.issues, p.config.paths.layouts),
            // Until the config loads again, watch where the defaults point.
            Err(_) => {
                let root = self.config.parent().unwrap_or(Path::new(""));
                (root.join("issues"), root.join("layouts"))
            }
        };
        Watched {
            config: self.config.clone(),
            dirs: vec![issues, layouts],
        }
    }
}

/// An error as the page shows it: `check`'s plain one-line-per-problem form.
pub fn text(e: &Error) -> String {
    match e.problems() {
        Some(p) => Problems::render(p, false),
        None => format!("error: {}\n", crate::send::chain(e)),
    }
}
