//! `almanac preview [ISSUE] [--port P] [--open]`: serves every issue on
//! 127.0.0.1 as it will be sent, and reloads the open page when a file
//! under `issues/`, `layouts/` or `newsletter.toml` is saved. The server is
//! in `crate::preview`; this file gives it content through the same calls
//! `build` and `check` make, so what is previewed is what is sent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::config::Env;
use crate::content;
use crate::diag::Problems;
use crate::domain::IssueId;
use crate::preview::{self, Snapshot, Watched};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder whose page URL is printed (and opened) besides the index.
    pub issue: Option<String>,
    /// Port on 127.0.0.1; 0 picks a free one. A fixed default lets a page
    /// left open reconnect after a restart.
    #[arg(long, default_value_t = 4747)]
    pub port: u16,
    /// Open the page in the desktop's browser (xdg-open).
    #[arg(long)]
    pub open: bool,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let source = Live {
        config: cli.config.clone(),
        env: Env::from_process(),
    };
    // A missing config means the wrong folder: say so now. Any other
    // problem is shown on the page, and fixing it there is the point.
    let issue = match Project::load_from(&source.config, &source.env) {
        Ok(project) => match &args.issue {
            Some(arg) => Some(content::resolve_issue(&project.config.paths.issues, Some(arg))?.0),
            None => None,
        },
        Err(Failure::Problems(p)) if source.config.exists() => {
            eprint!("{}", p.render(super::fancy()));
            eprintln!("preview: serving anyway; the page shows these until they are fixed");
            args.issue.as_deref().map(issue_id).transpose()?
        }
        Err(other) => return Err(other),
    };
    let options = preview::Options {
        port: args.port,
        issue,
        open: args.open,
    };
    preview::run(options, source).map_err(|m| Failure::Message(m, exit::INVALID))?;
    Ok(ExitCode::from(exit::OK))
}

/// An issue argument when the project does not load: its last path
/// component must still be a valid id.
fn issue_id(arg: &str) -> Result<IssueId, Failure> {
    let name = Path::new(arg.trim_end_matches('/'))
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(arg);
    name.parse()
        .map_err(|e: String| Failure::Message(e, exit::USAGE))
}

/// The project on disk, loaded afresh for every render.
struct Live {
    config: PathBuf,
    env: Env,
}

impl Live {
    fn project(&self) -> Result<Project, String> {
        Project::load_from(&self.config, &self.env).map_err(text)
    }
}

impl preview::Source for Live {
    fn issues(&self) -> Result<Vec<IssueId>, String> {
        let project = self.project()?;
        content::list_issue_ids(&project.config.paths.issues)
            .map_err(|p| Problems::from(p).render(false))
    }

    fn render(&self, id: &IssueId) -> Result<Snapshot, String> {
        let project = self.project()?;
        let issue = project.issue(Some(id.as_str())).map_err(text)?;
        let built = project.build(issue).map_err(text)?;
        let mut files = super::build::files(&project, &built);
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
            return Err(long_lines.render(false));
        }
        let from = &project.config.newsletter.from;
        Ok(Snapshot {
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

    fn watched(&self) -> Watched {
        let (issues, layouts) = match Project::load_from(&self.config, &self.env) {
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

/// A failure as the page shows it: `check`'s plain one-line-per-problem form.
fn text(f: Failure) -> String {
    match f {
        Failure::Problems(p) => p.render(false),
        Failure::Message(m, _) => format!("error: {m}\n"),
    }
}
