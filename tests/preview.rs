//! `almanac preview`: the real binary serving a copy of the sample, asked
//! with raw HTTP (clients would normalise the tricky paths away) and, end to
//! end, with headless Chromium that stays open while files are edited.

mod browser;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{ISSUES, MIDWEEK, SUNDAY, Sample};
use serde_json::Value;

/// A running `almanac preview`, stopped when dropped.
struct Preview {
    child: Child,
    /// `127.0.0.1:PORT`
    addr: String,
    /// Later stdout lines (the server prints only at start).
    lines: mpsc::Receiver<String>,
    stderr: tempfile::NamedTempFile,
}

impl Preview {
    fn start(sample: &Sample, args: &[&str]) -> Preview {
        let stderr = tempfile::NamedTempFile::new().expect("temp file");
        let mut all = vec!["preview", "--port", "0"];
        all.extend(args);
        let mut child = sample
            .command(&all)
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("reopen"))
            .spawn()
            .expect("start almanac preview");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut preview = Preview {
            child,
            addr: String::new(),
            lines,
            stderr,
        };
        let first = preview.line();
        let url = first
            .strip_prefix("preview: http://")
            .and_then(|u| u.strip_suffix('/'))
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        assert!(url.starts_with("127.0.0.1:"), "not on loopback: {first}");
        preview.addr = url.to_owned();
        preview
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no output from almanac preview\n{}", self.stderr()))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Response {
        request(&self.addr, path, &self.addr)
    }

    fn version(&self) -> String {
        let r = self.get("/version");
        assert_eq!(r.status, 200);
        r.body
    }

    /// GETs `path` until `done` accepts the answer (5 s at most).
    fn wait_for(&self, what: &str, path: &str, done: impl Fn(&Response) -> bool) -> Response {
        let start = Instant::now();
        loop {
            let r = self.get(path);
            if done(&r) {
                return r;
            }
            if start.elapsed() > Duration::from_secs(5) {
                panic!(
                    "timed out waiting for {what}; GET {path} answered {}:\n{}",
                    r.status, r.body
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    head: String,
    body: String,
}

/// One request over a plain socket, path sent exactly as given.
fn request(addr: &str, path: &str, host: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: no HTTP answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: bad status line in {head:?}"));
    Response {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn issue_toml(id: &str) -> String {
    format!("issues/{id}/issue.toml")
}

/// Breaks the TOML syntax of the midweek subject line and returns the
/// `issue.toml:LINE:` the error must name.
fn break_subject(sample: &Sample) -> String {
    let line = sample
        .read(issue_toml(MIDWEEK))
        .lines()
        .position(|l| l.starts_with("subject = "))
        .expect("a subject line")
        + 1;
    sample.edit(issue_toml(MIDWEEK), "subject = ", "subject = = ");
    format!("issue.toml:{line}:")
}

// ---------------------------------------------------------------------------
// HTTP

#[test]
fn index_lists_issues_and_each_page_shows_the_email() {
    let sample = Sample::new();
    let preview = Preview::start(&sample, &[MIDWEEK]);
    assert_eq!(
        preview.line(),
        format!("issue: {}", preview.url(&format!("/issue/{MIDWEEK}")))
    );

    let index = preview.get("/");
    assert_eq!(index.status, 200);
    assert!(
        index.head.contains("cache-control: no-store"),
        "{}",
        index.head
    );
    for id in ISSUES {
        assert!(
            index.body.contains(&format!(r#"href="/issue/{id}""#)),
            "the index does not link {id}:\n{}",
            index.body
        );
    }
    // Each issue with its subject, edition, date, stage and check result.
    // The samples are ready and unsent: due or missed, by today's date.
    let stage = |s: &str| format!(r#"class="stage" data-stage="{s}""#);
    assert!(
        index.body.contains("Sparse autoencoders, up close")
            && index.body.contains("sunday · 2026-11-29 · ")
            && (index.body.contains(&stage("ready")) || index.body.contains(&stage("skipped")))
            && index.body.contains("check: ok"),
        "{}",
        index.body
    );
    // A draft says so.
    sample.run_ok(&["new", "sunday", "--date", "2026-12-06"]);
    let index = preview.wait_for("the new draft", "/", |r| {
        r.body.contains("2026-12-06-sunday")
    });
    assert!(
        index.body.contains(r#"data-stage="draft""#) && index.body.contains("check: "),
        "{}",
        index.body
    );

    for id in ISSUES {
        let page = preview.get(&format!("/issue/{id}"));
        assert_eq!(page.status, 200, "{}", page.body);
        for frame in [
            format!(r#"id="desktop" src="/issue/{id}/email.html" width="640""#),
            format!(r#"id="phone" src="/issue/{id}/email.html" width="375""#),
            format!(r#"data-dark="/issue/{id}/dark.html""#),
            r#"id="dark-toggle""#.to_owned(),
            r#"id="tab-text""#.to_owned(),
        ] {
            assert!(page.body.contains(&frame), "{id}: no {frame}");
        }
        for part in [
            "Plain text",
            "Headers",
            "Checks",
            "Hi Sample Reader,",
            "of 102 KB",
            "Subject: ",
            "Links",
        ] {
            assert!(page.body.contains(part), "{id}: the page has no {part:?}");
        }
    }

    // The frames show exactly what `almanac build` writes; the email never
    // carries the reload script, and is served with scripts disabled.
    let out = sample.build(MIDWEEK);
    let email = preview.get(&format!("/issue/{MIDWEEK}/email.html"));
    assert_eq!(email.status, 200);
    assert!(
        email
            .head
            .contains("content-security-policy: script-src 'none'")
    );
    assert_eq!(email.body, sample.read(out.join("email.html")));
    assert!(!email.body.contains("<script"));
    let text = preview.get(&format!("/issue/{MIDWEEK}/email.txt"));
    assert_eq!(text.body, sample.read(out.join("email.txt")));

    let dark = preview.get(&format!("/issue/{MIDWEEK}/dark.html"));
    assert_eq!(dark.status, 200);
    assert!(email.body.contains("prefers-color-scheme: dark"));
    assert!(!dark.body.contains("prefers-color-scheme: dark"));
    assert!(!dark.body.contains("<script"));

    // Neither serving nor building counts as a change to the sources.
    let before = preview.version();
    std::thread::sleep(Duration::from_millis(400));
    preview.get(&format!("/issue/{SUNDAY}"));
    assert_eq!(
        preview.version(),
        before,
        "reading files triggered a reload"
    );
}

#[test]
fn only_its_own_pages_are_served() {
    let sample = Sample::new();
    let preview = Preview::start(&sample, &[]);
    let toml = sample.read("newsletter.toml");
    let secret_line = toml
        .lines()
        .find(|l| l.starts_with("postal_address"))
        .expect("a line to look for");
    for path in [
        "/../newsletter.toml",
        "/issue/../../newsletter.toml",
        "/%2e%2e/newsletter.toml",
        "/issue/%2e%2e%2f%2e%2e%2fnewsletter.toml",
        "/issue/..%2fnewsletter.toml",
        "/newsletter.toml",
        "/issues/2026-11-25-midweek/issue.toml",
        "/issue/2026-11-25-midweek/issue.toml",
        "/issue/2026-11-25-midweek/..%2f..%2fnewsletter.toml",
        "/issue/2026-11-25-midweek/%2e%2e%2fissue.toml",
        "/issue/%ff%fe",
        "/issue/2026-11-25-Midweek",
        "/issue/2099-01-01-midweek",
        "/issue/2099-01-01-midweek/",
    ] {
        let r = preview.get(path);
        assert_eq!(
            r.status, 404,
            "GET {path} answered {}:\n{}",
            r.status, r.body
        );
        assert!(
            !r.body.contains(secret_line) && !r.body.contains("[newsletter]"),
            "GET {path} leaked the configuration"
        );
    }
    // Another host name (DNS rebinding) gets nothing.
    let r = request(&preview.addr, "/", "preview.attacker.example");
    assert_eq!(r.status, 403);
    assert!(!r.body.contains(MIDWEEK));
}

#[test]
fn a_content_error_shows_on_the_page_and_the_server_recovers() {
    let sample = Sample::new();
    let preview = Preview::start(&sample, &[]);
    let page = format!("/issue/{MIDWEEK}");
    let original = sample.read(issue_toml(MIDWEEK));

    let before = preview.version();
    let at = break_subject(&sample);
    let broken = preview.wait_for("the error", &page, |r| r.body.contains(&at));
    assert_eq!(broken.status, 200);
    assert!(broken.body.contains(r#"<pre id="problems">"#));
    assert!(!broken.body.contains(r#"id="desktop""#));
    // The page may have rendered before the watcher's debounce ran out;
    // the version, which open pages poll, moves just after.
    preview.wait_for("a new version", "/version", |r| r.body != before);
    let frame = preview.get(&format!("{page}/email.html"));
    assert_eq!(frame.status, 500);
    assert!(frame.body.contains(&at));
    // The other issue is unaffected.
    assert_eq!(preview.get(&format!("/issue/{SUNDAY}")).status, 200);

    sample.write(issue_toml(MIDWEEK), &original);
    preview.wait_for("recovery", &page, |r| r.body.contains(r#"id="desktop""#));

    // A broken newsletter.toml: every page shows it, nothing stops.
    sample.edit("newsletter.toml", "[links]", "[links");
    let index = preview.wait_for("the config error", "/", |r| {
        r.body.contains("newsletter.toml:")
    });
    assert_eq!(index.status, 200);
    sample.edit("newsletter.toml", "[links", "[links]");
    preview.wait_for("the index again", "/", |r| {
        r.body.contains(&format!("/issue/{MIDWEEK}"))
    });
}

#[test]
fn ctrl_c_stops_the_server_cleanly() {
    let sample = Sample::new();
    let mut preview = Preview::start(&sample, &[]);
    let status = std::process::Command::new("kill")
        .args(["-INT", &preview.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = preview.child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running 5 s after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit {exit}\n{}", preview.stderr());
    assert!(preview.stderr().contains("preview: stopped"));
    assert!(TcpStream::connect(&preview.addr).is_err());
}

#[test]
fn open_runs_xdg_open_and_a_failure_is_only_a_warning() {
    let sample = Sample::new();
    let bin = tempfile::tempdir().expect("temp dir");
    let opened = bin.path().join("opened");
    let script = bin.path().join("xdg-open");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\nexit 3\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = sample
        .command(&["preview", "--port", "0", "--open", MIDWEEK])
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .expect("start almanac preview");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    out.read_line(&mut first).unwrap();
    out.read_line(&mut second).unwrap();
    let addr = first
        .trim()
        .trim_start_matches("preview: http://")
        .trim_end_matches('/')
        .to_owned();
    let start = Instant::now();
    let warned = loop {
        let err = std::fs::read_to_string(stderr.path()).unwrap_or_default();
        if err.contains("warning: xdg-open") || start.elapsed() > Duration::from_secs(5) {
            break err;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let alive = request(&addr, "/", &addr).status;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap_or_default().trim(),
        format!("http://{addr}/issue/{MIDWEEK}"),
        "xdg-open got the wrong URL; stdout said {second}"
    );
    assert!(warned.contains("open it yourself"), "{warned}");
    assert_eq!(alive, 200, "the server stopped after xdg-open failed");
}

#[test]
fn a_wrong_issue_or_folder_stops_before_serving() {
    let sample = Sample::new();
    let out = sample.run(&["preview", "--port", "0", "2026-01-01-nothing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("there is no issue"));
    assert!(common::stdout(&out).is_empty());

    let out = sample.run(&["preview", "--port", "0", "-c", "elsewhere.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("does not exist"));
}

// ---------------------------------------------------------------------------
// End to end in Chromium

/// The titles of the news the midweek edition shows: its limit and score
/// order applied to issue.toml, read independently of the program.
fn shown_titles(sample: &Sample) -> (Vec<String>, Vec<String>) {
    let edition: toml::Table = sample
        .read("layouts/editions/midweek.toml")
        .parse()
        .unwrap();
    let news = edition["news"].as_table().unwrap();
    assert_eq!(news["order"].as_str(), Some("score"));
    let limit = news["limit"].as_integer().unwrap() as usize;
    let issue: toml::Table = sample.read(issue_toml(MIDWEEK)).parse().unwrap();
    let mut items: Vec<(i64, String, String)> = issue["news"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["score"].as_integer().unwrap(),
                n["published"].as_datetime().unwrap().to_string(),
                n["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    items.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let hidden = items.split_off(limit.min(items.len()));
    let titles = |v: Vec<(i64, String, String)>| v.into_iter().map(|t| t.2).collect();
    (titles(items), titles(hidden))
}

fn guide_title(sample: &Sample) -> String {
    let guide = sample.read(format!("issues/{MIDWEEK}/guide.md"));
    let meta: toml::Table = guide.split("+++\n").nth(1).unwrap().parse().unwrap();
    meta["title"].as_str().unwrap().to_owned()
}

/// What the test reads from the open page, in one evaluation.
const PROBE: &str = r#"(() => {
  const el = id => document.getElementById(id);
  const doc = id => {
    const d = el(id) && el(id).contentDocument;
    return d && d.readyState === "complete" && d.body && d.body.innerText.trim() ? d : null;
  };
  const bg = id => {
    const d = doc(id);
    return d ? getComputedStyle(d.querySelector(".container") || d.body).backgroundColor : null;
  };
  return {
    version: document.body ? document.body.dataset.version : null,
    problems: el("problems") ? el("problems").textContent : null,
    desktop: doc("desktop") ? doc("desktop").body.innerText : null,
    phoneText: doc("phone") ? doc("phone").body.innerText : null,
    desktopWidth: el("desktop") ? el("desktop").getBoundingClientRect().width : null,
    phoneWidth: el("phone") ? el("phone").getBoundingClientRect().width : null,
    phoneViewport: doc("phone") ? doc("phone").documentElement.clientWidth : null,
    lightBackground: bg("desktop"),
    phoneBackground: bg("phone"),
    plain: el("plain") ? el("plain").textContent : null,
  };
})()"#;

fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text(v: &Value, key: &str) -> String {
    fold(v[key].as_str().unwrap_or(""))
}

/// `rgb(r, g, b)` → mean channel value.
fn brightness(css: &str) -> u32 {
    let n: Vec<u32> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    assert_eq!(n.len(), 3, "not a colour: {css}");
    n.iter().sum::<u32>() / 3
}

#[test]
fn chromium_shows_the_frames_and_follows_edits_live() {
    if !browser::available() {
        return;
    }
    let sample = Sample::new();
    let preview = Preview::start(&sample, &[]);
    let page_url = preview.url(&format!("/issue/{MIDWEEK}"));
    let mut browser = browser::Browser::launch(&page_url);
    let timeout = Duration::from_secs(5);

    let (shown, hidden) = shown_titles(&sample);
    let guide = guide_title(&sample);
    let page = browser.wait_for("the frames to load", PROBE, Duration::from_secs(10), |v| {
        let ready = |k: &str| v[k].as_str().is_some();
        ready("desktop") && ready("phoneText") && ready("lightBackground")
    });
    if let Some(path) = std::env::var_os("ALMANAC_PREVIEW_SCREENSHOT") {
        browser.screenshot(std::path::Path::new(&path));
    }
    let desktop = text(&page, "desktop");
    assert!(
        desktop.contains(&fold(&guide)),
        "guide title missing:\n{desktop}"
    );
    for title in &shown {
        assert!(
            desktop.contains(&fold(title)),
            "{title:?} missing:\n{desktop}"
        );
        assert!(text(&page, "plain").contains(&fold(title)));
    }
    for title in &hidden {
        assert!(
            !desktop.contains(&fold(title)),
            "{title:?} is over the limit"
        );
    }
    assert_eq!(page["phoneWidth"].as_f64(), Some(375.0), "{page:#}");
    assert!(page["phoneViewport"].as_f64().unwrap() <= 375.0);
    assert!(page["desktopWidth"].as_f64().unwrap() >= 600.0, "{page:#}");
    let light = page["lightBackground"].as_str().unwrap();
    assert!(brightness(light) > 200, "light frame {light}");

    // A link in the email opens a new tab instead of replacing the frame
    // (most sites refuse to be framed).
    let clicked = browser.eval(
        r#"(() => {
          const opened = [];
          window.open = (url) => { opened.push(url); return null; };
          const frame = document.getElementById("desktop");
          const link = frame.contentDocument.querySelector("a[href^='https://']");
          link.click();
          return { opened, href: link.href, still: frame.contentWindow.location.pathname };
        })()"#,
    );
    assert_eq!(clicked["opened"][0], clicked["href"], "{clicked:#}");
    assert_eq!(
        clicked["still"].as_str(),
        Some(format!("/issue/{MIDWEEK}/email.html").as_str())
    );

    // An edit appears in the open page, nobody touching the browser.
    let old = shown.last().expect("a shown title").clone();
    let new = "Sparse circuits, retitled while the preview was open";
    let original = sample.read(issue_toml(MIDWEEK));
    let saved = Instant::now();
    sample.edit(issue_toml(MIDWEEK), &old, new);
    let page = browser.wait_for("the new title", PROBE, timeout, |v| {
        text(v, "desktop").contains(new) && text(v, "phoneText").contains(new)
    });
    eprintln!("edit visible after {:?}", saved.elapsed());
    assert!(!text(&page, "desktop").contains(&old));

    // Broken TOML: the error, with its position, replaces the frames.
    let edited = sample.read(issue_toml(MIDWEEK));
    let at = break_subject(&sample);
    let page = browser.wait_for("the error", PROBE, timeout, |v| {
        v["problems"].as_str().is_some_and(|p| p.contains(&at))
    });
    assert!(page["desktop"].is_null());

    // Fixed: the email is back, with the edit.
    sample.write(issue_toml(MIDWEEK), &edited);
    browser.wait_for("recovery", PROBE, timeout, |v| {
        v["problems"].is_null() && text(v, "desktop").contains(new)
    });
    sample.write(issue_toml(MIDWEEK), &original);
    browser.wait_for("the original title", PROBE, timeout, |v| {
        text(v, "desktop").contains(&fold(&old))
    });
}

#[test]
fn the_terminal_logs_each_rebuild_and_error_and_a_trailing_slash_works() {
    let sample = Sample::new();
    let preview = Preview::start(&sample, &[]);
    let r = preview.get(&format!("/issue/{MIDWEEK}/"));
    assert_eq!(r.status, 200, "a trailing slash is the same page");
    let wait_log = |what: &str| {
        let start = Instant::now();
        while !preview.stderr().contains(what) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no `{what}` in the log:\n{}",
                preview.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_log(&format!("rebuilt {MIDWEEK}"));
    // A save that breaks the issue: the change and the error, with its place.
    let before = preview.version();
    sample.edit(
        format!("issues/{MIDWEEK}/issue.toml"),
        "subject = ",
        "subject = 7 #",
    );
    wait_log("changed: ");
    preview.wait_for("the reload", "/version", |r| r.body != before);
    let _ = preview.get(&format!("/issue/{MIDWEEK}"));
    wait_log(&format!("{MIDWEEK} does not build:"));
    wait_log(&format!("issues/{MIDWEEK}/issue.toml:"));
}

// ---------------------------------------------------------------------------
// As a given subscriber

/// Ada has a name, Bob has none; both get every edition. Carol gets only
/// the midweek edition.
const READERS: &str = "email,name,editions\n\
    ada@example.com,Ada Lovelace,both\n\
    bob@example.org,,both\n\
    carol@example.net,Carol,midweek\n";

/// The decoded body of the `text/html` or `text/plain` part of a message,
/// with LF line ends.
fn part(message: &str, content_type: &str) -> String {
    let boundary = message
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .expect("a multipart boundary");
    let part = message
        .split(&format!("--{boundary}"))
        .find(|p| p.contains(&format!("Content-Type: {content_type};")))
        .unwrap_or_else(|| panic!("no {content_type} part"));
    let body = part.split_once("\r\n\r\n").expect("part headers").1;
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
        .expect("quoted-printable");
    String::from_utf8(decoded)
        .expect("UTF-8")
        .replace("\r\n", "\n")
}

/// The outbox message whose To header names `address`.
fn outbox_message(sample: &Sample, address: &str) -> String {
    std::fs::read_dir(sample.path("out/outbox"))
        .expect("the outbox")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("a message"))
        .find(|m| {
            m.lines().any(|l| {
                l.starts_with("To: ")
                    && (l.contains(&format!("<{address}>"))
                        || l.trim_end() == format!("To: {address}"))
            })
        })
        .unwrap_or_else(|| panic!("no message to {address} in the outbox"))
}

fn greeting_fallback(sample: &Sample) -> String {
    let config: toml::Table = sample.read("newsletter.toml").parse().unwrap();
    config["newsletter"]["greeting_fallback"]
        .as_str()
        .expect("a greeting_fallback")
        .to_owned()
}

#[test]
fn as_renders_the_email_a_named_or_unnamed_subscriber_gets_and_an_unknown_address_is_a_message() {
    let sample = Sample::new();
    sample.write("subscribers.example.csv", READERS);
    let preview = Preview::start(&sample, &[]);
    let fallback = greeting_fallback(&sample);

    // The page offers the subscribers, and its frames ask for Ada's copy.
    let page = preview.get(&format!("/issue/{SUNDAY}?as=ada@example.com"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!(
            r#"id="desktop" src="/issue/{SUNDAY}/email.html?as=ada%40example.com""#
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<option value="ada@example.com">Ada Lovelace</option>"#)
    );
    assert!(
        page.body.contains(r#"value="ada@example.com""#),
        "the picker shows the address"
    );
    assert!(
        page.body.contains("Hi Ada Lovelace,"),
        "the plain-text tab is hers"
    );
    assert!(!page.body.contains("Sample Reader"));

    let html = |who: &str, id: &str| preview.get(&format!("/issue/{id}/email.html?as={who}"));
    let ada = html("ada@example.com", SUNDAY);
    assert_eq!(ada.status, 200);
    assert!(ada.body.contains("Hi Ada Lovelace,"), "{}", ada.body);
    let bob = html("bob%40example.org", SUNDAY);
    assert_eq!(bob.status, 200);
    assert!(
        bob.body.contains(&format!("Hi {fallback},")),
        "no fallback greeting:\n{}",
        bob.body
    );
    assert!(!bob.body.contains("Sample Reader") && !bob.body.contains("Hi ,"));
    let headers = preview.get(&format!("/issue/{SUNDAY}/message.eml?as=ada@example.com"));
    assert!(
        headers
            .body
            .contains(r#"To: "Ada Lovelace" <ada@example.com>"#),
        "{}",
        headers.body
    );

    // Byte for byte what a send puts in each reader's message: the same
    // greeting (or fallback), the same unsubscribe and manage links.
    sample.run_ok(&["send", SUNDAY, "--yes"]);
    for who in ["ada@example.com", "bob@example.org"] {
        let message = outbox_message(&sample, who);
        let html = preview.get(&format!("/issue/{SUNDAY}/email.html?as={who}"));
        assert_eq!(
            html.body,
            part(&message, "text/html"),
            "{who}: HTML differs from the sent one"
        );
        let text = preview.get(&format!("/issue/{SUNDAY}/email.txt?as={who}"));
        assert_eq!(
            text.body,
            part(&message, "text/plain"),
            "{who}: text differs from the sent one"
        );
    }
    // The sample reader's links are not any subscriber's.
    let sample_html = preview.get(&format!("/issue/{SUNDAY}/email.html"));
    assert!(sample_html.body.contains("Hi Sample Reader,"));

    // Someone a send of this issue skips: shown, and said so.
    let carol = preview.get(&format!("/issue/{SUNDAY}?as=carol@example.net"));
    assert_eq!(carol.status, 200);
    assert!(
        carol
            .body
            .contains("A send of this issue skips them: they do not get the sunday edition"),
        "{}",
        carol.body
    );
    // A blank address is the sample reader.
    let blank = preview.get(&format!("/issue/{SUNDAY}/email.html?as="));
    assert_eq!(blank.status, 200);
    assert!(blank.body.contains("Hi Sample Reader,"));

    // Not on the list: a page that says so, with the picker; no crash.
    let unknown = preview.get(&format!("/issue/{SUNDAY}?as=nobody@example.com"));
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(
        unknown
            .body
            .contains("no subscriber has the address nobody@example.com"),
        "{}",
        unknown.body
    );
    assert!(unknown.body.contains(r#"id="as""#) && unknown.body.contains("sample reader"));
    let frame = preview.get(&format!("/issue/{SUNDAY}/email.html?as=nobody@example.com"));
    assert_eq!(frame.status, 404);
    assert!(
        frame
            .body
            .contains("no subscriber has the address nobody@example.com")
    );
    for bad in ["not-an-address", "%ff%fe", "a@b@c", "%3Cscript%3E"] {
        let r = preview.get(&format!("/issue/{SUNDAY}?as={bad}"));
        assert_eq!(r.status, 400, "?as={bad}: {}", r.body);
        assert!(r.body.contains("email address"), "?as={bad}: {}", r.body);
        // Only the page's own script: the address is escaped.
        assert_eq!(r.body.matches("<script>").count(), 1, "?as={bad}");
    }
    // An unknown issue stays a 404 whoever it is for.
    let r = preview.get("/issue/2099-01-01-midweek?as=ada@example.com");
    assert_eq!(r.status, 404);
    // The server is still there.
    assert_eq!(preview.get("/").status, 200);
    assert_eq!(preview.get(&format!("/issue/{SUNDAY}")).status, 200);
}

// ---------------------------------------------------------------------------
// A laptop screen, in Chromium

/// The frames' boxes and what the tabs and the toggle show.
const LAYOUT: &str = r#"(() => {
  const el = id => document.getElementById(id);
  const box = id => { const r = el(id).getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width }; };
  const doc = id => {
    const d = el(id) && el(id).contentDocument;
    return d && d.readyState === "complete" && d.body && d.body.innerText.trim() ? d : null;
  };
  const bg = id => {
    const d = doc(id);
    return d ? getComputedStyle(d.querySelector(".container") || d.body).backgroundColor : null;
  };
  const shown = id => !!el(id) && el(id).getClientRects().length > 0;
  return {
    viewport: document.documentElement.clientWidth,
    desktop: el("desktop") ? box("desktop") : null,
    phone: el("phone") ? box("phone") : null,
    desktopBackground: bg("desktop"),
    phoneBackground: bg("phone"),
    desktopSrc: el("desktop") ? el("desktop").contentWindow.location.pathname : null,
    emailShown: shown("panel-email"),
    textShown: shown("panel-text"),
    plain: shown("plain") ? el("plain").innerText : null,
    pressed: el("dark-toggle") ? el("dark-toggle").getAttribute("aria-pressed") : null,
    search: location.search,
    reloaded: !window.almanacBeforeReload,
  };
})()"#;

fn click(browser: &mut browser::Browser, id: &str) {
    let clicked = browser.eval(&format!(
        r#"(() => {{ const e = document.getElementById("{id}"); if (!e) return false; e.click(); return true; }})()"#
    ));
    assert_eq!(clicked, Value::Bool(true), "no #{id} to click");
}

/// Both frames inside the viewport, side by side (the phone to the right
/// of the desktop, not wrapped under it), above the fold.
fn assert_side_by_side(v: &Value, width: f64, height: f64) {
    let d = &v["desktop"];
    let p = &v["phone"];
    let f = |b: &Value, k: &str| b[k].as_f64().unwrap_or(f64::NAN);
    for (name, b) in [("desktop", d), ("phone", p)] {
        assert!(
            f(b, "left") >= 0.0 && f(b, "right") <= width,
            "{width}px: the {name} frame is outside the viewport: {v:#}"
        );
        assert!(
            f(b, "top") < height / 2.0,
            "{width}px: the {name} frame starts below the fold: {v:#}"
        );
    }
    assert!(
        f(p, "left") >= f(d, "right") && f(p, "top") < f(d, "bottom"),
        "{width}px: the phone frame is not beside the desktop one: {v:#}"
    );
    assert_eq!(
        f(d, "width"),
        642.0,
        "the desktop frame is 640 px plus its border"
    );
    assert_eq!(f(p, "width"), 375.0);
}

#[test]
fn chromium_at_1366x768_shows_both_frames_side_by_side_a_text_tab_and_a_dark_toggle() {
    if !browser::available() {
        return;
    }
    let sample = Sample::new();
    let preview = Preview::start(&sample, &[]);
    let mut browser = browser::Browser::launch(&preview.url(&format!("/issue/{MIDWEEK}")));
    browser.viewport(1366, 768);
    let long = Duration::from_secs(10);
    let timeout = Duration::from_secs(5);
    let loaded = |v: &Value| v["desktopBackground"].is_string() && v["phoneBackground"].is_string();
    let v = browser.wait_for("the frames at 1366×768", LAYOUT, long, loaded);
    if let Some(path) = std::env::var_os("ALMANAC_PREVIEW_SCREENSHOT") {
        browser.screenshot(std::path::Path::new(&path));
    }
    assert_eq!(v["viewport"].as_f64(), Some(1366.0), "{v:#}");
    assert_side_by_side(&v, 1366.0, 768.0);
    assert!(v["emailShown"] == true && v["textShown"] == false, "{v:#}");
    let light = |k: &str, v: &Value| v[k].as_str().is_some_and(|c| brightness(c) > 200);
    assert!(
        light("desktopBackground", &v) && light("phoneBackground", &v),
        "{v:#}"
    );

    // 1280 px, the narrowest the issue asks for, still has them side by side.
    browser.viewport(1280, 800);
    let v = browser.wait_for("the layout at 1280 px", LAYOUT, timeout, |v| {
        v["viewport"].as_f64() == Some(1280.0)
    });
    assert_side_by_side(&v, 1280.0, 800.0);
    browser.viewport(1366, 768);

    // The plain-text tab shows the text part, exactly as served.
    let served = preview.get(&format!("/issue/{MIDWEEK}/email.txt")).body;
    click(&mut browser, "tab-text");
    let v = browser.wait_for("the text tab", LAYOUT, timeout, |v| v["textShown"] == true);
    assert_eq!(v["emailShown"], false, "{v:#}");
    assert_eq!(fold(v["plain"].as_str().unwrap_or("")), fold(&served));
    assert!(
        v["search"].as_str().unwrap_or("").contains("view=text"),
        "{v:#}"
    );
    click(&mut browser, "tab-email");
    browser.wait_for("the email tab", LAYOUT, timeout, |v| {
        v["emailShown"] == true && v["textShown"] == false
    });

    // The toggle turns both frames dark, in place, and survives a reload.
    click(&mut browser, "dark-toggle");
    let dark = |v: &Value| {
        let dim = |k: &str| v[k].as_str().is_some_and(|c| brightness(c) < 80);
        dim("desktopBackground") && dim("phoneBackground")
    };
    let v = browser.wait_for("dark frames", LAYOUT, timeout, dark);
    assert_eq!(v["pressed"], "true");
    assert_eq!(
        v["desktopSrc"].as_str(),
        Some(format!("/issue/{MIDWEEK}/dark.html").as_str())
    );
    assert_side_by_side(&v, 1366.0, 768.0);
    browser.eval("window.almanacBeforeReload = true; location.reload()");
    let v = browser.wait_for("dark frames after a reload", LAYOUT, long, |v| {
        v["reloaded"] == true && dark(v) && v["pressed"] == "true"
    });
    assert!(
        v["search"].as_str().unwrap_or("").contains("dark=1"),
        "{v:#}"
    );
    click(&mut browser, "dark-toggle");
    let v = browser.wait_for("light frames again", LAYOUT, timeout, |v| {
        v["pressed"] == "false" && light("desktopBackground", v) && light("phoneBackground", v)
    });
    assert_eq!(v["search"].as_str(), Some(""), "{v:#}");
}
