//! Issue model → rendered issue, once per issue: the email HTML and the plain
//! text (both as templates with holes for personal fields) and the web page.
//! Never imports `mail`, `send` or `state`: nothing here knows recipients.

pub mod contrast;
pub mod css;
pub mod css_lint;
pub mod html;
pub mod lint;
pub mod notice;
pub mod personal;
pub mod text;

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::content::{Issue, NewsItem};
use crate::diag::Problems;
use crate::layouts::{Edition, Layouts, NewsOrder};
pub use personal::{Field, Template};

/// Everything a template needs, computed once.
pub struct View<'a> {
    pub config: &'a Config,
    pub issue: &'a Issue,
    pub edition: &'a Edition,
    /// The news the edition shows, picked and ordered by its rules.
    pub news: Vec<&'a NewsItem>,
    pub web_url: String,
    pub date_long: String,
}

#[derive(Debug, Clone)]
pub struct Rendered {
    /// Inlined, email-safe HTML with personal-field holes.
    pub html: Template,
    /// The plain-text part with personal-field holes.
    pub text: Template,
    /// The browser version: no personal fields, no tokens.
    pub web: String,
    /// Found while rendering but not stopping it: CSS with partial support
    /// in mail clients, at its line in the stylesheet.
    pub warnings: Problems,
    pub timings: Timings,
}

#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub templates: Duration,
    pub css_inline: Duration,
    pub text: Duration,
}

impl<'a> View<'a> {
    pub fn new(config: &'a Config, layouts: &'a Layouts, issue: &'a Issue) -> Option<View<'a>> {
        let edition = layouts.edition(&issue.edition)?;
        Some(View {
            config,
            issue,
            edition,
            news: select_news(&issue.news, edition),
            web_url: config.web_url(&issue.id),
            date_long: issue.date.0.format("%A %-d %B %Y").to_string(),
        })
    }
}

/// Applies the edition's order and limit. Sorting is stable and fully keyed,
/// so output never depends on anything but the content.
pub fn select_news<'a>(items: &'a [NewsItem], edition: &Edition) -> Vec<&'a NewsItem> {
    let mut v: Vec<&NewsItem> = items.iter().collect();
    match edition.news.order {
        NewsOrder::Score => {
            v.sort_by(|a, b| b.score.cmp(&a.score).then(b.published.cmp(&a.published)))
        }
        NewsOrder::Date => {
            v.sort_by(|a, b| b.published.cmp(&a.published).then(b.score.cmp(&a.score)))
        }
    }
    if let Some(limit) = edition.news.limit {
        v.truncate(limit);
    }
    v
}

/// Renders an issue. Errors here are layout errors (bad CSS), reported
/// against the layout file.
pub fn render(config: &Config, layouts: &Layouts, issue: &Issue) -> Result<Rendered, Problems> {
    let view = View::new(config, layouts, issue).ok_or_else(|| {
        Problems::from(crate::diag::Problem::error(
            &config.paths.layouts,
            format!("no layout for edition `{}`", issue.edition),
        ))
    })?;
    let mut t = Timings::default();
    let (stylesheet, warnings) = css::stylesheet(layouts, view.edition)?;

    let start = Instant::now();
    let email_doc = html::document(&view, &stylesheet, false);
    let web_doc = html::document(&view, &stylesheet, true);
    t.templates = start.elapsed();

    let start = Instant::now();
    let email = css::inline(&email_doc, &layouts.css_file)?;
    let web = css::inline(&web_doc, &layouts.css_file)?;
    t.css_inline = start.elapsed();

    let start = Instant::now();
    let text = text::render(&view);
    t.text = start.elapsed();

    Ok(Rendered {
        html: Template::parse(&email),
        text: Template::parse(&text),
        web,
        warnings,
        timings: t,
    })
}
