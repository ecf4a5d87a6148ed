//! A send's plan: the transport, every check that can be made before
//! anything goes out, and the recipients (subscribers who want this
//! edition, minus suppressed addresses, minus those already delivered).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Delivery, Request, Summary, load_dkim, secret_check};
use crate::app::{Built, Error, Project, Result};
use crate::mail::{Prepared, dkim::Signer};
use crate::send::{Target, Targets};
use crate::state::{Recipient, SendLock, State};

pub struct Plan<'p> {
    pub(super) project: &'p Project,
    pub built: Built,
    pub(super) prepared: Prepared,
    pub(super) dkim: Option<Signer>,
    pub delivery: Delivery,
    /// The recipients, read from the database a page at a time.
    pub(super) targets: Targets,
    /// How reading them ended.
    pub(super) reading: Arc<Mutex<Reading>>,
    /// The counts so far; a run fills in the rest.
    pub summary: Summary,
    /// Said once before sending (a development secret, skipped rows).
    pub warnings: Vec<String>,
    pub(super) state: State,
    /// Held until the plan is run or dropped; a dry run holds none.
    pub(super) _lock: Option<SendLock>,
}

/// Checks and plans a send of `built`. `lock` is the send lock when the
/// caller already holds it (`send --due`); otherwise a real send takes it.
pub fn plan<'p>(
    project: &'p Project,
    built: Built,
    req: &Request,
    lock: Option<SendLock>,
) -> Result<Plan<'p>> {
    if built.issue.draft && !req.dry_run {
        return Err(Error::Draft(format!(
            "{} is still a draft; set draft = false in {} when it is ready (a proof with --test works on drafts); nothing was sent",
            built.issue.id,
            project
                .issue_dir(&built.issue.id)
                .join("issue.toml")
                .display()
        )));
    }
    let delivery = Delivery::of(project, req.outbox);
    let unfilled = project.config.placeholders();
    if delivery.is_smtp() && !req.dry_run && !unfilled.is_empty() {
        return Err(Error::Invalid(format!(
            "{} is not filled in: {}; nothing was sent",
            project.config.file.display(),
            unfilled.join("; ")
        )));
    }
    let mut warnings: Vec<String> = secret_check(project, delivery.is_smtp() && !req.dry_run)?
        .into_iter()
        .collect();
    if !Delivery::chosen(project, req.outbox) {
        warnings.push(format!(
            "no SMTP server is configured, so the messages go to {} and reach nobody; \
             pass --outbox to say that is what you want, or set ALMANAC_SMTP_URL",
            delivery.describe()
        ));
    }
    let date = req.now.with_timezone(&project.timezone()).fixed_offset();
    let prepared = project.prepare(&built.issue, &built.rendered, date, false);
    let dkim = load_dkim(project, &prepared)?;
    let lock = match lock {
        Some(l) => Some(l),
        None if req.dry_run => None,
        None => Some(take_lock(project, None)?),
    };
    let (state, synced) = crate::app::subscribers::open(project, req.now)?;
    let rows: Vec<String> = synced
        .map(|s| s.errors.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    warnings.extend(rows.iter().map(|r| format!("{r} (row skipped)")));
    let mut summary = audience(&state, &built, &delivery, req)?;
    summary.invalid_rows = rows;
    summary.transport = delivery.describe();
    summary.dry_run = req.dry_run;
    let reading = Arc::new(Mutex::new(Reading::Going));
    let targets = Box::new(Pages {
        state: State::open(&project.config.paths.state)?,
        edition: built.issue.edition.to_string(),
        issue: built.issue.id.to_string(),
        real_only: delivery.is_smtp(),
        after: 0,
        left: summary.pending as u64,
        buf: VecDeque::new(),
        reading: reading.clone(),
    });
    Ok(Plan {
        project,
        built,
        prepared,
        dkim,
        delivery,
        targets,
        reading,
        summary,
        warnings,
        state,
        _lock: lock,
    })
}

/// The send lock, or `Locked` naming what was due (for `send --due`).
pub fn take_lock(project: &Project, due: Option<&str>) -> Result<SendLock> {
    SendLock::try_acquire(&project.config.paths.state)?.ok_or_else(|| {
        Error::Locked(match due {
            Some(what) => {
                format!("{what} is due, but another send is in progress; not starting a second one")
            }
            None => {
                "another send is in progress (state/send.lock is held); not starting a second one"
                    .into()
            }
        })
    })
}

/// Who the issue reaches: subscribers of its edition, minus those who
/// left, minus those who already got it (over SMTP, for an SMTP send).
fn audience(state: &State, built: &Built, delivery: &Delivery, req: &Request) -> Result<Summary> {
    let a = state.audience(
        built.issue.edition.as_str(),
        built.issue.id.as_str(),
        delivery.is_smtp(),
    )?;
    let pending = req.limit.map_or(a.pending, |n| a.pending.min(n as u64));
    Ok(Summary {
        issue: built.issue.id.to_string(),
        subscribers: a.subscribers as usize,
        not_this_edition: a.not_this_edition as usize,
        skipped_suppressed: a.suppressed as usize,
        skipped_already_sent: a.already_sent as usize,
        pending: pending as usize,
        ..Summary::default()
    })
}

/// The recipients, a page at a time, so a list of any size is never all
/// in memory. Keyset pagination by subscriber id: a delivery recorded
/// meanwhile never moves anyone into a page not yet read.
struct Pages {
    state: State,
    edition: String,
    issue: String,
    real_only: bool,
    after: i64,
    left: u64,
    buf: VecDeque<Recipient>,
    reading: Arc<Mutex<Reading>>,
}

/// How reading the recipients ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Going,
    /// Everyone still to get it was read: whoever the plan counted and
    /// never came had left (or got it) during the send.
    Done,
    Failed(String),
}

impl Pages {
    fn end(&self, how: Reading) {
        *self.reading.lock().unwrap_or_else(PoisonError::into_inner) = how;
    }
}

const PAGE: usize = 1000;

impl Iterator for Pages {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        while self.left > 0 {
            if self.buf.is_empty() {
                match self.state.recipients(
                    &self.edition,
                    &self.issue,
                    self.real_only,
                    self.after,
                    PAGE,
                ) {
                    Ok(page) if page.is_empty() => {
                        self.end(Reading::Done);
                        return None;
                    }
                    Ok(page) => self.buf = page.into(),
                    Err(e) => {
                        self.end(Reading::Failed(crate::send::chain(&e)));
                        return None;
                    }
                }
            }
            let r = self.buf.pop_front()?;
            self.after = r.id;
            // Addresses were checked when they were stored; one that no
            // longer parses is skipped, not sent.
            let email = r.address.parse().ok();
            let name = r
                .name
                .and_then(|n| crate::domain::Line::new(&n, "the name", 100).ok());
            if let Some(t) = email.and_then(|e| Target::new(r.id, e, name)) {
                self.left -= 1;
                return Some(t);
            }
        }
        None
    }
}
