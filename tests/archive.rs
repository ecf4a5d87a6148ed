//! `almanac archive`: the static site in out/site/ (index newest first, one
//! page per issue, no personal data), an Atom feed checked by an independent
//! parser (Python's feedparser), determinism, and all-or-nothing writes when
//! an issue has errors.

mod common;

use std::process::Command;

use common::{ISSUES, MIDWEEK, SUNDAY, Sample};

/// `subject`, `preheader` and `date` of a sample issue, from its issue.toml.
fn issue_field(s: &Sample, id: &str, field: &str) -> String {
    let doc: toml::Table = toml::from_str(&s.read(format!("issues/{id}/issue.toml"))).unwrap();
    match &doc[field] {
        toml::Value::String(v) => v.clone(),
        other => other.to_string(),
    }
}

fn web_url(id: &str) -> String {
    format!("https://almanac.example/issues/{id}/")
}

fn site_files(s: &Sample) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let root = s.path("out/site");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                v.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn site_pages_are_public_and_newest_first() {
    let s = Sample::new();
    s.publish_samples();
    let out = s.run_ok(&["archive"]);
    assert!(common::stdout(&out).contains("archived 2 issues"));
    let files = site_files(&s);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{MIDWEEK}/index.html").as_str(),
            &format!("{SUNDAY}/index.html"),
            "feed.xml",
            "index.html"
        ]
    );
    for (name, text) in &files {
        assert!(!text.contains("?t="), "{name} has a token link");
        assert!(
            !text.contains("Sample Reader"),
            "{name} has a personal name"
        );
        assert!(
            !text.contains("reader@example.com"),
            "{name} has an address"
        );
        assert!(!text.contains('\u{E000}'), "{name} has a field marker");
    }
    // Each issue page is exactly the build's web version.
    for id in ISSUES {
        let dir = s.build(id);
        assert_eq!(
            s.read(format!("out/site/{id}/index.html")),
            std::fs::read_to_string(dir.join("web.html")).unwrap()
        );
    }
    let index = s.read("out/site/index.html");
    let sunday = index.find(&issue_field(&s, SUNDAY, "subject")).unwrap();
    let midweek = index
        .find(&issue_field(&s, MIDWEEK, "subject").replace('\'', "&#39;"))
        .or_else(|| index.find(&issue_field(&s, MIDWEEK, "subject")))
        .unwrap();
    assert!(sunday < midweek, "newest first");
    for id in ISSUES {
        assert!(index.contains(&format!(r#"href="{id}/""#)), "{id} linked");
    }
    assert!(
        index.contains("Sunday") && index.contains("Midweek"),
        "editions"
    );
    assert!(
        index.contains("Sparse autoencoders: how researchers pull"),
        "guide titles"
    );
    assert!(index.contains("29 November 2026"), "dates");
    assert!(index.contains(r#"href="feed.xml""#));
}

const FEEDPARSER: &str = r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
print(json.dumps({
    "bozo": int(d.bozo),
    "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.version,
    "title": d.feed.get("title"),
    "id": d.feed.get("id"),
    "updated": d.feed.get("updated"),
    "links": [(l.get("rel"), l.get("href")) for l in d.feed.get("links", [])],
    "author": d.feed.get("author"),
    "entries": [{
        "title": e.get("title"),
        "link": e.get("link"),
        "id": e.get("id"),
        "updated": e.get("updated"),
        "summary": e.get("summary"),
        "content": [c.get("value") for c in e.get("content", [])],
        "author": e.get("author"),
    } for e in d.entries],
}))
"#;

#[test]
fn atom_feed_parses_with_feedparser() {
    let s = Sample::new();
    s.publish_samples();
    if !common::tool(
        "Python's feedparser",
        &["python3", "-c", "import feedparser"],
    ) {
        return;
    }
    let out = Command::new("python3")
        .args(["-c", FEEDPARSER])
        .arg(s.path("out/site/feed.xml"))
        .output()
        .unwrap();
    common::assert_success(&out, "feedparser");
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["bozo"], 0, "{d}");
    assert_eq!(d["version"], "atom10");
    assert_eq!(d["title"], "Call Me Almanac");
    assert_eq!(d["id"], "https://almanac.example/issues/");
    assert_eq!(d["author"], "Call Me Almanac");
    assert_eq!(d["updated"], "2026-11-29T00:00:00+00:00");
    let links = d["links"].to_string();
    assert!(
        links.contains(r#"["self","https://almanac.example/issues/feed.xml"]"#),
        "{links}"
    );
    assert!(
        links.contains(r#"["alternate","https://almanac.example/issues/"]"#),
        "{links}"
    );
    let entries = d["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    // Newest first.
    for (e, id) in entries.iter().zip([SUNDAY, MIDWEEK]) {
        assert_eq!(e["title"], issue_field(&s, id, "subject"));
        assert_eq!(e["link"], web_url(id));
        assert_eq!(e["id"], web_url(id));
        assert_eq!(e["summary"], issue_field(&s, id, "preheader"));
        assert_eq!(
            e["updated"],
            format!("{}T00:00:00+00:00", issue_field(&s, id, "date"))
        );
        assert_eq!(e["author"], "Call Me Almanac");
        let content = e["content"][0].as_str().unwrap();
        assert!(content.contains(&web_url(id)), "{content}");
        assert!(content.contains("<li>"), "takeaways: {content}");
    }
}

#[test]
fn archive_is_deterministic_and_leaves_no_temporary_folders() {
    let s = Sample::new();
    s.publish_samples();
    let first = site_files(&s);
    s.run_ok(&["archive", "--quiet"]);
    assert_eq!(site_files(&s), first);
    assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));
}

fn leftovers(s: &Sample) -> Vec<String> {
    std::fs::read_dir(s.path("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_broken_issue_is_skipped_with_a_warning_and_keeps_its_old_page() {
    let s = Sample::new();
    s.publish_samples();
    let page = format!("out/site/{MIDWEEK}/index.html");
    let old_page = s.read(&page);
    s.edit(
        format!("issues/{MIDWEEK}/issue.toml"),
        "subject = ",
        "subjekt = ",
    );
    let out = s.run_ok(&["archive"]);
    let err = common::stderr(&out);
    assert!(err.contains(&format!("{MIDWEEK} does not build")), "{err}");
    assert!(
        err.contains("its page from the last archive was kept"),
        "{err}"
    );
    assert!(
        common::stdout(&out).contains("archived 1 issue"),
        "{}",
        common::stdout(&out)
    );
    // The mail already sent still links to a page that works ...
    assert_eq!(s.read(&page), old_page);
    // ... but the index and the feed list only what builds.
    assert!(
        !s.read("out/site/index.html")
            .contains(&format!("{MIDWEEK}/"))
    );
    assert!(!s.read("out/site/feed.xml").contains(MIDWEEK));
    assert!(s.read("out/site/feed.xml").contains(SUNDAY));
    assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));

    // Without an earlier page, the broken issue is simply left out.
    let fresh = Sample::new();
    fresh.edit(
        format!("issues/{SUNDAY}/issue.toml"),
        "subject = ",
        "subjekt = ",
    );
    let out = fresh.run_ok(&["publish", SUNDAY]);
    assert!(common::stderr(&out).contains("it was left out of the archive"));
    assert!(!fresh.exists(format!("out/site/{SUNDAY}")));
    assert!(fresh.exists("out/site/index.html"));
}
