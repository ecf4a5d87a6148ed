//! `almanac send --due`, for cron or a systemd timer: works out which edition
//! is due now in the schedule's time zone, finds its issue and sends it (or
//! resumes it), once. One log line per run; exit codes that mean something.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::project::Project;
use super::send::{Args, send_built};
use super::{CmdResult, Failure, exit};
use crate::content;
use crate::diag::Problems;
use crate::schedule::{self, Due, Occurrence};
use crate::state::{SendLock, State};

pub fn run(project: &Project, args: &Args, now: DateTime<Utc>) -> CmdResult {
    let Some(sched) = &project.config.schedule else {
        return Err(Failure::Message(
            "newsletter.toml has no [schedule]; `send --due` needs one".into(),
            exit::INVALID,
        ));
    };
    let tz = sched.timezone;
    let describe = |o: &Occurrence| {
        format!(
            "{} of {} (scheduled {} {})",
            o.slot.edition,
            o.date,
            o.at.with_timezone(&tz).format("%a %d %b %H:%M"),
            tz
        )
    };
    let occurrence = match schedule::due(sched, now) {
        Due::Nothing => {
            println!("nothing due: the schedule has no sends");
            return Ok(ExitCode::from(exit::OK));
        }
        Due::Now(o) => o,
        Due::Missed(o) => {
            return missed(project, &o, &describe(&o), now);
        }
    };
    // Hold the lock from here to the end of the send, so an overlapping run
    // stops with LOCKED instead of sending too.
    let lock = SendLock::try_acquire(&project.config.paths.state)
        .map_err(|e| Failure::Message(e, exit::INVALID))?
        .ok_or_else(|| {
            Failure::Message(
                format!(
                    "{} is due, but another send is in progress; not starting a second one",
                    describe(&occurrence)
                ),
                exit::LOCKED,
            )
        })?;
    let issue = find_issue(project, &occurrence)?.ok_or_else(|| {
        Failure::Message(
            format!(
                "{} is due, but there is no issue for it: create issues/{}-{}/ (`almanac new {} --date {}`); nothing was sent",
                describe(&occurrence),
                occurrence.date,
                occurrence.slot.edition,
                occurrence.slot.edition,
                occurrence.date
            ),
            exit::INVALID,
        )
    })?;
    let built = project
        .build(issue)
        .map_err(|f| explain(f, &describe(&occurrence)))?;
    println!("due: {} → issue {}", describe(&occurrence), built.issue.id);
    let mut args = args.clone();
    args.yes = true;
    send_built(project, built, &args, now, Some(lock))
}

/// The issue whose edition and date match the occurrence, loaded and valid.
fn find_issue(project: &Project, o: &Occurrence) -> Result<Option<content::Issue>, Failure> {
    let dir = &project.config.paths.issues;
    let prefix = o.date.format("%Y-%m-%d").to_string();
    let mut problems = Problems::default();
    for id in content::list_issue_ids(dir)?
        .into_iter()
        .filter(|id| id.as_str().starts_with(&prefix))
    {
        match content::load_issue(id.clone(), &dir.join(id.as_str()), &project.layouts) {
            Ok(issue) if issue.edition == o.slot.edition && issue.date.0 == o.date => {
                return Ok(Some(issue));
            }
            Ok(_) => {}
            // A broken folder that looks like this edition's issue is the
            // editor's problem to fix, not a missing issue.
            Err(p) if id.as_str().contains(o.slot.edition.as_str()) => problems.extend(p),
            Err(_) => {}
        }
    }
    if problems.has_errors() {
        return Err(problems.into());
    }
    Ok(None)
}

fn explain(f: Failure, what: &str) -> Failure {
    if let Failure::Problems(p) = &f {
        eprintln!("{what} is due, but its issue does not pass `almanac check`; nothing was sent:");
        return Failure::Problems(p.clone());
    }
    f
}

/// Past the grace window. If there was no issue for that slot the editor
/// skipped it: nothing is due. If the issue went out: nothing is due. If it
/// exists and did not go out, say so loudly, with its own exit code.
fn missed(project: &Project, o: &Occurrence, what: &str, now: DateTime<Utc>) -> CmdResult {
    let issue = match find_issue(project, o) {
        Ok(Some(issue)) => issue,
        Ok(None) => {
            println!("nothing due{}", next_send(project, now));
            return Ok(ExitCode::from(exit::OK));
        }
        Err(_) => {
            return Err(Failure::Message(
                format!("{what} was missed, and its issue does not pass `almanac check`"),
                exit::PAST_GRACE,
            ));
        }
    };
    let state =
        State::open(&project.config.paths.state).map_err(|e| Failure::Message(e, exit::INVALID))?;
    let counts = state
        .counts(issue.id.as_str())
        .map_err(|e| Failure::Message(e, exit::INVALID))?;
    if counts.sent > 0 && counts.pending == 0 {
        println!(
            "nothing due: {what} was sent{}",
            next_send(project, now).replacen(';', ",", 1)
        );
        return Ok(ExitCode::from(exit::OK));
    }
    let late = now - o.at;
    let grace = project
        .config
        .schedule
        .as_ref()
        .map(|s| s.grace)
        .unwrap_or_default();
    Err(Failure::Message(
        format!(
            "{what} was missed: it is {}h{:02}m late, past the {}m grace window, so it is not sent now (a stale issue is worse than none). \
             Send it by hand with `almanac send {}` if it is still wanted",
            late.num_hours(),
            late.num_minutes() % 60,
            grace.as_secs() / 60,
            issue.id
        ),
        exit::PAST_GRACE,
    ))
}

/// "; next: sunday of 2026-11-29 at Sun 29 Nov 07:00 Europe/London".
fn next_send(project: &Project, now: DateTime<Utc>) -> String {
    let Some(s) = &project.config.schedule else {
        return String::new();
    };
    match schedule::upcoming(s, now, 1).first() {
        Some(o) => format!(
            "; next: {} of {} at {} {}",
            o.slot.edition,
            o.date,
            o.at.with_timezone(&s.timezone).format("%a %d %b %H:%M"),
            s.timezone
        ),
        None => String::new(),
    }
}
