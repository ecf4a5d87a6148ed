//! The preview's own pages. Every page carries the version it was rendered
//! at and a small script that polls `/version` and reloads on change; that
//! script lives only here, never in the email documents the frames load.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Snapshot;
use super::frames;
use crate::app::lifecycle::IssueState;
use crate::app::subscribers::Listed;
use crate::app::{Error, Reader, SAMPLE_EMAIL, SAMPLE_NAME};
use crate::domain::{EditionId, IssueId};
use crate::render::lint::{GMAIL_CLIP_BYTES, GMAIL_STYLE_BYTES};

const CSS: &str = include_str!("preview.css");
const SCRIPT: &str = include_str!("preview.js");

/// Frame widths in CSS pixels. The email's column is 600 px wide; the
/// desktop frame leaves room around it as a mail client's reading pane does.
/// 375 px is the common phone viewport (iPhone mini to Pro).
pub const DESKTOP_WIDTH: u32 = 640;
pub const PHONE_WIDTH: u32 = 375;

/// `/`: every issue, newest first, with its subject, edition, date, stage
/// and what `almanac check` says of it.
pub fn index(version: &str, issues: &Result<Vec<IssueState>, Error>) -> Markup {
    let body = html! {
        h1 { "Issues" }
        @match issues {
            Ok(list) if list.is_empty() => {
                p { "There are no issues yet. Create one with " code { "almanac new" } "." }
            }
            Ok(list) => {
                ul.issues {
                    @for s in list {
                        li { a href={ "/issue/" (s.issue) } {
                            span.id { (s.issue) }
                            span.subject { (s.subject.as_deref().unwrap_or("(does not load)")) }
                            span.meta {
                                (s.edition.as_deref().unwrap_or("?")) " · " (s.date.as_deref().unwrap_or("?"))
                                " · " span.stage data-stage=(stage_key(s)) { (s.label) }
                                " · " (check_result(s))
                            }
                        } }
                    }
                }
            }
            Err(problems) => (problem_box("The newsletter does not load", problems)),
        }
    };
    layout("almanac preview", version, html! {}, body)
}

fn stage_key(s: &IssueState) -> &'static str {
    use crate::app::lifecycle::Stage;
    match s.stage {
        Stage::Broken { .. } => "broken",
        Stage::Draft => "draft",
        Stage::Sent | Stage::PartlySent | Stage::Sending | Stage::Interrupted => "sent",
        Stage::Skipped { .. } | Stage::Missed => "skipped",
        _ => "ready",
    }
}

fn check_result(s: &IssueState) -> String {
    match (&s.stage, s.warnings) {
        (crate::app::lifecycle::Stage::Broken { errors }, _) => {
            format!(
                "check: {errors} error{}",
                if *errors == 1 { "" } else { "s" }
            )
        }
        (_, 0) => "check: ok".into(),
        (_, n) => format!("check: {n} warning{}", if n == 1 { "" } else { "s" }),
    }
}

/// The tabs of an issue page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The desktop and phone frames.
    Email,
    /// The plain-text part.
    Text,
    /// Checks, headers and the built files.
    Details,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Email, Tab::Text, Tab::Details];

    /// `?view=`; anything else is the email.
    pub fn parse(s: Option<&str>) -> Tab {
        Tab::ALL
            .into_iter()
            .find(|t| Some(t.key()) == s)
            .unwrap_or(Tab::Email)
    }

    fn key(self) -> &'static str {
        match self {
            Tab::Email => "email",
            Tab::Text => "text",
            Tab::Details => "details",
        }
    }
}

/// What an issue page was asked to show. The tab and the dark toggle are in
/// the URL, so the page reloads (after a save) as it was left.
#[derive(Debug, Clone)]
pub struct View {
    /// `?as=`, as given.
    pub address: Option<String>,
    /// Whom it renders for, when the address was found (or not given).
    pub reader: Option<Reader>,
    pub tab: Tab,
    pub dark: bool,
}

impl View {
    /// The query for this view with `tab` and `dark` changed.
    fn query(&self, tab: Tab, dark: bool) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(a) = &self.address {
            q.append_pair("as", a);
        }
        if tab != Tab::Email {
            q.append_pair("view", tab.key());
        }
        if dark {
            q.append_pair("dark", "1");
        }
        with_query(q.finish())
    }

    /// The query of a frame's document: only the reader matters there.
    fn file_query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(a) = &self.address {
            q.append_pair("as", a);
        }
        with_query(q.finish())
    }
}

fn with_query(q: String) -> String {
    if q.is_empty() { q } else { format!("?{q}") }
}

/// `/issue/<id>`: tabs for the frames (desktop and phone side by side,
/// light or dark), the plain text, and the checks and headers; or the
/// problems that stop the issue from building.
pub fn issue(
    version: &str,
    id: &IssueId,
    view: &View,
    snapshot: &Result<Snapshot, Error>,
    readers: &Result<Vec<Listed>, Error>,
) -> Markup {
    let crumb = html! { span.sep { "/" } span.crumb { (id) } };
    let body = match snapshot {
        Err(problems) => problem_box("This issue does not build", problems),
        Ok(s) => html! {
            h1.visually-hidden { "Preview of " (id) }
            (inbox_line(s))
            div.toolbar {
                (tabs(view, s))
                (dark_toggle(view))
                (reader_form(id, view, readers))
            }
            @if let Some(r) = &view.reader { (reader_note(r, &s.edition)) }
            (panel(view, Tab::Email, email_panel(id, view)))
            (panel(view, Tab::Text, html! {
                // Wide lines scroll: focusable so the keyboard can scroll it.
                pre #plain tabindex="0" aria-label="Plain-text part" { (s.email_txt) }
            }))
            (panel(view, Tab::Details, details_panel(id, view, s)))
        },
    };
    layout(&format!("{id} · almanac preview"), version, crumb, body)
}

/// `/issue/<id>?as=ADDRESS` when the address is not a subscriber (or not
/// an address): the picker, to try another, and what was wrong.
pub fn unknown_reader(
    version: &str,
    id: &IssueId,
    view: &View,
    error: &Error,
    readers: &Result<Vec<Listed>, Error>,
) -> Markup {
    let crumb = html! { span.sep { "/" } span.crumb { (id) } };
    let sample = View {
        address: None,
        ..view.clone()
    };
    let body = html! {
        div.toolbar { (reader_form(id, view, readers)) }
        section.problems {
            h1 { "No email to show for this reader" }
            pre #problems { (super::live::text(error)) }
            p { a #sample-reader href={ "/issue/" (id) (sample.query(view.tab, view.dark)) } { "Show it for the sample reader" } }
        }
    };
    layout(&format!("{id} · almanac preview"), version, crumb, body)
}

fn tabs(view: &View, s: &Snapshot) -> Markup {
    let warnings = s.warnings.warnings();
    html! {
        div.tabs role="tablist" aria-label="What to show" {
            @for tab in Tab::ALL {
                a.tab id={ "tab-" (tab.key()) } role="tab" href=(view.query(tab, view.dark))
                    data-tab=(tab.key()) aria-controls={ "panel-" (tab.key()) }
                    aria-selected=(if tab == view.tab { "true" } else { "false" })
                    tabindex=(if tab == view.tab { "0" } else { "-1" }) {
                    @match tab {
                        Tab::Email => "Email",
                        Tab::Text => "Plain text",
                        Tab::Details => {
                            "Checks & headers "
                            @if warnings == 0 { span.badge.ok { "ok" } }
                            @else { span.badge.warn { (warnings) " warning" @if warnings != 1 { "s" } } }
                        }
                    }
                }
            }
        }
    }
}

/// A link, so it works before the script runs; the script switches the
/// frames in place instead of reloading.
fn dark_toggle(view: &View) -> Markup {
    html! {
        a #dark-toggle .toggle role="button" href=(view.query(view.tab, !view.dark))
            aria-pressed=(if view.dark { "true" } else { "false" })
            title="Show the email as a mail client in dark mode does" {
            "Dark mode"
        }
    }
}

/// The reader picker: any address, with the first subscribers offered.
fn reader_form(id: &IssueId, view: &View, readers: &Result<Vec<Listed>, Error>) -> Markup {
    let sample = View {
        address: None,
        ..view.clone()
    };
    html! {
        form.reader #reader method="get" action={ "/issue/" (id) } {
            label for="as" { "Render for" }
            input #as name="as" type="text" inputmode="email" list="readers" autocomplete="off"
                spellcheck="false" value=(view.address.as_deref().unwrap_or(""))
                placeholder={ (SAMPLE_EMAIL) " (sample)" };
            @if view.tab != Tab::Email { input type="hidden" name="view" value=(view.tab.key()); }
            @if view.dark { input type="hidden" name="dark" value="1"; }
            button type="submit" { "Show" }
            @if view.address.is_some() {
                a.reset href={ "/issue/" (id) (sample.query(view.tab, view.dark)) } { "sample reader" }
            }
            datalist #readers {
                @if let Ok(list) = readers {
                    @for r in list {
                        option value=(r.email) {
                            @if r.name.is_empty() { "(no name)" } @else { (r.name) }
                        }
                    }
                }
            }
            @if let Err(e) = readers {
                span.dim.readers-error title=(super::live::text(e)) { "The subscriber list cannot be read." }
            }
        }
    }
}

/// Whom the frames show the email for, and whether a send reaches them.
fn reader_note(r: &Reader, edition: &EditionId) -> Markup {
    let skipped = r.skipped_by(edition);
    html! {
        p.reader-note #reader-note {
            @if r.is_sample() {
                "For the sample reader, " (SAMPLE_NAME) " <" (r.email) ">: not a subscriber, so its links open a page that says they are not valid. Type an address above to see a subscriber's email."
            } @else {
                "For " strong { (r.email) } ", "
                @match &r.name {
                    Some(name) => { "named " (name.as_str()) "." }
                    None => { "who gave no name: the greeting uses " code { "greeting_fallback" } " from newsletter.toml, as a send does." }
                }
                @if let Some(why) = skipped {
                    " " span.warn { "A send of this issue skips them: " (why) "." }
                }
            }
        }
    }
}

fn panel(view: &View, tab: Tab, content: Markup) -> Markup {
    html! {
        section.panel id={ "panel-" (tab.key()) } role="tabpanel"
            aria-labelledby={ "tab-" (tab.key()) } hidden[view.tab != tab] {
            (content)
        }
    }
}

fn email_panel(id: &IssueId, view: &View) -> Markup {
    let q = view.file_query();
    let light = format!("/issue/{id}/email.html{q}");
    let dark = format!("/issue/{id}/dark.html{q}");
    html! {
        div.frames #frames data-dark=(if view.dark { "true" } else { "false" }) {
            (frame("desktop", "Desktop", DESKTOP_WIDTH, &light, &dark, view.dark))
            (frame("phone", "Phone", PHONE_WIDTH, &light, &dark, view.dark))
        }
    }
}

fn details_panel(id: &IssueId, view: &View, s: &Snapshot) -> Markup {
    let q = view.file_query();
    html! {
        div.details {
            div {
                h2 { "Checks" }
                (checks(s))
                h2 { "Files" }
                p.files {
                    @for name in ["email.html", "email.txt", "web.html", "message.eml"] {
                        a href={ "/issue/" (id) "/" (name) (q) } target="_blank" { (name) } " "
                    }
                }
            }
            div {
                h2 { "Headers" }
                pre.headers { (frames::headers(&s.message_eml)) }
            }
        }
    }
}

/// Any path that is not a page: a 404 that still reloads, so a page left
/// open on an issue that is being renamed comes back when it exists again.
pub fn not_found(version: &str) -> Markup {
    let body = html! {
        h1 { "Not found" }
        p { "The preview serves " a href="/" { "the issue index" } " and one page per issue." }
    };
    layout("Not found · almanac preview", version, html! {}, body)
}

fn layout(title: &str, version: &str, crumbs: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body data-version=(version) {
                header.bar {
                    a.home href="/" { "almanac preview" }
                    (crumbs)
                    span #status .status { "live" }
                }
                main { (body) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

fn problem_box(title: &str, error: &Error) -> Markup {
    let problems = super::live::text(error);
    html! {
        section.problems {
            h1 { (title) }
            pre #problems { (problems) }
            p.dim { "This page reloads by itself when you save a fix." }
        }
    }
}

/// The line an inbox shows: sender, subject, then the preheader.
fn inbox_line(s: &Snapshot) -> Markup {
    html! {
        div.inbox {
            span.from { (s.from) }
            span.subject { (s.subject) }
            span.preheader { " – " (s.preheader) }
        }
    }
}

/// A frame that shows `light` or `dark`; both are on it, for the toggle.
fn frame(id: &str, label: &str, width: u32, light: &str, dark: &str, is_dark: bool) -> Markup {
    html! {
        figure.frame {
            figcaption { (label) " " span.dim { (width) " px" } span.dim.mode { " · dark mode" } }
            iframe.email #(id) src=(if is_dark { dark } else { light }) width=(width)
                data-light=(light) data-dark=(dark) title={ (label) " view of the email" } {}
        }
    }
}

/// The `check` lint, one line per check. Errors never reach here (they
/// stop the build), so links and images passed; warnings are listed.
fn checks(s: &Snapshot) -> Markup {
    let kb = |b: usize| format!("{:.1} KB", b as f64 / 1000.0);
    // Amber from three quarters of a limit: room left, but not much.
    let level = |used: usize, limit: usize| if used * 4 > limit * 3 { "warn" } else { "ok" };
    let warnings = s.warnings.0.len();
    html! {
        ul.checks {
            li class=(level(s.lint.html_bytes, GMAIL_CLIP_BYTES)) {
                span.label { "HTML size" }
                span.value { (kb(s.lint.html_bytes)) " of " (GMAIL_CLIP_BYTES / 1000) " KB" }
                meter min="0" max=(GMAIL_CLIP_BYTES) value=(s.lint.html_bytes) {}
                span.note { "Gmail clips a larger message." }
            }
            li class=(level(s.lint.style_bytes, GMAIL_STYLE_BYTES)) {
                span.label { "<style> block" }
                span.value { (kb(s.lint.style_bytes)) " of " (GMAIL_STYLE_BYTES / 1024) " KB" }
                meter min="0" max=(GMAIL_STYLE_BYTES) value=(s.lint.style_bytes) {}
                span.note { "Gmail drops a larger one." }
            }
            li.ok {
                span.label { "Links" }
                span.value { (s.lint.links) }
                span.note { "All absolute https:// or mailto:." }
            }
            li.ok {
                span.label { "Images" }
                span.value { (s.lint.images) }
                span.note {
                    @if s.lint.images == 0 { "None, so nothing hides behind blocked images." }
                    @else { "All with alt text and a width." }
                }
            }
            li class=(if warnings == 0 { "ok" } else { "warn" }) {
                span.label { "Tags and CSS" }
                span.value { (warnings) " warning" @if warnings != 1 { "s" } }
                span.note { "No tags mail clients strip; no CSS that breaks Outlook or Gmail." }
            }
        }
        @if !s.warnings.is_empty() {
            pre.warnings { (s.warnings.render(false)) }
        }
    }
}
