//! Lints the built email against what mail clients accept: Gmail's clipping
//! and `<style>` limits, tags and CSS that clients strip or that break
//! Outlook for Windows, links and images. The CSS rules follow caniemail.com's
//! support data for Gmail, Outlook (Windows, Outlook.com), Apple Mail, Yahoo
//! and Samsung Email.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use scraper::{Html, Selector};

use crate::diag::{Problem, Problems};

/// Gmail clips messages whose HTML is larger than this (about 102 KB).
pub const GMAIL_CLIP_BYTES: usize = 102_000;
/// Gmail drops a `<style>` block larger than this.
pub const GMAIL_STYLE_BYTES: usize = 16_384;

/// Tags no mail client runs or that providers strip (and flag as spam).
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "form", "input", "button", "select", "textarea", "iframe", "object", "embed",
    "video", "audio", "base", "frame", "frameset", "applet", "link",
];

/// CSS that breaks the layout in Outlook for Windows or is unsupported in
/// Gmail: an error.
pub(crate) const BREAKING_CSS: &[(&str, &str)] = &[
    (
        "display:flex",
        "flexbox is not supported by Outlook for Windows or Gmail's older apps",
    ),
    (
        "display:inline-flex",
        "flexbox is not supported by Outlook for Windows",
    ),
    (
        "display:grid",
        "CSS grid is not supported by Outlook or Gmail",
    ),
    (
        "position:absolute",
        "positioning is stripped by Gmail and Outlook",
    ),
    (
        "position:fixed",
        "positioning is stripped by Gmail and Outlook",
    ),
    (
        "var(--",
        "CSS custom properties are not supported by Outlook or Gmail",
    ),
    ("@import", "@import is not supported by most mail clients"),
    ("expression(", "CSS expressions are blocked everywhere"),
];

/// CSS with partial support: a warning, since clients fall back gracefully
/// only if the layout does not depend on it.
pub(crate) const PARTIAL_CSS: &[(&str, &str)] = &[
    ("float:", "float is ignored by Outlook for Windows"),
    (
        "background-image",
        "background images are not shown by Outlook for Windows",
    ),
    (
        "box-shadow",
        "box-shadow is not supported by Outlook or Gmail",
    ),
    (
        "@font-face",
        "web fonts are not supported by Gmail or Outlook",
    ),
    (
        "linear-gradient",
        "gradients are not supported by Outlook for Windows",
    ),
];

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub html_bytes: usize,
    pub style_bytes: usize,
    pub links: usize,
    pub images: usize,
}

/// Lints email HTML (the personal-field markers may still be present).
pub fn lint(file: &Path, html: &str) -> (Report, Problems) {
    let mut problems = Problems::default();
    let doc = Html::parse_document(html);
    let mut report = Report {
        html_bytes: html.len(),
        ..Report::default()
    };
    let err = |m: String, h: &str| Problem::error(file, m).hint(h);

    if html.len() > GMAIL_CLIP_BYTES {
        problems.push(err(
            format!(
                "the HTML is {} bytes; Gmail clips messages above about {GMAIL_CLIP_BYTES}",
                html.len()
            ),
            "shorten the guide, or lower the edition's news limit",
        ));
    }
    let style_sel = Selector::parse("style").expect("valid selector");
    let mut in_style = BTreeSet::new();
    for style in doc.select(&style_sel) {
        let css: String = style.text().collect();
        report.style_bytes += css.len();
        in_style.extend(breaking_css(&css));
    }
    if report.style_bytes > GMAIL_STYLE_BYTES {
        problems.push(err(
            format!(
                "the <style> block is {} bytes; Gmail ignores one above {GMAIL_STYLE_BYTES}",
                report.style_bytes
            ),
            "move rules that need not survive inlining out of @media blocks",
        ));
    }
    let any = Selector::parse("[style]").expect("valid selector");
    let mut in_attributes = BTreeMap::<_, usize>::new();
    for style in doc.select(&any).filter_map(|el| el.value().attr("style")) {
        for finding in breaking_css(style) {
            *in_attributes.entry(finding).or_default() += 1;
        }
    }
    css_problems(file, in_style, in_attributes, &mut problems);
    for tag in FORBIDDEN_TAGS {
        let sel = Selector::parse(tag).expect("valid selector");
        if doc.select(&sel).next().is_some() {
            problems.push(err(
                format!("the email contains a <{tag}> element"),
                "mail clients strip it; remove it from the layout",
            ));
        }
    }
    let a = Selector::parse("a").expect("valid selector");
    for el in doc.select(&a) {
        report.links += 1;
        let href = el.value().attr("href").unwrap_or("");
        let ok = href.starts_with("https://")
            || href.starts_with("mailto:")
            || href.starts_with('\u{E000}');
        if !ok {
            problems.push(err(
                format!("a link to `{href}` is not an absolute https:// address"),
                "links must be absolute; relative or http links break or warn in mail clients",
            ));
        }
    }
    let img = Selector::parse("img").expect("valid selector");
    for el in doc.select(&img) {
        report.images += 1;
        let src = el.value().attr("src").unwrap_or("");
        for attr in ["alt", "width"] {
            if el.value().attr(attr).is_none_or(|v| v.trim().is_empty()) {
                problems.push(err(
                    format!("the image `{src}` has no {attr}"),
                    "every image needs alt text and a width",
                ));
            }
        }
    }
    (report, problems)
}

/// Lower-cased CSS without whitespace, for substring checks.
pub(crate) fn squash(css: &str) -> String {
    css.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

/// The entries of `BREAKING_CSS` that `css` uses.
fn breaking_css(css: &str) -> impl Iterator<Item = (&'static str, &'static str)> {
    let squashed = squash(css);
    BREAKING_CSS
        .iter()
        .copied()
        .filter(move |(needle, _)| squashed.contains(needle))
}

/// CSS in the built HTML that mail clients break on. Anything that came from
/// the stylesheet has already stopped the build at its line in the CSS file
/// (see `css_lint`), so this only finds CSS the stylesheet did not have; it
/// is reported once per kind, however many elements carry it. Partial-support
/// CSS can only come from the stylesheet, so it is not looked for here.
fn css_problems(
    file: &Path,
    in_style: BTreeSet<(&str, &str)>,
    in_attributes: BTreeMap<(&str, &str), usize>,
    problems: &mut Problems,
) {
    let hint = "use tables for layout; see layouts/email.css";
    for (needle, why) in in_style {
        problems.push(
            Problem::error(file, format!("the <style> block uses `{needle}`: {why}")).hint(hint),
        );
    }
    for ((needle, why), n) in in_attributes {
        let what = match n {
            1 => "a style attribute uses".to_string(),
            n => format!("{n} style attributes use"),
        };
        problems.push(Problem::error(file, format!("{what} `{needle}`: {why}")).hint(hint));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_breaks_email() {
        let html = r#"<html><head><style>.a{display: flex}</style></head><body>
            <script>x</script><a href="/rel">x</a><img src="https://e.com/a.png"></body></html>"#;
        let (r, p) = lint(Path::new("email.html"), html);
        assert_eq!(r.links, 1);
        let msgs: Vec<String> = p.0.iter().map(|p| p.message.clone()).collect();
        assert!(msgs.iter().any(|m| m.contains("display:flex")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("<script>")));
        assert!(msgs.iter().any(|m| m.contains("/rel")));
        assert!(msgs.iter().any(|m| m.contains("no alt")));
        assert!(msgs.iter().any(|m| m.contains("no width")));
    }

    #[test]
    fn clean_email_passes() {
        let html = r#"<html><body><a href="https://e.com">x</a><img src="https://e.com/a.png" alt="A" width="10"></body></html>"#;
        assert!(lint(Path::new("e.html"), html).1.is_empty());
    }
}
