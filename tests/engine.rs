//! The send engine in-process, over the in-memory recorder: retries,
//! giving up, aborts, the circuit breaker and the journal, without a
//! network. The black-box tests in `send.rs` prove the same against
//! Postfix's smtp-sink.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use almanac::app::Project;
use almanac::config::Env;
use almanac::send::memory::{Answer, Recorder};
use almanac::send::{self, Job, Lane, Quiet, Tally, Target, journal, rate::Limiter};
use almanac::state::State;

fn job(n: usize, max_attempts: u32) -> Job {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::load(&repo.join("newsletter.toml"), &Env::default()).unwrap();
    let built = project.built(Some("2026-11-29-sunday")).unwrap();
    let prepared = project.prepare(
        &built.issue,
        &built.rendered,
        project.nominal_date(&built.issue),
        false,
    );
    let (targets, total) = Job::list(
        (0..n)
            .map(|i| {
                let email = format!("reader{i}@example.com").parse().unwrap();
                Target::new(i as i64 + 1, email, None).unwrap()
            })
            .collect(),
    );
    Job {
        prepared: Arc::new(prepared),
        key: almanac::mail::token_key(&project.config),
        dkim: None,
        envelope_from: "news@almanac.example".parse().unwrap(),
        verp: None,
        targets,
        total,
        connections: 1,
        max_attempts,
        rate: Limiter::unlimited(),
        backoff: Duration::from_millis(1),
        breaker: 20,
    }
}

fn run(job: Job, recorder: &Recorder) -> Tally {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(send::run(
        job,
        Arc::new(recorder.clone()),
        None,
        Arc::new(Quiet),
    ))
}

#[test]
fn a_4xx_is_retried_until_accepted() {
    let r = Recorder::new().script([
        Answer::Defer(451, "4.3.0 try again later"),
        Answer::Break,
        Answer::Defer(421, "4.7.0 slow down"),
    ]);
    let t = run(job(3, 5), &r);
    assert_eq!((t.sent, t.failed.len(), t.retries), (3, 0, 3), "{t:?}");
    assert_eq!(r.attempts(), 6);
    // The broken session was replaced.
    assert_eq!(r.connections(), 2);
    let mut to: Vec<String> = r.accepted().into_iter().map(|a| a.to).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 3, "each recipient once");
}

#[test]
fn it_gives_up_after_max_attempts() {
    let r = Recorder::new().otherwise(Answer::Defer(450, "4.2.1 mailbox busy"));
    let t = run(job(2, 3), &r);
    assert_eq!(t.sent, 0);
    assert_eq!(t.failed.len(), 2);
    for f in &t.failed {
        assert_eq!(f.attempts, 3);
        assert!(
            f.reply.starts_with("gave up after 3 attempts: 450 4.2.1"),
            "{}",
            f.reply
        );
        assert!(!f.suppressed, "a 4xx never suppresses");
    }
    assert_eq!(r.attempts(), 6);
    assert!(t.hard_bounces.is_empty());
}

#[test]
fn an_unreachable_transport_stops_the_run_and_leaves_everyone_pending() {
    let r = Recorder::new().refuse_connections(usize::MAX);
    let t = run(job(5, 3), &r);
    assert_eq!(
        (t.sent, t.failed.len(), t.not_attempted),
        (0, 0, 5),
        "{t:?}"
    );
    let why = t.aborted.unwrap();
    assert!(
        why.contains("giving up after 3 attempts") && why.contains("refused"),
        "{why}"
    );
    assert_eq!(r.connections(), 3);
}

#[test]
fn an_unusable_transport_stops_after_what_it_took() {
    let r = Recorder::new().script([Answer::Accept, Answer::Accept, Answer::Unusable]);
    let t = run(job(5, 3), &r);
    assert_eq!((t.sent, t.not_attempted), (2, 3), "{t:?}");
    assert!(t.aborted.is_some());
}

#[test]
fn each_outcome_is_journalled_before_the_next_message_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(dir.path()).unwrap();
    let db = dir.path().join("almanac.db");
    let r = Recorder::new();
    let seen = r.clone();
    let r = r.before_each(move |_to| {
        // Every message accepted so far is already committed.
        let journalled = sent_so_far(&db);
        assert_eq!(
            journalled,
            seen.accepted().len(),
            "journal lags the transport"
        );
    });
    let (handle, writer) = journal::start(state, "i".into(), || "t".into());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt.block_on(send::run(
        job(6, 3),
        Arc::new(r.clone()),
        Some(handle),
        Arc::new(Quiet),
    ));
    let state = writer.join().unwrap();
    assert_eq!(t.sent, 6);
    assert_eq!(
        state.counts("i").unwrap().sent,
        0,
        "memory deliveries are not SMTP"
    );
    assert_eq!(state.delivered("i", false).unwrap().len(), 6);
}

/// Rows recorded `sent` so far, read through a second connection.
fn sent_so_far(db: &Path) -> usize {
    let dir = db.parent().unwrap();
    let s = State::open(dir).unwrap();
    s.delivered("i", false).unwrap().len()
}

#[test]
fn the_same_refusal_for_everyone_trips_the_breaker_and_suppresses_nobody() {
    let r = Recorder::new().otherwise(Answer::Reject {
        code: 550,
        text: "5.1.1 no such user",
        at_rcpt: true,
    });
    let t = run(job(200, 3), &r);
    assert_eq!(t.failed.len(), 20, "{:?}", t.aborted);
    assert_eq!(t.not_attempted, 180);
    assert!(
        t.hard_bounces.is_empty(),
        "systemic refusals are not bounces"
    );
    assert!(t.failed.iter().all(|f| !f.suppressed));
    let why = t.aborted.unwrap();
    assert!(why.contains("refused 20 in a row with 550 5.1.1"), "{why}");
}

#[test]
fn a_policy_refusal_stops_at_once() {
    let r = Recorder::new().otherwise(Answer::Reject {
        code: 554,
        text: "5.7.1 relay access denied",
        at_rcpt: true,
    });
    let t = run(job(50, 3), &r);
    assert_eq!((t.failed.len(), t.not_attempted), (1, 49), "{t:?}");
    assert!(t.hard_bounces.is_empty());
}

#[test]
fn scattered_hard_bounces_are_suppressed() {
    let bounce = || Answer::Reject {
        code: 550,
        text: "5.1.1 no such user",
        at_rcpt: true,
    };
    let r = Recorder::new().script([Answer::Accept, bounce(), Answer::Accept, bounce()]);
    let t = run(job(6, 3), &r);
    assert_eq!((t.sent, t.failed.len()), (4, 2));
    assert_eq!(t.hard_bounces.len(), 2);
    assert!(
        t.failed
            .iter()
            .all(|f| f.suppressed && f.kind == "550 5.1.1")
    );
    assert!(t.aborted.is_none());
}

fn run_lanes(job: Job, lanes: Vec<(&Recorder, usize, u32, Option<u64>)>) -> Tally {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lanes = lanes
        .into_iter()
        .map(|(r, connections, weight, quota)| Lane {
            weight,
            quota,
            ..Lane::new(Arc::new(r.clone()), connections)
        })
        .collect();
    rt.block_on(send::run_lanes(job, lanes, None, Arc::new(Quiet)))
}

fn recipients(rs: &[&Recorder]) -> Vec<String> {
    let mut to: Vec<String> = rs.iter().flat_map(|r| r.accepted()).map(|a| a.to).collect();
    to.sort();
    to
}

#[test]
fn relays_share_the_list_by_weight() {
    let (a, b) = (Recorder::new(), Recorder::new());
    let t = run_lanes(job(400, 3), vec![(&a, 2, 3, None), (&b, 2, 1, None)]);
    assert_eq!((t.sent, t.not_attempted), (400, 0), "{t:?}");
    let (na, nb) = (a.accepted().len(), b.accepted().len());
    // 3:1 is 300:100, give or take what each lane may run ahead.
    assert!((290..=310).contains(&na) && na + nb == 400, "{na} / {nb}");
    assert_eq!((t.relays[0].sent, t.relays[1].sent), (na as u64, nb as u64));
    let all = recipients(&[&a, &b]);
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(all, unique, "someone got two");
}

#[test]
fn a_relay_that_cannot_be_reached_hands_its_share_to_the_others() {
    let (up, down) = (
        Recorder::new(),
        Recorder::new().refuse_connections(usize::MAX),
    );
    let t = run_lanes(job(60, 3), vec![(&down, 2, 5, None), (&up, 2, 1, None)]);
    assert_eq!(
        (t.sent, t.failed.len(), t.not_attempted),
        (60, 0, 0),
        "{t:?}"
    );
    assert_eq!(up.accepted().len(), 60);
    assert!(
        t.relays[0].down.as_deref().unwrap().contains("refused"),
        "{t:?}"
    );
    assert!(t.aborted.is_none(), "{t:?}");
    let all = recipients(&[&up]);
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(all.len(), unique.len());
}

#[test]
fn a_quota_is_never_exceeded_and_the_rest_waits_when_all_are_used() {
    let (a, b) = (Recorder::new(), Recorder::new());
    let t = run_lanes(job(50, 3), vec![(&a, 3, 1, Some(7)), (&b, 1, 1, None)]);
    assert_eq!(t.sent, 50, "{t:?}");
    assert!(a.accepted().len() <= 7, "{}", a.accepted().len());
    assert_eq!(t.relays[0].quota_left, Some(7 - a.accepted().len() as u64));

    let (a, b) = (Recorder::new(), Recorder::new());
    let t = run_lanes(job(50, 3), vec![(&a, 2, 1, Some(7)), (&b, 2, 1, Some(3))]);
    assert_eq!((a.accepted().len(), b.accepted().len()), (7, 3), "{t:?}");
    assert_eq!((t.sent, t.not_attempted), (10, 40), "{t:?}");
    assert!(t.quota_reached, "{t:?}");
    assert!(t.aborted.unwrap().contains("daily quota"));
}

#[test]
fn with_every_relay_down_the_run_stops_and_leaves_everyone_pending() {
    let (a, b) = (
        Recorder::new().refuse_connections(usize::MAX),
        Recorder::new().refuse_connections(usize::MAX),
    );
    let t = run_lanes(job(20, 2), vec![(&a, 1, 1, None), (&b, 1, 1, None)]);
    assert_eq!(
        (t.sent, t.failed.len(), t.not_attempted),
        (0, 0, 20),
        "{t:?}"
    );
    let why = t.aborted.unwrap();
    assert!(why.contains("no relay can take messages"), "{why}");
    assert!(!t.quota_reached);
}
