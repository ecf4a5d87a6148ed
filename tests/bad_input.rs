//! Broken inputs: every one must be reported at the right file, line and
//! column, exit 1, never panic, and never leave output that looks complete.
//!
//! Most cases are folders under `tests/corpus/compose/` (see the README
//! there); a few inputs are generated here. The property tests at the end
//! feed arbitrary text and bytes to the guide and issue loaders.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use almanac::content::{self, guide, markdown};
use almanac::diag::Problems;
use almanac::layouts::Layouts;
use common::{MIDWEEK, Sample, stderr, stdout};
use proptest::prelude::*;

const ISSUE_TOML: &str = "issues/2026-11-25-midweek/issue.toml";

/// One broken input: how to break a fresh sample, what to run, what to see.
struct Case {
    name: String,
    args: Vec<String>,
    expect_stderr: Vec<String>,
    expect_stdout: Vec<String>,
    setup: Box<dyn Fn(&Sample)>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/compose")
}

/// Non-blank, non-comment lines of an optional file.
fn lines_of(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    }
}

const CONTROL_FILES: [&str; 4] = ["expect.txt", "expect-stdout.txt", "cmd.txt", "delete.txt"];

/// Every file of a case folder to lay over the sample, relative to the folder.
fn overlay_files(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir.join(rel)).expect("list case folder") {
        let entry = entry.expect("entry");
        let rel = rel.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            overlay_files(dir, &rel, out);
        } else if !(rel.parent() == Some(Path::new(""))
            && CONTROL_FILES.iter().any(|c| rel == Path::new(c)))
        {
            out.push(rel);
        }
    }
}

fn corpus_cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus/compose exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let expect_stderr = lines_of(&dir.join("expect.txt"));
            assert!(
                !expect_stderr.is_empty(),
                "case {name} has no expect.txt lines"
            );
            let args = match std::fs::read_to_string(dir.join("cmd.txt")) {
                Ok(cmd) => cmd.split_whitespace().map(str::to_owned).collect(),
                Err(_) => vec!["build".to_owned(), MIDWEEK.to_owned()],
            };
            let mut files = Vec::new();
            overlay_files(&dir, Path::new(""), &mut files);
            let delete = lines_of(&dir.join("delete.txt"));
            assert!(
                !files.is_empty() || !delete.is_empty(),
                "case {name} changes nothing"
            );
            let expect_stdout = lines_of(&dir.join("expect-stdout.txt"));
            Case {
                name,
                args,
                expect_stderr,
                expect_stdout,
                setup: Box::new(move |sample: &Sample| {
                    for rel in &files {
                        sample.write(
                            rel,
                            std::fs::read(dir.join(rel)).expect("read overlay file"),
                        );
                    }
                    for rel in &delete {
                        sample.remove(rel);
                    }
                }),
            }
        })
        .collect()
}

/// Inputs made at test time rather than committed.
fn generated_cases() -> Vec<Case> {
    let build = || vec!["build".to_owned(), MIDWEEK.to_owned()];
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        Case {
            name: "generated: empty issue.toml".into(),
            args: build(),
            expect_stderr: strings(&[
                &format!(
                    "{ISSUE_TOML}:1:1: error: missing keys `edition`, `date`, `subject` and `preheader`"
                ),
                "1 error, 0 warnings",
            ]),
            expect_stdout: vec![],
            setup: Box::new(|s| s.write(ISSUE_TOML, "")),
        },
        Case {
            name: "generated: non-UTF-8 issue.toml".into(),
            args: build(),
            expect_stderr: strings(&[
                &format!(
                    "{ISSUE_TOML}:3:15: error: this file is not valid UTF-8 (bad byte at line 3, column 15)"
                ),
                "hint: save the file as UTF-8",
                "1 error, 0 warnings",
            ]),
            expect_stdout: vec![],
            setup: Box::new(|s| {
                // "Café" in Latin-1: the é is the single byte 0xE9.
                let mut bytes =
                    b"edition = \"midweek\"\ndate = 2026-11-25\nsubject = \"Caf".to_vec();
                bytes.push(0xE9);
                bytes.extend_from_slice(b" news\"\npreheader = \"p\"\n");
                s.write(ISSUE_TOML, bytes);
            }),
        },
        Case {
            name: "generated: non-UTF-8 guide.md".into(),
            args: build(),
            expect_stderr: strings(&[
                "issues/2026-11-25-midweek/guide.md:2:10: error: this file is not valid UTF-8",
                "1 error, 0 warnings",
            ]),
            expect_stdout: vec![],
            setup: Box::new(|s| {
                let mut bytes = b"+++\ntitle = \"".to_vec();
                bytes.extend_from_slice(&[0xFF, 0xFE]);
                bytes.extend_from_slice(b"\"\n+++\n");
                s.write("issues/2026-11-25-midweek/guide.md", bytes);
            }),
        },
        Case {
            // Found by tests/any_input.rs: reporting 40 000 problems, each
            // located by a scan of the file, took over half a minute.
            name: "generated: 40 000 empty [[news]] tables".into(),
            args: build(),
            expect_stderr: strings(&[
                "news item 8: missing keys `title`, `url`, `source`, `published`, `score` and `summary`",
                &format!("{ISSUE_TOML}: error: 39900 more problems in this file are not shown"),
                "hint: fix the first 100 and run again",
                "101 errors, 0 warnings",
            ]),
            expect_stdout: vec![],
            setup: Box::new(|s| {
                let text = s.read(ISSUE_TOML);
                s.write(ISSUE_TOML, format!("{text}{}", "[[news]]\n".repeat(40_000)));
            }),
        },
        Case {
            name: "generated: 10 MB issue.toml".into(),
            args: build(),
            expect_stderr: strings(&[
                &format!("{ISSUE_TOML}: error: this file is 10485"),
                "bytes; files here are limited to 524288 bytes",
                "1 error, 0 warnings",
            ]),
            expect_stdout: vec![],
            setup: Box::new(|s| {
                // The real issue, padded with a comment to just over 10 MiB.
                let mut text = s.read(ISSUE_TOML);
                text.push_str("# ");
                let pad = 10 * 1024 * 1024 - text.len() + 1;
                text.push_str(&"x".repeat(pad));
                text.push('\n');
                s.write(ISSUE_TOML, text);
            }),
        },
    ]
}

/// Runs one case; returns what went wrong, if anything.
fn run_case(case: &Case) -> Option<String> {
    let sample = Sample::new();
    (case.setup)(&sample);
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let out = sample.run(&args);
    let (err, so) = (stderr(&out), stdout(&out));
    let mut wrong = Vec::new();
    if out.status.code() != Some(1) {
        wrong.push(format!("exit status {} (want 1)", out.status));
    }
    if err.contains("panicked") {
        wrong.push("it panicked".into());
    }
    for want in &case.expect_stderr {
        if !err.contains(want.as_str()) {
            wrong.push(format!("stderr lacks {want:?}"));
        }
    }
    for want in &case.expect_stdout {
        if !so.contains(want.as_str()) {
            wrong.push(format!("stdout lacks {want:?}"));
        }
    }
    // A failed build leaves nothing that looks like output.
    if sample.exists(Path::new("out").join(MIDWEEK)) {
        wrong.push(format!("out/{MIDWEEK}/ exists"));
    }
    if let Ok(entries) = std::fs::read_dir(sample.path("out")) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains(MIDWEEK) {
                wrong.push(format!("out/{n} was left behind"));
            }
        }
    }
    if wrong.is_empty() {
        return None;
    }
    Some(format!(
        "case {} (almanac {}):\n  - {}\n  --- stderr\n{}  --- stdout\n{}",
        case.name,
        case.args.join(" "),
        wrong.join("\n  - "),
        indent(&err),
        indent(&so)
    ))
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn run_all(cases: &[Case]) {
    let failures: Vec<String> = cases.iter().filter_map(run_case).collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_cases_fail_cleanly_at_the_right_place() {
    let cases = corpus_cases();
    assert!(cases.len() >= 25, "only {} corpus cases found", cases.len());
    run_all(&cases);
}

#[test]
fn generated_cases_fail_cleanly_at_the_right_place() {
    run_all(&generated_cases());
}

/// The harness itself: an overlay with no error in it must build, or every
/// case above could be failing for a reason other than its own.
#[test]
fn a_harmless_overlay_still_builds() {
    let sample = Sample::new();
    sample.edit(ISSUE_TOML, "score = 6\n", "score = 5\n");
    sample.write("layouts/editions/README.txt", "not an edition\n");
    let dir = sample.build(MIDWEEK);
    assert!(dir.join("message.eml").is_file());
}

// ---------------------------------------------------------------------------
// Property tests: the loaders never panic, and every reported line:column is
// inside the file it names.

fn layouts() -> &'static Layouts {
    static L: OnceLock<Layouts> = OnceLock::new();
    L.get_or_init(|| {
        Layouts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("layouts"))
            .expect("the sample layouts load")
    })
}

fn sample_text(rel: &str) -> &'static str {
    static ISSUE: OnceLock<String> = OnceLock::new();
    static GUIDE: OnceLock<String> = OnceLock::new();
    let read = || {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
            .expect("sample file")
    };
    match rel {
        "issues/2026-11-25-midweek/issue.toml" => ISSUE.get_or_init(read),
        "issues/2026-11-25-midweek/guide.md" => GUIDE.get_or_init(read),
        other => panic!("no sample text {other}"),
    }
}

/// Checks every located problem against the text of the files it can name.
fn assert_positions_inside(
    problems: &Problems,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<(), TestCaseError> {
    prop_assert!(problems.has_errors(), "an Err without an error: {problems}");
    for p in &problems.0 {
        let Some((line, col)) = p.line_col() else {
            continue;
        };
        let Some((_, bytes)) = files.iter().find(|(f, _)| *f == p.file) else {
            return Err(TestCaseError::fail(format!(
                "a problem names an unexpected file: {p}"
            )));
        };
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.split('\n').collect();
        prop_assert!(
            line >= 1 && line <= lines.len(),
            "line {line} of {} lines: {p}",
            lines.len()
        );
        let width = lines[line - 1].chars().count();
        prop_assert!(
            col >= 1 && col <= width + 1,
            "column {col} of a {width}-character line: {p}"
        );
    }
    Ok(())
}

/// Replaces `del` characters at a character position (both wrapped to fit)
/// with `insert`.
fn splice(base: &str, at: usize, del: usize, insert: &str) -> String {
    let chars: Vec<char> = base.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + del).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(insert);
    out.extend(&chars[end..]);
    out
}

fn soup(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens), 0..max).prop_map(|v| v.concat())
}

const TOML_TOKENS: &[&str] = &[
    "edition = \"midweek\"\n",
    "edition = \"weekly\"\n",
    "date = 2026-11-25\n",
    "date = 2026-11-24\n",
    "subject = \"s\"\n",
    "subject = \"\\r\"\n",
    "preheader = \"p\"\n",
    "note = \"\"\"\nn\n\"\"\"\n",
    "[[news]]\n",
    "title = \"t\"\n",
    "url = \"https://e.com/x\"\n",
    "url = \"javascript:x\"\n",
    "url = \"/rel\"\n",
    "source = \"s\"\n",
    "published = 2026-11-20\n",
    "published = 2026-02-30\n",
    "published = \"2026-13-01\"\n",
    "published = 1979-05-27T07:32:00Z\n",
    "score = 5\n",
    "score = 99\n",
    "score = \"x\"\n",
    "summary = \"x\"\n",
    "topic = 1\n",
    "[news]\n",
    "news = [1]\n",
    "news = [{}]\n",
    "x = ",
    "= ",
    "\"",
    "'''",
    "\"\"\"",
    "\n",
    "\r\n",
    "é",
    "\u{0}",
    "\u{E000}",
    "#",
    "[",
    "]",
    "{",
    "}",
    ",",
    "x",
    " ",
    "\t",
    "\\u0007",
    "scroe = 1\n",
];

const MD_TOKENS: &[&str] = &[
    "# ",
    "## ",
    "### ",
    "#### ",
    "- ",
    "1. ",
    "> ",
    "**",
    "*",
    "_",
    "`",
    "```\n",
    "[x](",
    "https://e.com/a",
    "javascript:x",
    ")",
    "![",
    "](",
    "<b>",
    "</b>",
    "<div>\n",
    "\n",
    "\n\n",
    "    ",
    "text ",
    "\t",
    "|a|b|\n|-|-|\n",
    "---\n",
    "\\",
    "&amp;",
    "\u{E000}",
    "\u{7}",
    "\r\n",
    "[^1]",
    "<!-- c -->",
    "## Timeline\n",
    "## FAQ\n",
    "### Q?\n",
    "1. **2024** — x\n",
    "+++\n",
    "é",
    "~~x~~",
];

const FRONT_MATTER: &str = "+++\ntitle = \"T\"\nkind = \"Concept guide\"\nlevel = \"Beginner\"\ntopic = \"x\"\ntldr = \"short\"\n+++\n";

fn issue_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        soup(TOML_TOKENS, 40).prop_map(String::into_bytes),
        (
            any::<usize>(),
            0..30usize,
            prop_oneof![any::<String>(), soup(TOML_TOKENS, 4)]
        )
            .prop_map(|(at, del, ins)| splice(sample_text(ISSUE_TOML), at, del, &ins).into_bytes()),
        // A valid issue with arbitrary bytes dropped in somewhere.
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, junk)| {
            let mut b = sample_text(ISSUE_TOML).as_bytes().to_vec();
            let at = at % (b.len() + 1);
            b.splice(at..at, junk);
            b
        }),
    ]
}

fn guide_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        soup(MD_TOKENS, 40).prop_map(|body| format!("{FRONT_MATTER}{body}")),
        soup(MD_TOKENS, 40),
        (
            any::<usize>(),
            0..30usize,
            prop_oneof![any::<String>(), soup(MD_TOKENS, 6)]
        )
            .prop_map(|(at, del, ins)| splice(
                sample_text("issues/2026-11-25-midweek/guide.md"),
                at,
                del,
                &ins
            )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn markdown_never_panics_and_spans_stay_inside(src in prop_oneof![any::<String>(), soup(MD_TOKENS, 60)]) {
        match markdown::parse(&src) {
            Ok(blocks) => for (_, span) in blocks {
                prop_assert!(span.start <= span.end && span.end <= src.len(), "{span:?} of {}", src.len());
            },
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for (span, message, _) in errors {
                    prop_assert!(span.start <= span.end && span.end <= src.len(), "{span:?} of {}: {message}", src.len());
                }
            }
        }
    }

    #[test]
    fn guide_loading_never_panics(text in guide_text()) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guide.md");
        std::fs::write(&file, &text).unwrap();
        if let Err(problems) = guide::load(&file) {
            assert_positions_inside(&problems, &[(file, text.into_bytes())])?;
        }
    }

    #[test]
    fn issue_loading_never_panics(issue in issue_bytes(), guide in prop_oneof![
        3 => Just(sample_text("issues/2026-11-25-midweek/guide.md").to_owned()),
        1 => guide_text(),
    ]) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(MIDWEEK);
        std::fs::create_dir(&dir).unwrap();
        let (issue_file, guide_file) = (dir.join("issue.toml"), dir.join("guide.md"));
        std::fs::write(&issue_file, &issue).unwrap();
        std::fs::write(&guide_file, &guide).unwrap();
        let id = MIDWEEK.parse().unwrap();
        if let Err(problems) = content::load_issue(id, &dir, layouts()) {
            assert_positions_inside(&problems, &[(issue_file, issue), (guide_file, guide.into_bytes())])?;
        }
    }
}
