//! Suppressions: unsubscribes, hard bounces and complaints, which win over
//! the list in every later send. The command line, the server's one-click
//! endpoint and bounce intake all record them through here.

use std::path::Path;

use super::{Project, Result};
use crate::domain::Email;
use crate::mail::{TokenKey, bounce, token_key};
use crate::state::State;

/// What one argument or file came to.
pub enum Said {
    /// Recorded (or nothing to record): a line for the operator.
    Done(String),
    /// Not understood or not readable: why, for the operator to look at.
    Refused(String),
}

/// Unsubscribes (or, with `undo`, resubscribes) addresses or tokens.
pub fn by_address(project: &Project, who: &[String], undo: bool, now: &str) -> Result<Vec<Said>> {
    let state = State::open(&project.config.paths.state)?;
    let key = token_key(&project.config);
    let mut said = Vec::new();
    for w in who {
        let Some(email) = w.parse::<Email>().ok().or_else(|| key.verify(w)) else {
            said.push(Said::Refused(format!(
                "`{w}` is neither an address nor a valid unsubscribe token"
            )));
            continue;
        };
        let what = if undo {
            match resubscribe(&state, &email)? {
                true => "resubscribed",
                false => "was not suppressed",
            }
        } else {
            match unsubscribe(&state, &email, "almanac unsubscribe", now)? {
                true => "unsubscribed",
                false => "already suppressed",
            }
        };
        said.push(Said::Done(format!("{email}: {what}")));
    }
    Ok(said)
}

/// Records a reader's unsubscribe; false when already suppressed.
pub fn unsubscribe(state: &State, email: &Email, how: &str, now: &str) -> Result<bool> {
    Ok(state.suppress(email, "unsubscribed", how, now)?)
}

/// Lifts a suppression; false when there was none.
pub fn resubscribe(state: &State, email: &Email) -> Result<bool> {
    Ok(state.unsuppress(email)?)
}

/// Why an address is suppressed, if it is.
pub fn reason(state: &State, email: &Email) -> Result<Option<String>> {
    Ok(state.suppression(email)?)
}

/// Larger than any bounce worth reading (they quote at most the message).
const MAX_EML_BYTES: u64 = 50 << 20;

/// Reads bounces (DSN), complaints (ARF) and unsubscribe mails and records
/// what they say, one result per file.
pub fn from_eml(project: &Project, files: &[std::path::PathBuf], now: &str) -> Result<Vec<Said>> {
    let state = State::open(&project.config.paths.state)?;
    let key = token_key(&project.config);
    files
        .iter()
        .map(|f| {
            Ok(match one_eml(&state, &key, f, now)? {
                Said::Done(line) => Said::Done(format!("{}: {line}", f.display())),
                Said::Refused(why) => Said::Refused(format!("{}: {why}", f.display())),
            })
        })
        .collect()
}

/// Records what one file says. Database errors stop the whole command.
fn one_eml(state: &State, key: &TokenKey, file: &Path, now: &str) -> Result<Said> {
    let raw = match std::fs::metadata(file) {
        Ok(m) if m.len() > MAX_EML_BYTES => Err(format!(
            "{} bytes is too large for a bounce or an unsubscribe mail",
            m.len()
        )),
        Ok(_) => std::fs::read(file).map_err(|e| format!("cannot read it: {e}")),
        Err(e) => Err(format!("cannot read it: {e}")),
    };
    let findings = match raw.and_then(|raw| bounce::classify(&raw, key)) {
        Ok(f) => f,
        Err(why) => return Ok(Said::Refused(why)),
    };
    if findings.is_empty() {
        return Ok(Said::Done(
            "nothing to record (a not-spam feedback report)".into(),
        ));
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut said = Vec::new();
    for f in &findings {
        let email = f.email();
        let Some(reason) = f.reason() else {
            said.push(format!("{email}: {}, not suppressed", f.summary()));
            continue;
        };
        let detail = format!("{} ({name})", f.detail());
        let new = state.suppress(email, reason, &detail, now)?;
        let what = f.summary();
        said.push(if new {
            format!("{email}: {what}, suppressed as {reason}")
        } else {
            format!("{email}: {what}, already suppressed")
        });
    }
    Ok(Said::Done(said.join("; ")))
}
