//! `almanac serve` over real HTTP on loopback: one-click unsubscribe (RFC
//! 8058) recorded in the real SQLite state and honoured by the next send,
//! forged tokens refused, GET never unsubscribing (also in headless
//! Chromium), concurrent unsubscribes during a rate-limited send, the archive
//! with strict paths, graceful shutdown; and `unsubscribe --from-eml`.

mod common;
mod sink;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use almanac::domain::Email;
use almanac::mail::TokenKey;
use common::{SUNDAY, Sample};
use sink::Sink;

const SECRET: &str = "serve-test-secret";

fn key() -> TokenKey {
    TokenKey::new(SECRET)
}

fn token(addr: &str) -> String {
    key().legacy_token(&addr.parse::<Email>().unwrap())
}

/// A sample whose list is `reader0..n` (all editions).
fn sample_with(n: usize) -> Sample {
    let s = Sample::new();
    let mut csv = String::from("email,name,editions,subscribed_at\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.com,Reader {i},both,\n"));
    }
    s.write("subscribers.example.csv", csv);
    s
}

/// `almanac serve` on a free port, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(s: &Sample) -> Server {
        let log = s.path("serve.log");
        let mut child = s
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start almanac serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Server {
            child,
            port: 0,
            log,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("almanac serve did not start: {}", server.log_text()));
        let port = line
            .trim()
            .strip_prefix("serving on http://127.0.0.1:")
            .and_then(|r| r.strip_suffix('/'))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}: {}", server.log_text()));
        server.port = port;
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.port)
    }

    fn get(&self, target: &str) -> Resp {
        http(self.port, "GET", target, &[], b"")
    }

    fn one_click(&self, token: &str) -> Resp {
        form_post(
            self.port,
            &format!("/unsubscribe?t={token}"),
            b"List-Unsubscribe=One-Click",
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One raw HTTP/1.1 request (`Connection: close`), the whole response read.
/// A form POST, as browsers and mail providers send it.
fn form_post(port: u16, target: &str, body: &[u8]) -> Resp {
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    http(port, "POST", target, &form, body)
}

fn http(port: u16, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to almanac serve");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" || !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Who left (status and why), straight from the SQLite file.
fn suppressions(s: &Sample) -> BTreeMap<String, (String, String)> {
    let path = s.path("state/almanac.db");
    if !path.exists() {
        return BTreeMap::new();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut st = conn
        .prepare(
            "SELECT email, status, change_reason FROM subscribers
             WHERE status IN ('unsubscribed', 'bounced', 'complained')",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", common::text(o)))
}

/// Recipients (To addresses) of the messages in the outbox.
fn outbox_recipients(s: &Sample) -> Vec<String> {
    let dir = s.path("out/outbox");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            m.to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap()
                .to_owned()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn one_click_post_unsubscribes_and_the_next_send_skips_the_address() {
    let s = sample_with(3);
    let server = Server::start(&s);

    // The link as a real message carries it: a proof to reader1 in the outbox.
    let proof = s
        .command(&["send", SUNDAY, "--test", "reader1@example.com"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    common::assert_success(&proof, "send --test");
    let eml = std::fs::read_dir(s.path("out/outbox"))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .unwrap()
        .path();
    let bytes = std::fs::read(&eml).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(
        msg.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let header = msg.header_raw("List-Unsubscribe").unwrap();
    let https = header
        .split(['<', '>'])
        .find(|p| p.starts_with("https://"))
        .unwrap();
    let link = url::Url::parse(https).unwrap();
    let target = format!("{}?{}", link.path(), link.query().unwrap());
    s.remove("out/outbox");

    let r = form_post(server.port, &target, b"List-Unsubscribe=One-Click");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("Location").is_none(), "no redirect: {r:?}");
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));
    // The Sunday email's link takes reader1 off Sunday only.
    assert!(
        r.body.contains(
            "reader1@example.com is unsubscribed from the Sunday edition of Call Me Almanac"
        ),
        "{r:?}"
    );
    let list = || common::stdout(&s.run_ok(&["subscribers", "list"]));
    assert!(
        list().contains("reader1@example.com\tReader 1\tmidweek\tactive"),
        "{}",
        list()
    );
    let sup = suppressions(&s);
    assert!(sup.is_empty(), "{sup:?}");

    // Idempotent, also without a content type.
    let again = server.one_click(link.query().unwrap().trim_start_matches("t="));
    assert_eq!(again.status, 200, "{again:?}");
    let bare = http(
        server.port,
        "POST",
        &target,
        &[],
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(bare.status, 200, "{bare:?}");
    assert_eq!(suppressions(&s), sup);

    // multipart/form-data, which RFC 8058 also allows.
    let body = "--b0und\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0und--\r\n";
    let r = http(
        server.port,
        "POST",
        &format!("/unsubscribe?t={}", token("reader2@example.com")),
        &[("Content-Type", "multipart/form-data; boundary=b0und")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // A first-release token (the address inside) still works: all editions.
    assert_eq!(
        suppressions(&s).get("reader2@example.com"),
        Some(&(
            "unsubscribed".to_owned(),
            "one-click unsubscribe".to_owned()
        ))
    );

    // The next send (to the outbox) skips both.
    let out = s
        .command(&["send", SUNDAY, "--yes", "--json"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let summary = json(&out);
    assert_eq!(summary["skipped_suppressed"], 2, "{summary}");
    assert_eq!(summary["sent"], 1, "{summary}");
    assert_eq!(outbox_recipients(&s), ["reader0@example.com"]);
    // The next Midweek still reaches reader1.
    let out = s
        .command(&["send", "2026-11-25-midweek", "--outbox", "--yes", "--json"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(json(&out)["sent"], 2, "{}", common::text(&out));
}

#[test]
fn forged_truncated_and_swapped_tokens_change_nothing() {
    let s = sample_with(1);
    let server = Server::start(&s);
    // One legitimate suppression that must survive everything below.
    let out = s
        .command(&["unsubscribe", "carol@example.com"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    common::assert_success(&out, "unsubscribe carol");
    let before = suppressions(&s);
    assert_eq!(before.len(), 1);

    let ada = token("ada@example.com");
    let bob = token("bob@example.com");
    let swapped = format!(
        "{}.{}",
        bob.split('.').next().unwrap(),
        ada.split('.').nth(1).unwrap()
    );
    let other_secret =
        TokenKey::new("another-secret").legacy_token(&"ada@example.com".parse().unwrap());
    let carol_forged =
        TokenKey::new("another-secret").legacy_token(&"carol@example.com".parse().unwrap());
    let bad = [
        other_secret.clone(),
        ada[..ada.len() - 2].to_owned(),
        ada[..ada.len() / 2].to_owned(),
        swapped,
        format!("{ada}x"),
        "garbage".to_owned(),
        String::new(),
    ];
    for t in &bad {
        let target = format!("/unsubscribe?t={t}");
        let r = server.one_click(t);
        assert_eq!(r.status, 400, "one-click {t:?}: {r:?}");
        let r = form_post(server.port, &target, b"confirm=yes");
        assert_eq!(r.status, 400, "confirm {t:?}: {r:?}");
        assert!(r.body.contains("This link does not work"));
        let r = server.get(&target);
        assert_eq!(r.status, 400, "GET {t:?}: {r:?}");
        assert!(!r.body.contains("<form"), "no form for a bad token");
    }
    // No token at all; a genuine token with a body that asks for nothing.
    assert_eq!(server.get("/unsubscribe").status, 400);
    assert_eq!(
        http(
            server.port,
            "POST",
            "/unsubscribe",
            &[],
            b"List-Unsubscribe=One-Click"
        )
        .status,
        400
    );
    let r = form_post(
        server.port,
        &format!("/unsubscribe?t={ada}"),
        b"hello=world",
    );
    assert_eq!(r.status, 400, "{r:?}");
    // A forged token can't lift somebody's suppression either.
    let r = http(
        server.port,
        "POST",
        &format!("/resubscribe?t={carol_forged}"),
        &[],
        b"confirm=yes",
    );
    assert_eq!(r.status, 400, "{r:?}");

    assert_eq!(
        suppressions(&s),
        before,
        "the suppression table is unchanged"
    );
    let dry = s
        .command(&["send", SUNDAY, "--dry-run", "--json"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    // reader0 still gets it; carol, who really left, does not.
    let dry = json(&dry);
    assert_eq!(
        (dry["pending"].as_u64(), dry["skipped_suppressed"].as_u64()),
        (Some(1), Some(1)),
        "{dry}"
    );
}

#[test]
fn get_never_unsubscribes() {
    let s = sample_with(1);
    let server = Server::start(&s);
    let target = format!("/unsubscribe?t={}", token("reader0@example.com"));
    for _ in 0..3 {
        let r = server.get(&target);
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.body.contains("reader0@example.com"));
        assert!(r.body.contains(r#"<form method="post""#), "{}", r.body);
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"));
    }
    let head = http(server.port, "HEAD", &target, &[], b"");
    assert_eq!(head.status, 200);
    assert!(suppressions(&s).is_empty(), "{:?}", suppressions(&s));
    // Nor does a GET of the resubscribe URL do anything.
    assert_eq!(
        server
            .get(&target.replace("unsubscribe", "resubscribe"))
            .status,
        405
    );
}

/// `chromium --headless --dump-dom URL`, killed after 60 s.
fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::CHROMIUM)
        .args(common::CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The first POST form of a page: its action resolved against `base`, and
/// its fields url-encoded.
fn post_form(html: &str, base: &str) -> (String, String) {
    let doc = scraper::Html::parse_document(html);
    let form_sel = scraper::Selector::parse("form").unwrap();
    let input_sel = scraper::Selector::parse("input[name]").unwrap();
    let button_sel = scraper::Selector::parse("button[type=submit], input[type=submit]").unwrap();
    let form = doc
        .select(&form_sel)
        .next()
        .unwrap_or_else(|| panic!("no form in {html}"));
    assert_eq!(
        form.value()
            .attr("method")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("post")
    );
    assert!(form.select(&button_sel).next().is_some(), "a submit button");
    let action = url::Url::parse(base)
        .unwrap()
        .join(form.value().attr("action").unwrap_or(""))
        .unwrap();
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for input in form.select(&input_sel) {
        let v = input.value();
        body.append_pair(v.attr("name").unwrap(), v.attr("value").unwrap_or(""));
    }
    let target = format!("{}?{}", action.path(), action.query().unwrap_or(""));
    (target, body.finish())
}

#[test]
fn confirm_page_in_headless_chromium() {
    if !common::tool("headless Chromium", &[common::CHROMIUM, "--version"]) {
        return;
    }
    let s = sample_with(1);
    let server = Server::start(&s);
    let addr = "reader0@example.com";
    let page_url = server.url(&format!("/unsubscribe?t={}", token(addr)));
    let dom = chromium_dom(&page_url);
    assert!(dom.contains(addr), "the address is shown: {dom}");
    assert!(
        suppressions(&s).is_empty(),
        "loading the page in a real browser unsubscribed nobody"
    );

    // Submit the form as the browser would.
    let (target, body) = post_form(&dom, &page_url);
    assert!(target.starts_with("/unsubscribe?t="), "{target}");
    assert_eq!(body, "confirm=yes");
    let r = form_post(server.port, &target, body.as_bytes());
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r.body.contains("You are unsubscribed"), "{}", r.body);
    assert_eq!(
        suppressions(&s).get(addr),
        Some(&("unsubscribed".to_owned(), "the unsubscribe page".to_owned()))
    );

    // The undo button on that page resubscribes.
    let (target, body) = post_form(&r.body, &server.url(&target));
    assert!(target.starts_with("/resubscribe?t="), "{target}");
    let r = form_post(server.port, &target, body.as_bytes());
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("Welcome back"), "{}", r.body);
    assert!(suppressions(&s).is_empty());
}

#[test]
fn concurrent_one_click_posts_during_a_send_are_all_recorded() {
    // 2 000 distinct one-click unsubscribes from 50 clients at once, while
    // a send to 3 000 runs (spaced to last past them): every one answered
    // 200 and recorded, and the send unaffected.
    const READERS: usize = 3000;
    const UNSUBSCRIBES: usize = 2000;
    const CLIENTS: usize = 50;
    let s = sample_with(READERS);
    s.edit(
        "newsletter.toml",
        "rate_per_second = 0",
        "rate_per_second = 150",
    );
    let server = Server::start(&s);
    // smtp-sink when installed (4 connections), else the outbox.
    let sink = Sink::start(&[]);
    let mut cmd = s.command(&["send", SUNDAY, "--yes", "--json"]);
    cmd.env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(sink) = &sink {
        cmd.env("ALMANAC_SMTP_URL", sink.url());
    }
    let send = cmd.spawn().unwrap();

    // Wait until the send is delivering (and writing its journal).
    let db = s.path("state/almanac.db");
    let sent_so_far = || -> i64 {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while sent_so_far() == 0 {
        assert!(Instant::now() < deadline, "the send never started");
        std::thread::sleep(Duration::from_millis(20));
    }

    let port = server.port;
    let addrs: Vec<String> = (0..UNSUBSCRIBES)
        .map(|i| format!("reader{}@example.com", i * READERS / UNSUBSCRIBES))
        .collect();
    let threads: Vec<_> = addrs
        .chunks(UNSUBSCRIBES / CLIENTS)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || {
                for a in chunk {
                    let r = http(
                        port,
                        "POST",
                        &format!("/unsubscribe?t={}", token(&a)),
                        &[("Content-Type", "application/x-www-form-urlencoded")],
                        b"List-Unsubscribe=One-Click",
                    );
                    assert_eq!(r.status, 200, "{a}: {r:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut send = send;
    assert!(
        send.try_wait().unwrap().is_none(),
        "the send was still running when the last unsubscribe was answered"
    );
    let out = send.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    // Everyone was either sent the issue or, having left while the send
    // ran, passed over; nobody is left pending.
    let summary = json(&out);
    let (sent, left) = (
        summary["sent"].as_u64().unwrap() as usize,
        summary["skipped_suppressed"].as_u64().unwrap() as usize,
    );
    assert_eq!(sent + left, READERS, "{summary}");
    assert!(
        left <= UNSUBSCRIBES && summary["not_attempted"] == 0,
        "{summary}"
    );

    let sup = suppressions(&s);
    for a in &addrs {
        assert_eq!(
            sup.get(a).map(|(r, _)| r.as_str()),
            Some("unsubscribed"),
            "{a} lost"
        );
    }
    assert_eq!(sup.len(), UNSUBSCRIBES);
    // A later run (dry) skips every one of them.
    let dry = s
        .command(&["send", SUNDAY, "--dry-run", "--json"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(
        json(&dry)["skipped_suppressed"],
        UNSUBSCRIBES,
        "{}",
        common::text(&dry)
    );
    drop(sink);
}

#[test]
fn archive_is_served_with_strict_paths_and_health() {
    let s = Sample::new();
    s.publish_samples();
    let server = Server::start(&s);

    let r = server.get("/healthz");
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));

    let index = server.get("/issues/");
    assert_eq!(index.status, 200);
    assert!(
        index
            .header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(index.body, s.read("out/site/index.html"));
    let page = server.get(&format!("/issues/{SUNDAY}/"));
    assert_eq!(page.status, 200);
    assert_eq!(page.body, s.read(format!("out/site/{SUNDAY}/index.html")));
    let feed = server.get("/issues/feed.xml");
    assert_eq!(feed.status, 200);
    assert!(
        feed.header("Content-Type")
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert_eq!(feed.header("X-Content-Type-Options"), Some("nosniff"));

    let r = server.get(&format!("/issues/{SUNDAY}"));
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("Location"),
        Some(format!("/issues/{SUNDAY}/").as_str())
    );
    let r = server.get("/");
    assert_eq!((r.status, r.header("Location")), (307, Some("/issues/")));

    for evil in [
        "/issues/../newsletter.toml",
        "/issues/%2e%2e/newsletter.toml",
        "/issues/%2E%2E%2Fnewsletter.toml",
        "/issues/..%2f..%2fnewsletter.toml",
        "/issues/%2e%2e%2f%2e%2e%2fstate/almanac.db",
        "/issues/..\\newsletter.toml",
        "/issues//etc/passwd",
        "/issues/.site.tmp-1/index.html",
        "/newsletter.toml",
        "/state/almanac.db",
        "/issues/nope/",
    ] {
        let r = server.get(evil);
        assert_eq!(r.status, 404, "{evil}: {r:?}");
        assert!(!r.body.contains("[newsletter]") && !r.body.contains("SQLite"));
    }
    let r = http(server.port, "POST", "/issues/", &[], b"x");
    assert_eq!(r.status, 405);
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let s = Sample::new();
    let mut server = Server::start(&s);
    assert_eq!(server.get("/healthz").status, 200);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}: {}", server.log_text());
    assert!(server.log_text().contains("shutting down"));
}

#[test]
fn serve_refuses_a_public_address_without_a_secret() {
    let s = Sample::new();
    let out = s.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    assert!(common::text(&out).contains("ALMANAC_UNSUBSCRIBE_SECRET"));
}

fn dsn(action: &str, status: &str, rcpt: &str) -> String {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r
To: letters@almanac.example\r
Subject: Undelivered Mail Returned to Sender\r
Auto-Submitted: auto-replied\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r
\r
--XX\r
Content-Type: text/plain\r
\r
Delivery to {rcpt} failed.\r
\r
--XX\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.net\r
\r
Final-Recipient: rfc822; {rcpt}\r
Action: {action}\r
Status: {status}\r
Diagnostic-Code: smtp; 550 {status} mailbox unavailable\r
\r
--XX--\r
"
    )
}

#[test]
fn unsubscribe_from_eml_records_bounces_complaints_and_requests() {
    let s = sample_with(1);
    // The token as the mailto link of a real message to reader0 carries
    // it: a proof to them, in the outbox.
    let proof = s
        .command(&["send", SUNDAY, "--test", "reader0@example.com"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    common::assert_success(&proof, "a proof to reader0");
    let outbox = std::fs::read_dir(s.path("out/outbox"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let eml = std::fs::read_to_string(outbox.path()).unwrap();
    let token = eml
        .split("subject=unsubscribe%20")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let dir = s.path("mail");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let hard = write("hard.eml", &dsn("failed", "5.1.1", "gone@example.com"));
    let soft = write("soft.eml", &dsn("failed", "4.2.2", "full@example.com"));
    let request = write(
        "request.eml",
        &format!(
            "From: Reader <reader@example.com>\r\nTo: unsubscribe@almanac.example\r\nSubject: unsubscribe {token}\r\n\r\n\r\n"
        ),
    );
    let out = s
        .command(&["unsubscribe", "--from-eml", &hard, &soft, &request])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let stdout = common::stdout(&out);
    assert_eq!(stdout.lines().count(), 3, "one line per file: {stdout}");
    assert!(
        stdout.contains("hard.eml: gone@example.com: hard bounce 5.1.1, suppressed as bounced"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "soft.eml: full@example.com: soft bounce 4.2.2, not on the list: nothing to count"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "request.eml: reader0@example.com: unsubscribe request, suppressed as unsubscribed from sunday"
        ),
        "{stdout}"
    );
    let sup = suppressions(&s);
    assert_eq!(sup.len(), 1, "{sup:?}");
    assert_eq!(sup["gone@example.com"].0, "bounced");
    assert!(sup["gone@example.com"].1.contains("5.1.1"));
    // The mailed token was the Sunday edition's: reader0 keeps Midweek.
    let list = common::stdout(&s.run_ok(&["subscribers", "list"]));
    assert!(
        list.contains("reader0@example.com\tReader 0\tmidweek\tactive"),
        "{list}"
    );
    assert!(
        !sup.contains_key("full@example.com"),
        "4.x.x is not suppressed"
    );

    // A complaint, an unreadable and an unrecognised file: the others are
    // still recorded, and the exit code says something was wrong.
    let complaint = write(
        "complaint.eml",
        "From: fbl@isp.example\r\nTo: abuse@almanac.example\r\nSubject: FBL\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\nOriginal-Rcpt-To: angry@example.com\r\n\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: letters@almanac.example\r\nTo: redacted@isp.example\r\nSubject: Hi\r\n\r\n--F--\r\n",
    );
    let junk = write(
        "junk.eml",
        "From: a@example.com\r\nSubject: hello\r\n\r\nhi\r\n",
    );
    let missing = dir.join("missing.eml").to_string_lossy().into_owned();
    let forged = write(
        "forged.eml",
        &format!(
            "From: x@example.com\r\nTo: unsubscribe@almanac.example\r\nSubject: unsubscribe {}\r\n\r\n",
            TokenKey::new("other").legacy_token(&"victim@example.com".parse().unwrap())
        ),
    );
    let out = s
        .command(&[
            "unsubscribe",
            "--from-eml",
            &junk,
            &missing,
            &forged,
            &complaint,
        ])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let err = common::stderr(&out);
    assert!(err.contains("junk.eml: not recognised"), "{err}");
    assert!(err.contains("missing.eml: cannot read it"), "{err}");
    assert!(
        err.contains("forged.eml: an unsubscribe request whose token is not valid"),
        "{err}"
    );
    assert!(
        common::stdout(&out).contains(
            "complaint.eml: angry@example.com: complaint (abuse), suppressed as complaint"
        ),
        "{}",
        common::text(&out)
    );
    let sup = suppressions(&s);
    assert_eq!(sup.len(), 2, "{sup:?}");
    assert_eq!(sup["angry@example.com"].0, "complained");
    assert!(!sup.contains_key("victim@example.com"));
}
