//! `almanac build [ISSUE]`: writes out/<issue>/ with the email HTML, the
//! plain text, the web page and a complete sample message. Files are written
//! to a temporary folder that replaces the old one only when all are done, so
//! a failed build never leaves output that looks complete.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::project::{Built, Project};
use super::{Cli, CmdResult, Failure, exit};
use crate::domain::Email;
use crate::mail::{self, Recipient};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Issue id or folder (default: the newest issue).
    pub issue: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The sample recipient of `message.eml`.
pub const SAMPLE_NAME: &str = "Sample Reader";
pub const SAMPLE_EMAIL: &str = "reader@example.com";

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let start = Instant::now();
    let project = Project::load(cli)?;
    let issue = project.issue(args.issue.as_deref())?;
    let built = project.build(issue)?;
    let dir = write(&project, &built)?;
    if !built.warnings.is_empty() {
        eprint!("{}", built.warnings.render(super::fancy()));
    }
    if !args.quiet {
        println!(
            "built {} → {} (html {:.1} KB, style {:.1} KB, {} links) in {} ms",
            built.issue.id,
            dir.display(),
            built.lint.html_bytes as f64 / 1000.0,
            built.lint.style_bytes as f64 / 1000.0,
            built.lint.links,
            start.elapsed().as_millis()
        );
    }
    Ok(ExitCode::from(exit::OK))
}

/// The files of a build, by name.
pub fn files(project: &Project, built: &Built) -> Vec<(&'static str, Vec<u8>)> {
    let email: Email = SAMPLE_EMAIL.parse().expect("valid sample address");
    let key = mail::token_key(&project.config);
    let prepared = mail::prepare(
        &project.config,
        &built.issue,
        &built.rendered,
        project.nominal_date(&built.issue),
        false,
    );
    let recipient = Recipient {
        email: &email,
        name: Some(SAMPLE_NAME),
    };
    let message = prepared.personalise(&recipient, &key);
    let unsubscribe = prepared.unsubscribe_link(&key, &email);
    let fill = |f: crate::render::Field, html: bool| {
        let v = match f {
            crate::render::Field::Name => SAMPLE_NAME.to_string(),
            crate::render::Field::Email => SAMPLE_EMAIL.to_string(),
            crate::render::Field::UnsubscribeUrl => unsubscribe.clone(),
        };
        if html {
            crate::render::personal::html_escape(&v)
        } else {
            v
        }
    };
    vec![
        (
            "email.html",
            built.rendered.html.fill(|f| fill(f, true)).into_bytes(),
        ),
        (
            "email.txt",
            built.rendered.text.fill(|f| fill(f, false)).into_bytes(),
        ),
        ("web.html", built.rendered.web.clone().into_bytes()),
        ("message.eml", message.bytes),
    ]
}

fn write(project: &Project, built: &Built) -> Result<PathBuf, Failure> {
    let out = &project.config.paths.out;
    let dir = out.join(built.issue.id.as_str());
    let tmp = out.join(format!(".{}.tmp-{}", built.issue.id, std::process::id()));
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Failure::Message(format!("cannot {what} {}: {e}", p.display()), exit::INVALID)
    };
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io("create", &tmp, e))?;
    for (name, bytes) in files(project, built) {
        let path = tmp.join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(io("write", &path, e));
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| io("replace", &dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| io("move the build into", &dir, e))?;
    Ok(dir)
}
