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
            format!(r#"id="dark" src="/issue/{id}/dark.html" width="375""#),
        ] {
            assert!(page.body.contains(&frame), "{id}: no {frame}");
        }
        for part in [
            "Plain text",
            "Headers",
            "Checks",
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
    darkBackground: bg("dark"),
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
        ready("desktop") && ready("phoneText") && ready("darkBackground")
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
    let dark = page["darkBackground"].as_str().unwrap();
    assert!(
        brightness(light) > 200 && brightness(dark) < 80,
        "light frame {light}, dark frame {dark}"
    );

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
