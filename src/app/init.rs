//! `almanac init`: a new newsletter folder, ready for `new`, `preview` and
//! an outbox send: a commented `newsletter.toml`, a `.gitignore` for what
//! must stay out of git, a first draft issue, and (on request) the layout
//! files to customise. The look otherwise comes from the embedded
//! defaults, so a newsletter starts with three files. Nothing is ever
//! overwritten.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Error, Project, Result};
use crate::domain::{Line, Mailbox};
use crate::fsx::Context;

/// What to create.
pub struct Init {
    pub dir: PathBuf,
    pub name: Option<String>,
    pub from: Option<String>,
    pub timezone: Option<String>,
    /// Write `layouts/` (the embedded stylesheet and editions).
    pub layouts: bool,
}

/// What was created.
pub struct Created {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The first draft's id.
    pub issue: String,
    /// Things to do before a real send.
    pub todo: Vec<String>,
}

/// Lines every newsletter folder's `.gitignore` needs: the state database
/// (addresses, consent), built output, real subscriber files and keys.
const GITIGNORE: &[&str] = &["/state/", "/out/", "/subscribers.csv", "*.pem", ".env"];

pub fn init(opts: &Init, now: DateTime<Utc>) -> Result<Created> {
    let dir = &opts.dir;
    let config_path = dir.join("newsletter.toml");
    let mut clashes: Vec<PathBuf> = vec![config_path.clone()];
    if opts.layouts {
        clashes.push(dir.join("layouts"));
    }
    let clashes: Vec<String> = clashes
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !clashes.is_empty() {
        return Err(Error::Usage(format!(
            "{} already exist{}; almanac init never overwrites (pick an empty folder: `almanac init my-letter`)",
            clashes.join(", "),
            if clashes.len() == 1 { "s" } else { "" }
        )));
    }
    let issues = dir.join("issues");
    if issues.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Usage(format!(
            "{} is not empty; almanac init never overwrites",
            issues.display()
        )));
    }
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => default_name(dir),
    };
    let name = Line::new(&name, "the newsletter's name", 80).map_err(Error::Usage)?;
    let mut todo = Vec::new();
    let from = match &opts.from {
        Some(f) => f.parse::<Mailbox>().map_err(|e| {
            Error::Usage(format!(
                "--from `{f}`: {e} (e.g. --from \"The Letter <letters@yourdomain.org>\")"
            ))
        })?,
        None => {
            todo.push("set `from` (and `reply_to`) to your own sending address".into());
            format!("{name} <letters@example.com>")
                .parse::<Mailbox>()
                .map_err(Error::Usage)?
        }
    };
    let timezone = match &opts.timezone {
        Some(tz) => tz
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                Error::Usage(format!(
                    "--timezone `{tz}` is not an IANA time zone (e.g. Europe/London, America/New_York)"
                ))
            })?
            .name()
            .to_owned(),
        None => system_timezone(),
    };
    todo.push(
        "write your postal address (`postal_address`): the law requires it in bulk mail".into(),
    );
    todo.push("point `[links]` at where `almanac serve` and the archive will live (https)".into());
    std::fs::create_dir_all(dir).at("create", dir)?;
    let mut files = Vec::new();
    crate::fsx::write_file(
        &config_path,
        config_template(name.as_str(), &from, &timezone).as_bytes(),
    )?;
    files.push(config_path.clone());
    files.push(gitignore(dir)?);
    if opts.layouts {
        for (rel, text) in crate::layouts::default_files() {
            let path = dir.join("layouts").join(rel);
            crate::fsx::write_file(&path, text.as_bytes())?;
            files.push(path);
        }
    }
    let project = Project::load(&config_path, &crate::config::Env::from_process())?;
    let edition = first_edition(&project, now);
    let created = super::new::scaffold(&project, &edition, None, now)?;
    files.push(created.dir.join("issue.toml"));
    files.push(created.dir.join("guide.md"));
    Ok(Created {
        dir: dir.clone(),
        files,
        issue: created.id,
        todo,
    })
}

/// "my-letter" → "My Letter".
fn default_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .or_else(|| Some(dir.to_path_buf()))
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let words: Vec<String> = base
        .split(['-', '_', ' ', '.'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect();
    if words.is_empty() {
        "My Newsletter".into()
    } else {
        words.join(" ")
    }
}

/// The machine's IANA zone, or UTC when it can't be told.
fn system_timezone() -> String {
    iana_time_zone::get_timezone()
        .ok()
        .filter(|tz| tz.parse::<chrono_tz::Tz>().is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// Adds the lines a newsletter folder needs to `.gitignore`, keeping what
/// is there.
fn gitignore(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(".gitignore");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    let missing: Vec<&str> = GITIGNORE
        .iter()
        .copied()
        .filter(|l| !have.lines().any(|h| h.trim() == *l))
        .collect();
    if !missing.is_empty() {
        let mut text = have.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        if text.is_empty() {
            text.push_str("# The state database holds addresses and consent: never commit it.\n");
        }
        for l in missing {
            text.push_str(l);
            text.push('\n');
        }
        crate::fsx::write_file(&path, text.as_bytes())?;
    }
    Ok(path)
}

/// The edition whose next send comes first.
fn first_edition(project: &Project, now: DateTime<Utc>) -> String {
    let Some(s) = &project.config.schedule else {
        return "midweek".into();
    };
    s.slots
        .iter()
        .filter_map(|sl| crate::schedule::next(s.timezone, sl, now).map(|o| (o.at, sl)))
        .min_by_key(|(at, _)| *at)
        .map_or_else(|| "midweek".into(), |(_, sl)| sl.edition.to_string())
}

fn config_template(name: &str, from: &Mailbox, timezone: &str) -> String {
    let domain = from.email.domain();
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"# {name}: almanac's settings. The README's configuration reference
# explains every key. Secrets never go here: they come from the environment
# (ALMANAC_SMTP_PASSWORD, ALMANAC_UNSUBSCRIBE_SECRET, ...).

[newsletter]
name = "{name_q}"
tagline = "A twice-weekly letter."
from = "{from_q}"
# reply_to = "The editors <editors@{domain}>"
# Bulk mail must carry the sender's postal address (CAN-SPAM, and most
# countries' rules).
postal_address = "{postal}"
why = "You are receiving this because you subscribed to {name_q}."
language = "en"

[links]
# Where the web archive will be served (almanac archive, almanac serve).
archive = "https://{domain}/issues/"
# almanac serve's one-click unsubscribe endpoint, behind your TLS proxy; the
# subscribe, confirm and manage pages sit beside it.
unsubscribe = "https://{domain}/unsubscribe"
unsubscribe_mailto = "unsubscribe@{domain}"

[schedule]
timezone = "{timezone}"
# How late a missed send may still go out (e.g. the machine was off).
grace = "6h"

[[schedule.send]]
edition = "midweek"
weekday = "Wednesday"
time = "07:00"

[[schedule.send]]
edition = "sunday"
weekday = "Sunday"
time = "07:00"

[send]
connections = 4

# Subscribers live in the state database: `almanac subscribers add` or
# `almanac subscribers import FILE` (a CSV or another tool's export).

# No [smtp] yet: `almanac send ISSUE --outbox` writes every message to
# out/outbox/ instead. To send for real, set ALMANAC_SMTP_URL or add:
# [smtp]
# url = "smtp://letters%40{domain}@smtp.{domain}:587?tls=required"

# Bounces come back to a mailbox of their own (see the README):
# [bounces]
# address = "bounces@{domain}"
"#,
        name_q = quoted(name),
        from_q = quoted(&from.to_string()),
        postal = crate::config::INIT_POSTAL_ADDRESS,
    )
}
