//! Readable by everyone: axe-core's WCAG 2.1 A/AA and best-practice rules,
//! in headless Chromium, in the light and the dark colour scheme, over the
//! built emails (at a phone's 375 px and a mail client's 640 px), the web
//! archive, the preview and every page `almanac serve` answers with. No
//! serious or critical violation anywhere; the moderate ones that remain
//! are the README's list, each with the reason it is accepted.

mod audit;
mod browser;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use almanac::mail::{Opened, Purpose, TokenKey};
use audit::Report;
use browser::Browser;
use common::{ISSUES, Sample};
use serde_json::Value;

const SECRET: &str = "a11y-test-secret";

/// An email is shown inside a mail client's own page, which has the
/// landmarks: a `<main>` in the message would be a second one in webmail.
/// So the email's content is an `role="article"` region (the email
/// accessibility community's pattern), and these two best-practice rules,
/// which expect the email to be a whole page, stay.
const ACCEPTED_IN_EMAILS: &[&str] = &["landmark-one-main", "region"];

/// Both tools (Chromium, axe-core), or `None` after a loud skip.
fn tools() -> Option<String> {
    if !browser::available() {
        return None;
    }
    audit::source()
}

/// The edition's accent, as the sample writes it.
const MIDWEEK_ACCENT: &str = "accent = \"#4338ca\"";

#[test]
fn a_failing_accent_fails_check_at_its_line_with_the_ratio_and_a_fix() {
    let sample = Sample::new();
    let file = "layouts/editions/midweek.toml";
    let line = sample
        .read(file)
        .lines()
        .position(|l| l == MIDWEEK_ACCENT)
        .expect("the sample's accent")
        + 1;
    sample.edit(file, MIDWEEK_ACCENT, "accent = \"#9999ff\"");
    let out = sample.run(&["check", "--all"]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let at = format!(
        "{file}:{line}:10: error: contrast 2.51:1 of `accent` #9999ff on `surface` #ffffff in light mode"
    );
    assert!(text.contains(&at), "no {at:?} in:\n{text}");
    assert!(text.contains("text needs 4.5:1"), "{text}");
    assert!(
        text.contains("hint: the nearest colour that passes: `accent` #6161ff (4.50:1 on #ffffff)"),
        "{text}"
    );
    sample.edit(file, "accent = \"#9999ff\"", MIDWEEK_ACCENT);
    sample.run_ok(&["check", "--all"]);
}

#[test]
fn the_email_is_one_article_named_by_its_subject_with_headings_in_order() {
    let sample = Sample::new();
    for id in ISSUES {
        let html = std::fs::read_to_string(sample.build(id).join("email.html")).unwrap();
        let doc = scraper::Html::parse_document(&html);
        let select = |s: &str| scraper::Selector::parse(s).unwrap();
        let articles: Vec<_> = doc.select(&select("[role=article]")).collect();
        assert_eq!(articles.len(), 1, "{id}: one article");
        let a = articles[0].value();
        assert_eq!(a.attr("aria-roledescription"), Some("email"));
        let subject = doc.select(&select("title")).next().unwrap().inner_html();
        assert_eq!(a.attr("aria-label"), Some(subject.as_str()), "{id}");
        assert_eq!(a.attr("lang"), Some("en"));
        assert_eq!(a.attr("dir"), Some("ltr"));
        for table in doc.select(&select("table")) {
            assert_eq!(table.value().attr("role"), Some("presentation"), "{id}");
        }
        let pre = doc.select(&select(".preheader")).next().unwrap();
        assert_eq!(pre.value().attr("aria-hidden"), Some("true"), "{id}");
        let levels: Vec<u8> = doc
            .select(&select("h1, h2, h3, h4, h5, h6"))
            .map(|h| h.value().name()[1..].parse().unwrap())
            .collect();
        assert_eq!(
            levels.iter().filter(|l| **l == 1).count(),
            1,
            "{id}: {levels:?}"
        );
        assert_eq!(levels[0], 1, "{id}: {levels:?}");
        for w in levels.windows(2) {
            assert!(
                w[1] <= w[0] + 1,
                "{id}: a heading level skipped in {levels:?}"
            );
        }
    }
}

#[test]
fn vague_link_text_in_the_guide_is_a_warning_at_the_link() {
    let sample = Sample::new();
    let guide = format!("issues/{}/guide.md", ISSUES[0]);
    let text = sample.read(&guide);
    let fixed = format!("{text}\nMore in [click here](https://almanac.example/more).\n");
    sample.write(&guide, &fixed);
    let line = fixed.lines().count();
    let out = sample.run_ok(&["check", ISSUES[0]]);
    let text = common::text(&out);
    assert!(
        text.contains(&format!(
            "{guide}:{line}:9: warning: the link text \"click here\""
        )),
        "{text}"
    );
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn emails_pass_at_phone_and_desktop_width_in_light_and_dark() {
    let Some(axe) = tools() else { return };
    let sample = Sample::new();
    let pages: Vec<(&str, String)> = ISSUES
        .iter()
        .map(|id| (*id, file_url(&sample.build(id).join("email.html"))))
        .collect();
    let mut b = Browser::launch("about:blank");
    let mut report = Report::default();
    for (id, url) in &pages {
        for width in [375, 640] {
            b.emulate_phone(width, 900);
            audit::open(&mut b, url);
            report.audit(&mut b, &axe, &format!("{id} email {width}px"), false);
        }
    }
    report.assert_clean(ACCEPTED_IN_EMAILS);
}

#[test]
fn the_archive_and_web_pages_pass_in_light_and_dark() {
    let Some(axe) = tools() else { return };
    let sample = Sample::new();
    sample.publish_samples();
    sample.run_ok(&["archive"]);
    let site = sample.path("out/site");
    let mut b = Browser::launch("about:blank");
    b.emulate_phone(1024, 900);
    let mut report = Report::default();
    audit::open(&mut b, &file_url(&site.join("index.html")));
    report.audit(&mut b, &axe, "archive index", false);
    for id in ISSUES {
        audit::open(&mut b, &file_url(&site.join(id).join("index.html")));
        report.audit(&mut b, &axe, &format!("{id} web page"), false);
    }
    report.assert_clean(&[]);
}

/// `almanac preview --port 0`, stopped when dropped.
struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `almanac ARGS`, whose first line of output ends with its URL.
fn start(sample: &Sample, args: &[&str], prefix: &str) -> Running {
    let mut child = sample
        .command(args)
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start almanac");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Running { child, base }
}

#[test]
fn the_preview_passes_in_light_and_dark() {
    let Some(axe) = tools() else { return };
    let sample = Sample::new();
    let preview = start(&sample, &["preview", "--port", "0"], "preview: ");
    let mut b = Browser::launch("about:blank");
    b.emulate_phone(1024, 900);
    let mut report = Report::default();
    audit::open(&mut b, &format!("{}/", preview.base));
    report.audit(&mut b, &axe, "preview index", false);
    for id in ISSUES {
        audit::open(&mut b, &format!("{}/issue/{id}", preview.base));
        // The frames hold the built email, audited on its own above.
        report.audit(&mut b, &axe, &format!("preview of {id}"), false);
    }
    report.assert_clean(&[]);
}

/// One raw HTTP request; the status and the body.
fn http(base: &str, method: &str, target: &str, body: &str) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut c = TcpStream::connect(host).unwrap();
    write!(
        c,
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head[9..12].parse().unwrap(), body.to_owned())
}

/// The confirmation link of the newest sign-up mail in the outbox.
fn confirm_token(sample: &Sample) -> String {
    let mut mails: Vec<_> = std::fs::read_dir(sample.path("out/outbox"))
        .expect("the outbox")
        .map(|e| e.unwrap().path())
        .collect();
    mails.sort();
    for path in mails.iter().rev() {
        let raw = std::fs::read(path).unwrap();
        let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let text = message.body_text(0).unwrap_or_default();
        if let Some(at) = text.find("/confirm?t=") {
            let token = &text[at + "/confirm?t=".len()..];
            let end = token.find(char::is_whitespace).unwrap_or(token.len());
            return token[..end].to_owned();
        }
    }
    panic!("no confirmation mail in the outbox");
}

/// Clicks the submit button of the `n`th form and waits for the page it
/// leads to, which shows `then`.
fn submit(b: &mut Browser, n: usize, then: &str) {
    let wanted = serde_json::to_string(then).unwrap();
    submit_until(b, n, &format!("document.body.innerText.includes({wanted})"));
}

/// `submit`, waiting until `ready` holds in the new page.
fn submit_until(b: &mut Browser, n: usize, ready: &str) {
    // A mark on the old document tells it from the new one.
    b.eval(&format!(
        "window.__old = true; document.forms[{n}].querySelector('button[type=submit]').click(); true"
    ));
    b.wait_for(
        ready,
        &format!("!window.__old && document.readyState === 'complete' && ({ready})"),
        Duration::from_secs(20),
        |v| v.as_bool() == Some(true),
    );
}

#[test]
fn every_served_page_passes_in_light_and_dark() {
    let Some(axe) = tools() else { return };
    let sample = Sample::new();
    sample.write(
        "subscribers.example.csv",
        "email,name,editions\nada@example.com,Ada,both\n",
    );
    sample.publish_samples();
    sample.run_ok(&["archive"]);
    let serve = start(
        &sample,
        &["serve", "--listen", "127.0.0.1:0"],
        "serving on ",
    );
    let url = |target: &str| format!("{}{target}", serve.base);
    let mut b = Browser::launch("about:blank");
    b.emulate_phone(1024, 900);
    let mut report = Report::default();
    let mut page = |b: &mut Browser, name: &str| report.audit(b, &axe, name, false);

    // Signing up: the form, a refused address, the answer.
    audit::open(&mut b, &url("/subscribe"));
    page(&mut b, "subscribe");
    b.eval("window.__old = true; document.forms[0].email.value = 'not an address'; document.forms[0].submit(); true");
    b.wait_for(
        "the form with its error",
        "!window.__old && document.readyState === 'complete' && !!document.querySelector('[role=alert]')",
        Duration::from_secs(20),
        |v| v.as_bool() == Some(true),
    );
    page(&mut b, "subscribe, refused address");
    b.eval("document.forms[0].email.value = 'grace@example.com'; true");
    submit(&mut b, 0, "Check your inbox");
    page(&mut b, "check your inbox");

    // Confirming: the button, the result, the same link again, an expired
    // and a forged one.
    let token = confirm_token(&sample);
    let key = TokenKey::new(SECRET);
    let Some(Opened::Subscriber { id, .. }) = key.open(&token) else {
        panic!("the confirmation token does not open")
    };
    audit::open(&mut b, &url(&format!("/confirm?t={token}")));
    page(&mut b, "confirm");
    submit(&mut b, 0, "You are subscribed");
    page(&mut b, "subscribed");
    audit::open(&mut b, &url(&format!("/confirm?t={token}")));
    page(&mut b, "confirmation link already used");
    let expired = key.make(
        id,
        &Purpose::Confirm {
            expires: 1_000_000_000,
        },
    );
    audit::open(&mut b, &url(&format!("/confirm?t={expired}")));
    page(&mut b, "confirmation link expired");
    audit::open(&mut b, &url("/confirm?t=v2.forged.link"));
    page(&mut b, "link not valid");

    // Leaving one edition, undoing it, leaving again, coming back later.
    let leave = key.make(id, &Purpose::Unsubscribe("sunday".parse().unwrap()));
    audit::open(&mut b, &url(&format!("/unsubscribe?t={leave}")));
    page(&mut b, "unsubscribe");
    submit(&mut b, 0, "You are unsubscribed");
    page(&mut b, "unsubscribed");
    submit(&mut b, 0, "Welcome back");
    page(&mut b, "resubscribed");
    submit(&mut b, 0, "You are unsubscribed");
    audit::open(&mut b, &url(&format!("/unsubscribe?t={leave}")));
    page(&mut b, "already unsubscribed");

    // The manage page, and after saving it.
    let manage = key.make(id, &Purpose::Manage);
    audit::open(&mut b, &url(&format!("/manage?t={manage}")));
    page(&mut b, "manage");
    submit_until(&mut b, 0, "!!document.querySelector('[role=status]')");
    page(&mut b, "manage, saved");

    // The archive, as served.
    audit::open(&mut b, &url("/issues/"));
    page(&mut b, "served archive index");
    audit::open(&mut b, &url(&format!("/issues/{}/", ISSUES[1])));
    page(&mut b, "served archive issue");

    // Too many sign-ups from one client: the 429 page, shown as served.
    let slow_down = (0..20)
        .map(|_| {
            http(
                &serve.base,
                "POST",
                "/subscribe",
                "email=x%40example.com&edition=sunday",
            )
        })
        .find(|(status, _)| *status == 429)
        .expect("a 429 within 20 sign-ups")
        .1;
    let data = format!(
        "data:text/html;charset=utf-8,{}",
        percent_encoding::utf8_percent_encode(&slow_down, percent_encoding::NON_ALPHANUMERIC)
    );
    b.call("Page.navigate", serde_json::json!({ "url": data }))
        .expect("open the 429 page");
    b.wait_for(
        "the 429 page",
        "document.readyState === 'complete' && document.body.innerText.includes('Please wait')",
        Duration::from_secs(20),
        |v: &Value| v.as_bool() == Some(true),
    );
    page(&mut b, "too many requests");
    drop(serve);
    report.assert_clean(&[]);
}
