//! Running a plan: a dry run builds and checks every personalised message;
//! a real run journals the recipients as pending, sends, records each
//! outcome, suppresses the hard bounces the breaker did not judge
//! systemic, and closes the run.

use std::sync::Arc;

use super::plan::Reading;
use super::{Plan, Summary, job};
use crate::app::{Error, Result, exit};
use crate::mail::{self, Recipient};
use crate::send::{self, Observer, Via};
use crate::state::{RunRecord, SubStatus};

impl Plan<'_> {
    /// Builds (and signs) every message, sends nothing.
    pub fn dry_run(self) -> Result<(Summary, DryRun)> {
        let start = std::time::Instant::now();
        let key = mail::token_key(&self.project.config);
        let mut bytes = 0usize;
        let mut messages = 0usize;
        for t in self.targets {
            messages += 1;
            let m = self.prepared.personalise(
                &Recipient {
                    id: t.id,
                    email: &t.email,
                    name: t.name.as_ref().map(|n| n.as_str()),
                },
                &key,
            );
            let m = match &self.dkim {
                Some(d) => d.sign(m.bytes)?,
                None => m.bytes,
            };
            if let Some((line, len)) = mail::long_lines(&m).next() {
                return Err(Error::LongLine {
                    email: t.email.to_string(),
                    line,
                    len,
                    max: mail::MAX_LINE,
                });
            }
            bytes += m.len();
        }
        let mut s = self.summary;
        s.seconds = start.elapsed().as_secs_f64();
        s.exit_code = exit::OK;
        if let Reading::Failed(e) = reading(&self.reading) {
            return Err(Error::Invalid(format!(
                "reading the recipients failed: {e}"
            )));
        }
        Ok((s, DryRun { messages, bytes }))
    }

    /// Sends to every target (after a preflight login), journalling each.
    pub fn execute(self, observer: Arc<dyn Observer>) -> Result<Summary> {
        let mut summary = self.summary;
        if summary.pending == 0 {
            summary.exit_code = exit::OK;
            return Ok(summary);
        }
        summary.relay_notes = self.delivery.preflight()?;
        let issue = self.built.issue.id.to_string();
        let stamp = || crate::clock::now().to_rfc3339();
        let via = self.delivery.via();
        let state = self.state;
        let run_id = state.start_run(&issue, &via.as_stored(), &stamp())?;
        let connections = if self.delivery.is_smtp() {
            self.project.config.send.connections
        } else {
            1
        };
        let job = job(
            self.project,
            self.prepared,
            self.dkim,
            self.targets,
            summary.pending as u64,
            connections,
        )?;
        // A relay's daily quota counts what it took in the last 24 hours,
        // in this run's journal and every earlier one.
        let since = (crate::clock::now() - chrono::Duration::hours(24)).to_rfc3339();
        let mut used = std::collections::HashMap::new();
        if let crate::app::send::Delivery::Smtp(relays) = &self.delivery {
            for r in relays.iter().filter(|r| r.relay.rate_per_day.is_some()) {
                let name = &r.relay.smtp.name;
                used.insert(
                    name.clone(),
                    state.sent_via_since(&Via::Smtp(name.clone()).as_stored(), &since)?,
                );
            }
        }
        let (handle, writer) = send::journal::start(state, issue, stamp);
        let tally = self.delivery.run(job, Some(handle), observer, &|name| {
            Ok(used.get(name).copied().unwrap_or(0))
        })?;
        let mut state = writer.join().map_err(|_| Error::JournalCrashed)?;
        state.set_status_all(&tally.hard_bounces, SubStatus::Bounced, &stamp())?;
        summary.sent = tally.sent;
        summary.failed = tally.failed;
        summary.not_attempted = tally.not_attempted;
        match reading(&self.reading) {
            // Readers who left while the send ran were passed over.
            Reading::Done if tally.aborted.is_none() => {
                summary.skipped_suppressed += summary.not_attempted as usize;
                summary.not_attempted = 0;
            }
            Reading::Failed(e) if tally.aborted.is_none() => {
                summary.aborted = Some(format!("reading the recipients failed: {e}"));
            }
            _ => {}
        }
        summary.retries = tally.retries;
        summary.quota_reached = tally.quota_reached;
        if tally.relays.len() > 1 || tally.relays.iter().any(|r| r.quota_left.is_some()) {
            summary.relays = tally.relays.clone();
        }
        if summary.aborted.is_none() {
            summary.aborted = tally.aborted;
        }
        summary.seconds = tally.elapsed_seconds;
        summary.messages_per_second = summary.sent as f64 / tally.elapsed_seconds.max(1e-9);
        let skipped = (summary.skipped_already_sent + summary.skipped_suppressed) as u64;
        // The run's record is bookkeeping: the deliveries are journalled.
        let _ = state.finish_run(
            run_id,
            &RunRecord {
                finished_at: Some(stamp()),
                sent: summary.sent,
                failed: summary.failed.len() as u64,
                skipped,
                not_attempted: summary.not_attempted,
                stopped: summary.aborted.clone(),
                ..RunRecord::default()
            },
        );
        if self.delivery.is_smtp() && summary.sent > 0 {
            summary.archive = Some(rebuild_archive(self.project));
        }
        summary.exit_code = if summary.quota_reached && summary.failed.is_empty() {
            // Nothing is wrong: the rest waits for the quota.
            exit::SOME_FAILED
        } else if summary.sent == 0 && summary.aborted.is_some() && summary.failed.is_empty() {
            exit::INVALID
        } else if summary.failed.is_empty() && summary.not_attempted == 0 {
            exit::OK
        } else {
            exit::SOME_FAILED
        };
        Ok(summary)
    }
}

/// Rebuilds the archive so the "view in browser" link of the mail just
/// sent works when it lands. A failure here is reported, never fatal: the
/// mail has gone.
fn rebuild_archive(project: &crate::app::Project) -> String {
    match crate::app::archive::publish(project) {
        Ok(r) => format!(
            "archive rebuilt: {} issue{} in {}{}",
            r.issues,
            if r.issues == 1 { "" } else { "s" },
            r.dir.display(),
            match r.warnings.warnings() {
                0 => String::new(),
                n => format!(" ({n} warnings; run `almanac archive` to see them)"),
            }
        ),
        Err(e) => format!("the archive was not rebuilt: {}", crate::send::chain(&e)),
    }
}

fn reading(slot: &std::sync::Mutex<Reading>) -> Reading {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// What a dry run built.
pub struct DryRun {
    pub messages: usize,
    pub bytes: usize,
}
