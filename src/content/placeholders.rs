//! Placeholders an editor left in: `TODO`, `TK`, `TBD`, `FIXME`, the
//! scaffold's own template sentences, lorem ipsum, and links to the
//! example domains. Found in the files' text (outside TOML comments and
//! Markdown code), so each is reported at its own line and column: as an
//! error in a ready issue, as a warning in a draft.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::diag::{Problem, Severity};

/// Words that mark unfinished text, matched as whole upper-case words.
const MARKERS: [&str; 4] = ["TODO", "TK", "TBD", "FIXME"];

/// Sentences of `almanac new`'s templates, matched without case.
const TEMPLATE: [&str; 11] = [
    "write the subject",
    "one sentence that makes people open the email",
    "a short note to readers",
    "the item's headline",
    "where it was published",
    "two to four sentences in your own words",
    "the guide's title",
    "the guide in two sentences",
    "first key takeaway",
    "an introductory paragraph",
    "a question readers ask",
];

/// The kinds of file scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Toml,
    /// Markdown with TOML front matter between `+++` lines.
    Markdown,
}

/// One placeholder: where, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub span: Range<usize>,
    pub what: String,
}

/// Every placeholder in `src`, except words listed in `allow`.
pub fn scan(src: &str, kind: Kind, allow: &[String]) -> Vec<Found> {
    let mut found = Vec::new();
    for (start, line) in text_lines(src, kind) {
        markers(line, start, allow, &mut found);
        phrases(line, start, &mut found);
        example_links(line, start, &mut found);
    }
    found.sort_by_key(|f| f.span.start);
    found
}

/// The problems for a file's placeholders, errors unless `draft`.
pub fn problems(
    file: &Path,
    src: &Arc<str>,
    kind: Kind,
    allow: &[String],
    draft: bool,
) -> Vec<Problem> {
    scan(src, kind, allow)
        .into_iter()
        .map(|f| {
            let mut p = Problem::error(file, format!("placeholder left in: {}", f.what))
                .at(src, f.span)
                .hint(if draft {
                    "fine in a draft; replace it before setting draft = false"
                } else {
                    "replace it with the real text (or, for a word that is meant, list it in `allow_words` in issue.toml)"
                });
            if draft {
                p.severity = Severity::Warning;
            }
            p
        })
        .collect()
}

/// The lines worth reading, with their byte offsets: TOML comment lines
/// and Markdown code (fences and indented blocks) are left out.
fn text_lines(src: &str, kind: Kind) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut fenced = false;
    let mut front_matter = false;
    for (n, line) in src.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let toml_part = kind == Kind::Toml || front_matter;
        if kind == Kind::Markdown && trimmed.trim_end() == "+++" {
            // Only a `+++` on the first line opens front matter; the next closes it.
            front_matter = n == 0;
            continue;
        }
        if toml_part {
            if !trimmed.starts_with('#') {
                out.push((start, line));
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        out.push((start, line));
    }
    out
}

fn markers(line: &str, start: usize, allow: &[String], found: &mut Vec<Found>) {
    let mut in_code = false;
    // Words are runs of letters and digits (any script, so `TODOé` is one
    // word and not a marker); backticks open and close code spans.
    let mut word_start = None;
    for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
        if c.is_alphanumeric() {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(w) = word_start.take() {
            let word = &line[w..i];
            if !in_code && MARKERS.contains(&word) && !allow.iter().any(|a| a == word) {
                found.push(Found {
                    span: start + w..start + i,
                    what: format!("`{word}`"),
                });
            }
        }
        if c == '`' {
            in_code = !in_code;
        }
    }
}

fn phrases(line: &str, start: usize, found: &mut Vec<Found>) {
    let lower = line.to_ascii_lowercase();
    for phrase in TEMPLATE.iter().chain(["lorem ipsum"].iter()) {
        if let Some(at) = lower.find(phrase) {
            let what = if *phrase == "lorem ipsum" {
                "lorem ipsum".to_string()
            } else {
                format!("the template's \"{phrase}\"")
            };
            found.push(Found {
                span: start + at..start + at + phrase.len(),
                what,
            });
        }
    }
}

/// Links to example.com, example.org, example.net (or their subdomains),
/// which never lead anywhere a reader wants.
fn example_links(line: &str, start: usize, found: &mut Vec<Found>) {
    let mut from = 0;
    while let Some(at) = line[from..].find("://") {
        let scheme_start = line[..from + at]
            .char_indices()
            .rev()
            .find(|(_, c)| !c.is_ascii_alphanumeric())
            .map_or(0, |(p, c)| p + c.len_utf8());
        let end = line[from + at..]
            .find(|c: char| c.is_whitespace() || "\"'<>)]".contains(c))
            .map_or(line.len(), |e| from + at + e);
        let link = &line[scheme_start..end];
        if let Ok(url) = url::Url::parse(link)
            && let Some(host) = url.host_str()
            && ["example.com", "example.org", "example.net"]
                .iter()
                .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        {
            found.push(Found {
                span: start + scheme_start..start + end,
                what: format!("the example link {link}"),
            });
        }
        from = end.max(from + at + 3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(src: &str, kind: Kind) -> Vec<String> {
        scan(src, kind, &[]).into_iter().map(|f| f.what).collect()
    }

    #[test]
    fn markers_are_whole_upper_case_words() {
        let src = "subject = \"TODO: write it\"\n# TODO in a comment is fine\nnote = \"Todo lists, TKO, TK.\"\n";
        assert_eq!(whats(src, Kind::Toml), ["`TODO`", "`TK`"]);
        let found = scan(src, Kind::Toml, &[]);
        assert_eq!(&src[found[0].span.clone()], "TODO");
        assert!(scan(src, Kind::Toml, &["TK".into(), "TODO".into()]).is_empty());
    }

    #[test]
    fn template_sentences_lorem_and_example_links() {
        let src = "summary = \"\"\"\nTwo to four sentences in your own words.\n\"\"\"\nurl = \"https://example.com/TODO\"\nx = \"https://www.example.org/a\"\ny = \"https://examples.com/\"\nz = \"Lorem ipsum dolor\"\n";
        let w = whats(src, Kind::Toml);
        assert_eq!(w.len(), 5, "{w:?}");
        assert!(w[0].contains("two to four"));
        assert!(w[1].contains("https://example.com/TODO") && w[2] == "`TODO`");
        assert!(w[3].contains("www.example.org"));
        assert_eq!(w[4], "lorem ipsum");
    }

    #[test]
    fn markdown_code_is_not_text() {
        let src = "+++\ntitle = \"TBD\"\n+++\n\nBody with `TODO` in code.\n\n```\nTODO()\n```\n\n    TODO indented\n\nA real FIXME.\n";
        assert_eq!(whats(src, Kind::Markdown), ["`TBD`", "`FIXME`"]);
    }
}
