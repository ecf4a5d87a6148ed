//! The subscriber list in the state database, through the real binary:
//! imports from other tools, per-edition unsubscribes from a real message,
//! the manage page in headless Chromium, tokens that show no address,
//! privacy requests, and bad files.

mod browser;
mod common;
mod sink;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{MIDWEEK, SUNDAY, Sample, stderr, stdout, text};
use sink::Sink;

const SECRET: &str = "subscribers-test-secret";

fn imports(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/imports")
        .join(name)
        .display()
        .to_string()
}

/// A sample whose configured CSV is empty, so the list is what a test puts
/// in the database.
fn empty_list() -> Sample {
    let s = Sample::new();
    s.write("subscribers.example.csv", "email,name,editions\n");
    s
}

fn list(s: &Sample) -> String {
    stdout(&s.run_ok(&["subscribers", "list"]))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(o)))
}

#[test]
fn other_tools_exports_import_with_their_names_and_statuses_once() {
    let s = empty_list();
    let cases = [
        ("mailchimp_subscribed.csv", "Mailchimp", 3, 0),
        ("mailchimp_unsubscribed.csv", "Mailchimp", 0, 1),
        ("buttondown.csv", "Buttondown", 2, 2),
        ("listmonk.csv", "listmonk", 2, 1),
        ("substack.csv", "Substack", 2, 1),
    ];
    for (file, tool, added, gone) in cases {
        let out = s.run_ok(&["subscribers", "import", &imports(file), "--json"]);
        let v = json(&out);
        assert_eq!(v["format"], tool.to_lowercase(), "{file}: {v}");
        let got = (
            v["imported"]["added"].as_array().unwrap().len(),
            v["imported"]["left"].as_array().unwrap().len(),
        );
        assert_eq!(got, (added, gone), "{file}: {v}");
        // A second run changes nothing.
        let again = json(&s.run_ok(&["subscribers", "import", &imports(file), "--json"]));
        assert_eq!(
            again["imported"]["added"].as_array().unwrap().len(),
            0,
            "{file}: {again}"
        );
        assert_eq!(
            again["imported"]["updated"].as_array().unwrap().len(),
            0,
            "{file}: {again}"
        );
        assert_eq!(
            again["imported"]["left"].as_array().unwrap().len(),
            0,
            "{file}: {again}"
        );
    }
    let l = list(&s);
    for line in [
        "grace.hopper@example.com\tGrace Hopper\tboth\tactive",
        "margaret@example.net\tMargaret\tboth\tactive",
        "left.early@example.com\tLeft Early\t\tunsubscribed",
        "ben.reader@example.com\t\tboth\tactive",
        "carl.gone@example.com\t\t\tunsubscribed",
        "dora.bounce@example.com\t\t\tbounced",
        "erin.list@example.com\tErin List\tboth\tactive",
        "gail.blocked@example.com\tGail Blocked\t\tunsubscribed",
        "hana.stack@example.com\t\tboth\tactive",
        "jo.quiet@example.com\t\t\tunsubscribed",
    ] {
        assert!(l.contains(line), "missing {line:?}:\n{l}");
    }
    // A file that lists someone who left as subscribed does not bring them
    // back: the import lists them instead.
    s.write(
        "back.csv",
        "email,name,editions\ncarl.gone@example.com,Carl,both\nnew.one@example.com,New,midweek\n",
    );
    let out = s.run_ok(&["subscribers", "import", "back.csv"]);
    assert!(stdout(&out).contains("1 added"), "{}", text(&out));
    assert!(
        stdout(&out).contains("kept as they are, since they left and an import never brings anyone back: carl.gone@example.com (unsubscribed)"),
        "{}",
        text(&out)
    );
    assert!(list(&s).contains("carl.gone@example.com\t\t\tunsubscribed"));
    assert!(list(&s).contains("new.one@example.com\tNew\tmidweek\tactive"));
    // --dry-run says what would change and changes nothing.
    s.write("more.csv", "email\nlater@example.com\n");
    let dry = s.run_ok(&["subscribers", "import", "more.csv", "--dry-run"]);
    assert!(stdout(&dry).contains("1 would be added"), "{}", text(&dry));
    assert!(!list(&s).contains("later@example.com"));
    // Counted by edition and status.
    let check = stdout(&s.run_ok(&["subscribers", "check"]));
    assert!(
        check.contains("midweek: 10 subscribers (active 10, unsubscribed 4, bounced 1)"),
        "{check}"
    );
    assert!(check.contains("sunday: 9 subscribers"), "{check}");
}

#[test]
fn an_export_imports_back_as_it_was() {
    let s = empty_list();
    s.run_ok(&["subscribers", "import", &imports("buttondown.csv")]);
    let csv = stdout(&s.run_ok(&["subscribers", "export"]));
    assert!(
        csv.starts_with(
            "email,name,editions,subscribed_at,status,source,changed_at,change_reason\n"
        ),
        "{csv}"
    );
    let other = empty_list();
    other.write("export.csv", &csv);
    other.run_ok(&["subscribers", "import", "export.csv"]);
    let strip = |l: String| {
        l.lines()
            .map(|r| r.split('\t').take(4).collect::<Vec<_>>().join("\t"))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(list(&other)), strip(list(&s)));
    let j = json(&s.run_ok(&["subscribers", "export", "--format", "json"]));
    assert_eq!(j.as_array().unwrap().len(), 4);
}

/// The https link of a header value `<mailto:...>, <https://...>`.
fn https_link(header: &str) -> url::Url {
    let https = header
        .split(['<', '>'])
        .find(|p| p.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https link in {header}"));
    url::Url::parse(https).unwrap()
}

fn post(port: u16, target: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    (status, out)
}

#[test]
fn a_reader_leaves_one_edition_and_comes_back_on_the_manage_page() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    s.write(
        "subscribers.example.csv",
        "email,name,editions\nada@example.com,Ada,both\nbob@example.com,Bob,both\n",
    );
    let send = |issue: &str| {
        let out = s
            .command(&["send", issue, "--yes", "--json"])
            .env("ALMANAC_SMTP_URL", sink.url())
            .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        json(&out)
    };
    send(MIDWEEK);
    let messages = sink.messages();
    let ada = messages
        .iter()
        .find(|m| m.contains("X-Rcpt-Args: <ada@example.com>"))
        .unwrap();
    // No token in the headers or the bodies shows the address or its base64.
    for m in &messages {
        let parsed = mail_parser::MessageParser::default()
            .parse(m.as_bytes())
            .unwrap();
        let texts = [
            parsed
                .header_raw("List-Unsubscribe")
                .unwrap_or("")
                .to_owned(),
            parsed.body_html(0).unwrap().into_owned(),
            parsed.body_text(0).unwrap().into_owned(),
        ];
        let tokens: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                t.split("?t=")
                    .skip(1)
                    .chain(t.split("unsubscribe%20").skip(1))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                    .collect()
            })
            .collect();
        assert!(tokens.len() >= 4, "{tokens:?}");
        for secret in ["ada@example.com", "bob@example.com"] {
            let b64 =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret);
            assert!(!m.contains(&b64), "the base64 of {secret} is in a message");
        }
        for token in &tokens {
            assert!(token.starts_with("v2."), "{token}");
            for secret in ["ada@example.com", "bob@example.com"] {
                let b64 = base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    secret,
                );
                assert!(!token.contains(secret) && !token.contains(&b64), "{token}");
            }
        }
    }
    let parsed = mail_parser::MessageParser::default()
        .parse(ada.as_bytes())
        .unwrap();
    let link = https_link(parsed.header_raw("List-Unsubscribe").unwrap());
    let server = s.serve(&[("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)]);
    let port = server.port;
    let target = format!("{}?{}", link.path(), link.query().unwrap());
    let (status, body) = post(port, &target, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200, "{body}");
    assert!(
        list(&s).contains("ada@example.com\tAda\tsunday\tactive"),
        "{}",
        list(&s)
    );

    // The next Midweek skips Ada; the next Sunday reaches her.
    let before = sink.counts();
    let mid = send(MIDWEEK);
    assert_eq!(mid["sent"], 0, "both already had this Midweek: {mid}");
    s.write(
        "issues/2026-12-02-midweek/issue.toml",
        s.read(format!("issues/{MIDWEEK}/issue.toml"))
            .replace("date = 2026-11-25", "date = 2026-12-02"),
    );
    s.write(
        "issues/2026-12-02-midweek/guide.md",
        s.read(format!("issues/{MIDWEEK}/guide.md")),
    );
    let next = send("2026-12-02-midweek");
    assert_eq!(
        (next["sent"].as_u64(), next["skipped_suppressed"].as_u64()),
        (Some(1), Some(1)),
        "{next}"
    );
    let sunday = send(SUNDAY);
    assert_eq!(sunday["sent"], 2, "{sunday}");
    let after = sink.counts();
    assert_eq!(
        after["ada@example.com"],
        before["ada@example.com"] + 1,
        "only Sunday"
    );
    assert_eq!(after["bob@example.com"], before["bob@example.com"] + 2);

    // The Sunday mail's "manage your subscription" link, in a real browser:
    // ticking Midweek again and saving brings it back.
    let sunday_mail = sink
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.contains("X-Rcpt-Args: <ada@example.com>"))
        .unwrap();
    let decoded = mail_parser::MessageParser::default()
        .parse(sunday_mail.as_bytes())
        .unwrap();
    let html = decoded.body_html(0).unwrap().into_owned();
    let manage = html
        .split("href=\"")
        .map(|h| h.split('"').next().unwrap())
        .find(|h| h.contains("/manage?t="))
        .unwrap_or_else(|| panic!("no manage link in the email"))
        .replace("&amp;", "&");
    let manage = url::Url::parse(&manage).unwrap();
    let page = format!(
        "http://127.0.0.1:{port}{}?{}",
        manage.path(),
        manage.query().unwrap()
    );
    if !browser::available() {
        return;
    }
    let mut b = browser::Browser::launch(&page);
    b.wait_for(
        "the manage page",
        "document.querySelectorAll('input[name=edition]').length === 2",
        Duration::from_secs(10),
        |v| v == &serde_json::Value::Bool(true),
    );
    assert!(
        list(&s).contains("ada@example.com\tAda\tsunday\tactive"),
        "a GET changed nothing"
    );
    b.eval("document.querySelectorAll('input[name=edition]').forEach(i => i.checked = true); document.querySelector('button[value=save]').click(); true");
    b.wait_for(
        "the saved page",
        "document.body.innerText.includes('Saved.')",
        Duration::from_secs(10),
        |v| v == &serde_json::Value::Bool(true),
    );
    assert!(
        list(&s).contains("ada@example.com\tAda\tboth\tactive"),
        "{}",
        list(&s)
    );
    // Leaving everything from the same page.
    b.eval("document.querySelector('button[value=leave]').click(); true");
    b.wait_for(
        "the left page",
        "document.body.innerText.includes('unsubscribed from everything')",
        Duration::from_secs(10),
        |v| v == &serde_json::Value::Bool(true),
    );
    assert!(
        list(&s).contains("ada@example.com\tAda\t\tunsubscribed"),
        "{}",
        list(&s)
    );
    let shown = json(&s.run_ok(&["subscribers", "show", "ada@example.com"]));
    let events: Vec<String> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["detail"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e == "unsubscribed from midweek one-click unsubscribe"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == "subscribed to midweek the manage page"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "unsubscribed the manage page"),
        "{events:?}"
    );
}

#[test]
fn forget_erases_a_reader_and_no_import_brings_them_back() {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    s.write("subscribers.example.csv", "email,name,editions\n");
    s.write("one.csv", "email,name,editions\nzed@example.com,Zed,both\n");
    s.run_ok(&["subscribers", "import", "one.csv"]);
    let out = s
        .command(&["send", SUNDAY, "--yes"])
        .env("ALMANAC_SMTP_URL", sink.url())
        .env("ALMANAC_UNSUBSCRIBE_SECRET", SECRET)
        .output()
        .unwrap();
    common::assert_success(&out, "send");
    let shown = json(&s.run_ok(&["subscribers", "show", "ZED@example.com"]));
    assert_eq!(shown["subscriber"]["name"], "Zed");
    assert_eq!(shown["deliveries"].as_array().unwrap().len(), 1, "{shown}");

    s.run_ok(&["subscribers", "forget", "zed@example.com"]);
    let out = s.run_ok(&["subscribers", "import", "one.csv"]);
    assert!(stdout(&out).contains("0 added"), "{}", text(&out));
    assert!(
        stdout(&out).contains("1 address(es) skipped: erased on request"),
        "{}",
        text(&out)
    );
    let shown = json(&s.run_ok(&["subscribers", "show", "zed@example.com"]));
    assert_eq!(shown["forgotten"], true, "{shown}");
    let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["forgotten", "hash", "note"],
        "only the hash record: {shown}"
    );
    assert!(!shown.to_string().contains("Zed"));
    // Not left behind in the file's free pages or its WAL either.
    for file in ["state/almanac.db", "state/almanac.db-wal"] {
        let bytes = std::fs::read(s.path(file)).unwrap_or_default();
        let found = bytes.windows(15).any(|w| w == b"zed@example.com");
        assert!(!found, "{file} still holds the address");
    }
}

#[test]
fn bad_files_get_a_located_report_and_change_nothing_they_should_not() {
    let s = empty_list();
    s.write("ok.csv", "email,name\nkeep@example.com,Keep\n");
    s.run_ok(&["subscribers", "import", "ok.csv"]);
    let before = list(&s);

    // Unreadable, a wrong header: an error naming the file, nothing changed.
    let missing = s.run(&["subscribers", "import", "nope.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("nope.csv: cannot read the subscriber list"),
        "{}",
        text(&missing)
    );
    s.write("header.csv", "e-mail,who\nx@example.com,X\n");
    let header = s.run(&["subscribers", "import", "header.csv"]);
    assert_eq!(header.status.code(), Some(1));
    assert!(
        stderr(&header).contains("header.csv:1: the header row is not one almanac reads"),
        "{}",
        text(&header)
    );

    // Duplicates, control characters, a bad address: reported by line, the
    // good rows still imported.
    s.write(
        "mixed.csv",
        "email,name,editions\ngood@example.com,Good,both\nGOOD@example.com,Dup,both\nbell@example.com,Ding\u{7}Dong,both\nnot-an-address,X,both\nlf@exam\u{a}ple.com,Y,both\n",
    );
    let mixed = s.run(&["subscribers", "import", "mixed.csv"]);
    assert_eq!(
        mixed.status.code(),
        Some(1),
        "bad rows make the exit code 1"
    );
    let err = stderr(&mixed);
    assert!(
        err.contains("mixed.csv:3: GOOD@example.com is listed more than once"),
        "{err}"
    );
    assert!(
        err.contains("mixed.csv:4: the name contains the control character"),
        "{err}"
    );
    assert!(err.contains("mixed.csv:5: "), "{err}");
    assert!(list(&s).contains("good@example.com\tGood\tboth\tactive"));
    assert!(!list(&s).contains("bell@"));

    // 20 MB of junk after a good header: every row reported, nothing added,
    // no panic, and the report stays readable.
    let mut junk = String::from("email,name,editions\n");
    let row = format!("{}\n", "\u{1}".repeat(4096));
    while junk.len() < 20 << 20 {
        junk.push_str(&row);
    }
    s.write("junk.csv", junk);
    let out = s.run(&["subscribers", "import", "junk.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(!stderr(&out).contains("panicked"));
    assert!(stdout(&out).contains("0 added"), "{}", stdout(&out));
    let mut after = list(&s);
    after = after
        .lines()
        .filter(|l| !l.starts_with("good@"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(after, before, "the junk changed the list");
}
