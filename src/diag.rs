//! Problems a person can act on: which file, which line and column, what is
//! wrong and how to fix it. Loaders collect every problem they can find in
//! one pass and hand back a `Problems` list; `main` prints it once.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in one file. `source` holds the file's text (when it was
/// readable as UTF-8) so the report can show the offending line.
#[derive(Debug, Clone)]
pub struct Problem {
    pub severity: Severity,
    pub file: PathBuf,
    pub source: Option<Arc<str>>,
    pub span: Option<Range<usize>>,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn error(file: &Path, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            file: file.to_owned(),
            source: None,
            span: None,
            message: message.into(),
            hint: None,
        }
    }
    pub fn warning(file: &Path, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(file, message)
        }
    }
    pub fn at(mut self, source: &Arc<str>, span: Range<usize>) -> Self {
        let end = span.end.min(source.len());
        let start = span.start.min(end);
        self.source = Some(source.clone());
        self.span = Some(start..end);
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and column of the start of the span, counting columns in
    /// characters as editors do.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (src, span) = (self.source.as_ref()?, self.span.as_ref()?);
        Some(line_col(src, span.start))
    }

    /// The problem as JSON, for `--json` reports.
    pub fn to_json(&self) -> serde_json::Value {
        let (line, column) = self.line_col().unzip();
        serde_json::json!({
            "severity": if self.is_error() { "error" } else { "warning" },
            "file": self.file.display().to_string(),
            "line": line,
            "column": column,
            "message": self.message,
            "hint": self.hint,
        })
    }

    /// `path:line:col` (or just `path`), the form editors and terminals link.
    pub fn location(&self) -> String {
        match self.line_col() {
            Some((l, c)) => format!("{}:{l}:{c}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }
}

pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

impl std::error::Error for Problem {}

/// The miette view of a problem, so the terminal shows the line with a caret.
struct Pretty<'a> {
    p: &'a Problem,
    src: Option<NamedSource<Arc<str>>>,
}

impl fmt::Debug for Pretty<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.p, f)
    }
}
impl fmt::Display for Pretty<'_> {
    /// With a snippet, whose header names `path:line:col`, the message
    /// alone: the location is printed once.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_snippet() {
            write!(f, "{}", self.p.message)
        } else {
            write!(f, "{}", self.p)
        }
    }
}

impl Pretty<'_> {
    fn has_snippet(&self) -> bool {
        self.src.is_some() && self.p.span.is_some()
    }
}
impl std::error::Error for Pretty<'_> {}

impl Diagnostic for Pretty<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.p.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.p
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.src.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.p.span.clone()?;
        self.src.as_ref()?;
        let len = span.len().max(1);
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some("here".into()),
            span.start,
            len.min(200),
        ))))
    }
}

/// A list of problems; an `Err(Problems)` means at least one is an error.
#[derive(Debug, Default, Clone)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, p: Problem) {
        self.0.push(p);
    }
    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Problem::is_error)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
    pub fn errors(&self) -> usize {
        self.0.iter().filter(|p| p.is_error()).count()
    }
    pub fn warnings(&self) -> usize {
        self.0.len() - self.errors()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(value)` if nothing is an error, else the whole list.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(value)
        }
    }

    /// At most `max` problems per file, then one that says how many more
    /// there are. Thousands of problems (a line repeated 40 000 times) help
    /// nobody, and locating each one scans its file, which made reporting
    /// them take minutes.
    pub fn capped(self, max: usize) -> Problems {
        let mut kept: Vec<Problem> = Vec::new();
        // Per file: how many were left out, and their worst severity.
        let mut dropped: Vec<(PathBuf, usize, Severity)> = Vec::new();
        for p in self.0 {
            if kept.iter().filter(|k| k.file == p.file).count() < max {
                kept.push(p);
            } else if let Some(d) = dropped.iter_mut().find(|d| d.0 == p.file) {
                d.1 += 1;
                d.2 = d.2.max(p.severity);
            } else {
                dropped.push((p.file.clone(), 1, p.severity));
            }
        }
        for (file, n, severity) in dropped {
            let p = Problem::error(
                &file,
                format!("{n} more problems in this file are not shown"),
            );
            kept.push(Problem { severity, ..p }.hint(format!("fix the first {max} and run again")));
        }
        Problems(kept)
    }

    /// Renders every problem, with source snippets when `fancy`.
    pub fn render(&self, fancy: bool) -> String {
        let mut out = String::new();
        for p in &self.0 {
            if fancy {
                out.push_str(&render_pretty(p));
            } else {
                let kind = if p.is_error() { "error" } else { "warning" };
                out.push_str(&format!("{}: {kind}: {}\n", p.location(), p.message));
                if let Some(h) = &p.hint {
                    out.push_str(&format!("  hint: {h}\n"));
                }
            }
        }
        out
    }
}

fn render_pretty(p: &Problem) -> String {
    let src = p
        .source
        .as_ref()
        .map(|s| NamedSource::new(p.file.display().to_string(), s.clone()).with_language("toml"));
    let pretty = Pretty { p, src };
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_context_lines(1);
    let mut out = String::new();
    if handler.render_report(&mut out, &pretty).is_err() {
        out = format!("{p}\n");
    }
    format!("{}\n", out.trim_end())
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Problems {}

impl From<Problem> for Problems {
    fn from(p: Problem) -> Self {
        Problems(vec![p])
    }
}

/// Reads a file that must be UTF-8 text of sensible size, turning every way
/// that can fail into a problem that names the file.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<Arc<str>, Problem> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Problem::error(path, format!("cannot read this file: {e}"))
            .hint("check that the path exists and is readable")
    })?;
    if meta.len() > max_bytes {
        return Err(Problem::error(
            path,
            format!(
                "this file is {} bytes; files here are limited to {} bytes",
                meta.len(),
                max_bytes
            ),
        )
        .hint("is this the right file? content files are small text files"));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Problem::error(path, format!("cannot read this file: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Arc::from(s)),
        Err(e) => {
            let good = e.utf8_error().valid_up_to();
            let lossy: Arc<str> = Arc::from(String::from_utf8_lossy(e.as_bytes()).into_owned());
            let (line, col) = line_col(&lossy, good);
            Err(Problem::error(
                path,
                format!("this file is not valid UTF-8 (bad byte at line {line}, column {col})"),
            )
            .at(&lossy, good..good + 1)
            .hint("save the file as UTF-8"))
        }
    }
}

/// Converts a TOML deserialisation error into a problem at its position.
pub fn toml_problem(path: &Path, src: &Arc<str>, e: &toml::de::Error) -> Problem {
    if let Some(p) = toml_nesting_problem(path, src, e) {
        return p;
    }
    let key = e.span().and_then(|s| key_before(src, s.start));
    let (message, worded) = in_words(e.message(), key.as_deref());
    let hint = worded.or_else(|| toml_hint(e.message().trim()));
    let mut p = Problem::error(path, message);
    if let Some(span) = e.span() {
        p = p.at(src, span);
    }
    match hint {
        Some(h) => p.hint(h),
        None => p,
    }
}

/// The key of a `key = value` line whose value starts at `at`.
fn key_before(src: &str, at: usize) -> Option<String> {
    let line_start = src.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = src.get(line_start..at)?.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && key.len() < 64 && !key.contains(['[', '{', ','])).then(|| key.to_owned())
}

/// The toml crate stops at a fixed depth rather than overflowing the stack;
/// its two messages for that are reworded here, and the dotted-key one, which
/// comes without a position, is given one.
fn toml_nesting_problem(path: &Path, src: &Arc<str>, e: &toml::de::Error) -> Option<Problem> {
    let (what, span) = match e.message().trim() {
        "cannot recurse further; max recursion depth met" => {
            ("arrays or inline tables inside each other", e.span())
        }
        "recursion limit" => (
            "a dotted key or table name with too many parts",
            e.span().or_else(|| deep_key_line(src)),
        ),
        _ => return None,
    };
    let mut p = Problem::error(
        path,
        format!("nesting deeper than the TOML reader allows ({what})"),
    )
    .hint("almanac's files need two or three levels at most; look for a run of `[` or `{` or a very long dotted key");
    if let Some(span) = span {
        p = p.at(src, span);
    }
    Some(p)
}

/// The first line whose key is too deep for the toml crate: the shortest
/// prefix of whole lines that the crate itself rejects for it.
fn deep_key_line(src: &str) -> Option<Range<usize>> {
    let ends: Vec<usize> = src.match_indices('\n').map(|(i, _)| i + 1).collect();
    let too_deep = |end: usize| {
        toml::de::DeTable::parse_recoverable(&src[..end])
            .1
            .iter()
            .any(|e| e.message().trim() == "recursion limit")
    };
    let ends: Vec<usize> = ends.into_iter().chain([src.len()]).collect();
    let first = ends.partition_point(|&end| !too_deep(end));
    let end = *ends.get(first)?;
    let start = src[..end.saturating_sub(1)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let indent = src[start..end].len() - src[start..end].trim_start().len();
    Some(start + indent..end)
}

/// A problem with one TOML value found by reading it on its own (see
/// `content::fields`), hinted like a whole-file deserialisation error.
pub fn toml_value_problem(
    path: &Path,
    src: &Arc<str>,
    span: Range<usize>,
    message: String,
) -> Problem {
    let hint = toml_hint(&message);
    let p = Problem::error(path, message).at(src, span);
    match hint {
        Some(h) => p.hint(h),
        None => p,
    }
}

/// A serde or TOML message in an editor's words: what was expected in plain
/// terms and what was found instead (`key` names the field, when known).
/// Returns the message and, when there is one, a hint saying how to fix it.
pub fn in_words(message: &str, key: Option<&str>) -> (String, Option<String>) {
    let message = message.trim();
    let key_at = key.map(|k| format!("`{k}` ")).unwrap_or_default();
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let want = expected_in_words(expected);
        let got = found_in_words(found);
        let hint = found
            .strip_prefix("string \"")
            .and_then(|s| s.strip_suffix('"'))
            .filter(|s| s.parse::<f64>().is_ok() || *s == "true" || *s == "false")
            .map(|bare| match key {
                Some(k) => format!("write it without quotes: {k} = {bare}"),
                None => format!("write it without quotes: {bare}"),
            });
        return (format!("{key_at}must be {want}, not {got}"), hint);
    }
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((word, tail)) = rest.split_once('`')
        {
            let known: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            let (text, hint) = match did_you_mean(word, &known) {
                Some(m) => (
                    format!("unknown {what} `{word}`; did you mean `{m}`?"),
                    None,
                ),
                None if known.is_empty() => (format!("unknown {what} `{word}`"), None),
                None => (
                    format!("unknown {what} `{word}`"),
                    Some(format!("the {what}s allowed here: {}", known.join(", "))),
                ),
            };
            let text = match key {
                Some(k) if what == "value" => format!("`{k}`: {text}"),
                _ => text,
            };
            return (text, hint);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (
            format!("missing key {rest}"),
            Some("add it to this table".into()),
        );
    }
    (message.to_owned(), None)
}

/// The closest of `known` to a misspelt `word`, if one is close enough to
/// be what was meant (case aside, or a letter or two off).
pub fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    known
        .iter()
        .map(|k| (k, strsim::levenshtein(&lower, &k.to_lowercase())))
        .filter(|(k, d)| *d <= 2.max(k.chars().count() / 4))
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| *k)
}

fn expected_in_words(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize"
        | "an integer" => "a whole number".into(),
        "f32" | "f64" | "a float" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "a borrowed string" | "a character" => "text in quotes".into(),
        "a sequence" => "a list in [ ]".into(),
        "a map" => "a table".into(),
        _ if e.starts_with("struct ") => "a table".into(),
        _ => e.to_owned(),
    }
}

fn found_in_words(found: &str) -> String {
    let f = found.trim();
    if let Some(s) = f.strip_prefix("string ") {
        format!("the text {s}")
    } else if let Some(n) = f.strip_prefix("integer ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(n) = f.strip_prefix("floating point ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(b) = f.strip_prefix("boolean ") {
        b.trim_matches('`').to_owned()
    } else if f == "sequence" {
        "a list".into()
    } else if f == "map" {
        "a table".into()
    } else {
        f.to_owned()
    }
}

fn toml_hint(message: &str) -> Option<String> {
    if message.starts_with("missing field") {
        Some("add the missing key to this table".into())
    } else if message.contains("invalid type") {
        Some("check the value's type: strings are quoted, dates are written bare like 2026-11-25, numbers are bare".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_messages_in_an_editors_words() {
        let (m, h) = in_words("invalid type: string \"6\", expected i64", Some("score"));
        assert_eq!(m, "`score` must be a whole number, not the text \"6\"");
        assert_eq!(h.as_deref(), Some("write it without quotes: score = 6"));
        let (m, _) = in_words(
            "invalid type: integer `7`, expected a string",
            Some("subject"),
        );
        assert_eq!(m, "`subject` must be text in quotes, not the number 7");
        let (m, h) = in_words(
            "unknown field `sumary`, expected one of `title`, `summary`",
            None,
        );
        assert_eq!(
            (m.as_str(), h),
            ("unknown key `sumary`; did you mean `summary`?", None)
        );
        let (m, h) = in_words(
            "unknown field `zzz`, expected one of `title`, `summary`",
            None,
        );
        assert_eq!(m, "unknown key `zzz`");
        assert_eq!(h.as_deref(), Some("the keys allowed here: title, summary"));
        assert_eq!(
            did_you_mean("INTERMEDIATE", &["Beginner", "Intermediate"]),
            Some("Intermediate")
        );
        assert_eq!(did_you_mean("colour", &["name", "tagline"]), None);
    }

    #[test]
    fn the_location_is_printed_once_on_a_terminal() {
        let src: Arc<str> = Arc::from("a = 1\nscore = \"6\"\n");
        let e = toml::from_str::<std::collections::BTreeMap<String, i64>>(&src).unwrap_err();
        let p = toml_problem(Path::new("f.toml"), &src, &e);
        let out = Problems::from(p).render(true);
        assert_eq!(out.matches("f.toml:2:9").count(), 1, "{out}");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncdé f", 7), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }

    #[test]
    fn toml_nesting_is_located_and_reworded() {
        let deep = format!("a = 1\n\n  x{} = 1\n", ".a".repeat(1000));
        let src: Arc<str> = Arc::from(deep.as_str());
        let e = toml::from_str::<toml::Table>(&src).unwrap_err();
        let p = toml_problem(Path::new("f.toml"), &src, &e);
        assert_eq!(p.line_col(), Some((3, 3)), "{p}");
        assert!(p.message.starts_with("nesting deeper"), "{p}");
    }

    #[test]
    fn problems_are_capped_per_file() {
        let p = |f: &str| Problem::error(Path::new(f), "x");
        let all = Problems((0..5).map(|_| p("a")).chain([p("b")]).collect());
        let capped = all.capped(2);
        let files: Vec<_> = capped
            .0
            .iter()
            .map(|p| p.file.display().to_string())
            .collect();
        assert_eq!(files, ["a", "a", "b", "a"]);
        assert!(capped.0[3].message.starts_with("3 more problems"));
    }

    #[test]
    fn non_utf8_names_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.toml");
        std::fs::write(&f, b"a = 1\nb = \"\xff\"\n").unwrap();
        let p = read_text(&f, 1000).unwrap_err();
        assert_eq!(p.line_col(), Some((2, 6)));
    }
}
