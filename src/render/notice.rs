//! Short messages about a reader's subscription (confirm your sign-up, you
//! are already subscribed, welcome): the newsletter's own look, from the
//! same stylesheet, theme and inliner as an issue, with a plain-text part
//! written beside it. Rendered per message: they are few.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::css;
use crate::config::Config;
use crate::content::markdown::{self, Block};
use crate::diag::Problems;
use crate::layouts::{Edition, Layouts};

/// What a notice says.
pub struct Notice {
    pub subject: String,
    /// The inbox teaser.
    pub preheader: String,
    /// "Hi Ada," when the notice is personal.
    pub greeting: Option<String>,
    pub paragraphs: Vec<String>,
    /// Markdown blocks (a `layouts/welcome.md`), after the paragraphs.
    pub blocks: Vec<Block>,
    /// The one thing to do: a label and an https URL.
    pub action: Option<(String, String)>,
    /// Small print under the action.
    pub after: Vec<String>,
}

/// The notice as (HTML, plain text).
pub fn render(
    config: &Config,
    layouts: &Layouts,
    edition: &Edition,
    n: &Notice,
) -> Result<(String, String), Problems> {
    let (stylesheet, _warnings) = css::stylesheet(layouts, edition)?;
    let doc = document(config, edition, n, &stylesheet);
    let html = css::inline(&doc, &layouts.css_file)?;
    Ok((html, text(config, n)))
}

fn document(config: &Config, edition: &Edition, n: &Notice, stylesheet: &str) -> String {
    let nl = &config.newsletter;
    let body: Markup = html! {
        @if let Some(g) = &n.greeting { p.greeting { (g) } }
        @for p in &n.paragraphs { p { (p) } }
        (super::html::blocks(&n.blocks))
        @if let Some((label, url)) = &n.action {
            p { a.news-link href=(url) { (label) } }
            p.footer-text { "Or paste this address into your browser: " (url) }
        }
        @for p in &n.after { p.footer-text { (p) } }
    };
    let doc = html! {
        (DOCTYPE)
        html lang=(nl.language.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                title { (n.subject) }
                style { (PreEscaped(stylesheet)) }
            }
            body class="body" {
                div.preheader { (n.preheader) }
                table.wrapper role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                    tr { td.wrapper-cell align="center" {
                        table.container role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                            tr { td.masthead {
                                p.masthead-edition { (edition.name) }
                                h1.masthead-name { (nl.name) }
                                p.masthead-tagline { (nl.tagline) }
                            } }
                            tr { td.section { (body) } }
                            tr { td.footer {
                                p.footer-address { (nl.name) " · " (nl.postal_address) }
                            } }
                        }
                    } }
                }
            }
        }
    };
    doc.into_string()
}

fn text(config: &Config, n: &Notice) -> String {
    let mut paras: Vec<String> = n.greeting.iter().cloned().collect();
    paras.extend(n.paragraphs.iter().cloned());
    paras.extend(n.blocks.iter().flat_map(block_text));
    paras.extend(
        n.action
            .iter()
            .map(|(label, url)| format!("{label}: {url}")),
    );
    paras.extend(n.after.iter().cloned());
    let wrap = |p: &str| super::text::wrap(p, "", "").join("\n");
    let body: Vec<String> = paras.iter().map(|p| wrap(p)).collect();
    let nl = &config.newsletter;
    format!(
        "{}\n\n-- \n{}\n",
        body.join("\n\n"),
        wrap(&format!("{} · {}", nl.name, nl.postal_address))
    )
}

/// A block's paragraphs as plain text (links keep their URL).
fn block_text(b: &Block) -> Vec<String> {
    match b {
        Block::Paragraph(i) | Block::Heading(_, i) => vec![inline_text(i)],
        Block::List { items, .. } => items
            .iter()
            .map(|it| {
                format!(
                    "- {}",
                    it.iter().flat_map(block_text).collect::<Vec<_>>().join(" ")
                )
            })
            .collect(),
        Block::Quote(inner) => inner
            .iter()
            .flat_map(block_text)
            .map(|p| format!("> {p}"))
            .collect(),
        Block::Code(t) => vec![t.clone()],
        Block::Rule => vec!["---".into()],
    }
}

fn inline_text(inl: &[markdown::Inline]) -> String {
    inl.iter()
        .map(|i| match i {
            markdown::Inline::Link { url, children } => {
                format!("{} <{url}>", markdown::plain(children))
            }
            other => markdown::plain(std::slice::from_ref(other)),
        })
        .collect()
}
