//! A send's plan: the transport, every check that can be made before
//! anything goes out, and the recipients (subscribers who want this
//! edition, minus suppressed addresses, minus those already delivered).

use super::{Delivery, Request, Summary, load_dkim, secret_check};
use crate::app::{Built, Error, Project, Result};
use crate::mail::{self, Prepared, dkim::Signer};
use crate::send::Target;
use crate::state::{SendLock, State};
use crate::subscribers;

pub struct Plan<'p> {
    pub(super) project: &'p Project,
    pub built: Built,
    pub(super) prepared: Prepared,
    pub(super) dkim: Option<Signer>,
    pub delivery: Delivery,
    pub targets: Vec<Target>,
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
    let prepared = mail::prepare(&project.config, &built.issue, &built.rendered, date, false);
    let dkim = load_dkim(project, &prepared)?;
    let lock = match lock {
        Some(l) => Some(l),
        None if req.dry_run => None,
        None => Some(take_lock(project, None)?),
    };
    let state = State::open(&project.config.paths.state)?;
    let (targets, mut summary, rows) = recipients(project, &built, &state, &delivery, req)?;
    warnings.extend(rows.into_iter().map(|r| format!("{r} (row skipped)")));
    summary.transport = delivery.describe();
    summary.dry_run = req.dry_run;
    Ok(Plan {
        project,
        built,
        prepared,
        dkim,
        delivery,
        targets,
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

/// Subscribers who want this edition, minus suppressed and already sent;
/// with the rows that could not be used.
fn recipients(
    project: &Project,
    built: &Built,
    state: &State,
    delivery: &Delivery,
    req: &Request,
) -> Result<(Vec<Target>, Summary, Vec<String>)> {
    let path = project
        .config
        .paths
        .subscribers
        .clone()
        .ok_or(Error::NoSubscriberList)?;
    let list = subscribers::load(&path, &project.editions())?;
    let mut bad: Vec<String> = list.errors.iter().map(|e| e.to_string()).collect();
    let suppressed = state.suppressed()?;
    let delivered = state.delivered(built.issue.id.as_str(), delivery.is_smtp())?;
    let mut s = Summary {
        issue: built.issue.id.to_string(),
        subscribers: list.subscribers.len(),
        ..Summary::default()
    };
    let mut targets = Vec::new();
    for sub in list.subscribers {
        if !sub.wants.includes(&built.issue.edition) {
            s.not_this_edition += 1;
            continue;
        }
        let line = sub.line;
        let Some(t) = Target::new(sub.email, sub.name) else {
            bad.push(format!(
                "{}:{line}: the address can't be used in an envelope",
                path.display()
            ));
            continue;
        };
        if suppressed.contains(&t.key) {
            s.skipped_suppressed += 1;
        } else if delivered.contains(&t.key) {
            s.skipped_already_sent += 1;
        } else {
            targets.push(t);
        }
    }
    if let Some(n) = req.limit {
        targets.truncate(n);
    }
    s.pending = targets.len();
    s.invalid_rows = bad.clone();
    Ok((targets, s, bad))
}
