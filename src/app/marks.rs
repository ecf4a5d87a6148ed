//! The editor's marks on an issue: skipped (never to be sent by the
//! scheduler) and published (public in the archive although it never went
//! out over SMTP).

use chrono::{DateTime, Utc};

use super::{Project, Result};
use crate::state::{Mark, State};

/// Marks an issue (or, with `undo`, unmarks it); returns what was done.
pub fn set(
    project: &Project,
    arg: &str,
    mark: Mark,
    undo: bool,
    now: DateTime<Utc>,
) -> Result<String> {
    let id = project.resolve(Some(arg))?;
    let state = State::open(&project.config.paths.state)?;
    let word = match mark {
        Mark::Skipped => "skipped",
        Mark::Published => "published",
    };
    if undo {
        return Ok(if state.unmark(id.as_str(), mark)? {
            format!("{id}: no longer {word}")
        } else {
            format!("{id}: was not {word}")
        });
    }
    let detail = match mark {
        Mark::Skipped => "skipped by the editor",
        Mark::Published => "published by the editor",
    };
    state.mark(id.as_str(), mark, detail, &now.to_rfc3339())?;
    Ok(match mark {
        Mark::Skipped => format!("{id}: skipped; `send --due` will not send it (undo with --undo)"),
        Mark::Published => format!(
            "{id}: published; `almanac archive` includes it although it was not sent over SMTP"
        ),
    })
}
