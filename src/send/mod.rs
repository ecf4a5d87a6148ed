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

/// One recipient's finished message, built off the async threads.
struct Message {
    index: usize,
    message_id: String,
    bytes: Vec<u8>,
}

impl Job {
    /// Personalises (and signs) the message for target `index`.
    fn build(&self, index: usize) -> Result<Message, String> {
        let t = &self.targets[index];
        let recipient = Recipient {
            email: &t.email,
            name: t.name.as_ref().map(Line::as_str),
        };
        let personal = self.prepared.personalise(&recipient, &self.key);
        let bytes = match &self.dkim {
            Some(s) => s.sign(personal.bytes)?,
            None => personal.bytes,
        };
        Ok(Message {
            index,
            message_id: personal.message_id,
            bytes,
        })
    }
}

impl Worker {
    fn claim(&self) -> Option<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.job.targets.len()).then_some(i)
    }

    /// Builds a message on the blocking pool: DKIM signing takes most of a
    /// millisecond, which would stall the other sessions on this thread.
    fn build_ahead(&self, index: usize) -> tokio::task::JoinHandle<Result<Message, String>> {
        let job = self.job.clone();
        tokio::task::spawn_blocking(move || job.build(index))
    }

    async fn run(self) -> Tally {
        let mut tally = Tally::default();
        let mut conn: Conn = None;
        let mut ahead = self.claim().map(|i| self.build_ahead(i));
        while let Some(building) = ahead.take() {
            let message = match building.await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => return self.abort(tally, e, conn).await,
                Err(e) => {
                    return self
                        .abort(tally, format!("building a message failed: {e}"), conn)
                        .await;
                }
            };
            // The next message is built while this one is on the wire. If the
            // run stops first, its recipient simply stays pending.
            ahead = self.claim().map(|i| self.build_ahead(i));
            let target = &self.job.targets[message.index];
            let outcome = match self.deliver(target, message, &mut conn, &mut tally).await {
                Ok(o) => o,
                // The transport is gone: leave this one pending and stop.
                Err(reason) => return self.abort(tally, reason, conn).await,
            };
            let sent = outcome.status == Status::Sent;
            if let Some(j) = &self.journal
                && let Err(e) = j.record(outcome.clone()).await
            {
                // The message went out but its record did not: count it as
                // sent so the summary is truthful.
                if sent {
                    tally.sent += 1;
                }
                return self.abort(tally, e, conn).await;
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

    /// Stops every worker after a failure that is not one recipient's.
    async fn abort(&self, mut tally: Tally, reason: String, conn: Conn) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        tally.aborted = Some(reason);
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
        message: Message,
        conn: &mut Conn,
        tally: &mut Tally,
    ) -> Result<Outcome, String> {
        let job = &self.job;
        let Message {
            message_id, bytes, ..
        } = message;
        let outcome = |status, attempts, reply: String, suppress| Outcome {
            email_key: t.email.key(),
            status,
            attempts,
            reply,
            message_id: message_id.clone(),
            suppress,
        };
        job.rate.wait().await;
        match &job.transport {
            Transport::Outbox(dir) => {
                outbox::write(dir, &message_id, &bytes)?;
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
