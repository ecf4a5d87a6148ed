//! Delivery: N workers (one SMTP session each, or the outbox), a shared rate
//! limit, retries with backoff, and the journal. Workers personalise their
//! own messages from the issue's `Prepared` bytes, so memory does not grow
//! with the list. This module gets bytes and addresses, never an `Issue`.

pub mod journal;
pub mod outbox;
pub mod rate;
pub mod smtp;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lettre::Address;

use crate::config::Smtp;
use crate::domain::{Email, Line};
use crate::mail::dkim::Signer;
use crate::mail::{Prepared, Recipient, TokenKey};
use crate::state::{Outcome, Status};
use smtp::{Attempt, Session};

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(Smtp),
    /// One `.eml` file per message in this folder.
    Outbox(PathBuf),
}

impl Transport {
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(s) => {
                let scheme = if s.tls == crate::config::Tls::Implicit {
                    "smtps"
                } else {
                    "smtp"
                };
                format!("{scheme}://{}:{}", s.host, s.port)
            }
            Transport::Outbox(p) => format!("the outbox {}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub email: Email,
    pub name: Option<Line>,
}

pub struct Job {
    pub prepared: Arc<Prepared>,
    pub key: TokenKey,
    pub dkim: Option<Signer>,
    pub envelope_from: Address,
    pub targets: Vec<Target>,
    pub connections: usize,
    pub max_attempts: u32,
    pub rate: rate::Limiter,
    pub transport: Transport,
    /// Backoff before the first retry; doubles each time, capped at 30 s.
    pub backoff: Duration,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Tally {
    pub sent: u64,
    pub failed: Vec<FailedRecipient>,
    /// Left pending because the transport stopped working.
    pub not_attempted: u64,
    pub retries: u64,
    /// Why workers stopped early, if they did.
    pub aborted: Option<String>,
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedRecipient {
    pub email: String,
    pub reply: String,
    pub attempts: u32,
    pub suppressed: bool,
}

/// Something that wants to hear about each finished recipient.
pub trait Observer: Send + Sync {
    fn finished(&self, sent: bool);
}

/// Runs the job to the end. `journal` is absent for proofs.
pub async fn run(job: Job, journal: Option<journal::Handle>, observer: Arc<dyn Observer>) -> Tally {
    let start = Instant::now();
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers = job.connections.min(job.targets.len()).max(1);
    let mut handles = Vec::new();
    for _ in 0..workers {
        let w = Worker {
            job: job.clone(),
            next: next.clone(),
            stop: stop.clone(),
            journal: journal.clone(),
            observer: observer.clone(),
        };
        handles.push(tokio::spawn(w.run()));
    }
    let mut tally = Tally::default();
    let mut done = 0u64;
    for h in handles {
        match h.await {
            Ok(t) => {
                done += t.sent + t.failed.len() as u64;
                tally.sent += t.sent;
                tally.retries += t.retries;
                tally.failed.extend(t.failed);
                if tally.aborted.is_none() {
                    tally.aborted = t.aborted;
                }
            }
            Err(e) => tally.aborted = Some(format!("a worker crashed: {e}")),
        }
    }
    tally.not_attempted = (job.targets.len() as u64).saturating_sub(done);
    tally.failed.sort_by(|a, b| a.email.cmp(&b.email));
    tally.elapsed_seconds = start.elapsed().as_secs_f64();
    tally
}

struct Worker {
    job: Arc<Job>,
    next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    journal: Option<journal::Handle>,
    observer: Arc<dyn Observer>,
}

/// The worker's SMTP session, if it has one (boxed: it is large).
type Conn = Option<Box<Session>>;

impl Worker {
    async fn run(self) -> Tally {
        let mut tally = Tally::default();
        let mut conn: Conn = None;
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(target) = self.job.targets.get(i) else {
                break;
            };
            let outcome = match self.deliver(target, &mut conn, &mut tally).await {
                Ok(o) => o,
                Err(reason) => {
                    // The transport is gone: leave this one pending and stop.
                    self.stop.store(true, Ordering::Relaxed);
                    tally.aborted = Some(reason);
                    break;
                }
            };
            let sent = outcome.status == Status::Sent;
            if let Some(j) = &self.journal
                && let Err(e) = j.record(outcome.clone()).await
            {
                self.stop.store(true, Ordering::Relaxed);
                tally.aborted = Some(e);
                // The message went out but its record did not: count it as
                // sent so the summary is truthful.
                if sent {
                    tally.sent += 1;
                }
                break;
            }
            if sent {
                tally.sent += 1;
            } else {
                tally.failed.push(FailedRecipient {
                    email: target.email.to_string(),
                    reply: outcome.reply.clone(),
                    attempts: outcome.attempts,
                    suppressed: outcome.suppress.is_some(),
                });
            }
            self.observer.finished(sent);
        }
        if let Some(s) = conn {
            s.quit().await;
        }
        tally
    }

    /// Delivers one message with retries. `Err` means the transport is
    /// unusable (cannot connect at all, disk full): stop the run.
    async fn deliver(
        &self,
        t: &Target,
        conn: &mut Conn,
        tally: &mut Tally,
    ) -> Result<Outcome, String> {
        let job = &self.job;
        let recipient = Recipient {
            email: &t.email,
            name: t.name.as_ref().map(Line::as_str),
        };
        let personal = job.prepared.personalise(&recipient, &job.key);
        let bytes = match &job.dkim {
            Some(s) => s.sign(personal.bytes)?,
            None => personal.bytes,
        };
        let outcome = |status, attempts, reply: String, suppress| Outcome {
            email_key: t.email.key(),
            status,
            attempts,
            reply,
            message_id: personal.message_id.clone(),
            suppress,
        };
        job.rate.wait().await;
        match &job.transport {
            Transport::Outbox(dir) => {
                outbox::write(dir, &personal.message_id, &bytes)?;
                Ok(outcome(
                    Status::Sent,
                    1,
                    "written to the outbox".into(),
                    None,
                ))
            }
            Transport::Smtp(cfg) => {
                let to: Address = t.email.as_str().parse().map_err(|e| format!("{e}"))?;
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let attempt = match self.session(cfg, conn).await {
                        Ok(s) => s.send(&job.envelope_from, &to, &bytes).await,
                        Err(e) if attempts >= job.max_attempts => {
                            return Err(format!("giving up after {attempts} attempts: {e}"));
                        }
                        Err(e) => Attempt::Broken(e),
                    };
                    let last = attempts >= job.max_attempts;
                    match attempt {
                        Attempt::Accepted(reply) => {
                            return Ok(outcome(Status::Sent, attempts, reply, None));
                        }
                        Attempt::Rejected { reply, at_rcpt } => {
                            let suppress = (at_rcpt && smtp::is_hard_bounce(&reply))
                                .then(|| "bounced".to_string());
                            self.drop_if_broken(conn);
                            return Ok(outcome(Status::Failed, attempts, reply, suppress));
                        }
                        Attempt::Deferred(reply) | Attempt::Broken(reply) if last => {
                            *conn = None;
                            return Ok(outcome(
                                Status::Failed,
                                attempts,
                                format!("gave up after {attempts} attempts: {reply}"),
                                None,
                            ));
                        }
                        Attempt::Deferred(_) => self.drop_if_broken(conn),
                        Attempt::Broken(_) => *conn = Conn::None,
                    }
                    tally.retries += 1;
                    let wait = job
                        .backoff
                        .saturating_mul(1 << (attempts - 1).min(8))
                        .min(Duration::from_secs(30));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn session<'c>(&self, cfg: &Smtp, conn: &'c mut Conn) -> Result<&'c mut Session, String> {
        if conn.is_none() {
            *conn = Some(Box::new(Session::connect(cfg).await?));
        }
        Ok(conn.as_mut().expect("connected above"))
    }

    fn drop_if_broken(&self, conn: &mut Conn) {
        if conn.as_ref().is_some_and(|s| s.is_broken()) {
            *conn = None;
        }
    }
}

/// Checks that the server is reachable and accepts our login before anything
/// is queued, so a wrong host or password sends nothing and fails fast.
pub async fn preflight(cfg: &Smtp) -> Result<(), String> {
    let s = Session::connect(cfg).await?;
    s.quit().await;
    Ok(())
}
