//! Markdown (pulldown-cmark) → a small block/inline model that both the HTML
//! and the plain-text renderers walk. Anything an email can't carry safely is
//! rejected here with its position: raw HTML, non-https links, images without
//! alt text, `#` headings (the title comes from front matter).
//!
//! An image's size is given the way Pandoc and Quarto write it, right after
//! the image: `![alt](https://...){width=600 height=300}` (pixels). Markdown
//! itself has no way to say it, and an email needs it: Outlook lays out
//! by the `width` attribute, and a blocked image leaves a box of that size.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::domain::{HttpsUrl, forbidden_char};

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// Level 2 or 3.
    Heading(u8, Vec<Inline>),
    List {
        ordered: bool,
        items: Vec<Vec<Block>>,
    },
    Quote(Vec<Block>),
    Code(String),
    Rule,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Code(String),
    Strong(Vec<Inline>),
    Emph(Vec<Inline>),
    Link {
        url: HttpsUrl,
        children: Vec<Inline>,
    },
    Image {
        url: HttpsUrl,
        alt: String,
        /// In pixels, from `{width=...}` after the image.
        width: Option<u32>,
        height: Option<u32>,
    },
    Break,
}

pub type MdError = (Range<usize>, String, &'static str);

/// How deeply quotes, lists, emphasis and links may sit inside each other.
/// Real guides stay under ten; the limit keeps the model shallow enough for
/// the recursive walks over it (renderers, `plain`, even dropping it), which
/// a guide nested 100 000 deep would otherwise run off the end of the stack.
pub const MAX_NESTING: usize = 32;

/// The largest image size accepted, in pixels: anything more is a typo.
const MAX_IMAGE_PX: u32 = 10_000;

/// Link texts that say nothing out of context (WCAG 2.4.4), as people
/// write them; compared without case, spaces or closing punctuation.
const VAGUE_LINK_TEXTS: &[&str] = &[
    "click here",
    "click",
    "here",
    "read more",
    "more",
    "learn more",
    "link",
    "this link",
    "this",
    "continue reading",
    "see more",
    "details",
];

/// Why a link's text makes no sense out of context, if it does not.
pub fn vague_link_text(text: &str) -> Option<String> {
    let t = text.trim();
    let key = t
        .trim_end_matches(['.', '!', '…', ':', '»', '→', ' '])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if t.is_empty() {
        return Some("a link without text".into());
    }
    if VAGUE_LINK_TEXTS.contains(&key.as_str()) {
        return Some(format!("the link text \"{t}\" does not say where it goes"));
    }
    let bare = ["https://", "http://", "www."]
        .iter()
        .any(|p| key.starts_with(p));
    bare.then(|| format!("the link text is a bare URL, {t}, which screen readers spell out"))
}

/// The text of inlines without markup.
pub fn plain(inl: &[Inline]) -> String {
    let mut s = String::new();
    for i in inl {
        match i {
            Inline::Text(t) | Inline::Code(t) => s.push_str(t),
            Inline::Strong(c) | Inline::Emph(c) | Inline::Link { children: c, .. } => {
                s.push_str(&plain(c))
            }
            Inline::Image { alt, .. } => s.push_str(alt),
            Inline::Break => s.push(' '),
        }
    }
    s
}

/// A parsed body: top-level blocks with their byte spans, and what is worth
/// a warning but not an error.
#[derive(Debug)]
pub struct Parsed {
    pub blocks: Vec<(Block, Range<usize>)>,
    pub warnings: Vec<MdError>,
}

/// Parses a Markdown body into top-level blocks with their byte spans.
pub fn parse(src: &str) -> Result<Vec<(Block, Range<usize>)>, Vec<MdError>> {
    parse_with_warnings(src).map(|p| p.blocks)
}

/// `parse`, keeping the warnings (images without a size).
pub fn parse_with_warnings(src: &str) -> Result<Parsed, Vec<MdError>> {
    let mut p = Builder::default();
    if let Some(off) = src.find(|c| c != '\n' && c != '\r' && forbidden_char(c)) {
        p.errors.push((
            off..off + 1,
            "the guide contains a control character".into(),
            "remove it; only ordinary text, tabs and newlines are allowed",
        ));
    }
    for (ev, span) in Parser::new_ext(src, Options::empty()).into_offset_iter() {
        p.event(ev, span);
    }
    p.flush_image();
    if p.errors.is_empty() {
        Ok(Parsed {
            blocks: p.top,
            warnings: p.warnings,
        })
    } else {
        Err(p.errors)
    }
}

/// An open container while events stream in.
enum Frame {
    Para(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    List(bool, Vec<Vec<Block>>),
    Item(Vec<Block>, Vec<Inline>),
    Quote(Vec<Block>),
    Strong(Vec<Inline>),
    Emph(Vec<Inline>),
    Link(Option<HttpsUrl>, Vec<Inline>),
    Image(Option<HttpsUrl>, Vec<Inline>, Range<usize>),
    Code(String),
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Frame, Range<usize>)>,
    top: Vec<(Block, Range<usize>)>,
    errors: Vec<MdError>,
    warnings: Vec<MdError>,
    /// Open tags below `MAX_NESTING` that are being skipped, not built.
    too_deep: usize,
    /// An image just closed, waiting to see if `{width=...}` follows it.
    image: Option<(Inline, Range<usize>)>,
}

impl Builder {
    fn event(&mut self, ev: Event<'_>, span: Range<usize>) {
        if self.skip_too_deep(&ev, &span) {
            return;
        }
        let ev = match ev {
            Event::Text(t) if self.image.is_some() => match self.image_size(&t, span.start) {
                0 => Event::Text(t),
                n => Event::Text(t[n..].to_owned().into()),
            },
            ev => ev,
        };
        self.flush_image();
        match ev {
            Event::Text(t) if t.is_empty() => {}
            Event::Start(tag) => self.start(tag, span),
            Event::End(end) => self.end(end),
            Event::Text(t) => match self.stack.last_mut() {
                Some((Frame::Code(c), _)) => c.push_str(&t),
                _ => self.inline(Inline::Text(t.into_string())),
            },
            Event::Code(t) => self.inline(Inline::Code(t.into_string())),
            Event::SoftBreak => self.inline(Inline::Text(" ".into())),
            Event::HardBreak => self.inline(Inline::Break),
            Event::Rule => self.block(Block::Rule, span),
            Event::Html(_) | Event::InlineHtml(_) => self.errors.push((
                span,
                "raw HTML is not allowed in a guide".into(),
                "write it in Markdown; to show a literal `<`, write `\\<`",
            )),
            _ => self.errors.push((
                span,
                "this Markdown feature is not supported in emails".into(),
                "use paragraphs, lists, quotes, links, emphasis and ## / ### headings",
            )),
        }
    }

    /// Consumes the events of anything nested deeper than `MAX_NESTING`,
    /// reporting the first such tag once; pulldown-cmark itself parses
    /// iteratively, so this runs before anything recursive sees the input.
    fn skip_too_deep(&mut self, ev: &Event<'_>, span: &Range<usize>) -> bool {
        match ev {
            Event::Start(_) if self.too_deep > 0 => self.too_deep += 1,
            Event::End(_) if self.too_deep > 0 => self.too_deep -= 1,
            Event::Start(tag) if !matches!(tag, Tag::Item) && self.depth() >= MAX_NESTING => {
                self.too_deep = 1;
                if !self
                    .errors
                    .iter()
                    .any(|e| e.1.starts_with("nesting deeper"))
                {
                    self.errors.push((
                        span.start..span.start + 1,
                        format!("nesting deeper than {MAX_NESTING} levels"),
                        "a guide needs a few levels of quotes, lists and emphasis at most; look for a long run of `>`, list markers or `*`",
                    ));
                }
            }
            _ => return self.too_deep > 0,
        }
        true
    }

    /// Nesting levels open now; a list item is part of its list, not a level.
    fn depth(&self) -> usize {
        self.stack
            .iter()
            .filter(|(f, _)| !matches!(f, Frame::Item(..)))
            .count()
    }

    fn start(&mut self, tag: Tag<'_>, span: Range<usize>) {
        let frame = match tag {
            Tag::Paragraph => Frame::Para(Vec::new()),
            Tag::Heading { level, .. } => {
                let n = match level {
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H1 => {
                        self.errors.push((
                            span.clone(),
                            "a `#` heading in the guide body".into(),
                            "the guide's title comes from the front matter; use `##` for sections and `###` for sub-sections",
                        ));
                        2
                    }
                    _ => {
                        self.errors.push((
                            span.clone(),
                            "headings deeper than `###` are not supported".into(),
                            "use `##` for sections and `###` for sub-sections",
                        ));
                        3
                    }
                };
                Frame::Heading(n, Vec::new())
            }
            Tag::List(start) => Frame::List(start.is_some(), Vec::new()),
            Tag::Item => Frame::Item(Vec::new(), Vec::new()),
            Tag::BlockQuote(_) => Frame::Quote(Vec::new()),
            Tag::CodeBlock(_) => Frame::Code(String::new()),
            Tag::Strong => Frame::Strong(Vec::new()),
            Tag::Emphasis => Frame::Emph(Vec::new()),
            Tag::Link { dest_url, .. } => {
                Frame::Link(self.url(&dest_url, &span, "link"), Vec::new())
            }
            Tag::Image { dest_url, .. } => Frame::Image(
                self.url(&dest_url, &span, "image"),
                Vec::new(),
                span.clone(),
            ),
            // Its contents arrive as `Event::Html` and are reported once, as
            // raw HTML; the container itself is not a second problem.
            Tag::HtmlBlock => Frame::Quote(Vec::new()),
            _ => {
                self.errors.push((
                    span.clone(),
                    "this Markdown feature is not supported in emails".into(),
                    "use paragraphs, lists, quotes, links, emphasis and ## / ### headings",
                ));
                Frame::Quote(Vec::new())
            }
        };
        self.stack.push((frame, span));
    }

    fn url(&mut self, dest: &str, span: &Range<usize>, what: &str) -> Option<HttpsUrl> {
        match dest.parse::<HttpsUrl>() {
            Ok(u) => Some(u),
            Err(e) => {
                self.errors.push((
                    span.clone(),
                    format!("bad {what} address: {e}"),
                    "emails may only link to absolute https:// addresses",
                ));
                None
            }
        }
    }

    fn end(&mut self, _end: TagEnd) {
        let Some((frame, span)) = self.stack.pop() else {
            return;
        };
        match frame {
            Frame::Para(inl) => self.block(Block::Paragraph(inl), span),
            Frame::Heading(n, inl) => self.block(Block::Heading(n, inl), span),
            Frame::List(ordered, items) => self.block(Block::List { ordered, items }, span),
            Frame::Item(mut blocks, loose) => {
                // Tight list items carry bare inlines; give them a paragraph.
                if !loose.is_empty() {
                    blocks.insert(0, Block::Paragraph(loose));
                }
                if let Some((Frame::List(_, items), _)) = self.stack.last_mut() {
                    items.push(blocks);
                }
            }
            Frame::Quote(blocks) => self.block(Block::Quote(blocks), span),
            Frame::Code(text) => self.block(Block::Code(text), span),
            Frame::Strong(c) => self.inline(Inline::Strong(c)),
            Frame::Emph(c) => self.inline(Inline::Emph(c)),
            Frame::Link(url, children) => {
                if let Some(why) = vague_link_text(&plain(&children)) {
                    self.warnings.push((
                        span,
                        why,
                        "say where the link goes, e.g. [the paper on sparse autoencoders](https://...): screen readers list links by their text alone",
                    ));
                }
                if let Some(url) = url {
                    self.inline(Inline::Link { url, children });
                }
            }
            Frame::Image(url, alt, span) => {
                let alt = plain(&alt).trim().to_owned();
                if alt.is_empty() {
                    self.errors.push((
                        span,
                        "an image without alt text".into(),
                        "describe the image: ![what it shows](https://...)",
                    ));
                } else if let Some(url) = url {
                    let image = Inline::Image {
                        url,
                        alt,
                        width: None,
                        height: None,
                    };
                    self.image = Some((image, span));
                }
            }
        }
    }

    /// Reads `{width=W height=H}` at the start of the text right after an
    /// image (at byte `at` of the source) into that image; returns how many
    /// bytes of `text` it took. Text that merely starts with a brace is left.
    fn image_size(&mut self, text: &str, at: usize) -> usize {
        let Some((attrs, _)) = text.strip_prefix('{').and_then(|t| t.split_once('}')) else {
            return 0;
        };
        let Some((Inline::Image { width, height, .. }, _)) = &mut self.image else {
            return 0;
        };
        if !attrs.contains('=') {
            return 0;
        }
        for attr in attrs.split_whitespace() {
            match size_attr(attr) {
                Ok(("width", px)) => *width = Some(px),
                Ok((_, px)) => *height = Some(px),
                Err((message, hint)) => {
                    // `attr` is a slice of `text`: its offset there is its column.
                    let start = at + (attr.as_ptr() as usize - text.as_ptr() as usize);
                    self.errors.push((start..start + attr.len(), message, hint));
                }
            }
        }
        attrs.len() + 2
    }

    /// Places the image waiting for its size; warns when it has none.
    fn flush_image(&mut self) {
        let Some((image, span)) = self.image.take() else {
            return;
        };
        if let Inline::Image { width: None, .. } = image {
            self.warnings.push((
                span,
                "this image has no width, so the email shows it the full column wide".into(),
                "give its width in pixels right after it, ![alt](https://...){width=600}, and its height if you know it, {width=600 height=300}: Outlook and blocked images use them",
            ));
        }
        self.inline(image);
    }

    fn inline(&mut self, i: Inline) {
        if let Some((
            Frame::Para(v)
            | Frame::Heading(_, v)
            | Frame::Item(_, v)
            | Frame::Strong(v)
            | Frame::Emph(v)
            | Frame::Link(_, v)
            | Frame::Image(_, v, _),
            _,
        )) = self.stack.last_mut()
        {
            push_inline(v, i);
        }
    }

    fn block(&mut self, b: Block, span: Range<usize>) {
        match self.stack.last_mut() {
            None => self.top.push((b, span)),
            Some((Frame::Item(blocks, loose), _)) => {
                if !loose.is_empty() {
                    blocks.push(Block::Paragraph(std::mem::take(loose)));
                }
                blocks.push(b);
            }
            Some((Frame::Quote(blocks), _)) => blocks.push(b),
            _ => {}
        }
    }
}

/// One `width=600` or `height=300px` of an image's `{...}`.
fn size_attr(attr: &str) -> Result<(&str, u32), (String, &'static str)> {
    let (key, value) = match attr.split_once('=') {
        Some((key @ ("width" | "height"), value)) => (key, value),
        _ => {
            return Err((
                format!("unknown image attribute `{attr}`"),
                "an image takes {width=600} or {width=600 height=300}, in pixels",
            ));
        }
    };
    value
        .strip_suffix("px")
        .unwrap_or(value)
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_IMAGE_PX).contains(n))
        .map(|px| (key, px))
        .ok_or_else(|| {
            (
                format!("`{attr}` is not a size in pixels"),
                "write a whole number of pixels from 1 to 10000, e.g. {width=600}",
            )
        })
}

/// Appends, merging adjacent text runs so renderers see whole sentences.
fn push_inline(v: &mut Vec<Inline>, i: Inline) {
    if let (Some(Inline::Text(prev)), Inline::Text(t)) = (v.last_mut(), &i) {
        prev.push_str(t);
        return;
    }
    v.push(i);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_model() {
        let doc = parse("Hello **bold** and [a link](https://e.com/x).\n").unwrap();
        let Block::Paragraph(inl) = &doc[0].0 else {
            panic!()
        };
        assert_eq!(plain(inl), "Hello bold and a link.");
        assert!(matches!(inl[3], Inline::Link { .. }));
    }

    #[test]
    fn rejects_unsafe_things_with_spans() {
        let errs = parse("ok\n\n[x](javascript:alert(1)) <b>hi</b>\n\n![](https://e.com/i.png)\n")
            .unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs.iter().all(|(s, _, _)| s.start >= 4));
    }

    #[test]
    fn nesting_stops_at_the_limit_once() {
        let ok = format!("{}x\n", ">".repeat(MAX_NESTING - 1));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}x\n\n{}y\n", ">".repeat(100_000), ">".repeat(50));
        let errs = parse(&deep).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, MAX_NESTING..MAX_NESTING + 1);
    }

    #[test]
    fn image_sizes_follow_the_image() {
        let p = parse_with_warnings(
            "![a](https://e.com/a.png){width=600px height=300} after\n\n![b](https://e.com/b.png) {x}\n",
        )
        .unwrap();
        let Block::Paragraph(inl) = &p.blocks[0].0 else {
            panic!()
        };
        assert!(matches!(
            inl[0],
            Inline::Image {
                width: Some(600),
                height: Some(300),
                ..
            }
        ));
        assert_eq!(inl[1], Inline::Text(" after".into()));
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert_eq!(p.warnings[0].0.start, 57);
        let errs = parse("![a](https://e.com/a.png){width=wide depth=2}\n").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        let spans: Vec<_> = errs.iter().map(|e| e.0.clone()).collect();
        assert_eq!(spans, [26..36, 37..44]);
    }

    #[test]
    fn vague_link_texts_are_warned_about_at_the_link() {
        let src = "See [click here](https://e.com/a), [Read more…](https://e.com/b), <https://e.com/c> and [the paper](https://e.com/d).\n";
        let p = parse_with_warnings(src).unwrap();
        let w: Vec<&str> = p.warnings.iter().map(|(s, _, _)| &src[s.clone()]).collect();
        assert_eq!(
            w,
            [
                "[click here](https://e.com/a)",
                "[Read more…](https://e.com/b)",
                "<https://e.com/c>"
            ]
        );
        assert!(p.warnings[2].1.contains("bare URL"), "{:?}", p.warnings);
    }

    #[test]
    fn nested_lists() {
        let doc = parse("- a\n  - b\n- c\n").unwrap();
        let Block::List { items, .. } = &doc[0].0 else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0][1], Block::List { .. }));
    }
}
