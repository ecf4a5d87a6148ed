//! An issue's life, computed in one place from the files, the schedule and
//! the journal: draft → ready → (due) → sending → sent, or skipped. What
//! `status`, the preview, the archive and the send checks all show.

use chrono::{DateTime, Utc};

use super::{Project, Result};
use crate::content::Issue;
use crate::domain::IssueId;
use crate::schedule;
use crate::state::{Mark, State};

/// Where an issue is in its life.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// The files do not load or build.
    Broken {
        errors: usize,
    },
    Draft,
    /// Ready, with no scheduled slot ahead or open.
    Ready,
    /// Ready, and its slot is ahead: `at` in the schedule's time zone.
    Due {
        at: String,
    },
    /// Ready, its slot has come and the grace window is open.
    DueNow,
    /// Past the grace window and unsent.
    Missed,
    /// A run is going on now.
    Sending,
    /// A run started and never finished (a crash, a kill).
    Interrupted,
    /// Delivered over SMTP to some, not (yet) to all.
    PartlySent,
    Sent,
    /// Not to be sent: skipped by the editor, or missed and recorded.
    Skipped {
        why: String,
    },
}

impl Stage {
    pub fn label(&self) -> String {
        match self {
            Stage::Broken { errors } => format!("does not build ({errors} errors)"),
            Stage::Draft => "draft".into(),
            Stage::Ready => "ready".into(),
            Stage::Due { at } => format!("ready, due {at}"),
            Stage::DueNow => "due now".into(),
            Stage::Missed => "missed".into(),
            Stage::Sending => "sending".into(),
            Stage::Interrupted => "interrupted (run `almanac send` again to finish)".into(),
            Stage::PartlySent => "partly sent".into(),
            Stage::Sent => "sent".into(),
            Stage::Skipped { why } => format!("skipped ({why})"),
        }
    }
}

/// One issue's state and its delivery counts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssueState {
    pub issue: String,
    pub edition: Option<String>,
    pub date: Option<String>,
    pub subject: Option<String>,
    #[serde(flatten)]
    pub stage: Stage,
    pub label: String,
    /// Everyone who should get it now: subscribers of the edition, minus
    /// suppressed addresses (plus whoever already got it).
    pub recipients: u64,
    /// Delivered over SMTP.
    pub sent: u64,
    pub failed: u64,
    /// Should get it and has not (not sent, not failed).
    pub pending: u64,
    /// Written to the outbox only: reached nobody.
    pub outbox: u64,
    /// Public in the archive (sent over SMTP, or published by the editor).
    pub public: bool,
    /// Warnings `almanac check` reports (errors make the stage `Broken`).
    pub warnings: usize,
}

/// What the state of every issue is computed from, loaded once.
pub struct Context {
    state: State,
    now: DateTime<Utc>,
}

impl Context {
    pub fn load(project: &Project, now: DateTime<Utc>) -> Result<Context> {
        // The configured CSV is synced when it can be read; when it can't,
        // the counts come from the list as the database has it (a send
        // would stop and say why).
        let state = match super::subscribers::open(project, now) {
            Ok((state, _)) => state,
            Err(_) => State::open(&project.config.paths.state)?,
        };
        Ok(Context { state, now })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state of an issue that loaded (`issue`), or of one that did not.
    pub fn of(
        &self,
        project: &Project,
        id: &IssueId,
        issue: std::result::Result<&Issue, usize>,
    ) -> Result<IssueState> {
        let key = id.as_str();
        let counts = self.state.counts(key)?;
        let mark = self.state.mark_of(key)?;
        let run = self.state.last_run(key)?;
        let mut st = IssueState {
            issue: key.to_owned(),
            edition: None,
            date: None,
            subject: None,
            stage: Stage::Ready,
            label: String::new(),
            recipients: 0,
            sent: counts.sent,
            failed: counts.failed,
            pending: 0,
            outbox: counts.outbox,
            public: counts.sent > 0 || matches!(mark, Some((Mark::Published, _))),
            warnings: 0,
        };
        let issue = match issue {
            Ok(i) => i,
            Err(errors) => {
                st.stage = Stage::Broken { errors };
                st.label = st.stage.label();
                return Ok(st);
            }
        };
        st.edition = Some(issue.edition.to_string());
        st.date = Some(issue.date.0.to_string());
        st.subject = Some(issue.subject.to_string());
        let a = self.state.audience(issue.edition.as_str(), key, true)?;
        // Whoever got it counts, even after leaving: "sent 6 of 5" would
        // read as a miscount once a reader has bounced.
        st.recipients = counts.sent + a.pending;
        // Failed ones have not got it either, but are counted as failed.
        st.pending = a.pending.saturating_sub(counts.failed);
        let unfinished = run.as_ref().is_some_and(|r| r.finished_at.is_none());
        st.stage = if issue.draft {
            Stage::Draft
        } else if run.as_ref().is_some_and(|r| r.in_progress()) {
            Stage::Sending
        } else if unfinished {
            Stage::Interrupted
        } else if counts.sent > 0 && st.pending == 0 && st.failed == 0 {
            Stage::Sent
        } else if counts.sent > 0 {
            Stage::PartlySent
        } else if let Some((Mark::Skipped, why)) = mark {
            Stage::Skipped { why }
        } else {
            self.scheduled(project, issue)
        };
        st.label = st.stage.label();
        Ok(st)
    }

    /// Ready and unsent: where its scheduled slot stands.
    fn scheduled(&self, project: &Project, issue: &Issue) -> Stage {
        let Some(s) = &project.config.schedule else {
            return Stage::Ready;
        };
        let Some(slot) = s.slots.iter().find(|sl| {
            sl.edition == issue.edition && sl.weekday == chrono::Datelike::weekday(&issue.date.0)
        }) else {
            return Stage::Ready;
        };
        let at = schedule::instant(s.timezone, issue.date.0, slot);
        if at > self.now {
            Stage::Due {
                at: at
                    .with_timezone(&s.timezone)
                    .format("%a %d %b %H:%M %Z")
                    .to_string(),
            }
        } else if (self.now - at).to_std().unwrap_or_default() <= s.grace {
            Stage::DueNow
        } else {
            Stage::Missed
        }
    }
}

/// The state of every issue, newest first, at most `limit`.
pub fn all(project: &Project, now: DateTime<Utc>, limit: usize) -> Result<Vec<IssueState>> {
    let cx = Context::load(project, now)?;
    let mut ids = project.issue_ids()?;
    ids.reverse();
    ids.truncate(limit);
    ids.iter().map(|id| cx.built(project, id)).collect()
}

impl Context {
    /// Builds the issue and tells its state, with its check result.
    pub fn built(&self, project: &Project, id: &IssueId) -> Result<IssueState> {
        let loaded = project.built(Some(id.as_str()));
        let issue = match &loaded {
            Ok(b) => Ok(&b.issue),
            Err(e) => Err(e.problems().map_or(1, |p| p.errors())),
        };
        let mut st = self.of(project, id, issue)?;
        if let Ok(b) = &loaded {
            st.warnings = b.warnings.warnings();
        }
        Ok(st)
    }
}
