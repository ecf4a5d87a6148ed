//! A proof: the issue, marked as one in its subject, to one address over
//! the configured transport. The journal is untouched; drafts can be
//! proofed.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Delivery, job, load_dkim, secret_check};
use crate::app::{Built, Error, Project, Result};
use crate::domain::Email;
use crate::send::{Quiet, Target};

pub struct Proof {
    pub to: Email,
    pub transport: String,
    pub warnings: Vec<String>,
}

pub fn proof(project: &Project, built: Built, to: &Email, now: DateTime<Utc>) -> Result<Proof> {
    let delivery = Delivery::of(project, false);
    let warnings = secret_check(project, false)?.into_iter().collect();
    let date = now.with_timezone(&project.timezone()).fixed_offset();
    let mut issue = built.issue;
    if issue.draft {
        // A proof of a draft says so where the editor looks first.
        issue.subject = crate::domain::Line::new(
            &format!("[DRAFT] {}", issue.subject),
            "the subject",
            usize::MAX,
        )
        .unwrap_or(issue.subject);
    }
    let prepared = project.prepare(&issue, &built.rendered, date, true);
    let dkim = load_dkim(project, &prepared)?;
    delivery.preflight()?;
    // A reviewer who is on the list gets their own links, so a proof's
    // unsubscribe and manage links can be tried for real.
    let (state, _) = crate::app::subscribers::open(project, now)?;
    let id = state.subscriber(&to.key())?.map_or(0, |s| s.id);
    let target = Target::new(id, to.clone(), None)
        .ok_or_else(|| Error::Usage(format!("{to} can't be used as an envelope recipient")))?;
    let job = job(
        project,
        prepared,
        dkim,
        Box::new(std::iter::once(target)),
        1,
        1,
    )?;
    let tally = delivery.run(job, None, Arc::new(Quiet), &|_| Ok(0))?;
    if tally.sent == 1 {
        return Ok(Proof {
            to: to.clone(),
            transport: delivery.describe(),
            warnings,
        });
    }
    let why = tally
        .failed
        .first()
        .map(|f| f.reply.clone())
        .or(tally.aborted)
        .unwrap_or_default();
    Err(Error::ProofFailed {
        addr: to.to_string(),
        why,
    })
}
