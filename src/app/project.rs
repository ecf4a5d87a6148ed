//! Loading what every use case needs: config, layouts, an issue, and the
//! rendered, linted issue. Problems from all of them are collected so one
//! run shows everything that is wrong.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone};

use super::{Error, Result};
use crate::config::{Config, Env};
use crate::content::{self, Issue};
use crate::diag::{Problem, Problems};
use crate::domain::{EditionId, Email, IssueId, Line};
use crate::layouts::Layouts;
use crate::mail::{self, Recipient};
use crate::render::{self, Rendered, lint};
use crate::state::SubStatus;

#[derive(Clone)]
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

/// The sample recipient of `message.eml` and the preview. Its id names
/// nobody, so its links open a page that says the link is not valid.
pub const SAMPLE_NAME: &str = "Sample Reader";
pub const SAMPLE_ID: i64 = 0;
pub const SAMPLE_EMAIL: &str = "reader@example.com";

/// Whom built files are filled in for: the sample recipient, or a stored
/// subscriber as a send addresses them (`subscribers::reader`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reader {
    /// The subscriber's id, which their tokens name; `SAMPLE_ID` for the sample.
    pub id: i64,
    pub email: Email,
    /// `None` when they gave none: the greeting then uses the fallback.
    pub name: Option<Line>,
    /// Where they stand, `None` for the sample.
    pub status: Option<SubStatus>,
    /// The editions a send of each would reach them with.
    pub editions: Vec<EditionId>,
}

impl Reader {
    pub fn sample() -> Reader {
        Reader {
            id: SAMPLE_ID,
            email: SAMPLE_EMAIL.parse().expect("valid sample address"),
            name: Line::new(SAMPLE_NAME, "the sample name", 100).ok(),
            status: None,
            editions: Vec::new(),
        }
    }

    pub fn is_sample(&self) -> bool {
        self.status.is_none()
    }

    /// Why a send of `edition` would not reach them, if it would not.
    pub fn skipped_by(&self, edition: &EditionId) -> Option<String> {
        match self.status {
            None => None,
            Some(SubStatus::Active) if self.editions.contains(edition) => None,
            Some(SubStatus::Active) => Some(format!("they do not get the {edition} edition")),
            Some(status) => Some(format!("they are {status}")),
        }
    }

    fn recipient(&self) -> Recipient<'_> {
        Recipient {
            id: self.id,
            email: &self.email,
            name: self.name.as_ref().map(Line::as_str),
        }
    }
}

impl Project {
    /// Loads `newsletter.toml` (with the environment's overrides) and the
    /// layouts it points at.
    pub fn load(config_path: &Path, env: &Env) -> Result<Project> {
        if !config_path.exists() {
            return Err(
                Problem::error(config_path, "the configuration file does not exist")
                    .hint("run almanac in the newsletter's folder, or pass --config PATH")
                    .into(),
            );
        }
        let config = Config::load(config_path, env)?;
        let layouts = Layouts::load(&config.paths.layouts)?;
        let project = Project { config, layouts };
        project.check_consistency()?;
        Ok(project)
    }

    /// What only makes sense with both files loaded: every scheduled
    /// edition has a layout.
    fn check_consistency(&self) -> Result<()> {
        let mut problems = Problems::default();
        if let Some(s) = &self.config.schedule {
            for slot in &s.slots {
                if self.layouts.edition(&slot.edition).is_none() {
                    problems.push(self.config.slot_problem(
                        slot,
                        format!(
                            "the schedule sends `{}`, but there is no such edition; known editions are {}",
                            slot.edition,
                            self.layouts.edition_names()
                        ),
                    ));
                }
            }
        }
        problems.into_result(()).map_err(Error::from)
    }

    pub fn editions(&self) -> Vec<EditionId> {
        self.layouts.editions.keys().cloned().collect()
    }

    /// An edition named on the command line, or a usage error.
    pub fn edition(&self, name: &str) -> Result<EditionId> {
        let id: EditionId = name.parse().map_err(Error::Usage)?;
        if self.layouts.edition(&id).is_none() {
            return Err(Error::Usage(format!(
                "unknown edition `{id}`; known editions are {}",
                self.layouts.edition_names()
            )));
        }
        Ok(id)
    }

    pub fn issue_dir(&self, id: &IssueId) -> PathBuf {
        self.config.paths.issues.join(id.as_str())
    }

    /// Every issue id, oldest first.
    pub fn issue_ids(&self) -> Result<Vec<IssueId>> {
        Ok(content::list_issue_ids(&self.config.paths.issues)?)
    }

    /// An issue argument (an id or a folder; the newest when absent).
    pub fn resolve(&self, arg: Option<&str>) -> Result<IssueId> {
        Ok(content::resolve_issue(&self.config.paths.issues, arg)?.0)
    }

    pub fn issue(&self, arg: Option<&str>) -> Result<Issue> {
        let (id, dir) = content::resolve_issue(&self.config.paths.issues, arg)?;
        Ok(content::load_issue(id, &dir, &self.layouts)?)
    }

    /// Renders and lints; lint errors fail, lint warnings are returned.
    pub fn build(&self, issue: Issue) -> Result<Built> {
        let rendered = render::render(&self.config, &self.layouts, &issue)?;
        let html = rendered.html.fill(|f| f.marker());
        let file = self
            .config
            .paths
            .out
            .join(issue.id.as_str())
            .join("email.html");
        let (report, lint_problems) = lint::lint(&file, &html);
        if lint_problems.has_errors() {
            return Err(lint_problems.into());
        }
        let mut problems = issue.warnings.clone();
        problems.extend(rendered.warnings.clone());
        problems.extend(lint_problems);
        Ok(Built {
            issue,
            rendered,
            lint: report,
            warnings: problems,
        })
    }

    /// Loads and builds an issue in one step.
    pub fn built(&self, arg: Option<&str>) -> Result<Built> {
        self.build(self.issue(arg)?)
    }

    /// The files of a build, by name, filled in for the sample recipient.
    pub fn files(&self, built: &Built) -> Vec<(&'static str, Vec<u8>)> {
        self.files_for(built, &Reader::sample())
    }

    /// The files of a build, filled in for `reader` by the personalising
    /// step of a send: their name (or the greeting fallback), their links.
    pub fn files_for(&self, built: &Built, reader: &Reader) -> Vec<(&'static str, Vec<u8>)> {
        let key = mail::token_key(&self.config);
        let prepared = self.prepare(
            &built.issue,
            &built.rendered,
            self.nominal_date(&built.issue),
            false,
        );
        let recipient = reader.recipient();
        let message = prepared.personalise(&recipient, &key);
        let fill = |t, html| prepared.fill(t, html, &recipient, &key).into_bytes();
        vec![
            ("email.html", fill(&built.rendered.html, true)),
            ("email.txt", fill(&built.rendered.text, false)),
            ("web.html", built.rendered.web.clone().into_bytes()),
            ("message.eml", message.bytes),
        ]
    }

    /// The issue's messages, ready to personalise, dated `date`.
    pub fn prepare(
        &self,
        issue: &Issue,
        rendered: &Rendered,
        date: DateTime<FixedOffset>,
        proof: bool,
    ) -> mail::Prepared {
        let edition_name = self
            .layouts
            .edition(&issue.edition)
            .map_or(issue.edition.as_str(), |e| e.name.as_str());
        mail::prepare(&self.config, edition_name, issue, rendered, date, proof)
    }

    /// Problems with the sample message's line lengths, as `check` reports them.
    pub fn message_problems(&self, id: &IssueId, eml: &[u8]) -> Problems {
        let file = self.config.paths.out.join(id.as_str()).join("message.eml");
        let mut problems = Problems::default();
        for (line, len) in mail::long_lines(eml) {
            problems.push(Problem::error(
                &file,
                format!(
                    "line {line} of the message is {len} octets; RFC 5322 allows {}",
                    mail::MAX_LINE
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

    /// The time zone of the schedule (UTC without one).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.config
            .schedule
            .as_ref()
            .map_or(chrono_tz::UTC, |s| s.timezone)
    }
}
