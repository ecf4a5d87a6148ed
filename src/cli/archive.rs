//! `almanac archive`: writes the web archive to out/site/ (see `crate::archive`).
//! Every issue is built and linted first; if any has errors nothing is
//! written. The site is written to a temporary folder and swapped in whole,
//! so `almanac serve` never sees half of it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::project::{Built, Project};
use super::{Cli, CmdResult, Failure, exit};
use crate::archive::{self, Page};
use crate::content;
use crate::diag::{Problem, Problems};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The site folder, shared with `almanac serve`.
pub fn site_dir(project: &Project) -> PathBuf {
    project.config.paths.out.join("site")
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let start = Instant::now();
    let project = Project::load(cli)?;
    let ids = content::list_issue_ids(&project.config.paths.issues)?;
    let mut problems = Problems::default();
    let mut built: Vec<Built> = Vec::new();
    for id in &ids {
        let result = project
            .issue(Some(id.as_str()))
            .and_then(|issue| project.build(issue));
        match result {
            Ok(b) => built.push(b),
            Err(Failure::Problems(p)) => problems.extend(p),
            Err(Failure::Message(m, _)) => problems.push(Problem::error(
                &project.config.paths.issues.join(id.as_str()),
                m,
            )),
        }
    }
    for b in &built {
        problems.extend(b.warnings.clone());
    }
    if problems.has_errors() {
        return Err(problems.into());
    }
    if !problems.is_empty() {
        eprint!("{}", problems.render(super::fancy()));
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
    let files =
        archive::site(&project.config, &pages).map_err(|m| Failure::Message(m, exit::INVALID))?;
    let dir = site_dir(&project);
    write(&project.config.paths.out, &dir, &files)?;
    if !args.quiet {
        println!(
            "archived {} issue{} → {} (index.html, feed.xml) in {} ms",
            built.len(),
            if built.len() == 1 { "" } else { "s" },
            dir.display(),
            start.elapsed().as_millis()
        );
    }
    Ok(ExitCode::from(exit::OK))
}

/// Writes the files to `out/.site.tmp-PID`, then swaps it for `dir`: the old
/// site is renamed aside first, so it is missing only between two renames.
fn write(out: &Path, dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), Failure> {
    let pid = std::process::id();
    let tmp = out.join(format!(".site.tmp-{pid}"));
    let old = out.join(format!(".site.old-{pid}"));
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Failure::Message(format!("cannot {what} {}: {e}", p.display()), exit::INVALID)
    };
    let _ = std::fs::remove_dir_all(&tmp);
    let fill = || -> Result<(), Failure> {
        std::fs::create_dir_all(&tmp).map_err(|e| io("create", &tmp, e))?;
        for (rel, bytes) in files {
            let path = tmp.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| io("write", &path, e))?;
        }
        Ok(())
    };
    if let Err(e) = fill() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&old);
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            io("replace", dir, e)
        })?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io("move the archive into", dir, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}
