//! Readers joining by themselves, through the real binary: the form in
//! headless Chromium, the confirmation mail at Postfix's smtp-sink, a GET
//! that confirms nothing, the button that does, the welcome, and the sends
//! that follow; abuse (rate limits, one mail per address per hour, bad
//! tokens, bad bodies) changes nothing.

mod browser;
mod common;
mod sink;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use almanac::mail::{Purpose, TokenKey};
use common::{MIDWEEK, SUNDAY, Sample, stdout, text};
use serde_json::Value;
use sink::Sink;

const SECRET: &str = "signup-test-secret";

fn serve(s: &Sample, sink: &Sink) -> common::Served {
    s.serve(&[
        ("ALMANAC_UNSUBSCRIBE_SECRET", SECRET),
        ("ALMANAC_SMTP_URL", &sink.url()),
    ])
}

/// (status, head, body) of one request.
fn http(port: u16, method: &str, target: &str, body: &str) -> (u16, String, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head[9..12].parse().unwrap(),
        head.to_ascii_lowercase(),
        body.to_owned(),
    )
}

fn smtp_send(s: &Sample, sink: &Sink, issue: &str) -> Value {
    let out = s
        .command(&["send", issue, "--yes", "--json"])
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Messages the sink got for one address, decoded.
fn mail_to(sink: &Sink, addr: &str) -> Vec<mail_parser::Message<'static>> {
    sink.messages()
        .into_iter()
        .filter(|m| m.contains(&format!("X-Rcpt-Args: <{addr}>")))
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(m.as_bytes())
                .unwrap()
                .into_owned()
        })
        .collect()
}

/// The first link in a message's text part that contains `needle`.
fn link(m: &mail_parser::Message<'_>, needle: &str) -> url::Url {
    let text = m.body_text(0).unwrap();
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle} in:\n{text}"));
    let start = text[..at].rfind("https://").unwrap();
    let end = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |e| start + e);
    url::Url::parse(&text[start..end]).unwrap()
}

fn local(port: u16, u: &url::Url) -> String {
    format!(
        "http://127.0.0.1:{port}{}?{}",
        u.path(),
        u.query().unwrap_or("")
    )
}

fn list(s: &Sample) -> String {
    stdout(&s.run_ok(&["subscribers", "list"]))
}

fn copy_issue(s: &Sample, from: &str, date: &str, edition: &str) -> String {
    let id = format!("{date}-{edition}");
    let old = &from[..10];
    s.write(
        format!("issues/{id}/issue.toml"),
        s.read(format!("issues/{from}/issue.toml"))
            .replace(&format!("date = {old}"), &format!("date = {date}")),
    );
    s.write(
        format!("issues/{id}/guide.md"),
        s.read(format!("issues/{from}/guide.md")),
    );
    id
}

#[test]
fn a_reader_signs_up_in_a_browser_confirms_and_gets_the_editions_they_chose() {
    let Some(sink) = Sink::start(&[]) else { return };
    if !browser::available() {
        return;
    }
    let s = Sample::new();
    s.write(
        "subscribers.example.csv",
        "email,name,editions\nold@example.com,Old,both\n",
    );
    smtp_send(&s, &sink, SUNDAY);
    let server = serve(&s, &sink);

    // The form, filled and sent by a real browser, Midweek unticked.
    let mut b = browser::Browser::launch(&format!("http://127.0.0.1:{}/subscribe", server.port));
    let ready = |v: &Value| v == &Value::Bool(true);
    b.wait_for(
        "the form",
        "!!document.querySelector('input[name=email]')",
        Duration::from_secs(10),
        ready,
    );
    b.eval("document.querySelector('input[name=email]').value = 'New.Reader@example.com'; document.querySelector('input[name=name]').value = 'New Reader'; document.querySelector('input[value=midweek]').checked = false; document.querySelector('button[type=submit]').click(); true");
    b.wait_for(
        "the answer",
        "document.body.innerText.includes('Check your inbox')",
        Duration::from_secs(10),
        ready,
    );
    assert!(
        list(&s).contains("New.Reader@example.com\tNew Reader\t\tpending"),
        "{}",
        list(&s)
    );
    let pending = stdout(&s.run_ok(&["subscribers", "list", "--status", "pending"]));
    assert_eq!(pending.lines().count(), 1, "{pending}");

    // The confirmation mail: a link that a GET does not act on.
    let mails = mail_to(&sink, "New.Reader@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].subject(),
        Some("Confirm your subscription to Call Me Almanac")
    );
    assert!(
        mails[0]
            .body_html(0)
            .unwrap()
            .contains("Confirm your subscription")
    );
    let confirm = link(&mails[0], "/confirm?t=");
    let (status, _, page) = http(
        server.port,
        "GET",
        &format!("{}?{}", confirm.path(), confirm.query().unwrap()),
        "",
    );
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Confirm your subscription") && page.contains("the Sunday edition")
            || page.contains("Sunday"),
        "{page}"
    );
    assert!(
        list(&s).contains("\tpending"),
        "a GET confirmed: {}",
        list(&s)
    );

    // The button, pressed in the browser.
    b.eval(&format!(
        "location.href = '{}'; true",
        local(server.port, &confirm)
    ));
    b.wait_for("the confirm page", "!!document.querySelector('button[type=submit]') && document.body.innerText.includes('Confirm your subscription')", Duration::from_secs(10), ready);
    b.eval("document.querySelector('button[type=submit]').click(); true");
    b.wait_for(
        "the confirmed page",
        "document.body.innerText.includes('You are subscribed')",
        Duration::from_secs(10),
        ready,
    );
    assert!(
        list(&s).contains("New.Reader@example.com\tNew Reader\tsunday\tactive"),
        "{}",
        list(&s)
    );
    let shown: Value = serde_json::from_slice(
        &s.run_ok(&["subscribers", "show", "new.reader@example.com"])
            .stdout,
    )
    .unwrap();
    assert!(shown["subscriber"]["consent_at"].is_string(), "{shown}");
    assert_eq!(shown["subscriber"]["source"], "form");

    // The welcome: the newest Sunday issue that went out.
    let mails = mail_to(&sink, "New.Reader@example.com");
    assert_eq!(mails.len(), 2, "a confirmation and a welcome");
    let sunday_subject = s.read(format!("issues/{SUNDAY}/issue.toml"));
    let welcome = &mails[1];
    assert!(
        sunday_subject.contains(welcome.subject().unwrap()),
        "{:?}",
        welcome.subject()
    );
    assert!(welcome.header_raw("List-Unsubscribe").is_some());

    // The next Sunday reaches them, the next Midweek does not; the Sunday
    // they were welcomed with is not sent again.
    let again = smtp_send(&s, &sink, SUNDAY);
    assert_eq!(again["sent"], 0, "{again}");
    let next_sunday = copy_issue(&s, SUNDAY, "2026-12-06", "sunday");
    smtp_send(&s, &sink, &next_sunday);
    let next_midweek = copy_issue(&s, MIDWEEK, "2026-12-02", "midweek");
    smtp_send(&s, &sink, &next_midweek);
    assert_eq!(
        mail_to(&sink, "New.Reader@example.com").len(),
        3,
        "+ the next Sunday only"
    );
    assert_eq!(mail_to(&sink, "old@example.com").len(), 3);
}

#[test]
fn signing_up_an_active_reader_sends_no_confirmation_and_looks_the_same() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    s.write(
        "subscribers.example.csv",
        "email,name,editions\nold@example.com,Old,both\n",
    );
    s.run_ok(&["subscribers", "list"]);
    let server = serve(&s, &sink);
    let (_, _, known) = http(
        server.port,
        "POST",
        "/subscribe",
        "email=old%40example.com&edition=midweek&edition=sunday&website=",
    );
    let (_, _, new) = http(
        server.port,
        "POST",
        "/subscribe",
        "email=fresh%40example.com&edition=sunday&website=",
    );
    assert_eq!(known, new, "the answer tells nothing about the list");
    let mails = mail_to(&sink, "old@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].subject(),
        Some("You are already subscribed to Call Me Almanac")
    );
    let body = mails[0].body_text(0).unwrap().into_owned();
    assert!(
        !body.contains("/confirm?t=") && body.contains("/manage?t="),
        "{body}"
    );
    assert!(list(&s).contains("old@example.com\tOld\tboth\tactive"));
}

#[test]
fn rate_limits_and_one_mail_per_address_per_hour() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    s.write("subscribers.example.csv", "email,name,editions\n");
    let server = serve(&s, &sink);
    let codes: Vec<u16> = (0..30)
        .map(|i| {
            http(
                server.port,
                "POST",
                "/subscribe",
                &format!("email=r{i}%40example.com&edition=sunday"),
            )
            .0
        })
        .collect();
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 5, "{codes:?}");
    assert!(codes[5..].iter().all(|&c| c == 429), "{codes:?}");
    let (_, head, _) = http(
        server.port,
        "POST",
        "/subscribe",
        "email=x%40example.com&edition=sunday",
    );
    assert!(head.contains("retry-after: "), "{head}");
    assert_eq!(sink.messages().len(), 5);
    drop(server);

    // One address, ten times in a minute, from a client under its limit:
    // one confirmation mail.
    let s = Sample::new();
    s.write("subscribers.example.csv", "email,name,editions\n");
    s.edit(
        "newsletter.toml",
        "[send]\n",
        "[signup]\nper_client = 50\n\n[send]\n",
    );
    let sink = Sink::start(&[]).unwrap();
    let server = serve(&s, &sink);
    for _ in 0..10 {
        let (status, _, body) = http(
            server.port,
            "POST",
            "/subscribe",
            "email=once%40example.com&edition=midweek&edition=sunday",
        );
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(mail_to(&sink, "once@example.com").len(), 1);
}

#[test]
fn bad_tokens_and_bad_bodies_change_nothing() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    s.write("subscribers.example.csv", "email,name,editions\n");
    let server = serve(&s, &sink);
    http(
        server.port,
        "POST",
        "/subscribe",
        "email=tok%40example.com&edition=sunday",
    );
    let mail = mail_to(&sink, "tok@example.com").remove(0);
    let good = link(&mail, "/confirm?t=");
    let token = good.query().unwrap().trim_start_matches("t=").to_owned();
    let id = {
        let key = TokenKey::new(SECRET);
        match key.open(&token) {
            Some(almanac::mail::Opened::Subscriber { id, .. }) => id,
            other => panic!("{other:?}"),
        }
    };
    let forged = TokenKey::new("another-secret").make(
        id,
        &Purpose::Confirm {
            expires: 4_000_000_000,
        },
    );
    let expired = TokenKey::new(SECRET).make(
        id,
        &Purpose::Confirm {
            expires: 1_000_000_000,
        },
    );
    let manage = TokenKey::new(SECRET).make(id, &Purpose::Manage);
    let truncated = &token[..token.len() - 4];
    for (what, t, says) in [
        ("forged", forged.as_str(), "This link does not work"),
        ("truncated", truncated, "This link does not work"),
        (
            "another purpose",
            manage.as_str(),
            "This link does not work",
        ),
        ("expired", expired.as_str(), "This link has expired"),
    ] {
        for method in ["GET", "POST"] {
            let (status, _, body) = http(server.port, method, &format!("/confirm?t={t}"), "");
            assert_eq!(status, 400, "{what} {method}: {body}");
            assert!(body.contains(says), "{what} {method}: {body}");
        }
        assert!(
            list(&s).contains("tok@example.com\t\t\tpending"),
            "{what}: {}",
            list(&s)
        );
    }
    // Used once, then replayed.
    let (status, _, _) = http(server.port, "POST", &format!("/confirm?t={token}"), "");
    assert_eq!(status, 200);
    let (status, _, body) = http(server.port, "POST", &format!("/confirm?t={token}"), "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("This link was already used"), "{body}");

    // An oversized body, an unknown field, a bad address: refused, nothing stored.
    let big = format!(
        "email=big%40example.com&edition=sunday&name={}",
        "x".repeat(20_000)
    );
    assert_eq!(http(server.port, "POST", "/subscribe", &big).0, 413);
    assert_eq!(
        http(
            server.port,
            "POST",
            "/subscribe",
            "email=u%40example.com&edition=sunday&admin=1"
        )
        .0,
        400
    );
    let (status, _, body) = http(
        server.port,
        "POST",
        "/subscribe",
        "email=not-an-address&edition=sunday",
    );
    assert_eq!(status, 400);
    assert!(body.contains("That is not an email address"), "{body}");
    assert!(
        body.contains("value=\"not-an-address\""),
        "the form keeps what was typed: {body}"
    );
    // The honeypot: the usual answer, nothing stored or sent.
    let (status, _, body) = http(
        server.port,
        "POST",
        "/subscribe",
        "email=bot%40example.com&edition=sunday&website=http%3A%2F%2Fspam",
    );
    assert_eq!(status, 200);
    assert!(body.contains("Check your inbox"));
    let l = list(&s);
    for addr in ["big@", "u@example", "not-an-address", "bot@"] {
        assert!(!l.contains(addr), "{addr} was stored:\n{l}");
    }
    assert!(mail_to(&sink, "bot@example.com").is_empty());
}

#[test]
fn the_subscribe_form_snippet_posts_to_the_endpoint() {
    let s = Sample::new();
    let out = s.run_ok(&["subscribe-form"]);
    let html = stdout(&out);
    assert!(
        html.contains(r#"action="https://almanac.example/subscribe""#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="edition" value="midweek""#) && html.contains(r#"name="website""#),
        "{html}"
    );
}
