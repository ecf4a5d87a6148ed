//! `almanac unsubscribe ADDRESS|TOKEN...`: records suppressions, which win
//! over the subscriber list in every later send.
//!
//! `--from-eml FILE...` feeds in mail that came back: delivery status
//! notifications (hard bounces), abuse complaints, and unsubscribe requests
//! sent to the mailto address of `List-Unsubscribe` (see `mail::bounce`).

use std::path::PathBuf;
use std::process::ExitCode;

use super::project::Project;
use super::{Cli, CmdResult, Failure, exit};
use crate::domain::Email;
use crate::mail::{self, TokenKey, bounce};
use crate::state::State;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Addresses, or tokens from unsubscribe links.
    #[arg(required_unless_present = "from_eml")]
    pub who: Vec<String>,
    /// Lift the suppression instead (resubscribe).
    #[arg(long, conflicts_with = "from_eml")]
    pub undo: bool,
    /// Read bounces (DSN), complaints (ARF) and unsubscribe mails from these
    /// RFC 5322 files and record what they say.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub from_eml: Vec<PathBuf>,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let state =
        State::open(&project.config.paths.state).map_err(|e| Failure::Message(e, exit::INVALID))?;
    let key = mail::token_key(&project.config);
    let now = crate::clock::now().to_rfc3339();
    let mut bad = 0;
    for who in &args.who {
        let email = match who.parse::<Email>() {
            Ok(e) => e,
            Err(_) => match key.verify(who) {
                Some(e) => e,
                None => {
                    eprintln!("error: `{who}` is neither an address nor a valid unsubscribe token");
                    bad += 1;
                    continue;
                }
            },
        };
        let result = if args.undo {
            state.unsuppress(&email).map(|had| {
                if had {
                    "resubscribed"
                } else {
                    "was not suppressed"
                }
            })
        } else {
            state
                .suppress(&email, "unsubscribed", "almanac unsubscribe", &now)
                .map(|new| {
                    if new {
                        "unsubscribed"
                    } else {
                        "already suppressed"
                    }
                })
        };
        match result {
            Ok(what) => println!("{email}: {what}"),
            Err(e) => return Err(Failure::Message(e, exit::INVALID)),
        }
    }
    for file in &args.from_eml {
        match from_eml(&state, &key, file, &now)? {
            Some(line) => println!("{}: {line}", file.display()),
            None => bad += 1,
        }
    }
    Ok(ExitCode::from(if bad > 0 {
        exit::INVALID
    } else {
        exit::OK
    }))
}

/// Larger than any bounce worth reading (they quote at most the message).
const MAX_EML_BYTES: u64 = 50 << 20;

/// Records what one file says; `None` (after printing why) when the file is
/// unreadable or not understood. Database errors stop the whole command.
fn from_eml(
    state: &State,
    key: &TokenKey,
    file: &std::path::Path,
    now: &str,
) -> Result<Option<String>, Failure> {
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
        Err(why) => {
            eprintln!("error: {}: {why}", file.display());
            return Ok(None);
        }
    };
    if findings.is_empty() {
        return Ok(Some(
            "nothing to record (a not-spam feedback report)".into(),
        ));
    }
    let mut said = Vec::new();
    for f in &findings {
        let email = f.email();
        let Some(reason) = f.reason() else {
            said.push(format!("{email}: {}, not suppressed", f.summary()));
            continue;
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let detail = format!("{} ({name})", f.detail());
        let new = state
            .suppress(email, reason, &detail, now)
            .map_err(|e| Failure::Message(e, exit::INVALID))?;
        let what = f.summary();
        said.push(if new {
            format!("{email}: {what}, suppressed as {reason}")
        } else {
            format!("{email}: {what}, already suppressed")
        });
    }
    Ok(Some(said.join("; ")))
}
