//! `guide.md`: TOML front matter between `+++` lines (title, kind, level,
//! topic, TL;DR, takeaways, related topics), then a Markdown body whose
//! `## Timeline` and `## FAQ` sections become structured blocks.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::fields::Fields;
use super::markdown::{self, Block, Inline};
use crate::diag::{Problem, Problems, read_text, toml_problem, toml_value_problem};
use crate::domain::{Line, Prose};

const MAX_GUIDE_BYTES: u64 = 512 * 1024;

#[derive(Debug, Clone)]
pub struct Guide {
    pub meta: GuideMeta,
    /// Blocks before the first `##` heading.
    pub intro: Vec<Block>,
    pub sections: Vec<GuideSection>,
    pub timeline: Vec<TimelineEntry>,
    pub faq: Vec<Faq>,
    /// Worth telling the editor, not worth stopping for (images without a size).
    pub warnings: Problems,
}

#[derive(Debug, Clone)]
pub struct GuideMeta {
    pub title: Line,
    pub kind: Line,
    pub level: Level,
    pub topic: Line,
    pub tldr: Prose,
    pub takeaways: Vec<Line>,
    pub related: Vec<Line>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Beginner,
    Intermediate,
    Advanced,
}

/// Case does not matter: `level = "intermediate"` is what was meant.
impl<'de> serde::Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const ALL: [Level; 3] = [Level::Beginner, Level::Intermediate, Level::Advanced];
        let s = String::deserialize(d)?;
        ALL.into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                serde::de::Error::unknown_variant(&s, &["Beginner", "Intermediate", "Advanced"])
            })
    }
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Beginner => "Beginner",
            Level::Intermediate => "Intermediate",
            Level::Advanced => "Advanced",
        }
    }
}

#[derive(Debug, Clone)]
pub struct GuideSection {
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    /// The bold lead of the item ("2024", "May 2024"), if any.
    pub when: Option<String>,
    pub what: Vec<Inline>,
}

#[derive(Debug, Clone)]
pub struct Faq {
    pub question: String,
    pub answer: Vec<Block>,
}

pub fn load(file: &Path) -> Result<Guide, Problems> {
    let src = read_text(file, MAX_GUIDE_BYTES).map_err(|p| {
        if p.message.starts_with("cannot read") {
            Problems::from(
                Problem::error(file, "the featured guide is missing")
                    .hint("every issue folder needs a guide.md; `almanac new` writes a template"),
            )
        } else {
            Problems::from(p)
        }
    })?;
    let (fm, body) = split_front_matter(file, &src)?;
    let meta = front_matter(file, &src, fm)?;
    let located = |severity: fn(&Path, String) -> Problem, found: Vec<markdown::MdError>| {
        let shifted = found.into_iter().map(|(span, msg, hint)| {
            severity(file, msg)
                .at(&src, body.start + span.start..body.start + span.end)
                .hint(hint)
        });
        Problems(shifted.collect())
    };
    let doc = markdown::parse_with_warnings(&src[body.clone()])
        .map_err(|errs| located(Problem::error, errs))?;
    let mut guide = structure(file, &src, body.start, meta, doc.blocks)?;
    guide.warnings = located(Problem::warning, doc.warnings).capped(super::MAX_PROBLEMS_PER_FILE);
    Ok(guide)
}

const FRONT_MATTER_KEYS: &[&str] = &[
    "title",
    "kind",
    "level",
    "topic",
    "tldr",
    "takeaways",
    "related",
];

/// Reads the front matter (`fm`, a range of `src`) field by field, so every
/// bad value is reported in one run.
fn front_matter(file: &Path, src: &Arc<str>, fm: Range<usize>) -> Result<GuideMeta, Problems> {
    let text = &src[fm.clone()];
    let doc = toml::de::DeTable::parse(text)
        .map_err(|e| shift(toml_problem(file, &Arc::from(text), &e), src, fm.start))?;
    let mut f = Fields::new(doc.get_ref(), 0..0);
    let title = f.required::<Line>("title");
    let kind = f.required::<Line>("kind");
    let level = f.required::<Level>("level");
    let topic = f.required::<Line>("topic");
    let tldr = f.required::<Prose>("tldr");
    let takeaways = f.optional::<Vec<Line>>("takeaways");
    let related = f.optional::<Vec<Line>>("related");
    f.deny_unknown(FRONT_MATTER_KEYS);
    // Missing keys are reported at the opening `+++`.
    let opening = src[..fm.start].trim_end().len().saturating_sub(3);
    let problems = Problems(
        f.take_errors()
            .into_iter()
            .map(|(span, msg)| {
                let span = match span.is_empty() {
                    true => opening..opening + 3,
                    false => fm.start + span.start..fm.start + span.end,
                };
                toml_value_problem(file, src, span, msg)
            })
            .collect(),
    );
    let meta = (|| {
        Some(GuideMeta {
            title: title?.into_inner(),
            kind: kind?.into_inner(),
            level: level?.into_inner(),
            topic: topic?.into_inner(),
            tldr: tldr?.into_inner(),
            takeaways: takeaways?.map_or_else(Vec::new, |t| t.into_inner()),
            related: related?.map_or_else(Vec::new, |r| r.into_inner()),
        })
    })();
    match meta {
        Some(meta) if problems.is_empty() => Ok(meta),
        _ => Err(problems),
    }
}

/// Re-anchors a problem found in a slice of the file to the whole file.
fn shift(mut p: Problem, whole: &Arc<str>, offset: usize) -> Problem {
    if let Some(span) = p.span.take() {
        p = p.at(whole, offset + span.start..offset + span.end);
    }
    p
}

/// Finds the front matter between the first two `+++` lines: returns the byte
/// ranges of the TOML and of the Markdown body.
fn split_front_matter(
    file: &Path,
    src: &Arc<str>,
) -> Result<(Range<usize>, Range<usize>), Problem> {
    let hint = "start guide.md with a line `+++`, the TOML front matter (title, kind, level, topic, tldr, takeaways, related), another `+++` line, then the Markdown body";
    let start = src.strip_prefix('\u{feff}').map_or(0, |_| 3);
    let first = src[start..].split_inclusive('\n').next().unwrap_or("");
    if first.trim_end() != "+++" {
        let hint = if first.trim_end() == "---" {
            "almanac's front matter is TOML between `+++` lines, not YAML between `---` (the Jekyll/Hugo habit): make both `---` lines `+++` and write the fields as TOML, e.g. title = \"...\""
        } else {
            hint
        };
        return Err(
            Problem::error(file, "guide.md does not start with front matter")
                .at(src, start..start + first.trim_end().len())
                .hint(hint),
        );
    }
    let fm_start = start + first.len();
    let mut offset = fm_start;
    for line in src[fm_start..].split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Ok((fm_start..offset, offset + line.len()..src.len()));
        }
        offset += line.len();
    }
    Err(Problem::error(file, "the front matter is never closed")
        .at(src, start..start + 3)
        .hint("add a line containing only `+++` after the front matter"))
}

/// A `##` section being collected: heading, its span, its blocks.
type Pending = (String, Range<usize>, Vec<(Block, Range<usize>)>);

/// Splits the parsed body into intro, sections, timeline and FAQ.
fn structure(
    file: &Path,
    src: &Arc<str>,
    body_offset: usize,
    meta: GuideMeta,
    doc: Vec<(Block, Range<usize>)>,
) -> Result<Guide, Problems> {
    let mut guide = Guide {
        meta,
        intro: Vec::new(),
        sections: Vec::new(),
        timeline: Vec::new(),
        faq: Vec::new(),
        warnings: Problems::default(),
    };
    let mut problems = Problems::default();
    let mut current: Option<Pending> = None;
    let mut finished = Vec::new();
    for (block, span) in doc {
        match block {
            Block::Heading(2, inl) => {
                finished.extend(current.take());
                current = Some((markdown::plain(&inl), span, Vec::new()));
            }
            other => match &mut current {
                Some((_, _, blocks)) => blocks.push((other, span)),
                None => guide.intro.push(other),
            },
        }
    }
    finished.extend(current);
    for (heading, span, blocks) in finished {
        let at = |msg: String, hint: &str| {
            Problem::error(file, msg)
                .at(src, body_offset + span.start..body_offset + span.end)
                .hint(hint)
        };
        match heading.to_lowercase().as_str() {
            "timeline" => match timeline(blocks) {
                Ok(t) => guide.timeline = t,
                Err(msg) => problems.push(at(
                    msg,
                    "write the timeline as a list: `1. **2024** — What happened.`",
                )),
            },
            "faq" => match faq(blocks) {
                Ok(f) => guide.faq = f,
                Err(msg) => problems.push(at(
                    msg,
                    "write each question as a `### Question?` heading followed by its answer",
                )),
            },
            _ => guide.sections.push(GuideSection {
                heading,
                blocks: blocks.into_iter().map(|(b, _)| b).collect(),
            }),
        }
    }
    problems.into_result(guide)
}

fn timeline(blocks: Vec<(Block, Range<usize>)>) -> Result<Vec<TimelineEntry>, String> {
    let mut out = Vec::new();
    for (block, _) in blocks {
        let Block::List { items, .. } = block else {
            return Err("the Timeline section may only contain a list".into());
        };
        for item in items {
            let mut inl: Vec<Inline> = item
                .into_iter()
                .flat_map(|b| match b {
                    Block::Paragraph(i) => i,
                    _ => Vec::new(),
                })
                .collect();
            let when = match inl.first() {
                Some(Inline::Strong(s)) => {
                    let w = markdown::plain(s);
                    inl.remove(0);
                    Some(w)
                }
                _ => None,
            };
            if let Some(Inline::Text(t)) = inl.first_mut() {
                *t = t
                    .trim_start_matches(|c: char| c.is_whitespace() || "—–-:".contains(c))
                    .to_owned();
            }
            out.push(TimelineEntry { when, what: inl });
        }
    }
    if out.is_empty() {
        return Err("the Timeline section is empty".into());
    }
    Ok(out)
}

fn faq(blocks: Vec<(Block, Range<usize>)>) -> Result<Vec<Faq>, String> {
    let mut out: Vec<Faq> = Vec::new();
    for (block, _) in blocks {
        match block {
            Block::Heading(3, q) => out.push(Faq {
                question: markdown::plain(&q),
                answer: Vec::new(),
            }),
            other => match out.last_mut() {
                Some(f) => f.answer.push(other),
                None => {
                    return Err("the FAQ section must start with a `### Question?` heading".into());
                }
            },
        }
    }
    if let Some(f) = out.iter().find(|f| f.answer.is_empty()) {
        return Err(format!("the question \"{}\" has no answer", f.question));
    }
    if out.is_empty() {
        return Err("the FAQ section has no questions".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FM: &str = "+++\ntitle = \"T\"\nkind = \"Concept guide\"\nlevel = \"Beginner\"\ntopic = \"x\"\ntldr = \"short\"\n+++\n";

    fn load_str(s: &str) -> Result<Guide, Problems> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("guide.md");
        std::fs::write(&f, s).unwrap();
        load(&f)
    }

    #[test]
    fn structure_is_found() {
        let g = load_str(&format!(
            "{FM}Intro.\n\n## What\nBody.\n\n## Timeline\n1. **2024** — A thing.\n2. Another.\n\n## FAQ\n### Why?\nBecause.\n"
        ))
        .unwrap();
        assert_eq!(g.intro.len(), 1);
        assert_eq!(g.sections.len(), 1);
        assert_eq!(g.timeline[0].when.as_deref(), Some("2024"));
        assert_eq!(markdown::plain(&g.timeline[0].what), "A thing.");
        assert_eq!(g.faq[0].question, "Why?");
    }

    #[test]
    fn front_matter_errors_are_located_in_the_file() {
        let e = load_str("+++\ntitle = \"T\"\nlevel = \"Expert\"\n+++\n").unwrap_err();
        let level = e.0.iter().find(|p| p.message.contains("Expert")).unwrap();
        assert_eq!(level.line_col().map(|l| l.0), Some(3), "{e}");
        let e = load_str("no front matter").unwrap_err();
        assert!(e.0[0].message.contains("front matter"));
    }

    #[test]
    fn every_front_matter_error_is_reported() {
        let e = load_str("+++\ntitle = 1\nlevel = \"Expert\"\ntldr = \"x\"\nextra = 2\n+++\n")
            .unwrap_err();
        let at: Vec<_> = e.0.iter().map(|p| p.line_col().unwrap()).collect();
        assert_eq!(at, [(1, 1), (2, 9), (3, 9), (5, 1)], "{e}");
        assert!(e.0[0].message.contains("`kind` and `topic`"), "{e}");
    }

    #[test]
    fn images_without_a_width_are_a_located_warning() {
        let g = load_str(&format!(
            "{FM}\n![A](https://e.com/a.png){{width=600}}\n\nText ![B](https://e.com/b.png).\n"
        ))
        .unwrap();
        let w: Vec<_> = g.warnings.0.iter().map(|p| p.line_col().unwrap()).collect();
        assert_eq!(w, [(11, 6)], "{}", g.warnings);
        assert!(!g.warnings.has_errors());
    }

    #[test]
    fn raw_html_is_rejected_with_its_line() {
        let e = load_str(&format!("{FM}\nHello <script>x</script>\n")).unwrap_err();
        assert!(e.0[0].message.contains("HTML"));
        assert_eq!(e.0[0].line_col().map(|l| l.0), Some(9));
    }
}
