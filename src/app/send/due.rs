//! `send --due`, for cron or a systemd timer: which edition is due now in
//! the schedule's time zone, and its issue, built and checked, with the
//! send lock held from here to the end of the send, so an overlapping run
//! stops with `Locked` instead of sending too.

use chrono::{DateTime, Utc};

use super::plan::take_lock;
use crate::app::schedule::{SlotIssue, describe, issue_for, next_send, schedule};
use crate::app::{Built, Error, Project, Result};
use crate::schedule::{self, Due, Occurrence};
use crate::state::{Mark, SendLock, State};

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

/// What is due at `now`. `outbox` when the caller asked for the outbox
/// (the scheduler never falls back to it on its own).
pub fn due(project: &Project, now: DateTime<Utc>, outbox: bool) -> Result<DueNow> {
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
    // Checked when something is due, so an idle run stays quiet; the
    // first due run without a server fails loudly instead of "sending" to
    // the outbox.
    if !super::Delivery::chosen(project, outbox) {
        return Err(Error::NoSmtp);
    }
    let what = describe(sched, &occurrence);
    let lock = take_lock(project, Some(&what))?;
    let slot = issue_for(project, &occurrence)?;
    let id = match &slot {
        SlotIssue::Found(issue) => Some(&issue.id),
        SlotIssue::Broken(id, _) => Some(id),
        SlotIssue::None => None,
    };
    if let Some(why) = id.map(|id| skipped(project, id)).transpose()?.flatten() {
        return Ok(DueNow::Idle(format!(
            "nothing due: {what} was skipped ({why}){}",
            next_send(project, now).replacen(';', ",", 1)
        )));
    }
    let issue = match slot {
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
    if issue.draft {
        return Err(Error::Draft(format!(
            "{what} is due, but issue {} is still a draft; set draft = false in {} when it is ready; nothing was sent",
            issue.id,
            project.issue_dir(&issue.id).join("issue.toml").display()
        )));
    }
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

/// Why the issue is not to be sent, if the editor or a missed slot said so.
fn skipped(project: &Project, id: &crate::domain::IssueId) -> Result<Option<String>> {
    let state = State::open(&project.config.paths.state)?;
    Ok(match state.mark_of(id.as_str())? {
        Some((Mark::Skipped, why)) => Some(why),
        _ => None,
    })
}

/// Past the grace window. If there was no issue for that slot the editor
/// skipped it: nothing is due. If the issue went out, or was skipped:
/// nothing is due. If it exists and did not go out, say so loudly, once,
/// with its own exit code, and record it as skipped so the next runs are
/// quiet.
fn missed(project: &Project, o: &Occurrence, now: DateTime<Utc>) -> Result<DueNow> {
    let sched = schedule(project)?;
    let what = describe(sched, o);
    let next = next_send(project, now).replacen(';', ",", 1);
    let (id, builds) = match issue_for(project, o)? {
        SlotIssue::None => {
            return Ok(DueNow::Idle(format!(
                "nothing due{}",
                next_send(project, now)
            )));
        }
        SlotIssue::Found(issue) => (issue.id, true),
        SlotIssue::Broken(id, _) => (id, false),
    };
    let state = State::open(&project.config.paths.state)?;
    let counts = state.counts(id.as_str())?;
    if counts.sent + counts.outbox > 0 && counts.pending == 0 {
        return Ok(DueNow::Idle(format!("nothing due: {what} was sent{next}")));
    }
    if let Some((Mark::Skipped, why)) = state.mark_of(id.as_str())? {
        return Ok(DueNow::Idle(format!(
            "nothing due: {what} was skipped ({why}){next}"
        )));
    }
    let at =
        o.at.with_timezone(&sched.timezone)
            .format("%a %d %b %H:%M %Z");
    state.mark(
        id.as_str(),
        Mark::Skipped,
        &format!("missed: not sent within the grace window after {at}"),
        &now.to_rfc3339(),
    )?;
    if !builds {
        return Err(Error::Missed(format!(
            "{what} was missed, and its issue {id} does not pass `almanac check`; it is now recorded as skipped"
        )));
    }
    let late = now - o.at;
    Err(Error::Missed(format!(
        "{what} was missed: it is {}h{:02}m late, past the {}m grace window, so it is not sent now (a stale issue is worse than none). \
         It is now recorded as skipped; send it by hand with `almanac send {id}` if it is still wanted",
        late.num_hours(),
        late.num_minutes() % 60,
        sched.grace.as_secs() / 60,
    )))
}
