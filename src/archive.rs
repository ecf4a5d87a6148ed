//! The web archive: a static site of every issue's web version, an index and
//! an Atom feed, laid out so that `Config::web_url(id)` (the "view in
//! browser" link of every email) finds its page:
//!
//! ```text
//! index.html             every issue, newest first
//! feed.xml               Atom (RFC 4287), one entry per issue
//! <issue-id>/index.html  the issue's web version (no personal fields)
//! ```
//!
//! Pure: issues and their rendered web pages in, file contents out. Times
//! are the issue dates at 00:00 UTC, so the same issues give the same bytes.

use atom_syndication::{
    Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text, WriteConfig,
};
use chrono::{NaiveTime, TimeZone, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::config::Config;
use crate::content::Issue;

/// Why the site was not made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the web version of {0} contains a personal unsubscribe link or field; it was not archived"
    )]
    Personal(crate::domain::IssueId),
    #[error("cannot write the Atom feed: {0}")]
    Feed(String),
}

/// One issue as the archive needs it.
pub struct Page<'a> {
    pub issue: &'a Issue,
    /// The rendered web version (`Rendered::web`).
    pub web: &'a str,
    /// The edition's display name, e.g. "Midweek".
    pub edition_name: &'a str,
}

/// The archive's files as (path relative to the site folder, bytes), or a
/// message if a page carries something that must never be public.
pub fn site(config: &Config, pages: &[Page<'_>]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut pages: Vec<&Page<'_>> = pages.iter().collect();
    pages.sort_by(|a, b| {
        b.issue
            .date
            .cmp(&a.issue.date)
            .then_with(|| b.issue.id.cmp(&a.issue.id))
    });
    let mut files = Vec::with_capacity(pages.len() + 2);
    for p in &pages {
        check_public(config, p)?;
        files.push((
            format!("{}/index.html", p.issue.id),
            p.web.as_bytes().to_vec(),
        ));
    }
    files.push(("index.html".into(), index(config, &pages).into_bytes()));
    files.push(("feed.xml".into(), feed(config, &pages)?.into_bytes()));
    Ok(files)
}

/// The web version is the same for everyone; an unsubscribe link with a
/// token in it would let anybody unsubscribe that reader.
fn check_public(config: &Config, p: &Page<'_>) -> Result<(), Error> {
    let unsubscribe = config.links.unsubscribe.as_str();
    let leaked = [format!("{unsubscribe}?t="), format!("{unsubscribe}&amp;t=")]
        .iter()
        .any(|needle| p.web.contains(needle.as_str()));
    if leaked || p.web.contains('\u{E000}') {
        return Err(Error::Personal(p.issue.id.clone()));
    }
    Ok(())
}

/// An issue's time in the feed: its date at 00:00 UTC.
pub fn issue_time(issue: &Issue) -> FixedDateTime {
    Utc.from_utc_datetime(&issue.date.0.and_time(NaiveTime::MIN))
        .fixed_offset()
}

fn date_long(issue: &Issue) -> String {
    issue.date.0.format("%A %-d %B %Y").to_string()
}

fn feed_url(config: &Config) -> String {
    let base = config.links.archive.as_str();
    let sep = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{sep}feed.xml")
}

fn feed(config: &Config, pages: &[&Page<'_>]) -> Result<String, Error> {
    let n = &config.newsletter;
    let author = Person {
        name: n.name.to_string(),
        ..Person::default()
    };
    let entries: Vec<Entry> = pages
        .iter()
        .map(|p| {
            let url = config.web_url(&p.issue.id);
            Entry {
                title: Text::plain(p.issue.subject.as_str()),
                id: url.clone(),
                updated: issue_time(p.issue),
                published: Some(issue_time(p.issue)),
                authors: vec![author.clone()],
                links: vec![Link {
                    href: url.clone(),
                    rel: "alternate".into(),
                    mime_type: Some("text/html".into()),
                    ..Link::default()
                }],
                summary: Some(Text::plain(p.issue.preheader.as_str())),
                content: Some(Content {
                    value: Some(entry_content(p, &url).into_string()),
                    content_type: Some("html".into()),
                    ..Content::default()
                }),
                ..Entry::default()
            }
        })
        .collect();
    let feed = Feed {
        title: Text::plain(n.name.as_str()),
        subtitle: Some(Text::plain(n.tagline.as_str())),
        id: config.links.archive.to_string(),
        // Newest issue; the epoch for an empty archive (still deterministic).
        updated: pages
            .first()
            .map(|p| issue_time(p.issue))
            .unwrap_or_default(),
        authors: vec![author],
        links: vec![
            Link {
                href: config.links.archive.to_string(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Link::default()
            },
            Link {
                href: feed_url(config),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Link::default()
            },
        ],
        generator: Some(Generator {
            value: "almanac".into(),
            ..Generator::default()
        }),
        lang: Some(n.language.to_string()),
        entries,
        ..Feed::default()
    };
    let bytes = feed
        .write_with_config(
            Vec::new(),
            WriteConfig {
                write_document_declaration: true,
                indent_size: Some(2),
            },
        )
        .map_err(|e| Error::Feed(e.to_string()))?;
    let mut xml = String::from_utf8(bytes).map_err(|e| Error::Feed(format!("not UTF-8: {e}")))?;
    xml.push('\n');
    Ok(xml)
}

/// The entry's content: the guide's summary and takeaways, and the link.
fn entry_content(p: &Page<'_>, url: &str) -> Markup {
    let g = &p.issue.guide.meta;
    html! {
        p { strong { (g.title) } " (" (g.kind) ", " (g.level.as_str()) ")" }
        @for para in g.tldr.paragraphs() { p { (para) } }
        @if !g.takeaways.is_empty() {
            ul { @for t in &g.takeaways { li { (t) } } }
        }
        p { a href=(url) { "Read the " (p.edition_name) " issue of " (date_long(p.issue)) } }
    }
}

const INDEX_CSS: &str = "body{margin:0;background:#f6f5f1;color:#1d1d1b;font:17px/1.55 Georgia,'Times New Roman',serif}\
main{max-width:42rem;margin:0 auto;padding:2.5rem 1.25rem}\
h1{font-size:2rem;margin:0 0 .25rem}\
.tagline{margin:0 0 1rem;color:#555}\
.feed{font:14px/1.4 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\
ol{list-style:none;padding:0;margin:2rem 0}\
li{padding:1rem 0;border-top:1px solid #ddd9cf}\
.meta{font:13px/1.4 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#666;margin:0 0 .25rem}\
.subject{font-size:1.2rem;margin:0 0 .25rem}\
.subject a{color:#1d1d1b}\
.guide{margin:0;color:#444}\
footer{max-width:42rem;margin:0 auto;padding:1rem 1.25rem 2.5rem;font:13px/1.4 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#5c5a55}\
footer p{margin:0;padding-top:1rem;border-top:1px solid #ddd9cf}\
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}";

fn index(config: &Config, pages: &[&Page<'_>]) -> String {
    let n = &config.newsletter;
    let markup = html! {
        (DOCTYPE)
        html lang=(n.language) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (n.name) " · archive" }
                link rel="alternate" type="application/atom+xml" title=(n.name) href="feed.xml";
                style { (maud::PreEscaped(INDEX_CSS)) }
            }
            body {
                main {
                    h1 { (n.name) }
                    p.tagline { (n.tagline) }
                    p.feed {
                        a href=(config.subscribe_url()) { "Subscribe by email" }
                        " · " a href="feed.xml" { "Atom feed" }
                    }
                    @if pages.is_empty() {
                        p { "No issues yet." }
                    }
                    ol.issues {
                        @for p in pages {
                            li.issue id=(p.issue.id) {
                                p.meta {
                                    time datetime=(p.issue.date.0.format("%Y-%m-%d").to_string()) { (date_long(p.issue)) }
                                    " · " span.edition { (p.edition_name) }
                                }
                                p.subject { a href={ (p.issue.id) "/" } { (p.issue.subject) } }
                                p.guide { "Guide: " (p.issue.guide.meta.title) }
                            }
                        }
                    }
                }
                footer { p { (n.name) " · " (n.postal_address) } }
            }
        }
    };
    markup.into_string()
}
