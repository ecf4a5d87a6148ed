//! The news desk through the real binary: feeds served by a real HTTP
//! server on loopback (`feed_server`), pulled into the state database,
//! listed, added to a draft's issue.toml, and checked against past issues.
//! No outside network: every feed is a fixture in `tests/feeds/`.

mod common;
mod feed_server;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{MIDWEEK, Sample, stderr, stdout, text};
use feed_server::FeedServer;

/// The pulls happen "on" this day: the fixtures date their items from
/// 1 to 5 December 2026.
const NOW: &str = "2026-12-05T12:00:00Z";
const DRAFT: &str = "2026-12-09-midweek";

/// The feeds every test can pick from: (name, path on the server, extra keys).
const BLOG: (&str, &str, &str) = (
    "Sparse Circuits Blog",
    "/blog.rss",
    "topic = \"interpretability\"",
);
const ARXIV: (&str, &str, &str) = ("arXiv cs.CL", "/arxiv/cs.CL", "exclude = [\"Survey\"]");
/// Configured at its old address, which redirects to the new one.
const LAB: (&str, &str, &str) = ("Alignment Lab", "/old/feed.atom", "");
const DIGEST: (&str, &str, &str) = ("Model Evals Digest", "/digest.json", "");

/// Gives the sample's `[news]` a 2 s timeout (so the silent server costs
/// 2 s) and adds the feeds.
fn configure(s: &Sample, server: &FeedServer, feeds: &[(&str, &str, &str)]) {
    s.edit(
        "newsletter.toml",
        "[news]\n",
        "[news]\ntimeout_seconds = 2\n",
    );
    let mut toml = s.read("newsletter.toml");
    for (name, path, extra) in feeds {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            server.url(path)
        };
        toml.push_str(&format!(
            "\n[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n"
        ));
    }
    s.write("newsletter.toml", toml);
}

/// `almanac ARGS` with no proxy between it and the loopback server.
fn run(s: &Sample, args: &[&str]) -> Output {
    s.command(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap_or_else(|e| panic!("cannot run almanac {args:?}: {e}"))
}

fn run_ok(s: &Sample, args: &[&str]) -> Output {
    let out = run(s, args);
    common::assert_success(&out, &format!("almanac {}", args.join(" ")));
    out
}

fn pull(s: &Sample) -> Output {
    run(s, &["news", "pull", "--now", NOW])
}

/// `news list --json` (with `--used`, also what issues carry).
fn listed(s: &Sample, used: bool) -> Vec<serde_json::Value> {
    let mut args = vec!["news", "list", "--json", "--now", NOW, "--since", "14d"];
    if used {
        args.push("--used");
    }
    let out = run_ok(s, &args);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out)))
}

fn by_title<'a>(items: &'a [serde_json::Value], title: &str) -> &'a serde_json::Value {
    items
        .iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("no candidate titled {title:?} in {items:#?}"))
}

fn id_of(items: &[serde_json::Value], title: &str) -> String {
    by_title(items, title)["id"].to_string()
}

#[test]
fn four_formats_pull_into_candidates_and_a_second_pull_changes_nothing() {
    let server = FeedServer::start();
    let s = Sample::new();
    configure(&s, &server, &[BLOG, ARXIV, LAB, DIGEST]);

    let first = pull(&s);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let out = stdout(&first);
    for line in [
        "Sparse Circuits Blog: 3 new, 0 already known",
        "arXiv cs.CL: 2 new, 0 already known, 1 left out by include/exclude",
        "Alignment Lab: 2 new, 0 already known (redirected to http://127.0.0.1:",
        "Model Evals Digest: 2 new, 0 already known",
        "pulled 4 of 4 feeds: 9 new candidates",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{}", text(&first));
    }

    // A polite User-Agent naming the newsletter's archive.
    let ua = &server.requests("/blog.rss")[0].headers["user-agent"];
    assert_eq!(
        ua,
        &format!(
            "almanac/{} (+https://almanac.example/issues/)",
            env!("CARGO_PKG_VERSION")
        )
    );

    let items = listed(&s, true);
    assert_eq!(items.len(), 9, "{items:#?}");
    // Newest first.
    let titles: Vec<&str> = items.iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles[0], "Persona features, steered back", "{titles:?}");
    let dates: Vec<&str> = items
        .iter()
        .map(|i| i["published"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");

    // RSS 2.0: tracking parameters dropped from the link, HTML from the summary.
    let rss = by_title(
        &items,
        "Tracing refusals back to one direction in the residual stream",
    );
    assert_eq!(rss["source"], "Sparse Circuits Blog");
    assert_eq!(
        rss["url"],
        "https://sparsecircuits.test/posts/refusal-direction/"
    );
    assert_eq!(rss["published"], "2026-12-04T16:00:00Z");
    assert!(
        rss["summary"].as_str().unwrap().starts_with(
            "We ablate a single direction in the residual stream of a 7B chat model and watch its refusals vanish — and come back"
        ),
        "{rss:#?}"
    );
    assert_eq!(rss["age"], "20h ago");

    // RSS 1.0 as arXiv publishes it: dc:date, and the abstract without arXiv's preamble.
    let paper = by_title(
        &items,
        "Sparse Feature Circuits Explain Multilingual Refusal",
    );
    assert_eq!(paper["source"], "arXiv cs.CL");
    assert_eq!(paper["url"], "https://arxiv.org/abs/2612.04417");
    assert_eq!(paper["published"], "2026-12-04T05:00:00Z");
    assert!(
        paper["summary"]
            .as_str()
            .unwrap()
            .starts_with("Chat models refuse harmful requests"),
        "{paper:#?}"
    );
    assert!(
        !titles.iter().any(|t| t.contains("Survey")),
        "exclude keyword: {titles:?}"
    );

    // Atom: an HTML title, a link relative to xml:base, an entry dated only by <updated>.
    let atom = by_title(&items, "Persona features, steered back");
    assert_eq!(atom["source"], "Alignment Lab");
    assert_eq!(
        atom["url"],
        "https://alignmentlab.test/updates/persona-features"
    );
    assert_eq!(atom["published"], "2026-12-05T07:30:00Z");
    assert!(
        atom["summary"]
            .as_str()
            .unwrap()
            .contains("a “persona” feature"),
        "{atom:#?}"
    );
    let release = by_title(&items, "Release notes: evaluation harness 0.9");
    assert_eq!(release["published"], "2026-12-01T12:00:00Z");
    assert_eq!(
        release["summary"],
        "Faster sandboxes, and transcripts you can diff."
    );

    // JSON Feed.
    let json = by_title(
        &items,
        "Benchmarks that leak into training data, and how to tell",
    );
    assert_eq!(json["source"], "Model Evals Digest");
    assert_eq!(
        json["url"],
        "https://evalsdigest.test/2026/12/benchmarks-that-leak"
    );
    assert_eq!(json["published"], "2026-12-04T09:00:00Z");

    // Again: the three feeds with validators answer 304; the one without
    // sends everything again, and every entry is known.
    let second = pull(&s);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let out = stdout(&second);
    for line in [
        "Sparse Circuits Blog: not modified since the last pull",
        "arXiv cs.CL: not modified since the last pull",
        "Alignment Lab: not modified since the last pull",
        "Model Evals Digest: 0 new, 2 already known",
        "pulled 4 of 4 feeds: 0 new candidates",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{}", text(&second));
    }
    let blog = server.requests("/blog.rss");
    assert_eq!(blog.len(), 2);
    assert_eq!(blog[1].status, 304);
    assert!(blog[1].headers.contains_key("if-none-match"), "{blog:#?}");
    assert_eq!(
        blog[1].headers["if-modified-since"],
        feed_server::LAST_MODIFIED
    );
    assert_eq!(server.requests("/updates/feed.atom")[1].status, 304);
    assert_eq!(
        listed(&s, true),
        items,
        "the second pull changed the candidates"
    );
}

#[test]
fn broken_sources_are_reported_by_name_and_the_others_pulled() {
    let server = FeedServer::start();
    let s = Sample::new();
    configure(
        &s,
        &server,
        &[
            ("Frontier Research News", "/broken/page.html", ""),
            ("Status Page", "/broken/500", ""),
            ("Cut Off", "/broken/truncated.rss", ""),
            ("Firehose", "/broken/huge.xml", ""),
            ("Silent Server", "/broken/silent", ""),
            ("Round And Round", "/loop", ""),
            BLOG,
        ],
    );
    let started = Instant::now();
    let out = pull(&s);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    let url = |p: &str| server.url(p);
    for (name, path, why) in [
        (
            "Frontier Research News",
            "/broken/page.html",
            "the server sent an HTML page, not a feed",
        ),
        (
            "Status Page",
            "/broken/500",
            "the server answered 500 Internal Server Error",
        ),
        (
            "Cut Off",
            "/broken/truncated.rss",
            "the feed is cut off (it ends before its closing </rss>)",
        ),
        (
            "Firehose",
            "/broken/huge.xml",
            "the feed is larger than 10 MB",
        ),
        (
            "Silent Server",
            "/broken/silent",
            "no complete answer within 2 s",
        ),
        ("Round And Round", "/loop", "more than 5 redirects"),
    ] {
        let line = format!("error: feed `{name}` ({}): {why}", url(path));
        assert!(err.contains(&line), "missing {line:?} in\n{err}");
    }
    assert!(
        stdout(&out).contains("Sparse Circuits Blog: 3 new")
            && stdout(&out).contains("pulled 1 of 7 feeds: 3 new candidates; 6 failed"),
        "{}",
        text(&out)
    );
    // The silent server held one fetch for its 2 s; nothing waited on it.
    assert!(took < Duration::from_secs(10), "the pull took {took:?}");
    assert_eq!(
        listed(&s, false).len(),
        2,
        "the blog's items minus the one Midweek carries"
    );
}

#[test]
fn https_feeds_need_a_certificate_that_verifies() {
    if !common::tool("openssl", &["openssl", "version"]) {
        return;
    }
    let s = Sample::new();
    let Some(tls) = tls_server::start(s.root()) else {
        return;
    };
    let server = FeedServer::start();
    configure(
        &s,
        &server,
        &[("Self Signed", &tls.url("/feed.xml"), ""), BLOG],
    );
    let out = pull(&s);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: feed `Self Signed`") && err.contains("certificate"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("Sparse Circuits Blog: 3 new"),
        "{}",
        text(&out)
    );
    // The handshake failed before any request was made.
    assert_eq!(tls.requests(), 0);
}

#[test]
fn three_candidates_added_to_a_draft_keep_its_comments_and_pass_check_once_scored() {
    let server = FeedServer::start();
    let s = Sample::new();
    configure(&s, &server, &[BLOG, ARXIV, DIGEST]);
    common::assert_success(&pull(&s), "news pull");
    run_ok(&s, &["new", "midweek", "--date", "2026-12-09"]);
    write_draft_text(&s);

    let items = listed(&s, false);
    let ids = [
        id_of(
            &items,
            "Tracing refusals back to one direction in the residual stream",
        ),
        id_of(
            &items,
            "Sparse Feature Circuits Explain Multilingual Refusal",
        ),
        id_of(
            &items,
            "Benchmarks that leak into training data, and how to tell",
        ),
    ];
    let add = run_ok(
        &s,
        &["news", "add", &ids[0], &ids[1], &ids[2], "--issue", DRAFT],
    );
    assert!(
        stdout(&add).contains("replaced the template's placeholder item")
            && stdout(&add).contains("now has 3 more news items"),
        "{}",
        text(&add)
    );

    let file = format!("issues/{DRAFT}/issue.toml");
    let toml_text = s.read(&file);
    for comment in [
        "# A draft is never sent (proofs and the preview only).",
        "# The editor: lead with the refusal story.",
        "# One [[news]] table per curated item.",
        &format!("# Candidate {} from arXiv cs.CL: give it a `score`", ids[1]),
    ] {
        assert!(
            toml_text.contains(comment),
            "lost {comment:?}:\n{toml_text}"
        );
    }
    assert!(
        !toml_text.contains("TODO: the item's headline"),
        "{toml_text}"
    );
    let doc: toml::Table = toml_text.parse().expect("valid TOML");
    let news = doc["news"].as_array().unwrap();
    assert_eq!(news.len(), 3);
    let first = news[0].as_table().unwrap();
    assert_eq!(
        first["title"].as_str(),
        Some("Tracing refusals back to one direction in the residual stream")
    );
    assert_eq!(
        first["url"].as_str(),
        Some("https://sparsecircuits.test/posts/refusal-direction/")
    );
    assert_eq!(first["source"].as_str(), Some("Sparse Circuits Blog"));
    assert_eq!(first["published"].to_string(), "2026-12-04");
    assert_eq!(first["topic"].as_str(), Some("interpretability"));
    assert!(
        first["summary"]
            .as_str()
            .unwrap()
            .starts_with("We ablate a single direction")
    );
    assert!(
        news.iter()
            .all(|n| !n.as_table().unwrap().contains_key("score"))
    );
    assert_eq!(news[1]["published"].to_string(), "2026-12-04");
    assert!(!news[1].as_table().unwrap().contains_key("topic"));

    // A draft may wait for its scores: check asks for them, at each item.
    let check = run(&s, &["check", DRAFT]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    for n in 1..=3 {
        let w = format!("warning: news item {n} has no `score` yet");
        assert!(
            stderr(&check).contains(&w),
            "missing {w:?} in\n{}",
            text(&check)
        );
    }
    assert!(
        stderr(&check).contains(&format!("issues/{DRAFT}/issue.toml:")),
        "{}",
        text(&check)
    );

    // Used now: `news list` no longer shows them.
    let after: Vec<String> = listed(&s, false)
        .iter()
        .map(|i| i["id"].to_string())
        .collect();
    assert!(
        ids.iter().all(|id| !after.contains(id)),
        "{after:?} still has {ids:?}"
    );
    assert!(!after.is_empty());
    let used = listed(&s, true);
    assert_eq!(
        by_title(
            &used,
            "Sparse Feature Circuits Explain Multilingual Refusal"
        )["used_in"],
        DRAFT
    );

    // Scored and made ready, the issue passes check without a warning.
    s.write(
        &file,
        toml_text
            .replace("\nsummary = \"\"\"", "\nscore = 6\nsummary = \"\"\"")
            .replace("draft = true\n", ""),
    );
    let check = run(&s, &["check", DRAFT]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        stdout(&check).contains(&format!("ok: {DRAFT} (midweek, 3 of 3 news items")),
        "{}",
        text(&check)
    );
    assert!(
        stdout(&check).contains("0 errors, 0 warnings"),
        "{}",
        text(&check)
    );
}

/// Replaces the scaffold's placeholders (other than the news item) with
/// real text, and adds a comment of the editor's own.
fn write_draft_text(s: &Sample) {
    let file = format!("issues/{DRAFT}/issue.toml");
    s.edit(
        &file,
        "subject = \"TODO: write the subject\"",
        "# The editor: lead with the refusal story.\nsubject = \"Where refusals live\"",
    );
    s.edit(
        &file,
        "\"TODO: one sentence that makes people open the email.\"",
        "\"One direction, many languages: how models say no.\"",
    );
    s.edit(
        &file,
        "TODO: a short note to readers.",
        "This week the news desk found three stories about refusals and evaluation.",
    );
    s.write(
        format!("issues/{DRAFT}/guide.md"),
        s.read(format!("issues/{MIDWEEK}/guide.md")),
    );
}

#[test]
fn a_story_already_sent_is_named_when_added_again() {
    let server = FeedServer::start();
    let s = Sample::new();
    configure(&s, &server, &[BLOG]);
    common::assert_success(&pull(&s), "news pull");
    let title = "Extracting concepts from GPT-4, a month on";
    // The blog links the page the Midweek sample carried: not a candidate any more.
    assert!(listed(&s, false).iter().all(|i| i["title"] != title));
    let used = listed(&s, true);
    assert_eq!(by_title(&used, title)["used_in"], MIDWEEK);
    let list = run_ok(&s, &["news", "list", "--used", "--now", NOW]);
    assert!(
        stdout(&list).contains(&format!("{title}  [in {MIDWEEK}]")),
        "{}",
        text(&list)
    );

    run_ok(&s, &["new", "midweek", "--date", "2026-12-09"]);
    let id = id_of(&used, title);
    let add = run_ok(&s, &["news", "add", &id, "--issue", DRAFT]);
    assert!(
        stderr(&add).contains(&format!(
            "warning: candidate {id} (https://openai.com/index/extracting-concepts-from-gpt-4/) was already in {MIDWEEK} (news item 2)"
        )),
        "{}",
        text(&add)
    );
    let check = run(&s, &["check", DRAFT]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let line = format!("issues/{DRAFT}/issue.toml:");
    let warning = format!("warning: news item 1 was already in {MIDWEEK} (news item 2)");
    assert!(
        stderr(&check)
            .lines()
            .any(|l| l.starts_with(&line) && l.ends_with(&warning)),
        "missing {warning:?} in\n{}",
        text(&check)
    );
    // Adding it twice to the same issue adds nothing.
    let again = run(&s, &["news", "add", &id, "--issue", DRAFT]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        stderr(&again).contains(&format!("candidate {id} is already news item 1 of {DRAFT}")),
        "{}",
        text(&again)
    );
}

#[test]
fn new_from_news_starts_a_draft_with_the_weeks_candidates() {
    let server = FeedServer::start();
    let s = Sample::new();
    configure(&s, &server, &[BLOG, ARXIV, LAB, DIGEST]);
    common::assert_success(&pull(&s), "news pull");
    let out = run_ok(
        &s,
        &["new", "midweek", "--date", "2026-12-09", "--from-news"],
    );
    let toml_text = s.read(format!("issues/{DRAFT}/issue.toml"));
    let doc: toml::Table = toml_text.parse().expect("valid TOML");
    let titles: Vec<&str> = doc["news"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    // 3 to 9 December; not the story Midweek carried, not what came before.
    assert_eq!(
        titles,
        [
            "Persona features, steered back",
            "Tracing refusals back to one direction in the residual stream",
            "Benchmarks that leak into training data, and how to tell",
            "Sparse Feature Circuits Explain Multilingual Refusal",
            "Counting Without Numbers: How Small Transformers Track Quantities in Stories",
        ],
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("added 5 candidates from the news desk"),
        "{}",
        text(&out)
    );
    assert!(
        toml_text.contains("# One [[news]] table per curated item."),
        "{toml_text}"
    );
    let check = run(&s, &["check", DRAFT]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        stderr(&check).contains("warning: news item 5 has no `score` yet"),
        "{}",
        text(&check)
    );

    // Without candidates the scaffold is the usual one, and says why.
    let out = run_ok(
        &s,
        &["new", "sunday", "--date", "2027-01-03", "--from-news"],
    );
    assert!(
        stderr(&out).contains("warning: no candidates from the 7d before 2027-01-03"),
        "{}",
        text(&out)
    );
    assert!(
        s.read("issues/2027-01-03-sunday/issue.toml")
            .contains("TODO: the item's headline")
    );
}

#[test]
fn check_compares_links_within_an_issue_and_dates_against_max_age() {
    let s = Sample::new();
    let file = format!("issues/{MIDWEEK}/issue.toml");
    // The samples are inside the default 60 days.
    let check = run(&s, &["check", MIDWEEK]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        !stderr(&check).contains("days before the issue"),
        "{}",
        text(&check)
    );

    s.edit("newsletter.toml", "max_age = \"60d\"", "max_age = \"30d\"");
    let check = run(&s, &["check", MIDWEEK]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        stderr(&check).contains(&format!(
            "{file}:26:13: warning: news item 2 was published 37 days before the issue, more than 30"
        )),
        "{}",
        text(&check)
    );

    // The same story behind a tracking parameter is the same link.
    s.edit(
        &file,
        "url = \"https://openai.com/index/emergent-misalignment/\"",
        "url = \"https://www.openai.com/index/extracting-concepts-from-gpt-4?utm_source=newsletter\"",
    );
    let check = run(&s, &["check", MIDWEEK]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        stderr(&check).contains(&format!(
            "{file}:35:7: error: news item 3 repeats a link already in this issue"
        )),
        "{}",
        text(&check)
    );
}

#[test]
fn feeds_are_validated_at_their_line_and_column() {
    let s = Sample::new();
    s.edit(
        "newsletter.toml",
        "[news]\n",
        "[news]\ntimeout_seconds = 0\n",
    );
    let mut toml = s.read("newsletter.toml");
    let news_line = toml.lines().position(|l| l == "[news]").unwrap() + 1;
    let line = toml.lines().count() + 1;
    toml.push_str(
        "[[feeds]]\nname = \"Lab\"\nurl = \"ftp://lab.test/feed\"\n\n[[feeds]]\nname = \"lab\"\nurl = \"https://lab.test/feed\"\ninclude = [\" \"]\n",
    );
    s.write("newsletter.toml", toml);
    let out = run(&s, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    for (at, msg) in [
        (
            (line + 2, 7),
            "error: `ftp://lab.test/feed` uses the `ftp:` scheme; feeds are fetched over https:// or http://",
        ),
        ((line + 5, 8), "error: a feed named `lab` is already listed"),
        (
            (line + 7, 12),
            "error: an empty keyword in `include` would match every entry",
        ),
        (
            (news_line + 1, 19),
            "error: timeout_seconds must be from 1 to 300, got 0",
        ),
    ] {
        let want = format!("newsletter.toml:{}:{}: {msg}", at.0, at.1);
        assert!(err.contains(&want), "missing {want:?} in\n{err}");
    }

    // An edition that does not exist can't be a roundup.
    let s = Sample::new();
    s.edit(
        "newsletter.toml",
        "roundup = [\"sunday\"]",
        "roundup = [\"sunday\", \"saturday\"]",
    );
    let out = run(&s, &["check", MIDWEEK]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains("warning: `roundup` names `saturday`, which is not an edition"),
        "{}",
        text(&out)
    );

    let s = Sample::new();
    let out = run(&s, &["news", "pull"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("newsletter.toml: error: there are no [[feeds]] to pull from"),
        "{}",
        text(&out)
    );
    let out = run(&s, &["news", "add", "9999", "--issue", MIDWEEK]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("there is no candidate 9999"),
        "{}",
        text(&out)
    );
}

/// An https server whose certificate is self-signed (made with openssl),
/// so a client that verifies certificates must refuse it.
mod tls_server {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;

    pub struct TlsServer {
        port: u16,
        requests: Arc<AtomicUsize>,
    }

    impl TlsServer {
        pub fn url(&self, path: &str) -> String {
            format!("https://127.0.0.1:{}{path}", self.port)
        }
        /// Requests that got past the handshake.
        pub fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    pub fn start(dir: &Path) -> Option<TlsServer> {
        super::common::openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                "tls.key",
                "-out",
                "tls.crt",
            ],
        );
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("tls.crt"))
                .ok()?
                .collect::<Result<_, _>>()
                .ok()?;
        let key = PrivateKeyDer::from_pem_file(dir.join("tls.key")).ok()?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .ok()?;
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").ok()?;
        let port = listener.local_addr().ok()?.port();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 1024];
                if matches!(tls.read(&mut buf), Ok(n) if n > 0) {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        });
        Some(TlsServer { port, requests })
    }
}
