//! Delivery: N workers (one session each), a shared rate limit, retries
//! with backoff, a circuit breaker, and the journal. Workers personalise
//! their own messages from the issue's `Prepared` bytes, so memory does not
//! grow with the list. This module gets bytes and addresses, never an
//! `Issue`, and any `Transport` (SMTP, the outbox, the test recorder).

pub mod journal;
pub mod memory;
pub mod outbox;
pub mod rate;
pub mod reply;
pub mod smtp;
pub mod transport;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::Address;

use crate::domain::{Email, Line};
use crate::mail::dkim::Signer;
use crate::mail::{Prepared, Recipient, TokenKey};
use crate::state::{Outcome, Status};
pub use reply::Reply;
pub use transport::{Attempt, Envelope, Session, Transport, TransportError, Via};

/// Where the recipients come from: a list, or pages read from the
/// database as the send goes.
pub type Targets = Box<dyn Iterator<Item = Target> + Send>;

impl Job {
    /// The targets of a fixed list (proofs, tests).
    pub fn list(targets: Vec<Target>) -> (Mutex<Targets>, u64) {
        let total = targets.len() as u64;
        (Mutex::new(Box::new(targets.into_iter())), total)
    }
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum Abort {
    #[error("giving up after {attempts} attempts")]
    Transport {
        attempts: u32,
        #[source]
        source: TransportError,
    },
    #[error("{0}")]
    Unusable(String),
    #[error(transparent)]
    Journal(#[from] journal::Error),
    #[error("building a message failed")]
    Build(#[from] crate::mail::dkim::Error),
    #[error("a worker crashed: {0}")]
    Crashed(String),
}

/// One recipient, with what every attempt needs computed once.
#[derive(Debug, Clone)]
pub struct Target {
    /// The subscriber's id, which their tokens name (0 for a proof).
    pub id: i64,
    pub email: Email,
    /// `email.key()`: the journal's and the suppressions' identity.
    pub key: String,
    /// The envelope recipient, parsed once.
    pub address: Address,
    pub name: Option<Line>,
}

impl Target {
    /// `None` when lettre can't put the address in an envelope.
    pub fn new(id: i64, email: Email, name: Option<Line>) -> Option<Target> {
        let address = email.as_str().parse().ok()?;
        Some(Target {
            id,
            key: email.key(),
            email,
            address,
            name,
        })
    }
}

pub struct Job {
    pub prepared: Arc<Prepared>,
    pub key: TokenKey,
    pub dkim: Option<Signer>,
    pub envelope_from: Address,
    /// With a bounce address: each reader's VERP return path, which wins
    /// over `envelope_from`.
    pub verp: Option<crate::mail::verp::ReturnPath>,
    /// Read as the workers need them, so a list of any size is never all
    /// in memory; `total` of them at most.
    pub targets: Mutex<Targets>,
    pub total: u64,
    pub connections: usize,
    pub max_attempts: u32,
    pub rate: rate::Limiter,
    /// Backoff before the first retry; doubles each time, capped at 30 s.
    pub backoff: Duration,
    /// Stop after this many recipients in a row failed with the same reply.
    pub breaker: u32,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Tally {
    pub sent: u64,
    pub failed: Vec<FailedRecipient>,
    /// Left pending because the run stopped early.
    pub not_attempted: u64,
    pub retries: u64,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// Hard bounces to suppress: refusals of a mailbox, minus those the
    /// circuit breaker judged systemic.
    #[serde(skip)]
    pub hard_bounces: Vec<(String, String)>,
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedRecipient {
    pub email: String,
    pub reply: String,
    /// The reply's code and enhanced code, e.g. `550 5.1.1`; what the
    /// summary groups failures by.
    pub kind: String,
    pub attempts: u32,
    pub suppressed: bool,
}

/// Something that wants to hear about each finished recipient.
pub trait Observer: Send + Sync {
    fn finished(&self, sent: bool);
}

/// An observer that hears nothing.
pub struct Quiet;
impl Observer for Quiet {
    fn finished(&self, _sent: bool) {}
}

/// Runs the job to the end (or until the transport is unusable, or the
/// breaker trips). `journal` is absent for proofs.
pub async fn run<T: Transport>(
    job: Job,
    transport: Arc<T>,
    journal: Option<journal::Handle>,
    observer: Arc<dyn Observer>,
) -> Tally {
    let start = Instant::now();
    let shared = Arc::new(Shared {
        job,
        transport,
        stop: AtomicBool::new(false),
        streak: Mutex::new(Streak::default()),
        journal,
        observer,
    });
    let workers = (shared.job.connections as u64).min(shared.job.total).max(1) as usize;
    let handles: Vec<_> = (0..workers)
        .map(|_| tokio::spawn(Worker::new(shared.clone()).run()))
        .collect();
    let mut tally = Tally::default();
    let mut bounces = Vec::new();
    let mut done = 0u64;
    for h in handles {
        match h.await {
            Ok((t, b)) => {
                done += t.sent + t.failed.len() as u64;
                tally.sent += t.sent;
                tally.retries += t.retries;
                tally.failed.extend(t.failed);
                bounces.extend(b);
                if tally.aborted.is_none() {
                    tally.aborted = t.aborted;
                }
            }
            Err(e) => tally.aborted = Some(Abort::Crashed(e.to_string()).to_string()),
        }
    }
    let tripped = shared.tripped();
    if let Some((kind, reason)) = &tripped {
        tally.aborted = Some(reason.clone());
        bounces.retain(|b: &Bounce| &b.kind != kind);
    }
    for f in &mut tally.failed {
        f.suppressed = bounces.iter().any(|b| b.email == f.email);
    }
    tally.hard_bounces = bounces.into_iter().map(|b| (b.key, b.reply)).collect();
    tally.not_attempted = shared.job.total.saturating_sub(done);
    tally.failed.sort_by(|a, b| a.email.cmp(&b.email));
    tally.elapsed_seconds = start.elapsed().as_secs_f64();
    tally
}

struct Shared<T> {
    job: Job,
    transport: Arc<T>,
    stop: AtomicBool,
    streak: Mutex<Streak>,
    journal: Option<journal::Handle>,
    observer: Arc<dyn Observer>,
}

/// Consecutive failures with the same reply, over all workers. When a
/// whole list is refused the same way, the problem is the sender or the
/// relay, not the recipients: stop, and suppress nobody on that evidence.
#[derive(Default)]
struct Streak {
    kind: String,
    reply: String,
    count: u32,
    tripped: Option<(String, String)>,
}

/// A refused mailbox, to be suppressed unless the refusal was systemic.
struct Bounce {
    email: String,
    key: String,
    kind: String,
    reply: String,
}

impl<T> Shared<T> {
    fn tripped(&self) -> Option<(String, String)> {
        self.streak
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tripped
            .clone()
    }

    /// Feeds one finished recipient to the breaker; true when it trips.
    fn observe(&self, failure: Option<(&Reply, bool)>) -> bool {
        let mut s = self.streak.lock().unwrap_or_else(PoisonError::into_inner);
        if s.tripped.is_some() {
            return true;
        }
        let Some((reply, gave_up)) = failure else {
            s.count = 0;
            return false;
        };
        let kind = reply.kind();
        if s.count > 0 && s.kind == kind {
            s.count += 1;
        } else {
            s.kind = kind.clone();
            s.reply = reply.to_string();
            s.count = 1;
        }
        let policy = reply.is_permanent() && reply.is_policy() && !gave_up;
        if policy || s.count >= self.job.breaker {
            let reason = if policy {
                format!("the server refused the message on policy grounds ({reply})")
            } else {
                format!("the server refused {} in a row with {}", s.count, s.reply)
            };
            s.tripped = Some((kind, reason));
            self.stop.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// One recipient's finished message, built off the async threads.
struct Message {
    target: Target,
    message_id: String,
    bytes: Vec<u8>,
}

impl Job {
    /// The next recipient, unless the run has stopped or the list is done.
    fn next_target(&self, stop: &AtomicBool) -> Option<Target> {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        self.targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next()
    }

    /// Personalises (and signs) the message for one target.
    fn build(&self, target: Target) -> Result<Message, crate::mail::dkim::Error> {
        let recipient = Recipient {
            id: target.id,
            email: &target.email,
            name: target.name.as_ref().map(Line::as_str),
        };
        // Signed from the issue's canonical chunks: no second pass over
        // the message, no copy to put the signature first.
        let personal = match &self.dkim {
            Some(s) => self.prepared.personalise_signed(&recipient, &self.key, s)?,
            None => self.prepared.personalise(&recipient, &self.key),
        };
        Ok(Message {
            target,
            message_id: personal.message_id,
            bytes: personal.bytes,
        })
    }

    fn backoff(&self, attempts: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << (attempts - 1).min(8))
            .min(Duration::from_secs(30))
    }
}

/// How one recipient ended.
struct Delivered {
    message_id: String,
    status: Status,
    attempts: u32,
    reply: Reply,
    /// Gave up after retries (4xx or broken sessions), as opposed to a
    /// permanent refusal.
    gave_up: bool,
    at_rcpt: bool,
}

struct Worker<T: Transport> {
    shared: Arc<Shared<T>>,
    session: Option<T::Session>,
    tally: Tally,
    bounces: Vec<Bounce>,
}

impl<T: Transport> Worker<T> {
    fn new(shared: Arc<Shared<T>>) -> Self {
        Worker {
            shared,
            session: None,
            tally: Tally::default(),
            bounces: Vec::new(),
        }
    }

    /// Takes the next recipient and builds its message on the blocking
    /// pool: reading a page of the list and DKIM signing (most of a
    /// millisecond) would stall the other sessions on this thread.
    fn build_ahead(
        &self,
    ) -> tokio::task::JoinHandle<Option<Result<Message, crate::mail::dkim::Error>>> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let target = shared.job.next_target(&shared.stop)?;
            Some(shared.job.build(target))
        })
    }

    async fn run(mut self) -> (Tally, Vec<Bounce>) {
        let mut ahead = self.build_ahead();
        loop {
            let message = match ahead.await {
                Ok(None) => break,
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return self.abort(e.into()).await,
                Err(e) => return self.abort(Abort::Crashed(e.to_string())).await,
            };
            // Built before the breaker tripped or another worker stopped:
            // its recipient stays pending.
            if self.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            // The next message is built while this one is on the wire. If the
            // run stops first, its recipient simply stays pending.
            ahead = self.build_ahead();
            let delivered = match self.deliver(&message).await {
                Ok(d) => d,
                // The transport is gone: leave this one pending and stop.
                Err(reason) => return self.abort(reason).await,
            };
            if let Err(e) = self.record(&message.target, delivered).await {
                return self.abort(e).await;
            }
        }
        self.close().await;
        (self.tally, self.bounces)
    }

    /// Journals one recipient's outcome (waiting for the commit), then
    /// counts it.
    async fn record(&mut self, target: &Target, d: Delivered) -> Result<(), Abort> {
        let shared = self.shared.clone();
        let sent = d.status == Status::Sent;
        if let Some(j) = &shared.journal {
            let outcome = Outcome {
                email_key: target.key.clone(),
                status: d.status,
                attempts: d.attempts,
                reply: d.reply.to_string(),
                message_id: d.message_id.clone(),
            };
            if let Err(e) = j.record(outcome).await {
                // The message went out but its record did not: count it
                // as sent so the summary is truthful.
                if sent {
                    self.tally.sent += 1;
                }
                return Err(e.into());
            }
        }
        if sent {
            self.tally.sent += 1;
            shared.observe(None);
        } else {
            let kind = d.reply.kind();
            if d.at_rcpt && d.reply.is_hard_bounce() {
                self.bounces.push(Bounce {
                    email: target.email.to_string(),
                    key: target.key.clone(),
                    kind: kind.clone(),
                    reply: d.reply.to_string(),
                });
            }
            self.tally.failed.push(FailedRecipient {
                email: target.email.to_string(),
                reply: if d.gave_up {
                    format!("gave up after {} attempts: {}", d.attempts, d.reply)
                } else {
                    d.reply.to_string()
                },
                kind,
                attempts: d.attempts,
                suppressed: false,
            });
            shared.observe(Some((&d.reply, d.gave_up)));
        }
        shared.observer.finished(sent);
        Ok(())
    }

    /// Stops every worker after a failure that is not one recipient's.
    async fn abort(mut self, reason: Abort) -> (Tally, Vec<Bounce>) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.tally.aborted = Some(chain(&reason));
        self.close().await;
        (self.tally, self.bounces)
    }

    async fn close(&mut self) {
        if let Some(s) = self.session.take() {
            s.quit().await;
        }
    }

    /// Delivers one message with retries. `Err` means the transport is
    /// unusable (cannot connect at all, disk full): stop the run.
    async fn deliver(&mut self, message: &Message) -> Result<Delivered, Abort> {
        let shared = self.shared.clone();
        let job = &shared.job;
        let verp: Option<Address> = job.verp.as_ref().and_then(|rp| {
            rp.for_reader(&job.key, message.target.id, job.prepared.issue())
                .parse()
                .ok()
        });
        let envelope = Envelope {
            from: verp.as_ref().unwrap_or(&job.envelope_from),
            to: &message.target.address,
            message_id: &message.message_id,
        };
        job.rate.wait().await;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let last = attempts >= job.max_attempts;
            let attempt = match self.session().await {
                Ok(s) => s.send(&envelope, &message.bytes).await,
                Err(source) if last => return Err(Abort::Transport { attempts, source }),
                Err(e) => Attempt::Broken(chain(&e)),
            };
            let done = |status, reply, gave_up, at_rcpt| Delivered {
                message_id: message.message_id.clone(),
                status,
                attempts,
                reply,
                gave_up,
                at_rcpt,
            };
            match attempt {
                Attempt::Accepted(reply) => return Ok(done(Status::Sent, reply, false, false)),
                Attempt::Rejected { reply, at_rcpt } => {
                    self.drop_if_broken();
                    return Ok(done(Status::Failed, reply, false, at_rcpt));
                }
                Attempt::Unusable(reason) => return Err(Abort::Unusable(reason)),
                Attempt::Deferred(reply) if last => {
                    self.session = None;
                    return Ok(done(Status::Failed, reply, true, false));
                }
                Attempt::Broken(why) if last => {
                    self.session = None;
                    return Ok(done(Status::Failed, Reply::new(421, why), true, false));
                }
                Attempt::Deferred(_) => self.drop_if_broken(),
                Attempt::Broken(_) => self.session = None,
            }
            self.tally.retries += 1;
            tokio::time::sleep(job.backoff(attempts)).await;
        }
    }

    async fn session(&mut self) -> Result<&mut T::Session, TransportError> {
        if self.session.is_none() {
            self.session = Some(self.shared.transport.connect().await?);
        }
        Ok(self.session.as_mut().expect("connected above"))
    }

    fn drop_if_broken(&mut self) {
        if self.session.as_ref().is_some_and(|s| s.is_broken()) {
            self.session = None;
        }
    }
}

/// An error and its causes on one line, as `main` prints them.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
