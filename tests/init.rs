//! The first hour, through the real binary in an empty folder: `init`, a
//! first issue written and previewed, a proof to two reviewers, the
//! schedule, an outbox send; a real send refuses while newsletter.toml
//! still holds the template's placeholders, and goes once they are filled.

mod common;
mod sink;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{MIDWEEK, stderr, stdout, text};

fn almanac(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args(args)
        .current_dir(dir)
        .env_remove("ALMANAC_CONFIG")
        .env_remove("ALMANAC_SMTP_URL")
        .env("TZ", "Europe/London")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = almanac(dir, args);
    assert!(out.status.success(), "almanac {args:?}: {}", text(&out));
    out
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    (out[9..12].parse().unwrap(), out)
}

#[test]
fn init_write_preview_proof_and_send_in_an_empty_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let out = ok(
        root,
        &[
            "init",
            "the-letter",
            "--from",
            "The Letter <letters@letter.test>",
        ],
    );
    let said = stdout(&out);
    assert!(
        said.contains("created the-letter/newsletter.toml"),
        "{said}"
    );
    assert!(said.contains("Next:"), "{said}");
    let dir = root.join("the-letter");
    let config = std::fs::read_to_string(dir.join("newsletter.toml")).unwrap();
    assert!(
        config.contains("name = \"The Letter\""),
        "the name comes from the folder"
    );
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    for l in ["/state/", "/out/", "/subscribers.csv"] {
        assert!(ignore.lines().any(|x| x == l), "{ignore}");
    }
    assert!(!dir.join("layouts").exists(), "layouts only on request");
    let issues: Vec<String> = std::fs::read_dir(dir.join("issues"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let id = issues[0].clone();
    let date = &id[..10];
    let edition = &id[11..];

    // Running it again overwrites nothing.
    let again = almanac(&dir, &["init", "."]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(stderr(&again).contains("never overwrites"));

    // The draft checks with warnings only; `new` makes the other edition.
    let check = ok(&dir, &["check", &id]);
    assert!(
        stderr(&check).contains("placeholder left in"),
        "{}",
        text(&check)
    );
    let other = if edition == "midweek" {
        "sunday"
    } else {
        "midweek"
    };
    ok(&dir, &["new", other]);

    // The editor writes the issue (the sample's words, this date) and
    // previews it.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("issues")
        .join(MIDWEEK);
    let issue = std::fs::read_to_string(repo.join("issue.toml"))
        .unwrap()
        .replace("date = 2026-11-25", &format!("date = {date}"))
        .replace("edition = \"midweek\"", &format!("edition = \"{edition}\""));
    std::fs::write(dir.join("issues").join(&id).join("issue.toml"), issue).unwrap();
    std::fs::copy(
        repo.join("guide.md"),
        dir.join("issues").join(&id).join("guide.md"),
    )
    .unwrap();
    ok(&dir, &["check", &id]);
    // Every command that reports can say it as JSON, for scripts.
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_slice(&ok(&dir, args).stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };
    assert_eq!(json(&["check", &id, "--json"])["errors"], 0);
    assert!(
        json(&["schedule", "--json"])["sends"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(json(&["status", "--json"]).is_array());
    assert!(json(&["subscribers", "list", "--json"]).is_array());

    let mut preview = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args(["preview", "--port", "0"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(preview.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .trim_start_matches("preview: http://")
        .trim_end_matches('/')
        .to_owned();
    let (code, page) = get(&addr, "/");
    let _ = preview.kill();
    let _ = preview.wait();
    assert_eq!(code, 200, "{page}");
    assert!(page.contains(&id), "the index lists the issue");

    // Two reviewers get a proof (to the outbox: no server yet).
    let proof = ok(
        &dir,
        &["send", &id, "--test", "ed@letter.test,rev@letter.test"],
    );
    assert_eq!(
        stdout(&proof).matches("proof sent to").count(),
        2,
        "{}",
        text(&proof)
    );
    ok(&dir, &["schedule"]);
    ok(&dir, &["subscribers", "add", "reader@letter.test"]);
    let sent = ok(&dir, &["send", &id, "--outbox", "--yes"]);
    assert!(
        text(&sent).contains("1 sent") || text(&sent).contains("sent 1"),
        "{}",
        text(&sent)
    );

    // A real send refuses while the template's placeholders are there.
    let Some(sink) = sink::Sink::start(&[]) else {
        return;
    };
    let smtp = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_almanac"))
            .args(args)
            .current_dir(&dir)
            .env("ALMANAC_SMTP_URL", sink.url())
            .env("ALMANAC_UNSUBSCRIBE_SECRET", "init-test")
            .output()
            .unwrap()
    };
    let refused = smtp(&["send", &id, "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stderr(&refused).contains("postal_address"),
        "{}",
        text(&refused)
    );
    assert!(sink.messages().is_empty());
    let filled = config.replace(
        almanac::config::INIT_POSTAL_ADDRESS,
        "The Letter, 1 High Street, Oxford OX1 1AA, UK",
    );
    std::fs::write(dir.join("newsletter.toml"), filled).unwrap();
    let went = smtp(&["send", &id, "--yes"]);
    assert_eq!(went.status.code(), Some(0), "{}", text(&went));
    assert_eq!(sink.counts()["reader@letter.test"], 1);
}

#[test]
fn init_with_layouts_writes_the_defaults_to_customise() {
    let tmp = tempfile::tempdir().unwrap();
    ok(
        tmp.path(),
        &[
            "init",
            ".",
            "--layouts",
            "--name",
            "Weekly",
            "--timezone",
            "America/New_York",
        ],
    );
    for f in [
        "layouts/email.css",
        "layouts/editions/midweek.toml",
        "layouts/editions/sunday.toml",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
    let config = std::fs::read_to_string(tmp.path().join("newsletter.toml")).unwrap();
    assert!(
        config.contains("timezone = \"America/New_York\""),
        "{config}"
    );
    let bad = almanac(tmp.path(), &["init", "x", "--timezone", "Mars/Olympus"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("IANA"), "{}", text(&bad));
}
