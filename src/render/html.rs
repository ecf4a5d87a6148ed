//! The email's HTML, written with maud (which escapes everything from
//! content). Table layout, a 600px column, MSO conditionals for Outlook's
//! fixed width; the CSS is inlined afterwards by `css.rs`. The same template
//! gives the web version, without the personal parts.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::View;
use super::personal::Field;
use crate::content::guide::{Faq, TimelineEntry};
use crate::content::markdown::{Block, Inline};
use crate::layouts::Section;

/// Renders the full document. `css` goes in the head for css-inline to
/// consume; `web` selects the browser version.
pub fn document(v: &View<'_>, css: &str, web: bool) -> String {
    let lang = v.config.newsletter.language.as_str();
    let dir = direction(lang);
    let doc = html! {
        (DOCTYPE)
        html lang=(lang) dir=(dir) xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="X-UA-Compatible" content="IE=edge";
                meta name="x-apple-disable-message-reformatting";
                meta name="format-detection" content="telephone=no, date=no, address=no, email=no, url=no";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                title { (v.issue.subject) }
                (PreEscaped(MSO_HEAD))
                style { (PreEscaped(css)) }
            }
            body class="body" {
                @if !web { (preheader(v)) }
                @if web {
                    // A page of its own: the landmark a browser's reader
                    // jumps to. (In webmail the client's page has one.)
                    main { (content(v, web, lang, dir)) }
                } @else {
                    (content(v, web, lang, dir))
                }
            }
        }
    };
    doc.into_string()
}

/// The email in one region that screen readers announce as an email named
/// by its subject, with its language and direction repeated there: webmail
/// drops the `<html>` element and its attributes, keeping only the body's
/// content. The layout tables inside are `role="presentation"`, so the
/// structure read out is the headings, paragraphs and lists.
fn content(v: &View<'_>, web: bool, lang: &str, dir: &str) -> Markup {
    html! {
        div.email role="article" aria-roledescription="email" aria-label=(v.issue.subject) lang=(lang) dir=(dir) {
            table.wrapper role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                tr { td.wrapper-cell align="center" {
                    (PreEscaped(MSO_OPEN))
                    table.container role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                        @if !web { (topbar(v)) }
                        (masthead(v))
                        @for s in &v.edition.sections {
                            @match s {
                                Section::Note => (note(v, web)),
                                Section::Guide => (guide(v)),
                                Section::News => (news(v)),
                            }
                        }
                        (footer(v, web))
                    }
                    (PreEscaped(MSO_CLOSE))
                } }
            }
        }
    }
}

/// `rtl` for the languages written right to left, by their primary subtag.
fn direction(lang: &str) -> &'static str {
    let primary = lang
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match primary.as_str() {
        "ar" | "arc" | "ckb" | "dv" | "fa" | "ha" | "he" | "iw" | "khw" | "ks" | "ps" | "sd"
        | "ug" | "ur" | "yi" => "rtl",
        _ => "ltr",
    }
}

const MSO_HEAD: &str = "<!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><![endif]-->";
const MSO_OPEN: &str = "<!--[if mso]><table role=\"presentation\" width=\"600\" align=\"center\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td width=\"600\"><![endif]-->";
const MSO_CLOSE: &str = "<!--[if mso]></td></tr></table><![endif]-->";

/// The inbox teaser, hidden in the body; padded with zero-width joiners so
/// clients do not pull body text into the preview after it. Outside the
/// email's region and hidden from screen readers, which would otherwise
/// read the teaser (and sixty blanks) before or after the letter itself.
fn preheader(v: &View<'_>) -> Markup {
    html! {
        div.preheader aria-hidden="true" { (v.issue.preheader) (PreEscaped("&#8204;&#160;".repeat(60))) }
    }
}

fn topbar(v: &View<'_>) -> Markup {
    html! {
        tr { td.topbar align="right" {
            a.topbar-link href=(v.web_url) { "View in browser" }
        } }
    }
}

fn masthead(v: &View<'_>) -> Markup {
    let n = &v.config.newsletter;
    html! {
        tr { td.masthead {
            p.masthead-edition { (v.edition.name) " · " (v.date_long) }
            h1.masthead-name { (n.name) }
            p.masthead-tagline { (v.edition.tagline) }
        } }
    }
}

fn note(v: &View<'_>, web: bool) -> Markup {
    html! {
        tr { td.section.note {
            // The web page is the same for everyone, and read by people
            // who may not be subscribers: no greeting at all.
            @if !web {
                p.greeting { "Hi " (PreEscaped(Field::Name.marker())) "," }
            }
            @if let Some(note) = &v.issue.note {
                @for p in note.paragraphs() { p { (p) } }
            }
        } }
    }
}

fn guide(v: &View<'_>) -> Markup {
    let g = &v.issue.guide;
    let m = &g.meta;
    html! {
        tr { td.section.guide {
            p.kicker { "Featured guide · " (m.kind) " · " (m.level.as_str()) }
            h2.guide-title { (m.title) }
            p.guide-topic { "Topic: " (m.topic) }
            table.tldr role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                tr { td.tldr-cell {
                    p.tldr-label { "TL;DR" }
                    @for p in m.tldr.paragraphs() { p.tldr-text { (p) } }
                } }
            }
            @if !m.takeaways.is_empty() {
                h3.subhead { "Key takeaways" }
                ul.takeaways { @for t in &m.takeaways { li { (t) } } }
            }
            (blocks(&g.intro))
            @for s in &g.sections {
                h3.guide-section { (s.heading) }
                (blocks(&s.blocks))
            }
            @if !g.timeline.is_empty() { (timeline(&g.timeline)) }
            @if !g.faq.is_empty() { (faq(&g.faq)) }
            @if !m.related.is_empty() {
                p.related {
                    span.related-label { "Related: " }
                    (m.related.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" · "))
                }
            }
        } }
    }
}

fn timeline(entries: &[TimelineEntry]) -> Markup {
    html! {
        h3.guide-section { "Timeline" }
        table.timeline role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
            @for e in entries {
                tr {
                    td.timeline-when valign="top" width="96" { (e.when.as_deref().unwrap_or("")) }
                    td.timeline-what valign="top" { (inlines(&e.what)) }
                }
            }
        }
    }
}

fn faq(items: &[Faq]) -> Markup {
    html! {
        h3.guide-section { "FAQ" }
        table.faq role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
            @for f in items {
                tr { td.faq-cell {
                    p.faq-q { (f.question) }
                    div.faq-a { (blocks(&f.answer)) }
                } }
            }
        }
    }
}

fn news(v: &View<'_>) -> Markup {
    html! {
        tr { td.section.news {
            h2.section-title { (v.edition.news.heading) }
            @for item in &v.news {
                table.news-item role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                    tr { td.news-cell {
                        p.news-meta {
                            span.score { (item.score.get()) "/10" }
                            " " (item.source) " · " (item.age(v.issue.date))
                            @if let Some(t) = &item.topic { " · " (t) }
                        }
                        h3.news-title { a.news-link href=(item.url.as_str()) { (item.title) } }
                        @for p in item.summary.paragraphs() { p.news-summary { (p) } }
                    } }
                }
            }
        } }
    }
}

fn footer(v: &View<'_>, web: bool) -> Markup {
    let n = &v.config.newsletter;
    html! {
        tr { td.footer {
            @if web {
                // Whoever reads this page did not necessarily subscribe:
                // invite them instead of telling them why they got it.
                p.footer-text {
                    (n.name) " comes by email. "
                    a.footer-link href=(subscribe_link(v)) { "Subscribe" }
                    " to get it, or read past issues in the "
                    a.footer-link href=(v.config.links.archive.as_str()) { "archive" } "."
                }
            } @else {
                @for p in n.why.paragraphs() { p.footer-text { (p) } }
                p.footer-text {
                    "This email was sent to " (PreEscaped(Field::Email.marker())) ". "
                    a.footer-link href=(PreEscaped(Field::UnsubscribeUrl.marker())) { "Unsubscribe from the " (v.edition.name) " edition" }
                    " with one click, "
                    a.footer-link href=(PreEscaped(Field::ManageUrl.marker())) { "manage your subscription" }
                    " (choose editions, or leave everything), or "
                    a.footer-link href=(v.web_url) { "read it in your browser" } "."
                }
                p.footer-text {
                    "Forwarded to you? " a.footer-link href=(subscribe_link(v)) { "Subscribe" } " to get it yourself."
                }
            }
            p.footer-address { (n.name) " · " (n.postal_address) }
        } }
    }
}

/// The subscribe page (`almanac serve`'s form).
fn subscribe_link(v: &View<'_>) -> String {
    v.config.subscribe_url()
}

pub(super) fn blocks(bs: &[Block]) -> Markup {
    html! {
        @for b in bs {
            @match b {
                Block::Paragraph(i) => p { (inlines(i)) },
                Block::Heading(_, i) => h4.guide-subsection { (inlines(i)) },
                Block::List { ordered: true, items } => ol { @for it in items { li { (item_blocks(it)) } } },
                Block::List { ordered: false, items } => ul { @for it in items { li { (item_blocks(it)) } } },
                Block::Quote(inner) => table.quote role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                    tr { td.quote-cell { (blocks(inner)) } }
                },
                Block::Code(t) => pre.code { (t) },
                Block::Rule => hr;,
            }
        }
    }
}

/// A list item's first paragraph is written bare so items stay compact.
fn item_blocks(bs: &[Block]) -> Markup {
    html! {
        @for (i, b) in bs.iter().enumerate() {
            @match (i, b) {
                (0, Block::Paragraph(inl)) => (inlines(inl)),
                _ => (blocks(std::slice::from_ref(b))),
            }
        }
    }
}

/// The guide's column: the 600px container less the section's 24px padding
/// on each side.
const COLUMN_PX: u32 = 536;

/// An image with the size attributes Outlook lays out by and a blocked image
/// keeps: its width capped at the column (the full column when unknown), its
/// height scaled to match when known. The style lets it shrink on phones.
fn image(url: &str, alt: &str, width: Option<u32>, height: Option<u32>) -> Markup {
    let shown = width.unwrap_or(COLUMN_PX).min(COLUMN_PX);
    let height = width
        .zip(height)
        .map(|(w, h)| (u64::from(h) * u64::from(shown) / u64::from(w)).max(1));
    html! {
        img.image src=(url) alt=(alt) width=(shown) height=[height] border="0" style="max-width:100%;height:auto";
    }
}

fn inlines(is: &[Inline]) -> Markup {
    html! {
        @for i in is {
            @match i {
                Inline::Text(t) => (t),
                Inline::Code(t) => code { (t) },
                Inline::Strong(c) => strong { (inlines(c)) },
                Inline::Emph(c) => em { (inlines(c)) },
                Inline::Link { url, children } => a href=(url.as_str()) { (inlines(children)) },
                Inline::Image { url, alt, width, height } => (image(url.as_str(), alt, *width, *height)),
                Inline::Break => br;,
            }
        }
    }
}
