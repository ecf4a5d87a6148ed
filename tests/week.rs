//! An editor's week, lived through the real binary against Postfix's
//! smtp-sink and a real state database: each trap a new editor walked into
//! (issue 10) is a scenario here.

mod common;
mod sink;

use std::process::Output;

use common::{MIDWEEK, SUNDAY, Sample, stderr, stdout, text};
use sink::Sink;

const SECRET: &str = "week-test-secret";

fn subscribers(s: &Sample, n: usize) {
    let mut csv = String::from("email,name,editions\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com,Reader {i},both\n"));
    }
    s.write("subscribers.example.csv", csv);
}

/// `almanac ARGS` with SMTP pointed at `sink` and the real secret.
fn smtp(s: &Sample, sink: &Sink, args: &[&str]) -> Output {
    s.command(args)
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .env("ALMANAC_RETRY_BACKOFF_MS", "20")
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(o)))
}

/// The sample Sunday issue's files, moved to another Sunday.
fn real_issue(s: &Sample, date: &str, draft: bool) {
    let id = format!("{date}-sunday");
    let toml = s
        .read(format!("issues/{SUNDAY}/issue.toml"))
        .replace("date = 2026-11-29", &format!("date = {date}"));
    let toml = if draft {
        toml.replacen("\n", "\ndraft = true\n", 1)
    } else {
        toml
    };
    s.write(format!("issues/{id}/issue.toml"), toml);
    s.write(
        format!("issues/{id}/guide.md"),
        s.read(format!("issues/{SUNDAY}/guide.md")),
    );
}

// Trap 1: an untouched `almanac new` went out to everyone.
#[test]
fn a_draft_never_goes_out_and_a_ready_issue_does() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    subscribers(&s, 3);
    let id = "2026-12-06-sunday";
    s.run_ok(&["new", "sunday", "--date", id.get(..10).unwrap()]);
    assert!(
        s.read(format!("issues/{id}/issue.toml"))
            .contains("draft = true")
    );

    // `check` passes a draft, with its placeholders as located warnings.
    let check = s.run(&["check", id]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        stderr(&check).contains(&format!("issues/{id}/issue.toml:"))
            && stderr(&check).contains("warning: placeholder left in: `TODO`"),
        "{}",
        stderr(&check)
    );

    // Neither a send nor the scheduler at its slot sends it.
    let send = smtp(&s, &sink, &["send", id, "--yes"]);
    assert_eq!(send.status.code(), Some(1), "{}", text(&send));
    assert!(
        text(&send).contains("is still a draft; set draft = false"),
        "{}",
        text(&send)
    );
    let due = smtp(
        &s,
        &sink,
        &["send", "--due", "--now", "2026-12-06T07:05:00Z"],
    );
    assert_eq!(due.status.code(), Some(1), "{}", text(&due));
    assert!(text(&due).contains("is still a draft"), "{}", text(&due));
    assert!(sink.counts().is_empty(), "a draft reached the server");

    // A proof works on a draft, and says it is one.
    let proof = smtp(&s, &sink, &["send", id, "--test", "editor@example.com"]);
    common::assert_success(&proof, "a proof of a draft");
    assert!(sink.messages()[0].contains("Subject: [PROOF] [DRAFT] TODO"));

    // Marked ready with its placeholders still in: every one is an error
    // with its position, and still nothing is sent.
    s.edit(
        format!("issues/{id}/issue.toml"),
        "draft = true",
        "draft = false",
    );
    let check = s.run(&["check", id]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        stderr(&check).contains(&format!(
            "issues/{id}/issue.toml:9:12: error: placeholder left in: `TODO`"
        )),
        "{}",
        stderr(&check)
    );
    assert!(
        stderr(&check).contains("the example link https://example.com/TODO"),
        "{}",
        stderr(&check)
    );
    assert!(
        stderr(&check).contains(&format!("issues/{id}/guide.md:")),
        "{}",
        stderr(&check)
    );
    let send = smtp(&s, &sink, &["send", id, "--yes"]);
    assert_eq!(send.status.code(), Some(1), "{}", text(&send));
    assert_eq!(sink.counts().len(), 1, "only the proof arrived");

    // Written for real, still a draft: refused; then ready: sent, once.
    s.remove(format!("issues/{id}"));
    real_issue(&s, "2026-12-06", true);
    let due = smtp(
        &s,
        &sink,
        &["send", "--due", "--now", "2026-12-06T07:05:00Z"],
    );
    assert_eq!(due.status.code(), Some(1), "{}", text(&due));
    s.edit(format!("issues/{id}/issue.toml"), "draft = true\n", "");
    let due = smtp(
        &s,
        &sink,
        &["send", "--due", "--now", "2026-12-06T07:05:00Z"],
    );
    common::assert_success(&due, "the ready issue at its slot");
    assert_eq!(sink.counts().len(), 4, "the proof and three readers");
}

// Trap 2: a cron run without SMTP marked the whole list "sent" to the outbox.
#[test]
fn the_scheduler_never_falls_back_to_the_outbox_and_the_outbox_never_counts() {
    let s = Sample::new();
    subscribers(&s, 3);
    let due = s.run(&["send", "--due", "--now", "2026-11-25T07:05:00Z"]);
    assert_eq!(due.status.code(), Some(1), "{}", text(&due));
    assert!(
        text(&due).contains("send --due needs an SMTP server"),
        "{}",
        text(&due)
    );
    assert!(
        text(&due).contains("transport = \"outbox\""),
        "{}",
        text(&due)
    );
    assert!(!s.exists("out/outbox"));

    // The outbox by choice, then the real send: everyone gets it over SMTP once.
    let outbox = s.run(&["send", MIDWEEK, "--outbox", "--yes", "--json"]);
    assert_eq!(json(&outbox)["sent"], 3, "{}", text(&outbox));
    let status = s.run_ok(&["status", MIDWEEK]);
    assert!(
        stdout(&status).contains(
            "sent 0, failed 0, pending 3 of 3 recipients (and 3 written to the outbox only"
        ),
        "{}",
        stdout(&status)
    );
    let Some(sink) = Sink::start(&[]) else { return };
    let real = smtp(&s, &sink, &["send", MIDWEEK, "--yes", "--json"]);
    assert_eq!(json(&real)["sent"], 3, "{}", text(&real));
    assert!(sink.counts().values().all(|&n| n == 1) && sink.counts().len() == 3);
    let again = smtp(&s, &sink, &["send", MIDWEEK, "--yes", "--json"]);
    assert_eq!(json(&again)["skipped_already_sent"], 3);
    assert_eq!(sink.counts().len(), 3);

    // `transport = "outbox"` is the explicit way for the scheduler.
    let local = Sample::new();
    subscribers(&local, 2);
    local.edit(
        "newsletter.toml",
        "[send]\n",
        "[send]\ntransport = \"outbox\"\n",
    );
    let due = local.run(&["send", "--due", "--now", "2026-11-25T07:05:00Z"]);
    common::assert_success(&due, "send --due to a chosen outbox");
}

// Trap 3: the archive published drafts; one broken draft blocked it; it was
// never rebuilt after a send; the web page greeted "Hi there,".
#[test]
fn the_archive_is_what_was_sent() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    subscribers(&s, 2);
    s.run_ok(&["new", "midweek", "--date", "2026-12-02"]);
    s.write(
        "issues/2026-12-09-midweek/issue.toml",
        "this is not toml = [",
    );
    let out = smtp(&s, &sink, &["send", SUNDAY, "--yes"]);
    common::assert_success(&out, "the Sunday send");
    assert!(
        stdout(&out).contains("archive rebuilt: 1 issue"),
        "{}",
        stdout(&out)
    );
    let index = s.read("out/site/index.html");
    assert!(index.contains(&format!("{SUNDAY}/")));
    assert!(
        !index.contains(MIDWEEK) && !index.contains("2026-12-02"),
        "{index}"
    );
    let feed = s.read("out/site/feed.xml");
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");
    let page = s.read(format!("out/site/{SUNDAY}/index.html"));
    assert!(
        !page.contains("Hi there") && !page.contains("You are receiving this"),
        "{page}"
    );
    assert!(
        page.contains("Subscribe") || page.contains("subscribe"),
        "{page}"
    );

    let out = s.run_ok(&["archive"]);
    assert!(
        stdout(&out).contains("archived 1 issue (3 not sent yet, left out)"),
        "{}",
        stdout(&out)
    );
}

// Trap 4: `status` said "sent 0 … pending 0" for anything.
#[test]
fn status_tells_the_truth() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    subscribers(&s, 6);
    let nope = s.run(&["status", "nope"]);
    assert_eq!(nope.status.code(), Some(1), "{}", text(&nope));
    assert!(
        text(&nope).contains("there is no issue `nope`"),
        "{}",
        text(&nope)
    );
    assert!(
        text(&nope).contains(&format!("known issues: {MIDWEEK}, {SUNDAY}")),
        "{}",
        text(&nope)
    );

    let out = smtp(&s, &sink, &["send", SUNDAY, "--yes", "--limit", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let by_folder = s.run_ok(&["status", &format!("issues/{SUNDAY}/")]);
    assert!(
        stdout(&by_folder).contains(&format!(
            "{SUNDAY}: partly sent; sent 2, failed 0, pending 4 of 6 recipients"
        )),
        "{}",
        stdout(&by_folder)
    );
    let all = s.run_ok(&["status", "--json"]);
    let v = json(&all);
    let sunday = v
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["issue"] == SUNDAY)
        .unwrap();
    assert_eq!(
        (sunday["sent"].as_u64(), sunday["pending"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(sunday["stage"], "partly_sent");
    let list = s.run_ok(&["status"]);
    assert!(
        stdout(&list).contains("partly sent  sent 2/6"),
        "{}",
        stdout(&list)
    );
}

// Trap 5: inconsistencies that `check` let through.
#[test]
fn consistency_is_checked_where_it_is_cheap() {
    let s = Sample::new();
    s.edit(
        "newsletter.toml",
        "edition = \"sunday\"",
        "edition = \"weekend\"",
    );
    let check = s.run(&["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(stderr(&check).contains("newsletter.toml:36:11: error: the schedule sends `weekend`, but there is no such edition"), "{}", stderr(&check));

    let s = Sample::new();
    s.edit(
        format!("issues/{MIDWEEK}/issue.toml"),
        "edition = \"midweek\"",
        "edition = \"sunday\"",
    );
    let check = s.run(&["check", MIDWEEK]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        stderr(&check).contains("is named for the midweek edition, but this issue says `sunday`"),
        "{}",
        stderr(&check)
    );

    let new = s.run_ok(&["new", "midweek", "--date", "2020-01-02"]);
    assert!(
        stderr(&new).contains("2020-01-02 is in the past"),
        "{}",
        stderr(&new)
    );
    assert!(
        stderr(&new).contains("2020-01-02 is a Thursday, but midweek is scheduled on Wednesdays"),
        "{}",
        stderr(&new)
    );

    let list = s.run(&["subscribers", "list", "--edition", "weekly"]);
    assert_eq!(list.status.code(), Some(2), "{}", text(&list));
    assert!(
        text(&list).contains("unknown edition `weekly`"),
        "{}",
        text(&list)
    );
}

// Trap 6: a relay refusing every recipient got the whole list suppressed.
#[test]
fn a_relay_refusing_everyone_stops_the_send_and_suppresses_nobody() {
    let Some(bad) = Sink::start(&["-f", "rcpt"]) else {
        return;
    };
    let s = Sample::new();
    subscribers(&s, 2000);
    let out = smtp(&s, &bad, &["send", SUNDAY, "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = stdout(&out);
    let failed: usize = said
        .split("failed ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        (20..=40).contains(&failed),
        "stopped after {failed}:\n{said}"
    );
    assert!(
        said.contains("not attempted: the server refused 20 in a row with 500 5.3.0"),
        "{said}"
    );
    assert_eq!(
        said.matches("  failed ").count(),
        1,
        "one grouped line:\n{said}"
    );
    assert!(!said.contains("suppressed as hard bounces"), "{said}");
    bad.stop();

    let Some(good) = Sink::start(&[]) else { return };
    let out = smtp(&s, &good, &["send", SUNDAY, "--yes", "--json"]);
    let v = json(&out);
    assert_eq!(
        (v["sent"].as_u64(), v["skipped_suppressed"].as_u64()),
        (Some(2000), Some(0)),
        "{}",
        text(&out)
    );
    assert_eq!(good.counts().len(), 2000);
}

// Trap 7: a missed issue made every run fail until the next slot.
#[test]
fn a_missed_issue_is_reported_once_then_recorded_as_skipped() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    subscribers(&s, 2);
    let late = smtp(
        &s,
        &sink,
        &["send", "--due", "--now", "2026-11-25T14:00:00Z"],
    );
    assert_eq!(late.status.code(), Some(5), "{}", text(&late));
    assert!(
        text(&late).contains("recorded as skipped"),
        "{}",
        text(&late)
    );
    for now in ["2026-11-25T14:10:00Z", "2026-11-26T09:00:00Z"] {
        let again = smtp(&s, &sink, &["send", "--due", "--now", now]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert_eq!(stdout(&again).lines().count(), 1, "{}", text(&again));
        assert!(
            stdout(&again).contains("was skipped (missed"),
            "{}",
            text(&again)
        );
    }
    // The editor skips Sunday's on purpose: its slot passes quietly.
    s.run_ok(&["skip", SUNDAY]);
    let sunday = smtp(
        &s,
        &sink,
        &["send", "--due", "--now", "2026-11-29T07:05:00Z"],
    );
    assert_eq!(sunday.status.code(), Some(0), "{}", text(&sunday));
    assert!(
        stdout(&sunday).contains("was skipped (skipped by the editor)"),
        "{}",
        text(&sunday)
    );
    assert!(sink.counts().is_empty());
    let status = s.run_ok(&["status"]);
    assert!(
        stdout(&status).contains("skipped (skipped by the editor)"),
        "{}",
        stdout(&status)
    );
}

/// The crontab line `schedule --cron` prints, run by `sh` as cron would,
/// with its environment file: silent when nothing is due, loud (so cron
/// mails MAILTO) when a run fails.
#[test]
fn the_cron_line_is_silent_when_idle_and_speaks_when_a_run_fails() {
    let s = Sample::new();
    subscribers(&s, 1);
    let cron = stdout(&s.run_ok(&["schedule", "--cron"]));
    assert!(cron.contains("MAILTO=editors@almanac.example"), "{cron}");
    let line = cron.lines().find(|l| l.starts_with("*/10")).unwrap();
    let command = line.splitn(6, ' ').nth(5).unwrap();
    let env = s.path("env");
    let command = command.replace("/etc/almanac/env", &env.display().to_string());
    std::fs::create_dir_all(s.path("state")).unwrap();
    let run = |now: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(command.replace("send --due", &format!("send --due --now {now}")))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap()
    };
    // No SMTP in the environment file: the due send fails, and says so.
    s.write("env", "ALMANAC_UNSUBSCRIBE_SECRET=x\n");
    let failed = run("2026-11-25T07:05:00Z");
    assert!(
        stdout(&failed).contains("failed (exit 1); the end of state/almanac.log:"),
        "{}",
        text(&failed)
    );
    assert!(
        stdout(&failed).contains("needs an SMTP server"),
        "{}",
        text(&failed)
    );
    // The next day the issue is past its grace window: said once (exit 5),
    // then recorded as skipped, and every later run is silent.
    let missed = run("2026-11-26T07:05:00Z");
    assert!(
        stdout(&missed).contains("failed (exit 5)") && stdout(&missed).contains("was missed"),
        "{}",
        text(&missed)
    );
    let idle = run("2026-11-26T07:15:00Z");
    assert_eq!(text(&idle), "", "cron would mail this");
    assert!(
        s.read("state/almanac.log")
            .contains("nothing due: midweek of 2026-11-25")
    );
}
