//! `send --due` with fixed clocks (`--now`): due at its time, not a minute
//! before, inside the grace window and not after it, once across overlapping
//! runs and crashes, and nothing at all when the issue is missing or broken.
//! DST arithmetic itself is unit-tested in src/schedule.rs.

mod common;
mod sink;

use std::process::{Command, Output, Stdio};

use common::{MIDWEEK, Sample, text};
use sink::Sink;

fn subscribers(s: &Sample, n: usize) {
    let mut csv = String::from("email,name,editions\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com,Reader {i},both\n"));
    }
    s.write("subscribers.example.csv", csv);
}

fn due(s: &Sample, now: &str) -> Output {
    s.run(&["send", "--due", "--outbox", "--now", now])
}

fn outbox_count(s: &Sample) -> usize {
    std::fs::read_dir(s.path("out/outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn due_at_its_time_once_and_not_a_minute_before() {
    let s = Sample::new();
    subscribers(&s, 5);
    let early = due(&s, "2026-11-25T06:59:00Z");
    assert_eq!(early.status.code(), Some(0), "{}", text(&early));
    assert!(
        text(&early).starts_with("nothing due; next: midweek of 2026-11-25"),
        "{}",
        text(&early)
    );
    assert_eq!(outbox_count(&s), 0);

    let on_time = due(&s, "2026-11-25T07:00:00Z");
    assert_eq!(on_time.status.code(), Some(0), "{}", text(&on_time));
    assert!(text(&on_time).contains(&format!("→ issue {MIDWEEK}")));
    assert_eq!(outbox_count(&s), 5);

    // The timer fires again an hour later: nothing more goes out.
    let again = due(&s, "2026-11-25T08:00:00Z");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(text(&again).contains("already sent 5"), "{}", text(&again));
    assert_eq!(outbox_count(&s), 5);

    // Past the grace window, a sent issue is simply "nothing due".
    let later = due(&s, "2026-11-26T09:00:00Z");
    assert_eq!(later.status.code(), Some(0), "{}", text(&later));
    assert!(text(&later).contains("was sent"), "{}", text(&later));
}

#[test]
fn grace_window_edges() {
    let inside = Sample::new();
    subscribers(&inside, 2);
    let out = due(&inside, "2026-11-25T13:00:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(outbox_count(&inside), 2);

    let past = Sample::new();
    subscribers(&past, 2);
    let out = due(&past, "2026-11-25T13:00:01Z");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("was missed"), "{}", text(&out));
    assert!(text(&out).contains(&format!("almanac send {MIDWEEK}")));
    assert_eq!(outbox_count(&past), 0);
}

#[test]
fn a_missing_issue_sends_nothing_and_says_what_to_do() {
    let s = Sample::new();
    subscribers(&s, 2);
    s.remove(format!("issues/{MIDWEEK}"));
    let out = due(&s, "2026-11-25T07:10:00Z");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("there is no issue for it"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("almanac new midweek --date 2026-11-25"));
    assert_eq!(outbox_count(&s), 0);
}

#[test]
fn a_broken_issue_sends_nothing_and_names_the_line() {
    let s = Sample::new();
    subscribers(&s, 2);
    s.edit(
        format!("issues/{MIDWEEK}/issue.toml"),
        "score = 7",
        "score = 11",
    );
    let out = due(&s, "2026-11-25T07:10:00Z");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("issues/{MIDWEEK}/issue.toml:")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("score must be"), "{}", text(&out));
    assert_eq!(outbox_count(&s), 0);
}

fn due_child(s: &Sample, sink: &Sink, now: &str) -> std::process::Child {
    s.command(&["send", "--due", "--now", now])
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "test-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn overlapping_due_runs_deliver_each_message_once() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    subscribers(&s, 150);
    s.edit(
        "newsletter.toml",
        "rate_per_second = 0",
        "rate_per_second = 300",
    );
    let a = due_child(&s, &sink, "2026-11-25T07:05:00Z");
    let b = due_child(&s, &sink, "2026-11-25T07:05:00Z");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.contains(&Some(0)), "{}\n{}", text(&a), text(&b));
    assert!(
        codes.iter().all(|c| matches!(c, Some(0) | Some(4))),
        "{codes:?}"
    );
    let counts = sink.counts();
    assert_eq!(counts.len(), 150);
    assert!(counts.values().all(|&n| n == 1), "each once");
    if codes.contains(&Some(4)) {
        let loser = if a.status.code() == Some(4) { &a } else { &b };
        assert!(
            text(loser).contains("another send is in progress"),
            "{}",
            text(loser)
        );
    }
}

#[test]
fn a_due_run_after_a_crash_resumes() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    subscribers(&s, 200);
    s.edit(
        "newsletter.toml",
        "rate_per_second = 0",
        "rate_per_second = 100",
    );
    let mut child = due_child(&s, &sink, "2026-11-25T07:05:00Z");
    sink.wait_for(40);
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let partial: usize = sink.counts().values().sum();
    assert!(partial > 0 && partial < 200, "killed part-way ({partial})");

    let out = due_child(&s, &sink, "2026-11-25T07:20:00Z")
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let counts = sink.counts();
    assert_eq!(counts.len(), 200, "nobody missing");
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    assert!(duplicates <= 4, "{duplicates} duplicates");
}

#[test]
fn schedule_lists_sends_and_prints_units() {
    let s = Sample::new();
    let out = s.run(&["schedule", "--now", "2026-11-24T12:00:00Z", "--count", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(
            "midweek  2026-11-25  Wed 07:00 GMT local  2026-11-25 07:00 UTC  2026-11-25-midweek"
        ),
        "{t}"
    );
    assert!(t.contains("sunday   2026-11-29"), "{t}");
    assert!(
        t.contains("2026-12-02  Wed 07:00 GMT local  2026-12-02 07:00 UTC  (no issue yet)"),
        "{t}"
    );

    let systemd = text(&s.run(&["schedule", "--systemd"]));
    for needle in [
        "[Timer]",
        "OnCalendar=",
        "Persistent=true",
        "send --due",
        "EnvironmentFile=",
        "ALMANAC_UNSUBSCRIBE_SECRET",
    ] {
        assert!(systemd.contains(needle), "{needle} in {systemd}");
    }
    let cron = text(&s.run(&["schedule", "--cron"]));
    assert!(
        cron.contains("send --due") && cron.contains("*/10 * * * *"),
        "{cron}"
    );
}
