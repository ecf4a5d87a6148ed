//! `send --due`, for cron or a systemd timer: which edition is due now in
//! the schedule's time zone, and its issue, built and checked, with the
//! send lock held from here to the end of the send, so an overlapping run
//! stops with `Locked` instead of sending too.

use chrono::{DateTime, Utc};

use super::plan::take_lock;
use crate::app::schedule::{SlotIssue, describe, issue_for, next_send, schedule};
use crate::app::{Built, Error, Project, Result};
use crate::schedule::{self, Due, Occurrence};
use crate::state::{SendLock, State};

pub enum DueNow {
    /// Nothing to send; the line says why (and what is next).
    Idle(String),
    /// This issue is due: send it under this lock.
    Send {
        built: Box<Built>,
        lock: SendLock,
        line: String,
    },
}

pub fn due(project: &Project, now: DateTime<Utc>) -> Result<DueNow> {
    let sched = schedule(project).map_err(|_| Error::NoSchedule("; `send --due` needs one"))?;
    let occurrence = match schedule::due(sched, now) {
        Due::Nothing => {
            return Ok(DueNow::Idle(
                "nothing due: the schedule has no sends".into(),
            ));
        }
        Due::Now(o) => o,
        Due::Missed(o) => return missed(project, &o, now),
    };
    let what = describe(sched, &occurrence);
    let lock = take_lock(project, Some(&what))?;
    let issue = match issue_for(project, &occurrence)? {
        SlotIssue::Found(issue) => issue,
        SlotIssue::Broken(_, problems) => {
            return Err(Error::Problems(problems).context(format!(
                "{what} is due, but its issue does not pass `almanac check`; nothing was sent:"
            )));
        }
        SlotIssue::None => {
            return Err(Error::NoIssueForSlot(format!(
                "{what} is due, but there is no issue for it: create issues/{date}-{ed}/ (`almanac new {ed} --date {date}`); nothing was sent",
                date = occurrence.date,
                ed = occurrence.slot.edition,
            )));
        }
    };
    let built = project.build(*issue).map_err(|e| {
        e.context(format!(
            "{what} is due, but its issue does not pass `almanac check`; nothing was sent:"
        ))
    })?;
    let line = format!("due: {what} → issue {}", built.issue.id);
    Ok(DueNow::Send {
        built: Box::new(built),
        lock,
        line,
    })
}

/// Past the grace window. If there was no issue for that slot the editor
/// skipped it: nothing is due. If the issue went out: nothing is due. If it
/// exists and did not go out, say so loudly, with its own exit code.
fn missed(project: &Project, o: &Occurrence, now: DateTime<Utc>) -> Result<DueNow> {
    let sched = schedule(project)?;
    let what = describe(sched, o);
    let issue = match issue_for(project, o)? {
        SlotIssue::Found(issue) => issue,
        SlotIssue::None => {
            return Ok(DueNow::Idle(format!(
                "nothing due{}",
                next_send(project, now)
            )));
        }
        SlotIssue::Broken(..) => {
            return Err(Error::Missed(format!(
                "{what} was missed, and its issue does not pass `almanac check`"
            )));
        }
    };
    let state = State::open(&project.config.paths.state)?;
    let counts = state.counts(issue.id.as_str())?;
    if counts.sent + counts.outbox > 0 && counts.pending == 0 {
        return Ok(DueNow::Idle(format!(
            "nothing due: {what} was sent{}",
            next_send(project, now).replacen(';', ",", 1)
        )));
    }
    let late = now - o.at;
    Err(Error::Missed(format!(
        "{what} was missed: it is {}h{:02}m late, past the {}m grace window, so it is not sent now (a stale issue is worse than none). \
         Send it by hand with `almanac send {}` if it is still wanted",
        late.num_hours(),
        late.num_minutes() % 60,
        sched.grace.as_secs() / 60,
        issue.id
    )))
}
