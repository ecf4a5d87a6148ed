//! `almanac preview [ISSUE] [--port P] [--open]`: serves every issue on
//! 127.0.0.1 as it will be sent, reloading when a file is saved (see
//! `crate::preview`).

use std::path::Path;

use super::{Cli, CmdResult};
use crate::app::{Error, Project, exit};
use crate::config::Env;
use crate::domain::IssueId;
use crate::preview::{self, Live};

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
    let issue = match Project::load(&source.config, &source.env) {
        Ok(project) => args
            .issue
            .as_deref()
            .map(|a| project.resolve(Some(a)))
            .transpose()?,
        Err(e) if source.config.exists() && e.problems().is_some() => {
            super::print_problems(e.problems().expect("checked"));
            eprintln!("preview: serving anyway; the page shows these until they are fixed");
            args.issue.as_deref().map(issue_id).transpose()?
        }
        Err(e) => return Err(e),
    };
    let options = preview::Options {
        port: args.port,
        issue,
        open: args.open,
    };
    preview::run(options, source)?;
    Ok(exit::OK)
}

/// An issue argument when the project does not load: its last path
/// component must still be a valid id.
fn issue_id(arg: &str) -> Result<IssueId, Error> {
    let name = Path::new(arg.trim_end_matches('/'))
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(arg);
    name.parse().map_err(Error::Usage)
}
