//! Bounces come back on their own, through the real binary: a send with
//! `[bounces]` to Postfix's smtp-sink carries VERP return paths; a DSN
//! piped to `almanac bounces -` that quotes nothing of ours suppresses the
//! right reader; a Maildir and an mbox holding a hard bounce, a soft
//! bounce, a complaint, an out-of-office and an unrelated mail make exactly
//! the right changes; soft bounces suppress after three consecutive issues;
//! garbage is reported and changes nothing.

mod common;
#[path = "support/dovecot.rs"]
mod dovecot;
mod sink;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{MIDWEEK, SUNDAY, Sample, stderr, stdout, text};
use sink::Sink;

const SECRET: &str = "bounce-test-secret";

/// A sample with `n` readers of both editions and a bounce address.
fn sample(n: usize) -> Sample {
    let s = Sample::new();
    let mut csv = String::from("email,name,editions,subscribed_at\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com,Reader {i},both,\n"));
    }
    s.write("subscribers.example.csv", csv);
    let config = s.read("newsletter.toml");
    s.write(
        "newsletter.toml",
        format!("{config}\n[bounces]\naddress = \"bounces@almanac.example\"\n"),
    );
    s
}

fn send(s: &Sample, sink: &Sink, issue: &str) {
    let out = s
        .command(&["send", issue, "--yes"])
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The envelope senders of the messages to `rcpt`, in order.
fn return_paths(sink: &Sink, rcpt: &str) -> Vec<String> {
    sink.messages()
        .into_iter()
        .filter(|m| m.contains(&format!("X-Rcpt-Args: <{rcpt}>")))
        .map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("X-Mail-Args: "))
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .trim_matches(|c| c == '<' || c == '>')
                .to_owned()
        })
        .collect()
}

/// The envelope sender of the last message to `rcpt`.
fn return_path(sink: &Sink, rcpt: &str) -> String {
    return_paths(sink, rcpt)
        .pop()
        .unwrap_or_else(|| panic!("no message to {rcpt}"))
}

/// A DSN to `to` about `rcpt` that quotes none of the original message.
fn dsn(to: &str, rcpt: &str, action: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n--XX\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp; 550 {status} no such mailbox\r\n\r\n--XX--\r\n"
    )
}

fn pipe(s: &Sample, input: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = s.command(&["bounces", "-"]);
    cmd.env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // The child may stop reading early (a message over the limit).
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

fn bounces(s: &Sample, args: &[&str]) -> Output {
    let mut all = vec!["bounces"];
    all.extend_from_slice(args);
    s.command(&all)
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap()
}

/// `address → status` of every reader.
fn statuses(s: &Sample) -> std::collections::BTreeMap<String, String> {
    let out = s.run_ok(&["subscribers", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["email"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn verp_return_paths_and_a_piped_dsn_that_quotes_nothing() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample(3);
    send(&s, &sink, SUNDAY);
    let mails = sink.messages();
    assert_eq!(mails.len(), 3);
    for m in &mails {
        let from = m.lines().find(|l| l.starts_with("X-Mail-Args: ")).unwrap();
        assert!(from.starts_with("X-Mail-Args: <bounces+"), "{from}");
        assert!(from.contains("@almanac.example>"), "{from}");
        assert!(
            !from.contains("reader") && !from.contains("example.com"),
            "an address in clear: {from}"
        );
        assert!(
            m.contains("From: \"Call Me Almanac\" <letters@almanac.example>"),
            "the From header is unchanged"
        );
    }
    let verp1 = return_path(&sink, "reader1@example.com");
    assert_ne!(verp1, return_path(&sink, "reader2@example.com"));

    // Reader 1's mail was forwarded; the DSN names only the forward target.
    let out = pipe(
        &s,
        dsn(&verp1, "someone@forward.example", "failed", "5.1.1").as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "reader1@example.com: hard bounce 5.1.1 (2026-11-29-sunday), suppressed as bounced"
        ),
        "{}",
        text(&out)
    );
    // Reader 2's DSN names nobody and went to the bare address; the MTA
    // says which VERP address it was delivered to.
    let verp2 = return_path(&sink, "reader2@example.com");
    let bare = dsn(
        "bounces@almanac.example",
        "x@forward.example",
        "failed",
        "5.1.1",
    );
    let out = pipe(&s, bare.as_bytes(), &[("ORIGINAL_RECIPIENT", &verp2)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let st = statuses(&s);
    assert_eq!(st["reader0@example.com"], "active");
    assert_eq!(st["reader1@example.com"], "bounced");
    assert_eq!(st["reader2@example.com"], "bounced");
    assert!(
        !st.contains_key("someone@forward.example"),
        "the quoted address is not trusted over VERP"
    );

    let status = stdout(&s.run_ok(&["status", SUNDAY]));
    assert!(status.contains("came back: 2 hard bounces"), "{status}");
    let show = stdout(&s.run_ok(&["subscribers", "show", "reader1@example.com"]));
    assert!(show.contains("\"kind\": \"hard\""), "{show}");

    // The next send skips them.
    send(&s, &sink, MIDWEEK);
    let counts = sink.counts();
    assert_eq!(counts["reader0@example.com"], 2);
    assert_eq!(counts["reader1@example.com"], 1);
    assert_eq!(counts["reader2@example.com"], 1);
}

/// A hard bounce for reader 0, a soft bounce for reader 1, a complaint about
/// reader 2, an out-of-office from reader 3, and an unrelated mail.
fn the_five(sink: &Sink) -> Vec<(&'static str, String)> {
    let v = |i: usize| return_path(sink, &format!("reader{i}@example.com"));
    vec![
        ("hard", dsn(&v(0), "reader0@example.com", "failed", "5.1.1")),
        ("soft", dsn(&v(1), "reader1@example.com", "failed", "4.2.2")),
        (
            "complaint",
            format!(
                "From: fbl@isp.example\r\nTo: abuse@almanac.example\r\nSubject: FBL report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\nReturn-Path: <{}>\r\nFrom: letters@almanac.example\r\nTo: redacted@isp.example\r\nSubject: Hi\r\n\r\n--F--\r\n",
                v(2)
            ),
        ),
        (
            "ooo",
            "From: Reader 3 <reader3@example.com>\r\nTo: letters@almanac.example\r\nSubject: Out of Office: Sparse autoencoders\r\nAuto-Submitted: auto-replied\r\n\r\nBack on Monday.\r\n".into(),
        ),
        (
            "unrelated",
            "From: Deals <deals@shop.example>\r\nTo: bounces@almanac.example\r\nSubject: 50% off this weekend\r\n\r\nBuy now.\r\n".into(),
        ),
    ]
}

fn assert_the_five_changes(s: &Sample) {
    let st = statuses(s);
    assert_eq!(st["reader0@example.com"], "bounced");
    assert_eq!(
        st["reader1@example.com"], "active",
        "one soft bounce is counted, not suppressed"
    );
    assert_eq!(st["reader2@example.com"], "complained");
    assert_eq!(st["reader3@example.com"], "active");
    assert_eq!(st["reader4@example.com"], "active");
    assert_eq!(st.len(), 5, "nobody added: {st:?}");
    let status = stdout(&s.run_ok(&["status", SUNDAY]));
    assert!(
        status.contains("came back: 1 complaints, 1 hard bounces, 1 soft bounces"),
        "{status}"
    );
    // Who got it still counts among its recipients after leaving.
    assert!(
        status.contains("sent 5, failed 0, pending 0 of 5 recipients"),
        "{status}"
    );
}

#[test]
fn a_maildir_and_an_mbox_make_exactly_the_right_changes() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample(5);
    send(&s, &sink, SUNDAY);
    let five = the_five(&sink);

    let md = s.path("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    for (i, (name, raw)) in five.iter().enumerate() {
        std::fs::write(md.join(format!("new/17644{i}.{name}.mx")), raw).unwrap();
    }
    let out = bounces(&s, &[md.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("kept: new/176444.unrelated.mx: not recognised"),
        "{err}"
    );
    assert!(err.contains("5 messages"), "{err}");
    assert!(err.contains("1 not understood, left in place"), "{err}");
    let names = |d: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(md.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("new"), ["176444.unrelated.mx"]);
    assert_eq!(
        names("cur"),
        [
            "176440.hard.mx:2,S",
            "176441.soft.mx:2,S",
            "176442.complaint.mx:2,S",
            "176443.ooo.mx:2,S"
        ]
    );
    assert_the_five_changes(&s);

    // The same five in an mbox, on a fresh list: the same changes; read
    // twice, the second run changes nothing.
    let s2 = sample(5);
    let sink2 = Sink::start(&[]).unwrap();
    send(&s2, &sink2, SUNDAY);
    let mut mbox = String::new();
    for (_, raw) in the_five(&sink2) {
        mbox.push_str("From MAILER-DAEMON Sun Nov 29 07:00:05 2026\n");
        mbox.push_str(&raw.replace("\r\n", "\n"));
        mbox.push('\n');
    }
    s2.write("bounces.mbox", &mbox);
    let out = bounces(&s2, &["bounces.mbox", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v[0]["report"];
    assert_eq!(r["messages"], 5);
    assert_eq!(r["counts"]["hard bounce"], 1);
    assert_eq!(r["counts"]["soft bounce"], 1);
    assert_eq!(r["counts"]["complaint"], 1);
    assert_eq!(r["counts"]["auto-reply"], 1);
    assert_eq!(r["changed"].as_array().unwrap().len(), 2);
    assert_eq!(r["not_understood"][0]["message"], "message 5");
    assert_the_five_changes(&s2);
    let again = bounces(&s2, &["bounces.mbox", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v[0]["report"]["seen_before"], 4, "{}", text(&again));
    assert_eq!(v[0]["report"]["changed"].as_array().unwrap().len(), 0);
    assert_the_five_changes(&s2);
    assert_eq!(s2.read("bounces.mbox"), mbox, "the mbox is only read");
}

#[test]
fn an_imap_mailbox_makes_the_same_changes_and_loses_nothing() {
    let Some(sink) = Sink::start(&[]) else { return };
    let Some(d) = dovecot::Dovecot::start() else {
        return;
    };
    let s = sample(5);
    send(&s, &sink, SUNDAY);
    let five = the_five(&sink);
    for (_, raw) in &five {
        d.deliver("INBOX", raw.as_bytes());
    }
    std::fs::write(s.path("imap-ca.pem"), d.ca_pem()).unwrap();
    let config = s.read("newsletter.toml");
    s.write(
        "newsletter.toml",
        format!(
            "{config}imap = \"{}\"\nimap_folder = \"Bounces.Handled\"\nimap_tls_ca = \"imap-ca.pem\"\n",
            d.url("INBOX")
        ),
    );

    // Without the password: a clear error, and nothing read or moved.
    let out = bounces(&s, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("ALMANAC_IMAP_PASSWORD"),
        "{}",
        text(&out)
    );
    assert_eq!(d.list("INBOX").len(), 5);

    let run = |s: &Sample| {
        let mut cmd = s.command(&["bounces", "--json"]);
        cmd.env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
            .env("ALMANAC_IMAP_PASSWORD", d.password());
        cmd.output().unwrap()
    };
    let out = run(&s);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), d.log());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v[0]["report"];
    assert_eq!(r["messages"], 5, "{v}");
    assert_eq!(r["counts"]["hard bounce"], 1);
    assert_eq!(r["counts"]["complaint"], 1);
    assert_eq!(r["not_understood"].as_array().unwrap().len(), 1, "{v}");
    assert_the_five_changes(&s);

    // The four understood moved, flagged seen; the unrelated one stays in
    // the inbox exactly as it came, unread; nothing is deleted.
    let inbox = d.list("INBOX");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(inbox[0].0.is_empty(), "{:?}", inbox[0].0);
    assert_eq!(inbox[0].1, five[4].1.as_bytes());
    let moved = d.list("Bounces.Handled");
    assert_eq!(moved.len(), 4);
    assert!(moved.iter().all(|(flags, _)| flags == &["\\Seen"]));
    assert_eq!(d.total(), 5, "a message was lost or copied");

    // A second run finds only the unrelated mail and changes nothing.
    let out = run(&s);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["report"]["messages"], 1, "{v}");
    assert_the_five_changes(&s);
    assert_eq!(d.total(), 5);
}

#[test]
fn three_soft_bounces_in_three_consecutive_issues_suppress_two_do_not() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample(3);
    let issues = [
        SUNDAY.to_owned(),
        copy_issue(&s, "2026-12-06"),
        copy_issue(&s, "2026-12-13"),
    ];
    // reader0: soft on all three. reader1: on the first two. reader2: on
    // the first and the third, the second delivered fine.
    let soft_for = [[true, true, true], [true, true, false], [true, false, true]];
    for (n, issue) in issues.iter().enumerate() {
        send(&s, &sink, issue);
        for (r, pattern) in soft_for.iter().enumerate() {
            if pattern[n] {
                let rcpt = format!("reader{r}@example.com");
                let raw = dsn(&return_path(&sink, &rcpt), &rcpt, "failed", "4.2.2");
                let out = pipe(&s, raw.as_bytes(), &[]);
                assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            }
        }
    }
    let st = statuses(&s);
    assert_eq!(st["reader0@example.com"], "bounced");
    assert_eq!(
        st["reader1@example.com"], "active",
        "two soft bounces do not suppress"
    );
    assert_eq!(st["reader2@example.com"], "active", "not consecutive");
    let show = stdout(&s.run_ok(&["subscribers", "show", "reader0@example.com"]));
    assert!(show.contains("3 soft bounces in consecutive issues (2026-11-29-sunday, 2026-12-06-sunday, 2026-12-13-sunday)"), "{show}");
    // A second DSN about the same issue (a delay, then the failure) counts once.
    let rcpt = "reader1@example.com";
    let again = dsn(&return_paths(&sink, rcpt)[1], rcpt, "delayed", "4.4.1");
    pipe(&s, again.as_bytes(), &[]);
    assert_eq!(statuses(&s)[rcpt], "active");
}

fn copy_issue(s: &Sample, date: &str) -> String {
    let id = format!("{date}-sunday");
    s.write(
        format!("issues/{id}/issue.toml"),
        s.read(format!("issues/{SUNDAY}/issue.toml"))
            .replace("date = 2026-11-29", &format!("date = {date}")),
    );
    s.write(
        format!("issues/{id}/guide.md"),
        s.read(format!("issues/{SUNDAY}/guide.md")),
    );
    id
}

#[test]
fn garbage_is_reported_never_a_panic_and_changes_nothing() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = sample(2);
    send(&s, &sink, SUNDAY);
    let verp = return_path(&sink, "reader0@example.com");
    let whole = dsn(&verp, "reader0@example.com", "failed", "5.1.1");
    let truncated = whole[..whole.find("Final-Recipient").unwrap()].to_owned();
    let forged_addr = {
        let (local, domain) = verp.split_once('@').unwrap();
        let mut chars: Vec<char> = local.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'a' { 'b' } else { 'a' };
        format!("{}@{domain}", chars.into_iter().collect::<String>())
    };
    let forged = dsn(&forged_addr, "reader0@example.com", "failed", "5.1.1");
    let mut huge = whole.clone().into_bytes();
    huge.extend(std::iter::repeat_n(b'x', 20 << 20));
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for (what, input, why) in [
        ("truncated", truncated.into_bytes(), "names no recipient"),
        ("forged", forged.into_bytes(), "does not verify"),
        ("huge", huge, "too large"),
        ("junk", junk, ""),
        ("empty", Vec::new(), "no headers"),
    ] {
        let out = pipe(&s, &input, &[]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out));
        let err = stderr(&out);
        assert!(err.contains("kept: standard input: "), "{what}: {err}");
        assert!(err.contains(why), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    let st = statuses(&s);
    assert!(st.values().all(|v| v == "active"), "{st:?}");
    // What a pipe could not place is kept for a person, not lost.
    let kept = std::fs::read_dir(s.path("state/unread")).unwrap().count();
    assert!(kept >= 3, "{kept}");
    // An unknown source is a usage error, not a panic.
    let out = bounces(&s, &["no/such/mbox"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
