//! Readers joining by themselves: a sign-up request (double opt-in), its
//! confirmation, and the welcome that follows. The form can't be used to
//! probe the list (every request gets the same answer) or to mail-bomb
//! someone (at most one mail per address per hour, whatever the rate of
//! requests); a request not confirmed within `[signup] confirm_within` is
//! purged.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::mailer::{Outgoing, sign};
use super::{Error, Project, Result};
use crate::content::markdown;
use crate::domain::{EditionId, Email, Line};
use crate::layouts::Edition;
use crate::mail::{Opened, Purpose, Recipient, Single, token_key, with_token};
use crate::render::notice::{self, Notice};
use crate::state::{Confirmable, State, SubStatus, signed_up_for};

/// At most one sign-up mail per address in this long.
pub const MAIL_INTERVAL: chrono::Duration = chrono::Duration::hours(1);

/// A request from the form.
pub struct SignUp {
    pub email: Email,
    pub name: Option<Line>,
    pub editions: Vec<EditionId>,
    /// The client's address, kept only when `[signup] record_ip` says so.
    pub ip: Option<String>,
}

fn lifetime(project: &Project) -> chrono::Duration {
    chrono::Duration::from_std(project.config.signup.confirm_within)
        .unwrap_or(chrono::Duration::days(7))
}

/// Forgets sign-ups never confirmed within the link's lifetime.
pub fn purge(project: &Project, state: &mut State, now: DateTime<Utc>) -> Result<usize> {
    Ok(state.purge_signups(&(now - lifetime(project)).to_rfc3339())?)
}

/// Records a sign-up and builds the mail it calls for: a confirmation, or
/// for someone already subscribed a note with their manage link. `None`
/// when this address was mailed about a sign-up within the last hour.
pub fn request(
    project: &Project,
    state: &mut State,
    req: &SignUp,
    now: DateTime<Utc>,
) -> Result<Option<Outgoing>> {
    let cfg = &project.config.signup;
    let lifetime = lifetime(project);
    purge(project, state, now)?;
    if req.editions.is_empty() {
        return Err(Error::Invalid("choose at least one edition".into()));
    }
    let all = project.editions();
    let editions = if all.iter().all(|e| req.editions.contains(e)) {
        "*".to_string()
    } else {
        req.editions
            .iter()
            .map(EditionId::as_str)
            .collect::<Vec<_>>()
            .join(";")
    };
    let ip = req.ip.as_deref().filter(|_| cfg.record_ip);
    let name = req.name.as_ref().map(Line::as_str);
    let stamp = now.to_rfc3339();
    let r = state.request_signup(
        &req.email.key(),
        req.email.as_str(),
        name,
        &editions,
        ip,
        &stamp,
    )?;
    if !state.claim_signup_mail(r.id, &(now - MAIL_INTERVAL).to_rfc3339(), &stamp)? {
        return Ok(None);
    }
    let key = token_key(&project.config);
    let n = &project.config.newsletter;
    let notice = if r.status == SubStatus::Active {
        Notice {
            subject: format!("You are already subscribed to {}", n.name),
            preheader: "Nothing to confirm: you are on the list.".into(),
            greeting: None,
            paragraphs: vec![
                format!(
                    "Someone, probably you, asked to subscribe {} to {}. This address is already subscribed, so there is nothing to confirm.",
                    req.email, n.name
                ),
                "To choose which editions you get, or to leave, use your subscription page:".into(),
            ],
            blocks: Vec::new(),
            action: Some((
                "Manage your subscription".into(),
                with_token(
                    &project.config.manage_url(),
                    &key.make(r.id, &Purpose::Manage),
                ),
            )),
            after: vec!["If you did not ask, you can ignore this email.".into()],
        }
    } else {
        let expires = (now + lifetime).timestamp();
        state.set_confirm_expiry(r.id, expires)?;
        let link = with_token(
            &project.config.confirm_url(),
            &key.make(r.id, &Purpose::Confirm { expires }),
        );
        let until = (now + lifetime)
            .with_timezone(&project.timezone())
            .format("%-d %B %Y, %H:%M %Z");
        Notice {
            subject: format!("Confirm your subscription to {}", n.name),
            preheader: "One click and you are on the list.".into(),
            greeting: None,
            paragraphs: vec![format!(
                "Someone, hopefully you, asked to receive {} of {} at {}. To confirm, open this link and press the button:",
                edition_names(project, &editions),
                n.name,
                req.email
            )],
            blocks: Vec::new(),
            action: Some(("Confirm your subscription".into(), link)),
            after: vec![
                format!("The link works until {until}."),
                "If you did not ask, ignore this email: nothing more will be sent, and the request is forgotten.".into(),
            ],
        }
    };
    let kind = if r.status == SubStatus::Active {
        "already"
    } else {
        "confirm"
    };
    let out = single(
        project,
        &req.email,
        name,
        &notice,
        kind,
        &editions,
        now,
        Vec::new(),
    )?;
    Ok(Some(out))
}

/// "the Midweek and Sunday editions", "the Sunday edition".
fn edition_names(project: &Project, editions: &str) -> String {
    let names: Vec<String> = project
        .layouts
        .editions
        .values()
        .filter(|e| signed_up_for(editions, e.id.as_str()))
        .map(|e| e.name.to_string())
        .collect();
    match names.as_slice() {
        [one] => format!("the {one} edition"),
        [rest @ .., last] => format!("the {} and {last} editions", rest.join(", ")),
        [] => "no edition".into(),
    }
}

/// The edition whose look a notice wears: the first of the reader's.
fn look<'p>(project: &'p Project, editions: &str) -> &'p Edition {
    let all = &project.layouts.editions;
    all.values()
        .find(|e| signed_up_for(editions, e.id.as_str()))
        .or_else(|| all.values().next())
        .expect("a project has at least one edition")
}

#[allow(clippy::too_many_arguments)]
fn single(
    project: &Project,
    to: &Email,
    name: Option<&str>,
    notice: &Notice,
    kind: &str,
    editions: &str,
    now: DateTime<Utc>,
    headers: Vec<String>,
) -> Result<Outgoing> {
    let (html, text) = notice::render(
        &project.config,
        &project.layouts,
        look(project, editions),
        notice,
    )?;
    let n = &project.config.newsletter;
    let message = Single {
        from: &n.from,
        reply_to: n.reply_to.as_ref(),
        to,
        to_name: name,
        subject: &notice.subject,
        html: &html,
        text: &text,
        date: now.with_timezone(&project.timezone()).fixed_offset(),
        kind,
        headers,
    }
    .build();
    Ok(Outgoing {
        to: to.clone(),
        message: sign(project, message)?,
        issue: None,
        reader: None,
    })
}

/// What a confirmation link finds.
pub enum Confirm {
    /// Confirmed (or, for `look_up`, waiting to be): the reader and editions.
    Ready {
        id: i64,
        address: String,
        editions: String,
    },
    /// Past its time: start again on the form.
    Expired,
    /// Already used, or replaced by a newer sign-up's link.
    Used { address: String },
    /// Forged, truncated, or not a confirmation link at all.
    Invalid,
}

fn open(
    project: &Project,
    state: &State,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Confirm, Option<(i64, i64)>)> {
    let Some(Opened::Subscriber {
        id,
        purpose: Purpose::Confirm { expires },
    }) = token_key(&project.config).open(token)
    else {
        return Ok((Confirm::Invalid, None));
    };
    if now.timestamp() > expires {
        return Ok((Confirm::Expired, None));
    }
    Ok(match state.confirmable(id, expires)? {
        Confirmable::Waiting { editions, address } => (
            Confirm::Ready {
                id,
                address,
                editions,
            },
            Some((id, expires)),
        ),
        Confirmable::Used { address } => (Confirm::Used { address }, None),
        Confirmable::Unknown => (Confirm::Invalid, None),
    })
}

/// What the confirmation page shows on a GET: it changes nothing.
pub fn look_up(
    project: &Project,
    state: &State,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Confirm> {
    Ok(open(project, state, token, now)?.0)
}

/// Confirms a sign-up (the page's button): the reader is active, their
/// consent recorded; returns what to show and the welcome to send.
pub fn confirm(
    project: &Project,
    state: &mut State,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Confirm, Vec<Outgoing>)> {
    let (found, Some((id, expires))) = open(project, state, token, now)? else {
        return Ok((open(project, state, token, now)?.0, Vec::new()));
    };
    let stamp = now.to_rfc3339();
    let consent = format!("confirmed the sign-up on the form at {stamp}");
    if !state.confirm_signup(id, expires, &consent, &stamp)? {
        return Ok((Confirm::Invalid, Vec::new()));
    }
    let welcome = match state.subscriber_by_id(id)? {
        Some(s) => welcome(project, state, &s, now)?,
        None => Vec::new(),
    };
    Ok((found, welcome))
}

/// The welcome: `layouts/welcome.md` when there is one, else the newest
/// issue of each of the reader's editions that went out.
fn welcome(
    project: &Project,
    state: &State,
    s: &crate::state::Subscriber,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>> {
    let email: Email = s.address.parse().map_err(Error::Invalid)?;
    let key = token_key(&project.config);
    let file = project.config.paths.layouts.join("welcome.md");
    if file.is_file() {
        return Ok(vec![welcome_note(project, s, &email, &file, now)?]);
    }
    let mut out = Vec::new();
    for edition in project
        .layouts
        .editions
        .values()
        .filter(|e| s.wants(e.id.as_str()))
    {
        let Some(id) = newest_sent(project, state, &edition.id)? else {
            continue;
        };
        let built = project.built(Some(id.as_str()))?;
        let date = now.with_timezone(&project.timezone()).fixed_offset();
        let prepared = project.prepare(&built.issue, &built.rendered, date, false);
        let message = prepared.personalise(
            &Recipient {
                id: s.id,
                email: &email,
                name: s.name.as_deref(),
            },
            &key,
        );
        out.push(Outgoing {
            to: email.clone(),
            message: sign(project, message)?,
            issue: Some(id.to_string()),
            reader: Some(s.id),
        });
    }
    Ok(out)
}

/// The newest issue of an edition that went out over SMTP.
fn newest_sent(
    project: &Project,
    state: &State,
    edition: &EditionId,
) -> Result<Option<crate::domain::IssueId>> {
    for id in project.issue_ids()?.into_iter().rev() {
        if state.counts(id.as_str())?.sent == 0 {
            continue;
        }
        if let Ok(issue) = project.issue(Some(id.as_str()))
            && &issue.edition == edition
            && !issue.draft
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

fn welcome_note(
    project: &Project,
    s: &crate::state::Subscriber,
    email: &Email,
    file: &Path,
    now: DateTime<Utc>,
) -> Result<Outgoing> {
    let src = crate::diag::read_text(file, 64 * 1024)?;
    let blocks = markdown::parse(&src)
        .map_err(|errors| {
            let mut p = crate::diag::Problems::default();
            for (span, message, hint) in errors {
                p.push(
                    crate::diag::Problem::error(file, message)
                        .at(&src, span)
                        .hint(hint),
                );
            }
            Error::Problems(p)
        })?
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    let key = token_key(&project.config);
    let n = &project.config.newsletter;
    let leave = with_token(
        project.config.links.unsubscribe.as_str(),
        &key.make(s.id, &Purpose::Manage),
    );
    let manage = with_token(
        &project.config.manage_url(),
        &key.make(s.id, &Purpose::Manage),
    );
    let notice = Notice {
        subject: format!("Welcome to {}", n.name),
        preheader: format!("You are subscribed to {}.", n.name),
        greeting: Some(format!(
            "Hi {},",
            s.name.as_deref().unwrap_or(n.greeting_fallback.as_str())
        )),
        paragraphs: Vec::new(),
        blocks,
        action: Some(("Manage your subscription".into(), manage)),
        after: Vec::new(),
    };
    let headers = vec![
        format!("List-Unsubscribe: <{leave}>"),
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click".into(),
    ];
    single(
        project,
        email,
        s.name.as_deref(),
        &notice,
        "welcome",
        &s.editions,
        now,
        headers,
    )
}

/// Journals the welcome copies of issues that went out, so a later send of
/// that issue does not send it again.
pub fn record_welcome(
    state: &mut State,
    sent: &[(&Outgoing, &str)],
    now: DateTime<Utc>,
) -> Result<()> {
    for (out, via) in sent {
        if let Some(issue) = &out.issue {
            state.record(
                issue,
                &[crate::state::Outcome {
                    email_key: out.to.key(),
                    status: crate::state::Status::Sent,
                    attempts: 1,
                    reply: "sent as the welcome of a new reader".into(),
                    message_id: out.message.message_id.clone(),
                    via: (*via).to_owned(),
                }],
                &now.to_rfc3339(),
            )?;
        }
    }
    Ok(())
}
