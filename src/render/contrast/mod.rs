//! The contrast check: every text and background pair an edition's theme
//! produces, in the light and the dark colour scheme, measured as WCAG 2.1
//! does (4.5:1 for text, 3:1 for large text and for a badge against what is
//! around it). A failure is reported where the colour is written: the
//! theme's key in `layouts/editions/<id>.toml`, or the declaration in
//! `layouts/email.css`, with the ratio, the ratio needed and the nearest
//! colour that passes.
//!
//! The pairs come from the template itself: a specimen issue that uses
//! every part of it is rendered with the edition, and the stylesheet's
//! cascade is followed for each element that shows text (see `cascade`).
//! So a colour rule added to `layouts/email.css` is checked too, wherever
//! the element it colours sits.

pub mod cascade;
pub mod color;
mod specimen;

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use cascade::{Drawn, Origin, Paint, Rules, Scheme, Var};
use color::{Rgba, nearest_passing, ratio, shown};

use super::View;
use crate::config::Config;
use crate::diag::{Problem, Problems, line_col};
use crate::layouts::{Edition, Layouts};

/// WCAG 2.1 AA, 1.4.3 and 1.4.11.
pub const TEXT: f64 = 4.5;
pub const LARGE_TEXT: f64 = 3.0;
pub const UI: f64 = 3.0;

/// Text at least this large (18pt), or this large and bold (14pt), is
/// "large" for WCAG.
const LARGE_PX: f64 = 24.0;
const LARGE_BOLD_PX: f64 = 18.66;

/// Every pair of `edition` that is below the ratio it needs, as problems.
pub fn check(config: &Config, layouts: &Layouts, edition: &Edition) -> Problems {
    let issue = specimen::issue(&edition.id);
    let Some(view) = View::new(config, layouts, &issue) else {
        return Problems::default();
    };
    let html = super::html::document(&view, "", false);
    let extra = edition.css.as_deref().unwrap_or("");
    let rules = Rules::parse(&[&layouts.css, extra]);
    let vars: Vec<Var> = edition
        .theme
        .entries()
        .iter()
        .filter_map(|(name, key, c)| {
            Some(Var {
                name,
                key,
                color: Rgba::from_hex(c.as_str())?,
            })
        })
        .collect();
    let mut failures: Vec<Failure> = Vec::new();
    for scheme in Scheme::BOTH {
        for d in cascade::drawn(&html, &rules, &vars, scheme) {
            for f in failures_of(&d, scheme) {
                match failures.iter_mut().find(|g| g.same_pair(&f)) {
                    Some(g) => g.merge(f),
                    None => failures.push(f),
                }
            }
        }
    }
    let places = Places { layouts, edition };
    Problems(failures.iter().map(|f| places.problem(f)).collect())
}

/// What a pair is and needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    LargeText,
    Badge,
}

impl Kind {
    fn needs(self) -> f64 {
        match self {
            Kind::Text => TEXT,
            Kind::LargeText => LARGE_TEXT,
            Kind::Badge => UI,
        }
    }
    fn what(self) -> &'static str {
        match self {
            Kind::Text => "text needs",
            Kind::LargeText => "large text needs",
            Kind::Badge => "a badge needs, against what is around it,",
        }
    }
}

/// One pair below its ratio, and every element and scheme it was seen in.
#[derive(Debug)]
struct Failure {
    fg: Paint,
    bg: Paint,
    kind: Kind,
    ratio: f64,
    labels: Vec<String>,
    schemes: BTreeSet<Scheme>,
}

impl Failure {
    fn same_pair(&self, other: &Failure) -> bool {
        self.fg == other.fg && self.bg == other.bg && self.kind == other.kind
    }
    fn merge(&mut self, other: Failure) {
        for l in other.labels {
            if !self.labels.contains(&l) {
                self.labels.push(l);
            }
        }
        self.schemes.extend(other.schemes);
    }
}

fn failures_of(d: &Drawn, scheme: Scheme) -> Vec<Failure> {
    let large = d.size_px >= LARGE_PX || (d.bold && d.size_px >= LARGE_BOLD_PX);
    let text = match large {
        true => Kind::LargeText,
        false => Kind::Text,
    };
    let mut pairs = vec![(d.fg.clone(), d.bg.clone(), text)];
    if let Some((badge, around)) = &d.badge {
        pairs.push((badge.clone(), around.clone(), Kind::Badge));
    }
    pairs
        .into_iter()
        .filter_map(|(fg, bg, kind)| {
            let r = ratio(fg.color, bg.color);
            (r < kind.needs()).then(|| Failure {
                fg,
                bg,
                kind,
                ratio: r,
                labels: vec![d.label.clone()],
                schemes: BTreeSet::from([scheme]),
            })
        })
        .collect()
}

/// Where the colours of an edition are written.
struct Places<'a> {
    layouts: &'a Layouts,
    edition: &'a Edition,
}

/// A colour someone can change, and where.
struct Place {
    /// How the message names it: "`accent` #4338ca".
    name: String,
    file: std::path::PathBuf,
    /// The file's text and the span of the value, when known.
    at: Option<(Arc<str>, Range<usize>)>,
    /// Said after the message (an embedded default, a line inside `css`).
    note: String,
}

impl Places<'_> {
    fn place(&self, p: &Paint) -> Option<Place> {
        let e = self.edition;
        let embedded = |yes: bool, what: &str| match yes {
            true => format!(" (in the embedded default {what})"),
            false => String::new(),
        };
        match &p.origin {
            Origin::Theme(key) => {
                let span = theme_span(&e.source, key);
                // An optional colour that is not set: point at the table it
                // belongs in, and say what stands in for it.
                let unset = match (&span, crate::layouts::Theme::fallback(key)) {
                    (None, Some(from)) => format!(
                        " (`{key}` is not set, so `{from}` is used in dark mode: add `{key}` under [theme])"
                    ),
                    _ => String::new(),
                };
                let span = span.or_else(|| table_span(&e.source, "theme"));
                Some(Place {
                    name: format!("`{key}` {}", p.color),
                    file: e.file.clone(),
                    at: span.map(|s| (e.source.clone(), s)),
                    note: format!("{unset}{}", embedded(e.embedded, "edition")),
                })
            }
            Origin::Sheet { sheet: 0, span } => Some(Place {
                name: p.color.to_string(),
                file: self.layouts.css_file.clone(),
                at: Some((self.layouts.css.clone(), span.clone())),
                note: embedded(self.layouts.css_embedded, "stylesheet"),
            }),
            Origin::Sheet { span, .. } => {
                let css = e.css.as_deref().unwrap_or("");
                let (line, _) = line_col(css, span.start);
                Some(Place {
                    name: p.color.to_string(),
                    file: e.file.clone(),
                    at: None,
                    note: format!(" (in `css`, line {line} of that CSS)"),
                })
            }
            Origin::Browser(_) => None,
        }
    }

    fn problem(&self, f: &Failure) -> Problem {
        let needs = f.kind.needs();
        let fg = self.place(&f.fg);
        let bg = self.place(&f.bg);
        // Blame the colour that needs the smaller change to pass.
        let fix = |place: &Option<Place>, color: Rgba, other: Rgba| {
            place
                .as_ref()
                .and_then(|_| nearest_passing(color, other, needs))
        };
        let fg_fix = fix(&fg, f.fg.color, f.bg.color);
        let bg_fix = fix(&bg, f.bg.color, f.fg.color);
        let blame_bg = match (&fg_fix, &bg_fix) {
            (Some(a), Some(b)) => b.1 < a.1,
            (None, Some(_)) => true,
            _ => false,
        };
        let describe = |p: &Paint, place: &Option<Place>| match (place, &p.origin) {
            (Some(pl), _) => pl.name.clone(),
            (None, Origin::Browser(what)) => format!("{what} {}", p.color),
            (None, _) => p.color.to_string(),
        };
        let schemes: Vec<&str> = f.schemes.iter().map(|s| s.as_str()).collect();
        let mut message = format!(
            "contrast {} of {} on {} in {} mode ({}); {} {}:1",
            shown(f.ratio),
            describe(&f.fg, &fg),
            describe(&f.bg, &bg),
            schemes.join(" and "),
            f.labels.join(", "),
            f.kind.what(),
            needs,
        );
        let (blamed, fixes) = match blame_bg {
            true => (&bg, [(&bg, bg_fix, f.fg.color), (&fg, fg_fix, f.bg.color)]),
            false => (&fg, [(&fg, fg_fix, f.bg.color), (&bg, bg_fix, f.fg.color)]),
        };
        let hints: Vec<String> = fixes
            .iter()
            .filter_map(|(place, fix, other)| {
                let (place, (c, _)) = (place.as_ref()?, fix.as_ref()?);
                let what = place.name.split(' ').next().unwrap_or("it");
                Some(format!(
                    "{what} {c} ({} on {other})",
                    shown(ratio(*c, *other))
                ))
            })
            .collect();
        let hint = match hints.as_slice() {
            [] => "choose colours further apart in lightness".to_owned(),
            [one] => format!("the nearest colour that passes: {one}"),
            [one, rest @ ..] => format!(
                "the nearest colour that passes: {one}; or change the other: {}",
                rest.join("; ")
            ),
        };
        let Some(place) = blamed.as_ref().or(fg.as_ref()).or(bg.as_ref()) else {
            return Problem::error(&self.layouts.css_file, message).hint(hint);
        };
        message.push_str(&place.note);
        let p = Problem::error(&place.file, message);
        match &place.at {
            Some((src, span)) => p.at(src, span.clone()),
            None => p,
        }
        .hint(hint)
    }
}

/// The span of `key`'s value in the `[theme]` table of an edition file.
fn theme_span(src: &str, key: &str) -> Option<Range<usize>> {
    let doc = toml::de::DeTable::parse(src).ok()?;
    let theme = doc.get_ref().get("theme")?;
    match theme.get_ref() {
        toml::de::DeValue::Table(t) => t.get(key).map(|v| v.span()),
        _ => None,
    }
}

/// The span of table `name`'s header in an edition file.
fn table_span(src: &str, name: &str) -> Option<Range<usize>> {
    let at = src.find(&format!("[{name}]"))?;
    Some(at..at + name.len() + 2)
}

/// The contrast problems of every edition, for `check`.
pub fn check_all(config: &Config, layouts: &Layouts) -> Problems {
    let mut all = Problems::default();
    for e in layouts.editions.values() {
        all.extend(check(config, layouts, e));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn project(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, Config, Layouts) {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.path().join("layouts/editions")).unwrap();
        std::fs::copy(
            root.join("newsletter.toml"),
            dir.path().join("newsletter.toml"),
        )
        .unwrap();
        for e in ["midweek", "sunday"] {
            let src =
                std::fs::read_to_string(root.join(format!("layouts/editions/{e}.toml"))).unwrap();
            let src = if e == "midweek" { edit(&src) } else { src };
            std::fs::write(dir.path().join(format!("layouts/editions/{e}.toml")), src).unwrap();
        }
        let env = crate::config::Env::default();
        let config = Config::load(&dir.path().join("newsletter.toml"), &env).unwrap();
        let layouts = Layouts::load(&dir.path().join("layouts")).unwrap();
        (dir, config, layouts)
    }

    #[test]
    fn a_colour_in_email_css_is_reported_at_its_declaration() {
        let (d, config, _) = project(str::to_owned);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let css = std::fs::read_to_string(root.join("layouts/email.css")).unwrap()
            + "\n.footer-address { color: #bbbbbb; }\n";
        std::fs::write(d.path().join("layouts/email.css"), &css).unwrap();
        let layouts = Layouts::load(&d.path().join("layouts")).unwrap();
        let p = check_all(&config, &layouts);
        let line = css.lines().count();
        let found =
            p.0.iter()
                .find(|p| p.message.contains("#bbbbbb") && p.message.contains("light mode"))
                .unwrap_or_else(|| panic!("no #bbbbbb in {p}"));
        assert!(found.file.ends_with("layouts/email.css"), "{found}");
        assert_eq!(found.line_col().map(|(l, _)| l), Some(line), "{found}");
        assert!(
            found.hint.as_deref().unwrap().contains("nearest colour"),
            "{found}"
        );
    }

    #[test]
    fn the_sample_themes_pass() {
        let (_d, config, layouts) = project(str::to_owned);
        let p = check_all(&config, &layouts);
        assert!(p.is_empty(), "{p}");
    }

    #[test]
    fn a_failing_accent_is_reported_at_its_line_with_a_fix() {
        let (_d, config, layouts) =
            project(|s| s.replacen("accent = \"#4338ca\"", "accent = \"#9999ff\"", 1));
        let midweek = layouts.edition(&"midweek".parse().unwrap()).unwrap();
        let p = check(&config, &layouts, midweek);
        assert!(p.has_errors());
        let line = midweek
            .source
            .lines()
            .position(|l| l.starts_with("accent ="))
            .unwrap()
            + 1;
        for problem in &p.0 {
            assert_eq!(problem.line_col(), Some((line, 10)), "{problem}");
            assert!(problem.message.contains("`accent` #9999ff"), "{problem}");
            let hint = problem.hint.as_deref().unwrap();
            assert!(
                hint.starts_with("the nearest colour that passes: `accent` #"),
                "{hint}"
            );
        }
        let on_surface = p
            .0
            .iter()
            .find(|p| {
                p.message.contains("on `surface` #ffffff") && p.message.contains("a in .section")
            })
            .expect("links on the surface");
        assert!(
            on_surface.message.contains("contrast 2.51:1"),
            "{on_surface}"
        );
        assert!(
            on_surface.message.contains("text needs 4.5:1"),
            "{on_surface}"
        );
    }
}
