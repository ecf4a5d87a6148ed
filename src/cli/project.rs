//! Loading what every command needs: config, layouts, an issue, and the
//! rendered, linted issue. Problems from all of them are collected so one
//! run shows everything that is wrong.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone};

use super::{Cli, Failure};
use crate::config::{Config, Env};
use crate::content::{self, Issue};
use crate::diag::{Problem, Problems};
use crate::layouts::Layouts;
use crate::render::{self, Rendered, lint};

pub struct Project {
    pub config: Config,
    pub layouts: Layouts,
}

/// An issue rendered and linted: what `build`, `check`, `preview` and
/// `send` all start from.
pub struct Built {
    pub issue: Issue,
    pub rendered: Rendered,
    pub lint: lint::Report,
    pub warnings: Problems,
}

impl Project {
    pub fn load(cli: &Cli) -> Result<Project, Failure> {
        Self::load_from(&cli.config, &Env::from_process())
    }

    pub fn load_from(config_path: &Path, env: &Env) -> Result<Project, Failure> {
        if !config_path.exists() {
            return Err(
                Problem::error(config_path, "the configuration file does not exist")
                    .hint("run almanac in the newsletter's folder, or pass --config PATH")
                    .into(),
            );
        }
        let config = Config::load(config_path, env);
        let layouts = match &config {
            Ok(c) => Some(Layouts::load(&c.paths.layouts)),
            Err(_) => None,
        };
        match (config, layouts) {
            (Ok(config), Some(Ok(layouts))) => Ok(Project { config, layouts }),
            (Err(p), _) => Err(p.into()),
            (_, Some(Err(p))) => Err(p.into()),
            (Ok(_), None) => unreachable!("layouts are loaded whenever the config is"),
        }
    }

    pub fn issue(&self, arg: Option<&str>) -> Result<Issue, Failure> {
        let (id, dir) = content::resolve_issue(&self.config.paths.issues, arg)?;
        Ok(content::load_issue(id, &dir, &self.layouts)?)
    }

    /// Renders and lints; lint errors fail, lint warnings are returned.
    pub fn build(&self, issue: Issue) -> Result<Built, Failure> {
        let rendered = render::render(&self.config, &self.layouts, &issue)?;
        let html = rendered.html.fill(|f| f.marker());
        let file = self
            .config
            .paths
            .out
            .join(issue.id.as_str())
            .join("email.html");
        let (report, problems) = lint::lint(&file, &html);
        if problems.has_errors() {
            return Err(problems.into());
        }
        Ok(Built {
            issue,
            rendered,
            lint: report,
            warnings: problems,
        })
    }

    /// Problems with the sample message's line lengths, as `check` reports them.
    pub fn message_problems(&self, id: &crate::domain::IssueId, eml: &[u8]) -> Problems {
        let file = self.config.paths.out.join(id.as_str()).join("message.eml");
        let mut problems = Problems::default();
        for (line, len) in crate::mail::long_lines(eml) {
            problems.push(Problem::error(
                &file,
                format!(
                    "line {line} of the message is {len} octets; RFC 5322 allows {}",
                    crate::mail::MAX_LINE
                ),
            ));
        }
        problems
    }

    /// The Date of a built (not sent) message: the edition's scheduled time
    /// on the issue date when there is a schedule, else midnight UTC; fixed,
    /// so building twice gives the same bytes.
    pub fn nominal_date(&self, issue: &Issue) -> DateTime<FixedOffset> {
        let utc_midnight = || {
            issue
                .date
                .0
                .and_time(NaiveTime::MIN)
                .and_utc()
                .fixed_offset()
        };
        let Some(s) = &self.config.schedule else {
            return utc_midnight();
        };
        let Some(slot) = s.slots.iter().find(|sl| sl.edition == issue.edition) else {
            return utc_midnight();
        };
        s.timezone
            .from_local_datetime(&issue.date.0.and_time(slot.time))
            .earliest()
            .map(|d| d.fixed_offset())
            .unwrap_or_else(utc_midnight)
    }
}
