//! Readers leaving (and coming back): by one-click from an edition's email,
//! on the manage page, by mail and from the command line (mail that comes
//! back is `bounces.rs`, which records it with these). A leave by an edition's token takes the
//! reader off that edition only; everything else is about the whole list.

use chrono::{DateTime, Utc};

use super::{Project, Result};
use crate::domain::{EditionId, Email};
use crate::mail::{Opened, Purpose, TokenKey, token_key};
use crate::state::{State, SubStatus, Subscriber};

/// What one argument or file came to.
pub enum Said {
    /// Recorded (or nothing to record): a line for the operator.
    Done(String),
    /// Not understood or not readable: why, for the operator to look at.
    Refused(String),
}

/// What a leave or an undo is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Edition(EditionId),
    All,
}

/// A token's reader, as the pages and the command line need them.
#[derive(Debug, Clone)]
pub struct Holder {
    pub subscriber: Subscriber,
    pub scope: Scope,
}

/// The reader a leave token names, if it is genuine and they exist. A
/// first-release token names an address; one not on the list yet is a
/// reader without a row (the leave itself creates it, so it holds before
/// any import). Nothing is written here: pages call this on a GET.
pub fn holder(state: &State, key: &TokenKey, token: &str) -> Result<Option<Holder>> {
    match key.open(token) {
        Some(opened) => holder_of(state, opened),
        None => Ok(None),
    }
}

pub(crate) fn holder_of(state: &State, opened: Opened) -> Result<Option<Holder>> {
    let found = match opened {
        Opened::Subscriber {
            id,
            purpose: Purpose::Unsubscribe(ed),
        } => state.subscriber_by_id(id)?.map(|s| (s, Scope::Edition(ed))),
        Opened::Subscriber {
            id,
            purpose: Purpose::Manage,
        } => state.subscriber_by_id(id)?.map(|s| (s, Scope::All)),
        Opened::Subscriber { .. } => None,
        Opened::Legacy(email) => Some((known_or_new(state, &email)?, Scope::All)),
    };
    Ok(found.map(|(subscriber, scope)| Holder { subscriber, scope }))
}

/// The stored reader, or one not stored yet (id 0).
pub(crate) fn known_or_new(state: &State, email: &Email) -> Result<Subscriber> {
    Ok(state
        .subscriber(&email.key())?
        .unwrap_or_else(|| Subscriber {
            id: 0,
            email: email.key(),
            address: email.to_string(),
            name: None,
            editions: "*".into(),
            status: SubStatus::Active,
            source: String::new(),
            consent_at: None,
            created_at: String::new(),
            changed_at: String::new(),
            change_reason: String::new(),
            choices: Default::default(),
        }))
}

/// Takes the holder off their scope. True when something changed.
pub fn leave(state: &mut State, h: &Holder, how: &str, now: &str) -> Result<bool> {
    let s = &h.subscriber;
    Ok(match &h.scope {
        Scope::Edition(ed) => state.set_edition(s.id, ed.as_str(), false, how, now)?,
        Scope::All => {
            state
                .set_status(&s.email, &s.address, SubStatus::Unsubscribed, how, now)?
                .1
        }
    })
}

/// Puts the holder back on their scope (the undo of a leave).
pub fn undo(state: &mut State, h: &Holder, how: &str, now: &str) -> Result<bool> {
    let s = &h.subscriber;
    if s.id == 0 {
        // Nobody by that address ever left: nothing to undo.
        return Ok(false);
    }
    Ok(match &h.scope {
        Scope::Edition(ed) => state.set_edition(s.id, ed.as_str(), true, how, now)?,
        Scope::All => {
            state
                .set_status(&s.email, &s.address, SubStatus::Active, how, now)?
                .1
        }
    })
}

/// Whether the holder is already off their scope.
pub fn has_left(h: &Holder) -> bool {
    let s = &h.subscriber;
    s.status != SubStatus::Active || matches!(&h.scope, Scope::Edition(ed) if !s.wants(ed.as_str()))
}

/// The manage page's reader (a manage token), if genuine and known.
pub fn manager(state: &State, key: &TokenKey, token: &str) -> Result<Option<Subscriber>> {
    match key.open(token) {
        Some(Opened::Subscriber {
            id,
            purpose: Purpose::Manage,
        }) => Ok(state.subscriber_by_id(id)?),
        _ => Ok(None),
    }
}

/// Unsubscribes (or, with `undo`, resubscribes) addresses or tokens.
pub fn by_address(
    project: &Project,
    who: &[String],
    undo_it: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Said>> {
    let mut state = State::open(&project.config.paths.state)?;
    let key = token_key(&project.config);
    let now = now.to_rfc3339();
    let how = if undo_it {
        "resubscribed by the operator (unsubscribe --undo)"
    } else {
        "unsubscribed by the operator (almanac unsubscribe)"
    };
    let mut said = Vec::new();
    for w in who {
        let holder = match w.parse::<Email>() {
            Ok(email) => Some(Holder {
                subscriber: known_or_new(&state, &email)?,
                scope: Scope::All,
            }),
            Err(_) => holder(&state, &key, w)?,
        };
        let Some(h) = holder else {
            said.push(Said::Refused(format!(
                "`{w}` is neither an address nor a valid unsubscribe token"
            )));
            continue;
        };
        let changed = if undo_it {
            undo(&mut state, &h, how, &now)?
        } else {
            leave(&mut state, &h, how, &now)?
        };
        let scope = match &h.scope {
            Scope::Edition(ed) => format!(" from {ed}"),
            Scope::All => String::new(),
        };
        let what = match (undo_it, changed) {
            (false, true) => format!("unsubscribed{scope}"),
            (false, false) => format!("already unsubscribed{scope}"),
            (true, true) => format!("resubscribed{}", scope.replace("from", "to")),
            (true, false) => "was not unsubscribed".into(),
        };
        said.push(Said::Done(format!("{}: {what}", h.subscriber.address)));
    }
    Ok(said)
}
