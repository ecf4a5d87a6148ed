//! Whatever the input (issue 11): random and structured mutations of every
//! kind of file the editor or operator writes, run through the real binary.
//! Each run must exit 0, or 1 with an error that names its file (and, where
//! there is one, its line and column); never panic, die of a signal or hang;
//! and never leave a half-written build: after a failed `build` the issue's
//! output folder is the previous complete build, and no temporary folder is
//! left behind.
//!
//! Cases per file kind: `ALMANAC_PROPTEST_CASES` (default 64: about 15 s for
//! the whole file on two cores; CI's budget is a minute or two).

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{MIDWEEK, Sample};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

/// A run that takes longer than this has hung.
const TIMEOUT: Duration = Duration::from_secs(20);

const ISSUE: &str = "issues/2026-11-25-midweek/issue.toml";
const GUIDE: &str = "issues/2026-11-25-midweek/guide.md";
const CONFIG: &str = "newsletter.toml";
const EDITION: &str = "layouts/editions/midweek.toml";
const CSS: &str = "layouts/email.css";
const CSV: &str = "subscribers.example.csv";

const BUILD_FILES: [&str; 4] = ["email.html", "email.txt", "web.html", "message.eml"];

fn config() -> Config {
    let cases = std::env::var("ALMANAC_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    Config {
        cases,
        // Every shrinking step runs the binary twice; a few dozen are
        // enough to get a readable input.
        max_shrink_iters: 64,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Mutations

/// One change to a file's bytes. Positions wrap around the length, so any
/// value is valid for any file.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    /// XOR a byte.
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    /// Insert at the start of a line, where Markdown's block syntax and
    /// TOML's keys and tables begin.
    InsertAtLine(usize, Vec<u8>),
    /// Replace what follows the first `=` or `:` (a value) on a line.
    SwapValue(usize, Vec<u8>),
    DeleteLine(usize),
    /// Repeat a line many times.
    RepeatLine(usize, usize),
}

/// A file kind's own syntax: tokens to insert, and how it nests, as
/// `(before, unit, after)`: a line `before + unit × n + after` nests `n` deep.
struct Syntax {
    tokens: &'static [&'static str],
    nest: &'static [(&'static str, &'static str, &'static str)],
}

/// A line nested `n` deep in the kind's own syntax, `n` from a little to
/// far past any limit.
fn nested_line(syntax: &'static Syntax) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(syntax.nest),
        prop::sample::select(vec![40usize, 10_000, 100_000]),
    )
        .prop_map(|((before, unit, after), n)| {
            format!("{before}{}{after}\n", unit.repeat(n)).into_bytes()
        })
}

/// Structured insertions: type swaps, control characters, deep nesting,
/// huge values, injection strings, plus each kind's own syntax.
fn token(own: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    const COMMON: &[&str] = &[
        "\u{0}",
        "\u{7}",
        "\r",
        "\r\n",
        "\u{1b}[31m",
        "\u{feff}",
        "\u{202e}",
        "\u{E000}",
        "\u{fffd}",
        "é",
        "\"",
        "'",
        "\\",
        "\n",
        "=",
        "1",
        "-1",
        "0",
        "true",
        "[]",
        "{}",
        "1979-05-27",
        "2026-02-30",
        "9999999999999999999999",
        "1e400",
        "nan",
        "\"\"\"",
        "'''",
        "<script>alert(1)</script>",
        "</style>",
        "<!--",
        "javascript:alert(1)",
        "http://x",
        "https://",
        "%0d%0aBcc: x@example.com",
        "\r\nBcc: x@example.com",
        "${HOME}",
        "$(id)",
        "=cmd|' /C calc'!A0",
        "{{name}}",
    ];
    let deep = prop_oneof![
        Just("["),
        Just("{a="),
        Just(">"),
        Just("- "),
        Just("1. "),
        Just("*"),
        Just("{"),
        Just("("),
        Just("@media x{"),
        Just("a.")
    ]
    .prop_flat_map(|unit| {
        prop::sample::select(vec![40usize, 1_000, 100_000])
            .prop_map(move |n| unit.repeat(n).into_bytes())
    });
    let huge = prop::sample::select(vec![1_000usize, 100_000, 600_000])
        .prop_map(|n| "x".repeat(n).into_bytes());
    prop_oneof![
        4 => prop::sample::select(COMMON).prop_map(|t| t.as_bytes().to_vec()),
        4 => prop::sample::select(own).prop_map(|t| t.as_bytes().to_vec()),
        1 => deep,
        1 => huge,
        1 => prop::collection::vec(any::<u8>(), 1..16),
    ]
}

fn mutation(syntax: &'static Syntax) -> impl Strategy<Value = Mutation> {
    let own = syntax.tokens;
    prop_oneof![
        2 => (any::<usize>(), nested_line(syntax)).prop_map(|(l, t)| Mutation::InsertAtLine(l, t)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        // Mostly ASCII for ASCII: a high bit makes invalid UTF-8, which is
        // caught before anything else looks at the file.
        2 => (any::<usize>(), prop_oneof![3 => 1..=127u8, 1 => 128..=255u8])
            .prop_map(|(at, x)| Mutation::Flip(at, x)),
        3 => (any::<usize>(), token(own)).prop_map(|(at, t)| Mutation::Insert(at, t)),
        3 => (any::<usize>(), token(own)).prop_map(|(l, t)| Mutation::InsertAtLine(l, t)),
        3 => (any::<usize>(), token(own)).prop_map(|(l, t)| Mutation::SwapValue(l, t)),
        1 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => (any::<usize>(), prop::sample::select(vec![2usize, 100, 20_000]))
            .prop_map(|(l, n)| Mutation::RepeatLine(l, n)),
    ]
}

/// The byte ranges of the lines of `bytes`, newline included.
fn lines(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push(start..bytes.len());
    }
    out
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let wrap = |at: usize, len: usize| at % (len + 1);
    let line = |bytes: &[u8], i: usize| {
        let ls = lines(bytes);
        (!ls.is_empty()).then(|| ls[i % ls.len()].clone())
    };
    match m {
        Mutation::Truncate(at) => bytes.truncate(wrap(*at, bytes.len())),
        Mutation::Flip(at, x) if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        Mutation::Flip(..) => {}
        Mutation::Insert(at, t) => {
            let at = wrap(*at, bytes.len());
            bytes.splice(at..at, t.iter().copied());
        }
        Mutation::InsertAtLine(i, t) => {
            let at = line(&bytes, *i).map_or(0, |r| r.start);
            bytes.splice(at..at, t.iter().copied());
        }
        Mutation::SwapValue(i, t) => {
            if let Some(r) = line(&bytes, *i) {
                let text = &bytes[r.clone()];
                if let Some(eq) = text.iter().position(|b| *b == b'=' || *b == b':') {
                    let end = r.end - usize::from(text.ends_with(b"\n"));
                    bytes.splice(r.start + eq + 1..end, t.iter().copied());
                }
            }
        }
        Mutation::DeleteLine(i) => {
            if let Some(r) = line(&bytes, *i) {
                bytes.drain(r);
            }
        }
        Mutation::RepeatLine(i, n) => {
            if let Some(r) = line(&bytes, *i) {
                let l = bytes[r.clone()].to_vec();
                let at = r.end;
                // A 600 KB line repeated 20 000 times would be 12 GB in the
                // harness itself: cap the growth at 8 MB, past every limit.
                let n = (*n).min((8 << 20) / l.len().max(1)).max(1);
                bytes.splice(at..at, l.repeat(n));
            }
        }
    }
    bytes
}

fn mutated(base: &'static [u8], syntax: &'static Syntax) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(mutation(syntax), 1..4)
        .prop_map(move |ms| ms.iter().fold(base.to_vec(), apply))
}

// ---------------------------------------------------------------------------
// Running the binary

/// Repository files read once, by path.
type FileCache = std::sync::Mutex<Vec<(String, &'static [u8])>>;

fn repo_file(rel: &str) -> &'static [u8] {
    static FILES: OnceLock<FileCache> = OnceLock::new();
    let files = FILES.get_or_init(Default::default);
    let mut files = files.lock().unwrap();
    if let Some((_, b)) = files.iter().find(|(r, _)| r == rel) {
        return b;
    }
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    files.push((rel.to_owned(), bytes));
    bytes
}

/// The files of a clean build of the sample issue, as the "previous build"
/// every case starts with.
fn previous_build() -> &'static Vec<(&'static str, Vec<u8>)> {
    static BUILD: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    BUILD.get_or_init(|| {
        let sample = Sample::new();
        let dir = sample.build(MIDWEEK);
        BUILD_FILES
            .iter()
            .map(|f| (*f, std::fs::read(dir.join(f)).expect("a built file")))
            .collect()
    })
}

/// A fresh sample with the subscriber list and a previous complete build.
fn sample() -> Sample {
    let sample = Sample::new();
    sample.write(CSV, repo_file(CSV));
    for (name, bytes) in previous_build() {
        sample.write(Path::new("out").join(MIDWEEK).join(name), bytes);
    }
    sample
}

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
}

/// Runs `almanac ARGS`, killing it after `TIMEOUT`.
fn run(sample: &Sample, args: &[&str]) -> Result<Run, TestCaseError> {
    let mut child: Child = sample
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TestCaseError::fail(format!("cannot run almanac: {e}")))?;
    let mut pipe = child.stderr.take().expect("piped stderr");
    // Read stderr while waiting, so a full pipe never blocks the child.
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = pipe.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for almanac") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TestCaseError::fail(format!(
                "almanac {} hung (killed after {TIMEOUT:?})",
                args.join(" ")
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Run {
        code: status.code(),
        signal: status.signal(),
        stderr: reader.join().unwrap_or_default(),
    })
}

/// A stderr line that names a file: `path:line[:col]: ...`, `path: error: ...`,
/// optionally after `error: `.
fn names_a_file(line: &str) -> bool {
    let l = line.strip_prefix("error: ").unwrap_or(line);
    let Some((path, rest)) = l.split_once(':') else {
        return false;
    };
    let file_like = !path.is_empty()
        && !path.contains(char::is_whitespace)
        && (path.contains('.') || path.contains('/'));
    file_like && (rest.starts_with(|c: char| c.is_ascii_digit()) || rest.starts_with(" error"))
}

/// The end of a long text, for failure messages.
fn tail(s: &str) -> &str {
    let mut i = s.len().saturating_sub(2000);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// What every run must satisfy, whatever the input.
fn check_run(args: &[&str], r: &Run) -> Result<(), TestCaseError> {
    let what = format!("almanac {}", args.join(" "));
    prop_assert!(
        r.signal.is_none(),
        "{what} died of signal {:?}\n{}",
        r.signal,
        tail(&r.stderr)
    );
    prop_assert!(
        !r.stderr.contains("panicked at"),
        "{what} panicked\n{}",
        tail(&r.stderr)
    );
    prop_assert!(
        matches!(r.code, Some(0 | 1)),
        "{what} exited {:?}\n{}",
        r.code,
        tail(&r.stderr)
    );
    if r.code == Some(1) {
        prop_assert!(
            r.stderr.lines().any(names_a_file),
            "{what} failed without naming a file\n{}",
            tail(&r.stderr)
        );
    }
    Ok(())
}

/// Every folder or file under `dir` whose name says it is temporary.
fn temporaries(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(".tmp") {
            out.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            temporaries(&path, out);
        }
    }
}

/// After a failed build the output is the previous one; after a good one it
/// is complete; never a temporary folder left.
fn check_output(sample: &Sample, build: &Run) -> Result<(), TestCaseError> {
    let dir = sample.path(Path::new("out").join(MIDWEEK));
    let mut tmp = Vec::new();
    temporaries(sample.root(), &mut tmp);
    prop_assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
    if build.code == Some(0) {
        for f in BUILD_FILES {
            prop_assert!(dir.join(f).is_file(), "a good build lacks {f}");
        }
        return Ok(());
    }
    for (name, bytes) in previous_build() {
        let now = std::fs::read(dir.join(name)).unwrap_or_default();
        prop_assert!(
            &now == bytes,
            "after a failed build out/{MIDWEEK}/{name} is not the previous build"
        );
    }
    Ok(())
}

/// Writes `bytes` to `rel` in a fresh sample and runs `commands` on it.
fn run_case(rel: &str, bytes: &[u8], commands: &[&[&str]]) -> Result<(), TestCaseError> {
    let sample = sample();
    sample.write(rel, bytes);
    for args in commands {
        let r = run(&sample, args)?;
        check_run(args, &r)?;
        if args[0] == "build" {
            check_output(&sample, &r)?;
        }
    }
    Ok(())
}

/// Whether every `[paths]` entry of a mutated config is relative and stays
/// below the sample: a flipped byte can make `out = "/ut"`, and the build
/// would write there. (If the file is not TOML, almanac refuses it too.)
fn paths_stay_inside(config: &[u8]) -> bool {
    let Ok(table) = std::str::from_utf8(config)
        .map_err(|_| ())
        .and_then(|t| t.parse::<toml::Table>().map_err(|_| ()))
    else {
        return true;
    };
    let Some(paths) = table.get("paths").and_then(|p| p.as_table()) else {
        return true;
    };
    paths.values().all(|v| {
        v.as_str().is_none_or(|p| {
            let p = Path::new(p);
            p.is_relative() && !p.components().any(|c| c == std::path::Component::ParentDir)
        })
    })
}

const CHECK_AND_BUILD: &[&[&str]] = &[&["check", MIDWEEK], &["build", MIDWEEK]];

// ---------------------------------------------------------------------------
// Each file kind's own syntax

const TOML: Syntax = Syntax {
    tokens: &[
        " = \"x\"",
        " = 1",
        " = [1, \"a\"]",
        " = {a = 1}",
        " = 2026-11-25",
        " = 1979-05-27T07:32:00Z",
        " = true",
        " = \"\"",
        "[[news]]\n",
        "[news]\n",
        "[x]\n",
        "x = 1\n",
        "a.b.c = 1\n",
        "#",
        "\"\"\"\n",
        "'",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\n[[schedule.send]]\n",
        "score = 99\n",
        "url = \"/rel\"\n",
        "edition = \"nope\"\n",
    ],
    nest: &[
        ("x = ", "[", ""),
        ("x = ", "{a = ", ""),
        ("", "a.", "b = 1"),
    ],
};

const MARKDOWN: Syntax = Syntax {
    tokens: &[
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
        ")",
        "![",
        "](",
        "![a](https://e.com/a.png){width=",
        "{width=0}",
        "{height=x}",
        "<b>",
        "<div>\n",
        "\n\n",
        "    ",
        "|a|b|\n|-|-|\n",
        "---\n",
        "&amp;",
        "[^1]",
        "<!-- c -->",
        "## Timeline\n",
        "## FAQ\n",
        "### Q?\n",
        "1. **2024** — x\n",
        "+++\n",
        "~~x~~",
    ],
    nest: &[
        ("", "> ", "x"),
        ("", "- ", "x"),
        ("", "1. ", "x"),
        ("", "*a ", "x"),
    ],
};

const CSS_SYNTAX: Syntax = Syntax {
    tokens: &[
        "display: flex;",
        "position: absolute;",
        "--x: 1px;",
        "var(--accent)",
        "var(--nope)",
        "VAR(--text)",
        "@import url(x.css);",
        "@media (max-width: 1px) {",
        "@font-face { }",
        "float: left;",
        "expression(1)",
        "}",
        "{",
        ";",
        ":",
        "/*",
        "*/",
        "\\",
        "@layer a;",
        "@charset \"x\";",
        "url(",
        "!important",
    ],
    nest: &[
        ("", "@media x{", "p{color:red}"),
        (".a{", "{", ""),
        ("p{color:", "rgb(", ")"),
    ],
};

const CSV_SYNTAX: Syntax = Syntax {
    tokens: &[
        ",",
        "\"",
        "\"\"",
        "\n",
        "\r\n",
        "a@b",
        "x@example.com",
        "X@EXAMPLE.COM",
        "both",
        "midweek",
        "sunday",
        "nope",
        ";",
        "midweek;sunday",
        "2026-13-45",
        ",,,,",
        "email,name,editions\n",
    ],
    nest: &[("", "\"", ""), ("", ",", "")],
};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_issue_toml(bytes in mutated(repo_file(ISSUE), &TOML)) {
        run_case(ISSUE, &bytes, CHECK_AND_BUILD)?;
    }

    #[test]
    fn any_guide_md(bytes in mutated(repo_file(GUIDE), &MARKDOWN)) {
        run_case(GUIDE, &bytes, CHECK_AND_BUILD)?;
    }

    #[test]
    fn any_newsletter_toml(bytes in mutated(repo_file(CONFIG), &TOML)) {
        prop_assume!(paths_stay_inside(&bytes));
        run_case(CONFIG, &bytes, CHECK_AND_BUILD)?;
    }

    #[test]
    fn any_edition_toml(bytes in mutated(repo_file(EDITION), &TOML)) {
        run_case(EDITION, &bytes, CHECK_AND_BUILD)?;
    }

    #[test]
    fn any_email_css(bytes in mutated(repo_file(CSS), &CSS_SYNTAX)) {
        run_case(CSS, &bytes, CHECK_AND_BUILD)?;
    }

    #[test]
    fn any_subscriber_csv(bytes in mutated(repo_file(CSV), &CSV_SYNTAX)) {
        run_case(CSV, &bytes, &[&["subscribers", "check"], &["send", MIDWEEK, "--dry-run"]])?;
    }
}

#[test]
fn the_harness_recognises_located_errors() {
    assert!(names_a_file("issues/x/issue.toml:3:5: error: bad"));
    assert!(names_a_file("newsletter.toml: error: bad"));
    assert!(names_a_file(
        "error: subscribers.example.csv:1: cannot read"
    ));
    assert!(names_a_file(
        "subscribers.example.csv:2: `bad` is not a valid email address"
    ));
    assert!(!names_a_file("error: something went wrong"));
    assert!(!names_a_file("1 error, 0 warnings"));
}
