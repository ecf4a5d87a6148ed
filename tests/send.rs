//! Sending against a real SMTP server (Postfix's smtp-sink) and a real
//! SQLite journal: exactly once per subscriber, personal fields, retries
//! across soft rejects and disconnects, hard bounces suppressed, SIGKILL
//! part-way and resume, proofs, dry runs, the lock, and bad input.

mod common;
mod sink;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{SUNDAY, Sample, text};
use sink::Sink;

/// A sample with `n` generated subscribers who all want every edition, and
/// a few with names that need escaping.
fn sample_with(n: usize) -> Sample {
    let s = Sample::new();
    let mut csv = String::from("email,name,editions,subscribed_at\n");
    csv.push_str("zoe@example.com,\"Zoë \"\"Z\"\" <O'Brien> & co\",both,2026-01-01\n");
    csv.push_str("noname@example.com,,sunday,\n");
    // Its QP-encoded name starts a line with a dot: SMTP transparency.
    csv.push_str("dot@example.com,.Dot Com,sunday,\n");
    csv.push_str("midweekonly@example.com,Mid Week,midweek,\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com,Reader {i},both,\n"));
    }
    s.write("subscribers.example.csv", csv);
    s
}

/// Who should get the Sunday issue in `sample_with(n)`.
fn sunday_recipients(n: usize) -> usize {
    n + 3
}

fn send(s: &Sample, sink: &Sink, extra: &[&str]) -> Output {
    let mut args = vec!["send", SUNDAY, "--yes"];
    args.extend_from_slice(extra);
    s.command(&args)
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "test-secret")
        .env("ALMANAC_RETRY_BACKOFF_MS", "50")
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

#[test]
fn everyone_gets_exactly_one_message_with_their_own_fields() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(40);
    let out = send(&s, &sink, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = json(&out);
    assert_eq!(summary["sent"], sunday_recipients(40));
    assert_eq!(summary["not_this_edition"], 1);

    let counts = sink.counts();
    assert_eq!(counts.len(), sunday_recipients(40));
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(!counts.contains_key("midweekonly@example.com"));

    for m in sink.messages() {
        let rcpt = m
            .lines()
            .find_map(|l| l.strip_prefix("X-Rcpt-Args: <"))
            .unwrap()
            .trim_end_matches('>')
            .to_owned();
        let body = m.split_once("\nReceived:").map(|(_, b)| b).unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(body.as_bytes())
            .unwrap();
        let to = parsed
            .to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap()
            .to_owned();
        assert_eq!(to, rcpt, "To matches the envelope");
        let html = parsed.body_html(0).unwrap();
        let plain = parsed.body_text(0).unwrap();
        assert!(
            html.contains(&format!("This email was sent to {rcpt}")),
            "{rcpt}"
        );
        assert!(plain.contains(&format!("This email was sent to {rcpt}")));
        let unsubscribe = parsed.header_raw("List-Unsubscribe").unwrap().to_owned();
        let token = unsubscribe
            .split("?t=")
            .nth(1)
            .unwrap()
            .trim_end_matches(['>', '\r', '\n']);
        assert!(
            plain.contains(token) && html.contains(token),
            "the token in the body is the header's"
        );
        if rcpt == "zoe@example.com" {
            assert!(
                html.contains("Hi Zoë &quot;Z&quot; &lt;O&#39;Brien&gt; &amp; co,"),
                "escaped for HTML"
            );
            assert!(
                plain.contains("Hi Zoë \"Z\" <O'Brien> & co,"),
                "raw in text"
            );
        }
        if rcpt == "dot@example.com" {
            assert!(
                plain.contains("Hi .Dot Com,"),
                "a leading dot survives the wire"
            );
        }
        if rcpt == "noname@example.com" {
            assert!(plain.contains("Hi there,"));
        }
    }

    // A second run sends nothing and says why.
    let again = send(&s, &sink, &["--json"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(json(&again)["skipped_already_sent"], sunday_recipients(40));
    assert!(sink.counts().values().all(|&n| n == 1));

    let status = s.command(&["status", SUNDAY]).output().unwrap();
    assert!(
        text(&status).contains(&format!(
            "sent {}, failed 0, pending 0",
            sunday_recipients(40)
        )),
        "{}",
        text(&status)
    );
}

#[test]
fn hard_rejects_are_recorded_suppressed_and_not_retried() {
    let Some(sink) = Sink::start(&["-f", "rcpt"]) else {
        return;
    };
    let s = sample_with(3);
    let out = send(&s, &sink, &["--json"]);
    assert_eq!(out.status.code(), Some(3), "some failed: {}", text(&out));
    let summary = json(&out);
    assert_eq!(summary["sent"], 0);
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), sunday_recipients(3));
    assert!(
        failed
            .iter()
            .all(|f| f["attempts"] == 1 && f["suppressed"] == true),
        "{failed:?}"
    );
    sink.stop();

    // With a healthy server the suppressed addresses are skipped.
    let Some(good) = Sink::start(&[]) else { return };
    let out = send(&s, &good, &["--json"]);
    assert_eq!(json(&out)["skipped_suppressed"], sunday_recipients(3));
    assert!(good.counts().is_empty());
}

/// Starts a send against a faulty server, swaps in a healthy one on the same
/// port while the sender is retrying, and checks everyone got one message.
fn recovers_from(fault: &[&str]) {
    let port = sink::free_port();
    let Some(bad) = Sink::start_on(port, fault) else {
        return;
    };
    let s = sample_with(10);
    let child = s
        .command(&["send", SUNDAY, "--yes", "--json"])
        .env("ALMANAC_SMTP_URL", bad.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "test-secret")
        .env("ALMANAC_RETRY_BACKOFF_MS", "400")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A run is recorded in the journal only after the preflight login
    // succeeded; from then on every attempt meets the faulty server, and the
    // backoff (doubling from 400 ms) keeps retrying for about 6 s.
    let queued = || {
        // Read-only: never create the database before almanac does.
        let ro = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        rusqlite::Connection::open_with_flags(s.path("state/almanac.db"), ro)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queued() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(800));
    bad.stop();
    let good = Sink::start_on(port, &[]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = json(&out);
    assert_eq!(summary["sent"], sunday_recipients(10));
    assert!(
        summary["retries"].as_u64().unwrap() > 0,
        "the fault was hit"
    );
    let counts = good.counts();
    assert_eq!(counts.len(), sunday_recipients(10));
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn soft_rejects_are_retried_until_delivered() {
    recovers_from(&["-r", "rcpt"]);
}

#[test]
fn dropped_connections_are_retried_until_delivered() {
    recovers_from(&["-q", "data"]);
}

#[test]
fn sigkill_part_way_loses_nobody_and_duplicates_at_most_one_per_connection() {
    const CONNECTIONS: usize = 4;
    for (round, after) in [5usize, 60, 150].into_iter().enumerate() {
        let Some(sink) = Sink::start(&[]) else { return };
        let s = sample_with(300);
        s.edit(
            "newsletter.toml",
            "rate_per_second = 0",
            "rate_per_second = 100",
        );
        let mut child = s
            .command(&["send", SUNDAY, "--yes"])
            .env("ALMANAC_SMTP_URL", sink.url())
            .env("ALMANAC_UNSUBSCRIBE_SECRET", "test-secret")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        sink.wait_for(after);
        // SIGKILL: no destructors, no flush, nothing.
        Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status()
            .unwrap();
        let _ = child.wait();
        let before: usize = sink.counts().values().sum();
        assert!(
            before < sunday_recipients(300),
            "round {round}: killed before the end"
        );

        s.edit(
            "newsletter.toml",
            "rate_per_second = 100",
            "rate_per_second = 0",
        );
        let out = send(&s, &sink, &["--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let counts = sink.counts();
        assert_eq!(
            counts.len(),
            sunday_recipients(300),
            "round {round}: nobody missing"
        );
        let duplicates: usize = counts.values().map(|n| n - 1).sum();
        assert!(
            duplicates <= CONNECTIONS,
            "round {round}: {duplicates} duplicates"
        );
    }
}

#[test]
fn unreachable_server_sends_nothing_and_exits_1() {
    let s = sample_with(3);
    let port = sink::free_port();
    let out = s
        .command(&["send", SUNDAY, "--yes"])
        .env("ALMANAC_SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing was sent"), "{}", text(&out));
    let status = s.run(&["status", SUNDAY]);
    assert!(text(&status).contains("sent 0"), "{}", text(&status));
}

#[test]
fn proof_goes_to_one_address_and_leaves_the_journal_alone() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(3);
    let out = send(&s, &sink, &["--test", "editor@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("Subject: [PROOF] "));
    assert!(msgs[0].contains("X-Rcpt-Args: <editor@example.com>"));
    let status = s.run(&["status", SUNDAY]);
    assert!(
        text(&status).contains("sent 0, failed 0, pending 6 of 6 recipients"),
        "{}",
        text(&status)
    );
}

#[test]
fn dry_run_and_limit() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(10);
    let out = send(&s, &sink, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("built {} messages", sunday_recipients(10))),
        "{}",
        text(&out)
    );
    assert!(sink.messages().is_empty());
    let out = send(&s, &sink, &["--limit", "4", "--json"]);
    assert_eq!(json(&out)["sent"], 4);
    assert_eq!(sink.counts().len(), 4);
}

#[test]
fn a_second_send_while_one_runs_is_refused() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(200);
    s.edit(
        "newsletter.toml",
        "rate_per_second = 0",
        "rate_per_second = 100",
    );
    let mut first = s
        .command(&["send", SUNDAY, "--yes"])
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "test-secret")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Once a message has arrived, the first send holds the lock.
    sink.wait_for(1);
    let second = send(&s, &sink, &[]);
    assert_eq!(second.status.code(), Some(4), "{}", text(&second));
    assert!(text(&second).contains("another send is in progress"));
    assert!(first.wait().unwrap().success());
    assert!(sink.counts().values().all(|&n| n == 1));
}

#[test]
fn unsubscribe_by_token_wins_over_the_list() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(2);
    let out = send(&s, &sink, &["--test", "reader1@example.com"]);
    assert!(out.status.success(), "{}", text(&out));
    let msg = &sink.messages()[0];
    let token = msg
        .split("?t=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let out = s
        .command(&["unsubscribe", &token])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "test-secret")
        .output()
        .unwrap();
    assert!(
        text(&out).contains("reader1@example.com: unsubscribed"),
        "{}",
        text(&out)
    );
    // A token made with another secret is refused.
    let out = s
        .command(&["unsubscribe", &token])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "other")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = send(&s, &sink, &["--json"]);
    assert_eq!(json(&out)["skipped_suppressed"], 1);
    assert!(
        !sink
            .counts()
            .keys()
            .any(|k| k == "reader1@example.com" && sink.counts()[k] > 1)
    );
}

#[test]
fn bad_subscriber_rows_are_reported_and_the_rest_still_get_it() {
    let s = Sample::new();
    s.write(
        "subscribers.example.csv",
        "email,name,editions\nok@example.com,Ok,both\nnot-an-address,X,both\nbad@example.com,Bad,monthly\nOK@example.com,Dup,both\nevil@example.com,\"Evil\rBcc: x@y.z\",both\n",
    );
    let out = s.run(&["subscribers", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    for needle in [
        "subscribers.example.csv:3:",
        "subscribers.example.csv:4:",
        "monthly",
        "subscribers.example.csv:5:",
        "more than once",
        "subscribers.example.csv:6:",
        "control character",
    ] {
        assert!(t.contains(needle), "{needle} missing in {t}");
    }
    let out = s.run(&["send", SUNDAY, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["sent"], 1);
    assert_eq!(json(&out)["invalid_rows"].as_array().unwrap().len(), 4);
    assert!(text(&out).contains("row skipped"));
}

#[test]
fn bad_smtp_and_dkim_config_sends_nothing() {
    let Some(sink) = Sink::start(&[]) else { return };
    let cases: &[(&str, &str)] = &[
        (
            "[smtp]\nurl = \"http://127.0.0.1:25\"\n",
            "use `smtp://` or `smtps://`",
        ),
        (
            "[smtp]\nurl = \"smtp://mail.example.com:25\"\n",
            "not a loopback address",
        ),
        (
            "[smtp]\nurl = \"smtp://me:pw@127.0.0.1:25\"\n",
            "contains a password",
        ),
        (
            "[smtp]\nurl = \"smtp://127.0.0.1:25\"\ntimeout_seconds = 0\n",
            "timeout_seconds",
        ),
        (
            "[smtp]\nurl = \"smtp://127.0.0.1:25\"\nport = 25\n",
            "unknown key `port`",
        ),
        (
            "[dkim]\ndomain = \"almanac.example\"\nselector = \"s\"\nkey = \"missing.pem\"\n",
            "cannot read the DKIM key",
        ),
        (
            "[dkim]\ndomain = \"almanac.example\"\nselector = \"s\"\nkey = \"k.pem\"\nalgorithm = \"rsa-sha1\"\n",
            "unknown DKIM algorithm",
        ),
        (
            "[dkim]\ndomain = \"almanac.example\"\nselector = \"s\"\nkey = \"newsletter.toml\"\n",
            "not a PEM private key",
        ),
    ];
    for (extra, expect) in cases {
        let s = sample_with(2);
        let cfg = std::fs::read_to_string(s.path("newsletter.toml")).unwrap();
        s.write("newsletter.toml", format!("{cfg}\n{extra}"));
        let out = s
            .command(&["send", SUNDAY, "--yes"])
            .env("ALMANAC_UNSUBSCRIBE_SECRET", "x")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{extra}: {}", text(&out));
        assert!(
            text(&out).contains(expect),
            "{extra}: expected {expect:?} in {}",
            text(&out)
        );
        assert!(!s.path("out/outbox").exists(), "{extra}: nothing sent");
    }
    assert!(sink.messages().is_empty());
}

#[test]
fn smtp_send_needs_the_unsubscribe_secret() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(2);
    let out = s
        .command(&["send", SUNDAY, "--yes"])
        .env("ALMANAC_SMTP_URL", sink.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("ALMANAC_UNSUBSCRIBE_SECRET"));
    assert!(sink.messages().is_empty());
}

#[test]
fn subscribers_add_list_and_remove_in_the_database() {
    let s = sample_with(0);
    let add = s.run(&[
        "subscribers",
        "add",
        "New@Example.com",
        "--name",
        "Ada, \"The\" Countess",
        "--editions",
        "midweek",
    ]);
    assert!(add.status.success(), "{}", text(&add));
    let again = s.run(&["subscribers", "add", "new@example.com"]);
    assert_eq!(again.status.code(), Some(1), "duplicates are refused");
    let bad = s.run(&[
        "subscribers",
        "add",
        "x@example.com",
        "--editions",
        "monthly",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("unknown edition"), "{}", text(&bad));
    let list = s.run(&["subscribers", "list", "--edition", "midweek"]);
    assert!(
        text(&list).contains("New@example.com\tAda, \"The\" Countess\tmidweek\tactive"),
        "{}",
        text(&list)
    );
    // The configured CSV is untouched: the list lives in the database.
    assert!(!s.read("subscribers.example.csv").contains("New@"));
    let check = s.run(&["subscribers", "check"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("all: 5 subscribers (active 5)"),
        "{}",
        text(&check)
    );
    // Remove unsubscribes, and an add does not quietly bring them back.
    let remove = s.run(&["subscribers", "remove", "NEW@example.com"]);
    assert!(remove.status.success(), "{}", text(&remove));
    let list = s.run(&["subscribers", "list"]);
    assert!(
        text(&list).contains("New@example.com\tAda, \"The\" Countess\t\tunsubscribed"),
        "{}",
        text(&list)
    );
    let back = s.run(&["subscribers", "add", "new@example.com"]);
    assert_eq!(back.status.code(), Some(1), "{}", text(&back));
    assert!(text(&back).contains("--resubscribe"), "{}", text(&back));
    s.run_ok(&["subscribers", "add", "new@example.com", "--resubscribe"]);
    let active = s.run(&["subscribers", "list", "--status", "active"]);
    assert!(
        text(&active).contains("New@example.com"),
        "{}",
        text(&active)
    );
}

#[test]
fn password_command_runs_only_when_a_connection_needs_it() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample_with(1);
    let mut config = s.read("newsletter.toml");
    config.push_str(&format!(
        "\n[smtp]\nurl = \"smtp://editor@127.0.0.1:{}\"\npassword_command = \"echo ran >> password-command.log; echo hunter2\"\n",
        sink.port
    ));
    s.write("newsletter.toml", config);
    for args in [
        &["check", SUNDAY][..],
        &["build", SUNDAY],
        &["schedule"],
        &["status", SUNDAY],
        &["send", SUNDAY, "--dry-run"],
    ] {
        common::assert_success(&s.run(args), &format!("almanac {args:?}"));
    }
    assert!(
        !s.exists("password-command.log"),
        "the password command ran without a connection"
    );
    // A proof connects twice (the preflight login, then the send) and logs
    // in with the password: the command runs once, and its output is never
    // printed.
    let out = s.run(&["send", SUNDAY, "--test", "editor@example.com"]);
    common::assert_success(&out, "the proof");
    assert!(!text(&out).contains("hunter2"), "{}", text(&out));
    assert_eq!(s.read("password-command.log"), "ran\n");
}
