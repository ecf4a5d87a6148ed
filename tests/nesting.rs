//! Deeply nested input (issue 11): a guide or a TOML file nested a hundred
//! thousand levels deep must stop `check`, `build` and `send --dry-run` with
//! a located "nesting" error and exit 1, never with a stack overflow.

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{MIDWEEK, Sample, stderr, stdout};

const GUIDE: &str = "issues/2026-11-25-midweek/guide.md";
const ISSUE: &str = "issues/2026-11-25-midweek/issue.toml";
const LEVELS: usize = 100_000;

/// The sample guide's front matter, `+++` lines included.
fn front_matter(sample: &Sample) -> String {
    let guide = sample.read(GUIDE);
    let end = guide[4..].find("+++\n").expect("closing +++") + 4;
    guide[..end + 4].to_owned()
}

/// The line the body starts on (the first line after the front matter).
fn body_line(sample: &Sample) -> usize {
    front_matter(sample).lines().count() + 1
}

/// Runs `check`, `build` and `send --dry-run` on the sample as changed by
/// `setup`; each must exit 1 and name `want` (a `file:line:` prefix, or a
/// `file:line:col: error: ...` line start) with a nesting error.
fn assert_located_nesting_error(name: &str, setup: impl Fn(&Sample), want: &str) {
    let sample = Sample::new();
    sample.write(
        "subscribers.example.csv",
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/subscribers.example.csv"
        ))
        .expect("the sample subscriber list"),
    );
    setup(&sample);
    for args in [
        &["check", MIDWEEK][..],
        &["build", MIDWEEK],
        &["send", MIDWEEK, "--dry-run"],
    ] {
        let out = sample.run(args);
        let err = stderr(&out);
        let what = format!("{name}: almanac {}", args.join(" "));
        assert!(
            out.status.signal().is_none(),
            "{what} was killed by signal {:?}\n{}",
            out.status.signal(),
            tail(&err)
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}\n--- stdout\n{}--- stderr\n{}",
            stdout(&out),
            tail(&err)
        );
        let located = err
            .lines()
            .any(|l| l.starts_with(want) && l.contains("error: nesting"));
        assert!(
            located,
            "{what}: no `{want}... error: nesting` line in\n{}",
            tail(&err)
        );
        assert!(
            err.contains("hint:"),
            "{what}: the error has no hint\n{}",
            tail(&err)
        );
        assert!(!err.contains("panicked"), "{what} panicked\n{}", tail(&err));
    }
    assert!(!sample.exists(format!("out/{MIDWEEK}")));
}

/// The end of a long stderr, enough to read the error.
fn tail(s: &str) -> String {
    let start = s.len().saturating_sub(3000);
    let mut i = start;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    s[i..].to_owned()
}

#[test]
fn a_hundred_thousand_nested_block_quotes_are_a_located_error() {
    let sample = Sample::new();
    let line = body_line(&sample);
    assert_located_nesting_error(
        "nested quotes",
        |s| {
            let body = format!("{}deep\n", ">".repeat(LEVELS));
            s.write(GUIDE, format!("{}{body}", front_matter(s)));
        },
        // The 33rd `>` is the first level too many.
        &format!("{GUIDE}:{line}:33: error: nesting deeper than 32"),
    );
}

#[test]
fn a_hundred_thousand_nested_list_items_are_a_located_error() {
    let sample = Sample::new();
    let line = body_line(&sample);
    assert_located_nesting_error(
        "nested bullet lists",
        |s| {
            let body = format!("{}deep\n", "- ".repeat(LEVELS));
            s.write(GUIDE, format!("{}{body}", front_matter(s)));
        },
        // Each `- ` is one list level, two characters wide: the 33rd starts at 65.
        &format!("{GUIDE}:{line}:65: error: nesting deeper than 32"),
    );
    assert_located_nesting_error(
        "nested numbered lists",
        |s| {
            let body = format!("{}deep\n", "1. ".repeat(LEVELS));
            s.write(GUIDE, format!("{}{body}", front_matter(s)));
        },
        &format!("{GUIDE}:{line}:97: error: nesting deeper than 32"),
    );
}

#[test]
fn deep_emphasis_is_a_located_error() {
    let sample = Sample::new();
    let line = body_line(&sample);
    assert_located_nesting_error(
        "nested emphasis",
        |s| {
            let n = 50_000;
            let body = format!("{}x{}\n", "*a ".repeat(n), "*".repeat(n));
            s.write(GUIDE, format!("{}{body}", front_matter(s)));
        },
        &format!("{GUIDE}:{line}:"),
    );
}

#[test]
fn a_deeply_nested_issue_toml_is_a_located_error() {
    let deep_array = format!("{}{}", "[".repeat(LEVELS), "]".repeat(LEVELS));
    // In a known field and in an unknown one: the parser stops either way.
    assert_located_nesting_error(
        "nested arrays",
        |s| s.edit(ISSUE, "score = 6\n", &format!("score = {deep_array}\n")),
        &format!("{ISSUE}:16:"),
    );
    let deep_table = format!("{}1{}", "{a = ".repeat(LEVELS / 5), "}".repeat(LEVELS / 5));
    assert_located_nesting_error(
        "nested inline tables",
        |s| {
            let text = s.read(ISSUE);
            s.write(ISSUE, format!("x = {deep_table}\n{text}"));
        },
        &format!("{ISSUE}:1:"),
    );
    let deep_key = format!("x{}", ".a".repeat(LEVELS / 10));
    let key_line = Sample::new().read(ISSUE).lines().count() + 2;
    assert_located_nesting_error(
        "a dotted key a thousand tables deep",
        |s| {
            let text = s.read(ISSUE);
            s.write(ISSUE, format!("{text}\n[{deep_key}]\n"));
        },
        &format!("{ISSUE}:{key_line}:1: error: nesting"),
    );
}

#[test]
fn a_deeply_nested_front_matter_is_a_located_error() {
    let deep_array = format!("{}{}", "[".repeat(LEVELS), "]".repeat(LEVELS));
    assert_located_nesting_error(
        "nested arrays in the front matter",
        |s| s.edit(GUIDE, "related = [", &format!("related = [{deep_array}, ")),
        &format!("{GUIDE}:14:"),
    );
}
