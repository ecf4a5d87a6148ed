//! Sending an issue: everything that can be checked is checked first (the
//! issue and its lint, the unsubscribe secret, the DKIM key by signing a
//! probe, the subscriber list, the SMTP login), then, under the send lock,
//! everyone who should get the issue and has not gets it, each delivery
//! journalled. A plan is made first so a face can show it and ask before
//! anything goes out.
//!
//! * `plan`: the transport, the checks and the recipients.
//! * `deliver`: running a plan (or a dry run of it).
//! * `proof`: one marked message to one address, journal untouched.
//! * `due`: what the schedule says is due now, for cron and systemd.

mod deliver;
pub mod due;
mod plan;
mod proof;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Project, Result};
use crate::domain::Email;
use crate::send::outbox::Outbox;
use crate::send::smtp::SmtpTransport;
use crate::send::{self, Via};
pub use deliver::DryRun;
pub use plan::{Plan, plan, take_lock};
pub use proof::proof;

/// What the caller asks of a send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Build and check every personalised message, send nothing.
    pub dry_run: bool,
    /// Send to at most this many of the pending recipients.
    pub limit: Option<usize>,
    /// The time of the send (the Date header; what is due).
    pub now: DateTime<Utc>,
    /// Deliver to the outbox folder even if an SMTP server is configured.
    pub outbox: bool,
}

/// The transport a send uses: the configured SMTP relays, or the outbox.
#[derive(Clone)]
pub enum Delivery {
    /// One or more relays, in the configured order.
    Smtp(Vec<Relayed>),
    Outbox(Arc<Outbox>),
}

/// A configured relay and its transport.
#[derive(Clone)]
pub struct Relayed {
    pub transport: Arc<SmtpTransport>,
    pub relay: crate::config::Relay,
}

impl Delivery {
    /// The configured relays, unless the outbox is asked for (here, or by
    /// `[send] transport = "outbox"`) or there is no server.
    pub fn of(project: &Project, outbox: bool) -> Delivery {
        let relays = &project.config.relays;
        if !relays.is_empty() && !outbox && !project.config.send.outbox_chosen {
            return Delivery::Smtp(
                relays
                    .iter()
                    .map(|r| Relayed {
                        transport: Arc::new(SmtpTransport::new(r.smtp.clone())),
                        relay: r.clone(),
                    })
                    .collect(),
            );
        }
        Delivery::Outbox(Arc::new(Outbox::new(
            project.config.paths.out.join("outbox"),
        )))
    }

    /// Whether the outbox was chosen rather than fallen back to.
    pub fn chosen(project: &Project, outbox: bool) -> bool {
        outbox || project.config.send.outbox_chosen || !project.config.relays.is_empty()
    }

    pub fn describe(&self) -> String {
        use send::Transport;
        match self {
            Delivery::Smtp(relays) => relays
                .iter()
                .map(|r| match relays.len() {
                    1 => r.transport.describe(),
                    _ => format!("{} ({})", r.relay.smtp.name, r.transport.describe()),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Delivery::Outbox(t) => t.describe(),
        }
    }

    /// Where a run goes, for its record: the relay, or `smtp:a, b` for
    /// several (each delivery records its own relay).
    pub fn via(&self) -> Via {
        use send::Transport;
        match self {
            Delivery::Smtp(relays) => Via::Smtp(
                relays
                    .iter()
                    .map(|r| r.relay.smtp.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Delivery::Outbox(t) => t.via(),
        }
    }

    pub fn is_smtp(&self) -> bool {
        matches!(self, Delivery::Smtp(_))
    }

    /// Connects and logs in to each relay before anything is queued, so a
    /// wrong host, certificate or password sends nothing and fails fast.
    /// With several relays, one that fails is reported (and tried again
    /// during the send) as long as another works.
    pub fn preflight(&self) -> Result<Vec<String>> {
        let Delivery::Smtp(relays) = self else {
            return Ok(Vec::new());
        };
        let rt = super::runtime()?;
        let mut notes = Vec::new();
        let mut first_error = None;
        for r in relays {
            match rt.block_on(r.transport.preflight()) {
                Ok(()) => {}
                Err(e) if relays.len() > 1 => {
                    notes.push(format!(
                        "relay {} can't be used now ({}); its share goes to the others, and it is tried again during the send",
                        r.relay.smtp.name,
                        send::chain(&e)
                    ));
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        match first_error {
            Some(e) if notes.len() == relays.len() => Err(e.into()),
            _ => Ok(notes),
        }
    }

    /// Runs a job to the end on this transport. `sent_today` says how many
    /// messages a relay took in the last 24 hours (its quota's use).
    fn run(
        &self,
        job: send::Job,
        journal: Option<send::journal::Handle>,
        observer: Arc<dyn send::Observer>,
        sent_today: &dyn Fn(&str) -> Result<u64>,
    ) -> Result<send::Tally> {
        let rt = super::runtime()?;
        Ok(match self {
            Delivery::Smtp(relays) => {
                let mut lanes = Vec::new();
                for r in relays {
                    let quota = match r.relay.rate_per_day {
                        Some(day) => Some(day.saturating_sub(sent_today(&r.relay.smtp.name)?)),
                        None => None,
                    };
                    lanes.push(send::Lane {
                        transport: r.transport.clone(),
                        connections: r.relay.connections.unwrap_or(job.connections),
                        weight: r.relay.weight,
                        rate: send::rate::Limiter::new(
                            r.relay.rate_per_second,
                            r.relay.rate_per_hour,
                        ),
                        quota,
                    });
                }
                rt.block_on(send::run_lanes(job, lanes, journal, observer))
            }
            Delivery::Outbox(t) => rt.block_on(send::run(job, t.clone(), journal, observer)),
        })
    }
}

/// What a send did, printed at the end (and as JSON with `--json`).
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub issue: String,
    pub transport: String,
    pub dry_run: bool,
    pub subscribers: usize,
    pub not_this_edition: usize,
    pub skipped_already_sent: usize,
    pub skipped_suppressed: usize,
    pub invalid_rows: Vec<String>,
    pub pending: usize,
    pub sent: u64,
    pub failed: Vec<send::FailedRecipient>,
    pub not_attempted: u64,
    pub retries: u64,
    pub aborted: Option<String>,
    pub seconds: f64,
    pub messages_per_second: f64,
    /// What rebuilding the archive after the send did.
    pub archive: Option<String>,
    /// What each relay took, when there are several.
    pub relays: Vec<send::RelayTally>,
    /// Relays that could not be used when the send started.
    pub relay_notes: Vec<String>,
    /// Stopped at the relays' daily quotas: the rest goes out later.
    pub quota_reached: bool,
    pub exit_code: u8,
}

/// The development secret's warning, or the refusal for a real send.
fn secret_check(project: &Project, real: bool) -> Result<Option<String>> {
    if project.config.unsubscribe_secret.is_some() {
        return Ok(None);
    }
    if real {
        return Err(super::Error::NoSecret);
    }
    Ok(Some(
        "ALMANAC_UNSUBSCRIBE_SECRET is not set; using a development secret (fine for the outbox and proofs only)"
            .into(),
    ))
}

/// The envelope sender of mail that is no reader's issue (and of every
/// message without VERP): the bounce address when there is one, so
/// bounces reach the mailbox `almanac bounces` reads, else the From.
pub(crate) fn envelope_from(project: &Project) -> Result<lettre::Address> {
    let cfg = &project.config;
    let from = cfg
        .bounces
        .address
        .as_ref()
        .unwrap_or(&cfg.newsletter.from.email);
    from.as_str()
        .parse()
        .map_err(|_| super::Error::EnvelopeFrom(from.to_string()))
}

/// The VERP return path of `issue` to subscriber `id`, when a bounce
/// address is configured.
pub(crate) fn verp_from(project: &Project, id: i64, issue: &str) -> Option<lettre::Address> {
    let rp = crate::mail::verp::ReturnPath::new(project.config.bounces.address.as_ref()?);
    let key = crate::mail::token_key(&project.config);
    rp.for_reader(&key, id, issue).parse().ok()
}

/// A job for these recipients with the project's settings.
fn job(
    project: &Project,
    prepared: crate::mail::Prepared,
    dkim: Option<crate::mail::dkim::Signer>,
    targets: send::Targets,
    total: u64,
    connections: usize,
) -> Result<send::Job> {
    let s = &project.config.send;
    // A proof goes to the editor, who is nobody's subscriber.
    let prepared_is_proof = prepared.is_proof();
    Ok(send::Job {
        prepared: Arc::new(prepared),
        key: crate::mail::token_key(&project.config),
        dkim,
        envelope_from: envelope_from(project)?,
        verp: project
            .config
            .bounces
            .address
            .as_ref()
            .filter(|_| !prepared_is_proof)
            .map(crate::mail::verp::ReturnPath::new),
        targets: std::sync::Mutex::new(targets),
        total,
        connections,
        max_attempts: s.max_attempts,
        rate: send::rate::Limiter::new(s.rate_per_second, s.rate_per_hour),
        backoff: s.first_backoff,
        breaker: BREAKER,
    })
}

/// Recipients refused in a row with the same reply before a send stops.
const BREAKER: u32 = 20;

/// The DKIM signer, proven by signing one message, so a bad key fails
/// before anything is sent.
fn load_dkim(
    project: &Project,
    prepared: &crate::mail::Prepared,
) -> Result<Option<crate::mail::dkim::Signer>> {
    let Some(cfg) = &project.config.dkim else {
        return Ok(None);
    };
    let signer = crate::mail::dkim::Signer::load(cfg)?;
    let probe: Email = "probe@example.com".parse().expect("a valid address");
    let message = prepared.personalise(
        &crate::mail::Recipient {
            id: 0,
            email: &probe,
            name: None,
        },
        &crate::mail::token_key(&project.config),
    );
    signer.sign(message.bytes)?;
    Ok(Some(signer))
}
