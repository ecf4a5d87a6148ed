//! The preview's own pages. Every page carries the version it was rendered
//! at and a small script that polls `/version` and reloads on change; that
//! script lives only here, never in the email documents the frames load.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Snapshot;
use super::frames;
use crate::app::Error;
use crate::app::lifecycle::IssueState;
use crate::domain::IssueId;
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

/// `/issue/<id>`: the frames, checks, headers and plain text, or the
/// problems that stop the issue from building.
pub fn issue(version: &str, id: &IssueId, snapshot: &Result<Snapshot, Error>) -> Markup {
    let crumb = html! { span.sep { "/" } span.crumb { (id) } };
    let body = match snapshot {
        Err(problems) => problem_box("This issue does not build", problems),
        Ok(s) => html! {
            h1.visually-hidden { "Preview of " (id) }
            (inbox_line(s))
            div.workspace {
                div.frames {
                    (frame("desktop", "Desktop", DESKTOP_WIDTH, &format!("/issue/{id}/email.html")))
                    (frame("phone", "Phone", PHONE_WIDTH, &format!("/issue/{id}/email.html")))
                    (frame("dark", "Dark mode", PHONE_WIDTH, &format!("/issue/{id}/dark.html")))
                }
                aside.side {
                    h2 { "Checks" }
                    (checks(s))
                    h2 { "Headers" }
                    pre.headers { (frames::headers(&s.message_eml)) }
                    h2 { "Files" }
                    p.files {
                        @for name in ["email.html", "email.txt", "web.html", "message.eml"] {
                            a href={ "/issue/" (id) "/" (name) } target="_blank" { (name) } " "
                        }
                    }
                }
            }
            section.plain {
                h2 { "Plain text" }
                // Wide lines scroll: focusable so the keyboard can scroll it.
                pre #plain tabindex="0" aria-label="Plain-text part" { (s.email_txt) }
            }
        },
    };
    layout(&format!("{id} · almanac preview"), version, crumb, body)
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

fn frame(id: &str, label: &str, width: u32, src: &str) -> Markup {
    html! {
        figure.frame {
            figcaption { (label) " " span.dim { (width) " px" } }
            iframe.email #(id) src=(src) width=(width) title={ (label) " view of the email" } {}
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
