//! The plain-text part, written from the model (not converted from HTML):
//! wrapped at 78 columns, links as numbered references listed at the end.

use std::collections::HashMap;

use super::View;
use super::personal::Field;
use crate::content::markdown::{Block, Inline};
use crate::layouts::Section;

const WIDTH: usize = 78;

/// Lines of at most 78 columns, broken only at spaces: a URL is never cut
/// (at its `?` or `-`), or a reader's client could not open it.
pub fn wrap<'a>(text: &'a str, first: &'a str, rest: &'a str) -> Vec<std::borrow::Cow<'a, str>> {
    let opts = textwrap::Options::new(WIDTH)
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false);
    textwrap::wrap(text, opts)
}

/// Numbered link references; a URL used twice keeps its first number. The
/// index keeps a guide with thousands of links linear, not quadratic.
#[derive(Default)]
struct Refs {
    urls: Vec<String>,
    index: HashMap<String, usize>,
}

impl Refs {
    fn number(&mut self, url: &str) -> usize {
        if let Some(n) = self.index.get(url) {
            return *n;
        }
        self.urls.push(url.to_owned());
        self.index.insert(url.to_owned(), self.urls.len());
        self.urls.len()
    }
}

struct Writer {
    out: String,
    refs: Refs,
}

impl Writer {
    fn line(&mut self, s: &str) {
        self.out.push_str(s.trim_end());
        self.out.push('\n');
    }
    fn blank(&mut self) {
        if !self.out.ends_with("\n\n") && !self.out.is_empty() {
            self.out.push('\n');
        }
    }
    /// Wraps `text` with `first` before the first line and `rest` before the others.
    fn wrap(&mut self, text: &str, first: &str, rest: &str) {
        for l in wrap(text, first, rest) {
            self.line(&l);
        }
    }
    fn para(&mut self, text: &str) {
        self.wrap(text, "", "");
        self.blank();
    }
    fn heading(&mut self, title: &str, underline: char) {
        self.blank();
        self.line(title);
        self.line(
            &underline
                .to_string()
                .repeat(title.chars().count().min(WIDTH)),
        );
        self.blank();
    }
    fn inlines(&mut self, is: &[Inline]) -> String {
        let mut s = String::new();
        for i in is {
            match i {
                Inline::Text(t) => s.push_str(t),
                Inline::Code(t) => s.push_str(t),
                Inline::Strong(c) => s.push_str(&self.inlines(c)),
                Inline::Emph(c) => s.push_str(&self.inlines(c)),
                Inline::Link { url, children } => {
                    let label = self.inlines(children);
                    let n = self.refs.number(url.as_str());
                    s.push_str(&format!("{label} [{n}]"));
                }
                Inline::Image { url, alt, .. } => {
                    let n = self.refs.number(url.as_str());
                    s.push_str(&format!("[image: {alt}] [{n}]"));
                }
                Inline::Break => s.push(' '),
            }
        }
        s
    }
    fn blocks(&mut self, bs: &[Block], indent: &str) {
        for b in bs {
            match b {
                Block::Paragraph(i) => {
                    let t = self.inlines(i);
                    self.wrap(&t, indent, indent);
                    self.blank();
                }
                Block::Heading(_, i) => {
                    let t = self.inlines(i);
                    self.blank();
                    self.wrap(&t, indent, indent);
                    self.blank();
                }
                Block::List { ordered, items } => {
                    for (n, item) in items.iter().enumerate() {
                        let bullet = if *ordered {
                            format!("{}. ", n + 1)
                        } else {
                            "* ".into()
                        };
                        self.list_item(item, indent, &bullet);
                    }
                    self.blank();
                }
                Block::Quote(inner) => self.blocks(inner, &format!("{indent}> ")),
                Block::Code(t) => {
                    for l in t.lines() {
                        self.line(&format!("{indent}    {l}"));
                    }
                    self.blank();
                }
                Block::Rule => {
                    self.line(&format!("{indent}{}", "-".repeat(20)));
                    self.blank();
                }
            }
        }
    }
    fn list_item(&mut self, item: &[Block], indent: &str, bullet: &str) {
        let first = format!("{indent}  {bullet}");
        let rest = format!("{indent}  {}", " ".repeat(bullet.chars().count()));
        for (i, b) in item.iter().enumerate() {
            match b {
                Block::Paragraph(inl) => {
                    let t = self.inlines(inl);
                    self.wrap(&t, if i == 0 { &first } else { &rest }, &rest);
                }
                other => {
                    if self.out.ends_with("\n\n") {
                        self.out.pop();
                    }
                    self.blocks(std::slice::from_ref(other), &rest);
                    if self.out.ends_with("\n\n") {
                        self.out.pop();
                    }
                }
            }
        }
    }
}

pub fn render(v: &View<'_>) -> String {
    let mut w = Writer {
        out: String::new(),
        refs: Refs::default(),
    };
    let n = &v.config.newsletter;
    w.line(&format!("{} · {}", n.name, v.edition.name).to_uppercase());
    w.line(&v.date_long);
    w.wrap(v.edition.tagline.as_str(), "", "");
    w.blank();
    w.line(&format!("View in your browser: {}", v.web_url));
    w.blank();
    for s in &v.edition.sections {
        match s {
            Section::Note => note(&mut w, v),
            Section::Guide => guide(&mut w, v),
            Section::News => news(&mut w, v),
        }
    }
    references(&mut w);
    footer(&mut w, v);
    w.out
}

fn note(w: &mut Writer, v: &View<'_>) {
    w.line(&format!("Hi {},", Field::Name.marker()));
    w.blank();
    if let Some(note) = &v.issue.note {
        for p in note.paragraphs() {
            w.para(&p);
        }
    }
}

fn guide(w: &mut Writer, v: &View<'_>) {
    let g = &v.issue.guide;
    let m = &g.meta;
    w.blank();
    w.line(&"=".repeat(WIDTH));
    w.line(&format!(
        "FEATURED GUIDE · {} · {}",
        m.kind,
        m.level.as_str()
    ));
    w.line(&"=".repeat(WIDTH));
    w.blank();
    w.wrap(m.title.as_str(), "", "");
    w.line(&format!("Topic: {}", m.topic));
    w.blank();
    w.line("TL;DR");
    for p in m.tldr.paragraphs() {
        w.wrap(&p, "  ", "  ");
        w.blank();
    }
    if !m.takeaways.is_empty() {
        w.line("Key takeaways");
        for t in &m.takeaways {
            w.wrap(t.as_str(), "  * ", "    ");
        }
        w.blank();
    }
    w.blocks(&g.intro, "");
    for s in &g.sections {
        w.heading(&s.heading, '-');
        w.blocks(&s.blocks, "");
    }
    if !g.timeline.is_empty() {
        w.heading("Timeline", '-');
        for e in &g.timeline {
            let what = w.inlines(&e.what);
            match &e.when {
                Some(when) => w.wrap(&format!("{when}: {what}"), "  * ", "    "),
                None => w.wrap(&what, "  * ", "    "),
            }
        }
        w.blank();
    }
    if !g.faq.is_empty() {
        w.heading("FAQ", '-');
        for f in &g.faq {
            w.wrap(&f.question, "Q: ", "   ");
            w.blocks(&f.answer, "   ");
        }
    }
    if !m.related.is_empty() {
        let related: Vec<&str> = m.related.iter().map(|r| r.as_str()).collect();
        w.wrap(&format!("Related: {}", related.join(" · ")), "", "  ");
        w.blank();
    }
}

fn news(w: &mut Writer, v: &View<'_>) {
    w.blank();
    w.line(&"=".repeat(WIDTH));
    w.line(&v.edition.news.heading.as_str().to_uppercase());
    w.line(&"=".repeat(WIDTH));
    w.blank();
    for (i, item) in v.news.iter().enumerate() {
        let n = w.refs.number(item.url.as_str());
        let lead = format!("{}. ", i + 1);
        let pad = " ".repeat(lead.len());
        w.wrap(&format!("{} [{n}]", item.title), &lead, &pad);
        let mut meta = format!(
            "{} · {} · score {}/10",
            item.source,
            item.age(v.issue.date),
            item.score.get()
        );
        if let Some(t) = &item.topic {
            meta.push_str(&format!(" · {t}"));
        }
        w.wrap(&meta, &pad, &pad);
        for p in item.summary.paragraphs() {
            w.wrap(&p, &pad, &pad);
        }
        w.blank();
    }
}

fn references(w: &mut Writer) {
    if w.refs.urls.is_empty() {
        return;
    }
    w.blank();
    w.line("Links");
    w.line("-----");
    let refs = std::mem::take(&mut w.refs.urls);
    for (i, url) in refs.iter().enumerate() {
        // URLs are never wrapped: a broken URL is worse than a long line.
        w.line(&format!("[{}] {url}", i + 1));
    }
    w.blank();
}

fn footer(w: &mut Writer, v: &View<'_>) {
    let n = &v.config.newsletter;
    // The signature separator is dash, dash, space: written directly, since
    // `line` trims trailing whitespace.
    w.out.push_str("-- \n");
    for p in n.why.paragraphs() {
        w.wrap(&p, "", "");
    }
    w.line(&format!(
        "This email was sent to {}.",
        Field::Email.marker()
    ));
    w.line(&format!(
        "Unsubscribe from the {} edition with one click: {}",
        v.edition.name,
        Field::UnsubscribeUrl.marker()
    ));
    w.line(&format!(
        "Choose editions, or leave everything: {}",
        Field::ManageUrl.marker()
    ));
    w.line(&format!(
        "Forwarded to you? Subscribe: {}",
        v.config.subscribe_url()
    ));
    w.wrap(&format!("{} · {}", n.name, n.postal_address), "", "");
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn a_long_url_is_never_cut_at_a_hyphen_or_a_query() {
        let url = "https://almanac.example/confirm?t=v2.AwAAAAAAAAABAAAAAGsXRlQ.FQ_mSETq-x-y";
        let text =
            format!("To confirm, open this link within a week, or nothing happens: {url} thanks");
        let lines = wrap(&text, "", "");
        assert!(lines.iter().any(|l| l.trim() == url), "{lines:?}");
        assert!(lines.iter().all(|l| l.len() <= 78 || l.trim() == url));
    }
}
