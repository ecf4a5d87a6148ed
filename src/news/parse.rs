//! A feed's bytes → candidate entries, with feed-rs (RSS 0.9x, 1.0 and 2.0,
//! Atom, JSON Feed). Each entry keeps what a `[[news]]` item needs: a
//! title and summary as plain one-paragraph text (HTML stripped), its link
//! (resolved, without tracking parameters) and its date.
//!
//! What is not a feed says so: an HTML page, a truncated document, JSON or
//! XML of some other kind. A panic inside the parser on hostile input is
//! caught and reported as this feed's failure, so one bad source never
//! takes the pull down.

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry as FeedEntry, Text};

/// Longest title kept: an issue's `title` is one line of at most 300.
pub const MAX_TITLE: usize = 300;
/// Longest summary kept: enough for the editor to judge and rewrite.
pub const MAX_SUMMARY: usize = 2000;
/// Entries read from one feed; the rest are counted, not stored.
pub const MAX_ENTRIES: usize = 1000;

/// One candidate story as the feed gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The feed's id for the entry (or feed-rs's stable hash of its link
    /// and title when the feed gives none).
    pub id: String,
    pub link: url::Url,
    pub title: String,
    /// Plain text, possibly empty.
    pub summary: String,
    pub published: Option<DateTime<Utc>>,
}

/// A parsed feed: its entries, and how many were left out (no link or
/// title, or past `MAX_ENTRIES`).
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the server sent an HTML page, not a feed")]
    Html,
    #[error("the feed is cut off (it ends before its closing </{0}>)")]
    Truncated(String),
    #[error("this is not a feed ({0})")]
    NotAFeed(String),
    #[error("the feed parser failed on this feed")]
    Crashed,
}

impl ParseError {
    pub fn hint(&self) -> &'static str {
        match self {
            ParseError::Html => {
                "the `url` must be the feed itself: open the page and look for its RSS or Atom link"
            }
            ParseError::Truncated(_) => {
                "the server stopped sending midway; try again later, and tell the site if it persists"
            }
            ParseError::NotAFeed(_) | ParseError::Crashed => {
                "check that the `url` is an RSS, Atom or JSON feed"
            }
        }
    }
}

/// Parses `bytes` fetched from `base` (the address after redirects).
pub fn parse(bytes: &[u8], base: &url::Url) -> Result<Parsed, ParseError> {
    let head = sniff(bytes);
    if looks_like_html(&head) {
        return Err(ParseError::Html);
    }
    if head.starts_with('<')
        && let Some(root) = unclosed_root(bytes)
    {
        return Err(ParseError::Truncated(root));
    }
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .build();
    let feed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes)))
        .map_err(|_| ParseError::Crashed)?
        .map_err(|e| ParseError::NotAFeed(e.to_string()))?;
    let mut out = Parsed::default();
    for (i, e) in feed.entries.iter().enumerate() {
        match (i < MAX_ENTRIES).then(|| entry(e, base)).flatten() {
            Some(entry) => out.entries.push(entry),
            None => out.skipped += 1,
        }
    }
    Ok(out)
}

/// The first non-blank characters, lower-cased (after a byte-order mark).
fn sniff(bytes: &[u8]) -> String {
    let start = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(&start[..start.len().min(512)]);
    text.trim_start().to_lowercase()
}

fn looks_like_html(head: &str) -> bool {
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// The root element's name when an XML document does not end with its
/// closing tag: a body cut off midway. XML parsers often hand back what
/// they read so far, which would look like a feed with fewer entries.
fn unclosed_root(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let (root, at) = root_name(&text)?;
    let mut end = text.trim_end();
    // Caching plugins sign their pages with a comment after the root.
    while end.ends_with("-->") {
        end = end[..end.rfind("<!--")?].trim_end();
    }
    let closed = end
        .strip_suffix('>')
        .map(str::trim_end)
        .and_then(|e| e.strip_suffix(root.as_str()))
        .is_some_and(|e| e.ends_with("</"));
    let body = &end[at.min(end.len())..];
    let empty_root = body.ends_with("/>") && body.matches('<').count() == 1;
    (!closed && !empty_root).then_some(root)
}

/// The name and position of the first element that is not a declaration,
/// comment or processing instruction.
fn root_name(text: &str) -> Option<(String, usize)> {
    let mut at = 0;
    loop {
        at += text[at..].find('<')?;
        let rest = &text[at..];
        if rest.starts_with("<?") {
            at += rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            at += rest.find("-->")? + 3;
        } else if rest.starts_with("<!") {
            at += rest.find('>')? + 1;
        } else {
            let name: String = rest[1..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            return (!name.is_empty()).then_some((name, at));
        }
    }
}

fn entry(e: &FeedEntry, base: &url::Url) -> Option<Entry> {
    let link = link(e, base)?;
    let title = e.title.as_ref().map(plain).unwrap_or_default();
    if title.is_empty() {
        return None;
    }
    let summary = e
        .summary
        .as_ref()
        .map(plain)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let c = e.content.as_ref()?;
            let body = c.body.as_deref()?;
            Some(if c.content_type.to_string().contains("html") {
                html_text(body)
            } else {
                one_paragraph(body)
            })
        })
        .unwrap_or_default();
    Some(Entry {
        id: e.id.clone(),
        link,
        title: cut(&title, MAX_TITLE),
        summary: cut(&without_arxiv_preamble(&summary), MAX_SUMMARY),
        published: e.published.or(e.updated),
    })
}

/// The entry's page: its `alternate` link (or the first without a `rel`),
/// resolved against the feed's address, tracking parameters dropped.
fn link(e: &FeedEntry, base: &url::Url) -> Option<url::Url> {
    let resolve = |href: &str| {
        let abs = base.join(href.trim()).ok()?;
        crate::content::links::clean(abs.as_str())
    };
    let preferred = e
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"));
    preferred
        .chain(e.links.iter())
        .find_map(|l| resolve(&l.href))
}

/// A text construct as one line of plain text.
fn plain(t: &Text) -> String {
    if t.content_type.to_string().contains("html") || has_tags(&t.content) {
        html_text(&t.content)
    } else {
        one_paragraph(&t.content)
    }
}

/// Whether text that claims to be plain carries markup anyway (RSS 2.0
/// descriptions are HTML by custom, whatever the spec says).
fn has_tags(s: &str) -> bool {
    let mut rest = s;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') && rest.contains('>') {
            return true;
        }
    }
    false
}

/// The text of an HTML fragment, entities decoded, with blocks and line
/// breaks kept apart by a space.
pub fn html_text(html: &str) -> String {
    let doc = scraper::Html::parse_fragment(html);
    let mut out = String::new();
    collect(doc.root_element(), &mut out);
    one_paragraph(&out)
}

const SKIPPED: &[&str] = &["script", "style", "template", "head", "title"];

fn collect(el: scraper::ElementRef<'_>, out: &mut String) {
    for child in el.children() {
        match child.value() {
            scraper::Node::Text(t) => out.push_str(t),
            scraper::Node::Element(e) if !SKIPPED.contains(&e.name()) => {
                let block = !matches!(
                    e.name(),
                    "a" | "b"
                        | "i"
                        | "em"
                        | "strong"
                        | "code"
                        | "span"
                        | "sub"
                        | "sup"
                        | "abbr"
                        | "small"
                        | "mark"
                        | "u"
                        | "s"
                        | "q"
                        | "cite"
                        | "time"
                        | "var"
                );
                if block {
                    out.push(' ');
                }
                if let Some(inner) = scraper::ElementRef::wrap(child) {
                    collect(inner, out);
                }
                if block {
                    out.push(' ');
                }
            }
            _ => {}
        }
    }
}

/// Whitespace collapsed to single spaces, control characters dropped.
fn one_paragraph(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| !crate::domain::forbidden_char(*c))
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters, cut at a word with "…" when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    if let Some(space) = out.rfind(' ')
        && space > max / 2
    {
        out.truncate(space);
    }
    format!("{}…", out.trim_end())
}

/// arXiv's feeds open each description with "arXiv:2605.18646v1 Announce
/// Type: new Abstract:"; the abstract is what the editor wants.
fn without_arxiv_preamble(s: &str) -> String {
    if s.starts_with("arXiv:")
        && let Some(at) = s.find("Abstract:")
        && at < 120
    {
        return s[at + "Abstract:".len()..].trim().to_owned();
    }
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        "https://feeds.example.org/blog/feed.xml".parse().unwrap()
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Blog</title><link>https://example.org/</link>
<item><title>Small &amp; sparse: &lt;em&gt;circuits&lt;/em&gt;</title>
<link>/posts/sparse?utm_source=rss#top</link>
<guid isPermaLink="false">post-1</guid>
<pubDate>Tue, 01 Dec 2026 09:30:00 GMT</pubDate>
<description><![CDATA[<p>First <b>para</b>graph.</p><p>Second&nbsp;one.</p><script>x()</script>]]></description></item>
<item><title></title><link>https://example.org/untitled</link></item>
<item><title>No link at all</title></item>
</channel></rss>"#;

    #[test]
    fn rss_entries_become_plain_candidates() {
        let p = parse(RSS.as_bytes(), &base()).unwrap();
        assert_eq!(p.skipped, 2);
        let e = &p.entries[0];
        assert_eq!(e.id, "post-1");
        assert_eq!(e.title, "Small & sparse: circuits");
        assert_eq!(e.link.as_str(), "https://feeds.example.org/posts/sparse");
        assert_eq!(e.summary, "First paragraph. Second one.");
        assert_eq!(
            e.published.unwrap().to_rfc3339(),
            "2026-12-01T09:30:00+00:00"
        );
    }

    #[test]
    fn what_is_not_a_feed_says_so() {
        let html = b"\n<!DOCTYPE html><html><head><title>Blog</title></head><body>hi</body></html>";
        assert_eq!(parse(html, &base()).unwrap_err(), ParseError::Html);
        let cut_off = &RSS.as_bytes()[..RSS.len() / 2];
        assert_eq!(
            parse(cut_off, &base()).unwrap_err(),
            ParseError::Truncated("rss".into())
        );
        assert!(matches!(
            parse(b"<note><to>x</to></note>", &base()),
            Err(ParseError::NotAFeed(_))
        ));
        assert!(matches!(
            parse(
                b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [",
                &base()
            ),
            Err(ParseError::NotAFeed(_))
        ));
        assert!(matches!(parse(b"", &base()), Err(ParseError::NotAFeed(_))));
    }

    #[test]
    fn arxiv_preamble_and_long_text_are_trimmed() {
        assert_eq!(
            without_arxiv_preamble("arXiv:2605.18646v1 Announce Type: new Abstract: We study X."),
            "We study X."
        );
        assert_eq!(without_arxiv_preamble("Plain text."), "Plain text.");
        let long = "word ".repeat(100);
        let c = cut(long.trim(), 42);
        assert!(c.chars().count() <= 42 && c.ends_with("word…"), "{c}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever bytes a server sends, parsing returns; it never panics
        /// or hands back an entry without a title and an http(s) link.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(cut_at in 0usize..RSS.len(), junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut bytes = RSS.as_bytes()[..cut_at].to_vec();
            bytes.extend_from_slice(&junk);
            if let Ok(p) = parse(&bytes, &base()) {
                for e in p.entries {
                    proptest::prop_assert!(!e.title.is_empty());
                    proptest::prop_assert!(matches!(e.link.scheme(), "http" | "https"));
                }
            }
        }
    }
}
