//! One message to one reader, now: the confirmation of a sign-up, a welcome.
//! Built by the use case, signed here, and handed to the configured
//! transport (the outbox unless SMTP is configured) with a few quick
//! retries; a server answering a request can't wait for the backoff of a
//! bulk send.

use std::time::Duration;

use super::{Error, Project, Result};
use crate::domain::Email;
use crate::mail::Personal;
use crate::send::{Attempt, Envelope, Session, Transport};

use super::send::Delivery;

/// A finished message and who it is for.
pub struct Outgoing {
    pub to: Email,
    pub message: Personal,
    /// The issue it carries (a welcome copy), to journal as delivered.
    pub issue: Option<String>,
    /// The subscriber it is for, whose VERP return path an issue copy gets.
    pub reader: Option<i64>,
}

/// Signs `message` when DKIM is configured.
pub fn sign(project: &Project, mut message: Personal) -> Result<Personal> {
    if let Some(cfg) = &project.config.dkim {
        let signer = crate::mail::dkim::Signer::load(cfg)?;
        message.bytes = signer.sign(message.bytes)?;
    }
    Ok(message)
}

/// Delivers one message, through the first relay that takes it; returns
/// where it went (as the journal stores it), or why it did not go.
pub async fn deliver(project: &Project, out: &Outgoing) -> Result<String> {
    let from = match (out.reader, &out.issue) {
        (Some(id), Some(issue)) => super::send::verp_from(project, id, issue),
        _ => None,
    };
    let from = match from {
        Some(f) => f,
        None => super::send::envelope_from(project)?,
    };
    let to = out.to.as_str().parse().map_err(|_| {
        Error::Invalid(format!("{} can't be used as an envelope recipient", out.to))
    })?;
    let envelope = Envelope {
        from: &from,
        to: &to,
        message_id: &out.message.message_id,
    };
    let bytes = &out.message.bytes;
    match Delivery::of(project, false) {
        Delivery::Smtp(relays) => {
            let mut last = None;
            for r in &relays {
                match once(r.transport.as_ref(), &envelope, bytes).await {
                    Ok(()) => return Ok(r.transport.via().as_stored()),
                    // The message itself was refused: another relay
                    // would refuse it too.
                    Err(e @ Error::Refused(_)) => return Err(e),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| Error::Invalid("no relay is configured".into())))
        }
        Delivery::Outbox(t) => {
            once(t.as_ref(), &envelope, bytes).await?;
            Ok(t.via().as_stored())
        }
    }
}

async fn once<T: Transport>(t: &T, envelope: &Envelope<'_>, bytes: &[u8]) -> Result<()> {
    let mut why = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300 << attempt)).await;
        }
        let mut session = t.connect().await?;
        let result = session.send(envelope, bytes).await;
        session.quit().await;
        match result {
            Attempt::Accepted(_) => return Ok(()),
            Attempt::Rejected { reply, .. } => {
                return Err(Error::Refused(format!("the server refused it: {reply}")));
            }
            Attempt::Unusable(w) => return Err(Error::Invalid(w)),
            Attempt::Deferred(reply) => why = reply.to_string(),
            Attempt::Broken(w) => why = w,
        }
    }
    Err(Error::Invalid(format!(
        "not delivered after 3 attempts: {why}"
    )))
}
