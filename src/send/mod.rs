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

use std::collections::VecDeque;
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
    /// What each relay did (one entry per lane).
    pub relays: Vec<RelayTally>,
    /// The run stopped because every relay reached its daily quota: the
    /// rest waits for the quota, nothing is wrong.
    pub quota_reached: bool,
}

/// One relay's part in a run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RelayTally {
    pub name: String,
    pub sent: u64,
    pub failed: u64,
    /// Messages it may still take in the current 24 hours.
    pub quota_left: Option<u64>,
    /// Why it was taken out of the run, last time it was.
    pub down: Option<String>,
}

/// One relay of a run: its transport, its sessions and its limits.
pub struct Lane<T> {
    pub transport: Arc<T>,
    pub connections: usize,
    /// Its share of the recipients, relative to the other lanes'.
    pub weight: u32,
    /// Its own limit, on top of the job's.
    pub rate: rate::Limiter,
    /// Messages it may still take (its daily quota minus what the journal
    /// says it took in the last 24 hours); `None` for no quota.
    pub quota: Option<u64>,
}

impl<T> Lane<T> {
    /// A lane with no limits of its own.
    pub fn new(transport: Arc<T>, connections: usize) -> Lane<T> {
        Lane {
            transport,
            connections,
            weight: 1,
            rate: rate::Limiter::unlimited(),
            quota: None,
        }
    }
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

/// Runs the job to the end over one transport with `job.connections`
/// sessions (or until the transport is unusable, or the breaker trips).
/// `journal` is absent for proofs.
pub async fn run<T: Transport>(
    job: Job,
    transport: Arc<T>,
    journal: Option<journal::Handle>,
    observer: Arc<dyn Observer>,
) -> Tally {
    let connections = job.connections;
    run_lanes(
        job,
        vec![Lane::new(transport, connections)],
        journal,
        observer,
    )
    .await
}

/// Runs the job over several relays: recipients are spread by weight; a
/// relay that can't be reached is taken out for a while and its messages
/// go to the others; a relay at its quota takes no more. The run stops
/// when the list is done, or no relay can take anything.
pub async fn run_lanes<T: Transport>(
    job: Job,
    lanes: Vec<Lane<T>>,
    journal: Option<journal::Handle>,
    observer: Arc<dyn Observer>,
) -> Tally {
    let start = Instant::now();
    let dispatch = Dispatch {
        lanes: lanes
            .iter()
            .map(|l| LaneState {
                remaining: l.quota,
                ..LaneState::default()
            })
            .collect(),
        requeued: VecDeque::new(),
        in_flight: 0,
        list_done: false,
    };
    // A relay out of the run is tried again after this long.
    let cooldown = job
        .backoff
        .saturating_mul(120)
        .max(Duration::from_millis(100));
    let vias = lanes
        .iter()
        .map(|l| l.transport.via().as_stored())
        .collect();
    let shared = Arc::new(Shared {
        job,
        vias,
        lanes,
        dispatch: Mutex::new(dispatch),
        wake: tokio::sync::Notify::new(),
        cooldown,
        stop: AtomicBool::new(false),
        stopped_because: Mutex::new(None),
        streak: Mutex::new(Streak::default()),
        journal,
        observer,
    });
    let mut handles = Vec::new();
    for (i, lane) in shared.lanes.iter().enumerate() {
        let workers = (lane.connections as u64).min(shared.job.total).max(1) as usize;
        for _ in 0..workers {
            handles.push(tokio::spawn(Worker::new(shared.clone(), i).run()));
        }
    }
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
    if tally.aborted.is_none()
        && let Some((reason, quota)) = shared
            .stopped_because
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    {
        tally.aborted = Some(reason);
        tally.quota_reached = quota;
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
    let d = shared.dispatch();
    tally.relays = shared
        .lanes
        .iter()
        .zip(&d.lanes)
        .map(|(lane, st)| RelayTally {
            name: lane.transport.via().name(),
            sent: st.sent,
            failed: st.failed,
            quota_left: st.remaining,
            down: st.last_error.clone(),
        })
        .collect();
    drop(d);
    tally
}

/// Who takes the next recipient: the lanes' standing and the messages
/// handed back by a relay that went down.
struct Dispatch {
    lanes: Vec<LaneState>,
    /// Built messages whose relay went down before taking them; any
    /// lane takes these first.
    requeued: VecDeque<Message>,
    /// Messages taken by a worker and not yet finished or handed back.
    in_flight: u64,
    /// The list has given its last recipient.
    list_done: bool,
}

#[derive(Default)]
struct LaneState {
    /// How far the lane is behind its share (smooth weighted round
    /// robin): each take adds every active lane's share and takes one
    /// from the taker; over the active lanes it sums to zero.
    credit: f64,
    /// Out of the run until then, after it could not be reached.
    down_until: Option<Instant>,
    last_error: Option<String>,
    /// At its quota for this run.
    exhausted: bool,
    /// Back from a time out and not yet proven: outside the shares.
    probing: bool,
    remaining: Option<u64>,
    /// Its messages taken and not yet finished.
    in_flight: u64,
    sent: u64,
    failed: u64,
}

impl LaneState {
    /// It may take messages now (perhaps only to probe).
    fn available(&self, now: Instant) -> bool {
        !self.exhausted && self.down_until.is_none_or(|t| t <= now)
    }

    /// It takes its weight's share of the list.
    fn in_shares(&self, now: Instant) -> bool {
        self.available(now) && !self.probing
    }
}

/// The lanes taking shares changed: everyone starts level, so a lane
/// that left owes nothing and is owed nothing.
fn level(d: &mut Dispatch) {
    for st in &mut d.lanes {
        st.credit = 0.0;
    }
}

/// What a worker may do next.
enum Permit {
    /// Take one message (reserved against the lane's quota).
    Take,
    /// Nothing more for this lane.
    Done,
}

struct Shared<T> {
    job: Job,
    /// Each lane's `via` as the journal stores it, made once per run.
    vias: Vec<String>,
    lanes: Vec<Lane<T>>,
    dispatch: Mutex<Dispatch>,
    /// Rung when a lane's standing changes, for workers waiting their turn.
    wake: tokio::sync::Notify,
    cooldown: Duration,
    stop: AtomicBool,
    /// Why the run stopped with recipients left, when no worker failed:
    /// every relay down, or at its quota (then `true`).
    stopped_because: Mutex<Option<(String, bool)>>,
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

impl<T: Transport> Shared<T> {
    fn dispatch(&self) -> std::sync::MutexGuard<'_, Dispatch> {
        self.dispatch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until lane `l` may take a message, or has nothing more to do.
    async fn permit(&self, l: usize) -> Permit {
        let slack = self.lanes[l].connections as f64 + 1.0;
        loop {
            let notified = self.wake.notified();
            let until = {
                let mut d = self.dispatch();
                let now = Instant::now();
                let nothing_now = d.list_done && d.requeued.is_empty();
                if self.stop.load(Ordering::Relaxed)
                    || d.lanes[l].exhausted
                    || (nothing_now && d.in_flight == 0)
                {
                    return Permit::Done;
                }
                match d.lanes[l].down_until {
                    Some(t) if t > now => Some(t),
                    // The list is done, but a message in flight elsewhere
                    // may yet be handed back.
                    _ if nothing_now => None,
                    _ => {
                        d.lanes[l].down_until = None;
                        let lane = &d.lanes[l];
                        let turn = if lane.probing {
                            // Back from a time out: it tries its sessions
                            // outside the shares until one message goes
                            // through, so the others never wait on it.
                            lane.in_flight < self.lanes[l].connections as u64
                        } else {
                            lane.credit > -slack || !d.requeued.is_empty()
                        };
                        if lane.remaining == Some(0) && lane.in_flight > 0 {
                            // Its last messages may yet be refused and
                            // give their places back.
                            None
                        } else if turn {
                            if let Some(left) = &mut d.lanes[l].remaining {
                                if *left == 0 {
                                    d.lanes[l].exhausted = true;
                                    level(&mut d);
                                    self.check_any_left(&mut d);
                                    self.wake.notify_waiters();
                                    return Permit::Done;
                                }
                                *left -= 1;
                            }
                            if !d.lanes[l].probing {
                                let weights: f64 = self
                                    .lanes
                                    .iter()
                                    .zip(&d.lanes)
                                    .filter(|(_, st)| st.in_shares(now))
                                    .map(|(lane, _)| f64::from(lane.weight))
                                    .sum();
                                for (lane, st) in self.lanes.iter().zip(d.lanes.iter_mut()) {
                                    if st.in_shares(now) && weights > 0.0 {
                                        st.credit += f64::from(lane.weight) / weights;
                                    }
                                }
                                d.lanes[l].credit -= 1.0;
                            }
                            d.lanes[l].in_flight += 1;
                            d.in_flight += 1;
                            return Permit::Take;
                        } else {
                            None
                        }
                    }
                }
            };
            // Behind the others, or out for a while: wait for a change.
            let wait = until.map_or(Duration::from_millis(20), |t| {
                t.saturating_duration_since(Instant::now())
            });
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }

    /// A taken message is finished (`sent` or not) or given back: its
    /// reservation ends.
    fn finish(&self, l: usize, sent: Option<bool>) {
        let mut d = self.dispatch();
        d.in_flight = d.in_flight.saturating_sub(1);
        let st = &mut d.lanes[l];
        st.in_flight = st.in_flight.saturating_sub(1);
        match sent {
            Some(true) => {
                st.sent += 1;
                if st.probing {
                    st.probing = false;
                    level(&mut d);
                }
            }
            Some(false) => {
                st.failed += 1;
                // A refused message does not count against the quota.
                if let Some(left) = &mut st.remaining {
                    *left += 1;
                }
            }
            None => {
                if let Some(left) = &mut st.remaining {
                    *left += 1;
                }
                if !st.probing {
                    st.credit += 1.0;
                }
            }
        }
        drop(d);
        self.wake.notify_waiters();
    }

    /// Lane `l` could not be reached: out of the run for a while, its
    /// message handed to the others. Stops the run if no lane is left.
    fn lane_down(&self, l: usize, message: Option<Message>, why: &TransportError) {
        let message_given_back = message.is_some();
        let mut d = self.dispatch();
        let st = &mut d.lanes[l];
        st.down_until = Some(Instant::now() + self.cooldown);
        st.last_error = Some(chain(why));
        st.probing = true;
        level(&mut d);
        if let Some(m) = message {
            d.requeued.push_back(m);
        }
        self.check_any_left(&mut d);
        drop(d);
        if message_given_back {
            self.finish(l, None);
        }
        self.wake.notify_waiters();
    }

    /// Stops the run when every lane is out or at its quota.
    fn check_any_left(&self, d: &mut Dispatch) {
        let now = Instant::now();
        if d.lanes.iter().any(|st| st.available(now)) {
            return;
        }
        let quota = d.lanes.iter().all(|st| st.exhausted);
        let reason = if quota {
            let names: Vec<String> = self
                .lanes
                .iter()
                .map(|lane| lane.transport.via().name())
                .collect();
            format!(
                "every relay reached its daily quota ({}); the rest goes out when the quota allows",
                names.join(", ")
            )
        } else {
            let why: Vec<String> = self
                .lanes
                .iter()
                .zip(&d.lanes)
                .map(|(lane, st)| {
                    let name = lane.transport.via().name();
                    match &st.last_error {
                        Some(e) => format!("{name}: {e}"),
                        None => format!("{name}: at its daily quota"),
                    }
                })
                .collect();
            if self.lanes.len() == 1 {
                format!(
                    "giving up after {} attempts: {}",
                    self.job.max_attempts,
                    why.join("; ")
                )
            } else {
                format!("no relay can take messages: {}", why.join("; "))
            }
        };
        *self
            .stopped_because
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((reason, quota));
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The next message for lane `l` (after its permit): one handed back
    /// by a relay that went down, else the list's next, built.
    fn take(&self, l: usize) -> Option<Result<Message, crate::mail::dkim::Error>> {
        if let Some(m) = self.dispatch().requeued.pop_front() {
            return Some(Ok(m));
        }
        match self.job.next_target(&self.stop) {
            Some(target) => Some(self.job.build(target)),
            None => {
                let mut d = self.dispatch();
                if !self.stop.load(Ordering::Relaxed) {
                    d.list_done = true;
                }
                drop(d);
                self.finish(l, None);
                None
            }
        }
    }
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
    /// The lane (relay) this worker's session belongs to.
    lane: usize,
    session: Option<T::Session>,
    tally: Tally,
    bounces: Vec<Bounce>,
}

/// Why `deliver` did not finish a recipient.
enum Stop {
    /// The run can't go on (the outbox's disk is full).
    Abort(Abort),
    /// This worker's relay can't be reached: hand the message back.
    RelayDown(TransportError),
}

type Built = Option<Result<Message, crate::mail::dkim::Error>>;

impl<T: Transport> Worker<T> {
    fn new(shared: Arc<Shared<T>>, lane: usize) -> Self {
        Worker {
            shared,
            lane,
            session: None,
            tally: Tally::default(),
            bounces: Vec::new(),
        }
    }

    /// Waits for this lane's turn, then takes the next recipient and
    /// builds its message on the blocking pool: reading a page of the list
    /// and DKIM signing (most of a millisecond) would stall the other
    /// sessions on this thread. `None`: nothing more for this lane.
    fn build_ahead(&self) -> tokio::task::JoinHandle<Built> {
        let shared = self.shared.clone();
        let lane = self.lane;
        tokio::spawn(async move {
            loop {
                if let Permit::Done = shared.permit(lane).await {
                    return None;
                }
                let s = shared.clone();
                match tokio::task::spawn_blocking(move || s.take(lane)).await {
                    Ok(Some(built)) => return Some(built),
                    // The list is done for now; a message may be handed
                    // back by another relay, which the permit waits for.
                    Ok(None) => continue,
                    Err(e) => panic!("building a message panicked: {e}"),
                }
            }
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
                self.shared.finish(self.lane, None);
                break;
            }
            // The next message is built while this one is on the wire. If the
            // run stops first, its recipient simply stays pending.
            ahead = self.build_ahead();
            let delivered = match self.deliver(&message).await {
                Ok(d) => d,
                Err(Stop::RelayDown(why)) => {
                    self.session = None;
                    self.shared.lane_down(self.lane, Some(message), &why);
                    continue;
                }
                // The transport is gone: leave this one pending and stop.
                Err(Stop::Abort(reason)) => {
                    self.shared.finish(self.lane, None);
                    return self.abort(reason).await;
                }
            };
            let sent = delivered.status == Status::Sent;
            let recorded = self.record(&message.target, delivered).await;
            self.shared.finish(self.lane, Some(sent));
            if let Err(e) = recorded {
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
                via: shared.vias[self.lane].clone(),
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
        self.shared.wake.notify_waiters();
        self.tally.aborted = Some(chain(&reason));
        self.close().await;
        (self.tally, self.bounces)
    }

    async fn close(&mut self) {
        if let Some(s) = self.session.take() {
            s.quit().await;
        }
    }

    /// Delivers one message with retries. `Err` means this relay can't be
    /// reached, or the transport is unusable (disk full): stop the run.
    async fn deliver(&mut self, message: &Message) -> Result<Delivered, Stop> {
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
        shared.lanes[self.lane].rate.wait().await;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let last = attempts >= job.max_attempts;
            let attempt = match self.session().await {
                Ok(s) => s.send(&envelope, &message.bytes).await,
                Err(source) if last => return Err(Stop::RelayDown(source)),
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
                Attempt::Unusable(reason) => return Err(Stop::Abort(Abort::Unusable(reason))),
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
            let transport = &self.shared.lanes[self.lane].transport;
            self.session = Some(transport.connect().await?);
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
