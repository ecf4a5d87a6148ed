//! The newsletter's look, as data: `layouts/email.css` (inlined into every
//! email) and one `layouts/editions/<id>.toml` per edition (theme colours,
//! masthead, section order, how news is picked). Files the user has are used;
//! missing ones fall back to the embedded defaults, file by file, so a new
//! newsletter works before anyone writes CSS. Adding an edition is adding a
//! file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, de};

use crate::diag::{Problem, Problems, read_text, toml_problem};
use crate::domain::{EditionId, Line};

/// The defaults are the sample's own layout files, so they never drift.
const DEFAULT_CSS: &str = include_str!("../layouts/email.css");
const DEFAULT_EDITIONS: &[(&str, &str)] = &[
    ("midweek", include_str!("../layouts/editions/midweek.toml")),
    ("sunday", include_str!("../layouts/editions/sunday.toml")),
];

const MAX_LAYOUT_BYTES: u64 = 256 * 1024;

/// The embedded layout files, by path under `layouts/` (for `almanac init
/// --layouts`, which writes them out for customising).
pub fn default_files() -> Vec<(String, &'static str)> {
    let mut out = vec![("email.css".to_owned(), DEFAULT_CSS)];
    out.extend(
        DEFAULT_EDITIONS
            .iter()
            .map(|(id, text)| (format!("editions/{id}.toml"), *text)),
    );
    out
}

#[derive(Debug, Clone)]
pub struct Layouts {
    /// Path shown in errors about the stylesheet.
    pub css_file: PathBuf,
    pub css: Arc<str>,
    /// Whether `css` is the embedded default (there is no `css_file`).
    pub css_embedded: bool,
    pub editions: BTreeMap<EditionId, Edition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edition {
    #[serde(skip, default = "placeholder_id")]
    pub id: EditionId,
    /// Shown in the masthead and subject context, e.g. "Midweek".
    pub name: Line,
    /// One line under the masthead.
    pub tagline: Line,
    /// Order of the body sections; each name at most once.
    pub sections: Vec<Section>,
    pub theme: Theme,
    pub news: NewsRules,
    /// Extra CSS for this edition only, appended to `email.css`.
    #[serde(default)]
    pub css: Option<String>,
    /// The file it was read from (or would be, for an embedded default)
    /// and its text, so checks of the theme can point at a key's value.
    #[serde(skip, default)]
    pub file: PathBuf,
    #[serde(skip, default = "empty_source")]
    pub source: Arc<str>,
    /// Whether this is the embedded default (there is no `file`).
    #[serde(skip, default)]
    pub embedded: bool,
}

fn empty_source() -> Arc<str> {
    Arc::from("")
}

fn placeholder_id() -> EditionId {
    "edition".parse().expect("valid slug")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The editor's note.
    Note,
    /// The featured guide.
    Guide,
    /// The curated news.
    News,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub accent: Color,
    pub accent_text: Color,
    pub background: Color,
    pub surface: Color,
    pub text: Color,
    pub muted: Color,
    pub border: Color,
    pub dark_background: Color,
    pub dark_surface: Color,
    pub dark_text: Color,
    /// Links, the kicker and the badge in dark mode, where the light
    /// accent is usually too dark to read; absent means `accent`.
    #[serde(default)]
    pub dark_accent: Option<Color>,
    /// Secondary text in dark mode; absent means `muted`.
    #[serde(default)]
    pub dark_muted: Option<Color>,
}

impl Theme {
    /// The key an absent optional colour falls back to.
    pub fn fallback(key: &str) -> Option<&'static str> {
        match key {
            "dark_accent" => Some("accent"),
            "dark_muted" => Some("muted"),
            _ => None,
        }
    }
}

/// The names of the theme colours, as written in `var(--name)`.
pub const THEME_VARS: [&str; 12] = [
    "accent",
    "accent-text",
    "background",
    "surface",
    "text",
    "muted",
    "border",
    "dark-background",
    "dark-surface",
    "dark-text",
    "dark-accent",
    "dark-muted",
];

/// The edition file's key for each of `THEME_VARS`.
pub const THEME_KEYS: [&str; 12] = [
    "accent",
    "accent_text",
    "background",
    "surface",
    "text",
    "muted",
    "border",
    "dark_background",
    "dark_surface",
    "dark_text",
    "dark_accent",
    "dark_muted",
];

impl Theme {
    /// `(name, value)` pairs substituted for `var(--name)` in the CSS.
    pub fn vars(&self) -> [(&'static str, &Color); 12] {
        let values = [
            &self.accent,
            &self.accent_text,
            &self.background,
            &self.surface,
            &self.text,
            &self.muted,
            &self.border,
            &self.dark_background,
            &self.dark_surface,
            &self.dark_text,
            self.dark_accent.as_ref().unwrap_or(&self.accent),
            self.dark_muted.as_ref().unwrap_or(&self.muted),
        ];
        std::array::from_fn(|i| (THEME_VARS[i], values[i]))
    }

    /// `(var name, key, value)` for each colour. An absent `dark_accent`
    /// keeps its key (with `accent`'s value): a pair failing only in dark
    /// mode is fixed by adding it, not by changing `accent`.
    pub fn entries(&self) -> Vec<(&'static str, &'static str, &Color)> {
        self.vars()
            .into_iter()
            .enumerate()
            .map(|(i, (name, color))| (name, THEME_KEYS[i], color))
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsRules {
    /// Heading of the news section.
    pub heading: Line,
    /// At most this many items; absent means all.
    pub limit: Option<usize>,
    pub order: NewsOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewsOrder {
    /// Highest score first; ties by newest.
    Score,
    /// Newest first; ties by score.
    Date,
}

/// A `#rrggbb` colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok =
            s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Color(s.to_ascii_lowercase()))
        } else {
            Err(de::Error::custom(format!(
                "`{s}` is not a colour; write it as #rrggbb, e.g. #1d4ed8"
            )))
        }
    }
}

impl Layouts {
    pub fn load(dir: &Path) -> Result<Layouts, Problems> {
        let mut problems = Problems::default();
        let css_file = dir.join("email.css");
        let css_embedded = !css_file.exists();
        let css: Arc<str> = if !css_embedded {
            match read_text(&css_file, MAX_LAYOUT_BYTES) {
                Ok(s) => s,
                Err(p) => {
                    problems.push(p);
                    Arc::from("")
                }
            }
        } else {
            Arc::from(DEFAULT_CSS)
        };
        let mut editions = BTreeMap::new();
        for (id, file, src, embedded) in edition_sources(dir, &mut problems) {
            match parse_edition(&id, &file, &src) {
                Ok(mut e) => {
                    e.embedded = embedded;
                    editions.insert(e.id.clone(), e);
                }
                Err(p) => problems.push(p),
            }
        }
        problems.into_result(Layouts {
            css_file,
            css,
            css_embedded,
            editions,
        })
    }

    pub fn edition(&self, id: &EditionId) -> Option<&Edition> {
        self.editions.get(id)
    }

    pub fn edition_names(&self) -> String {
        self.editions
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The user's edition files, plus embedded defaults for ids they lack.
fn edition_sources(dir: &Path, problems: &mut Problems) -> Vec<(String, PathBuf, Arc<str>, bool)> {
    let ed_dir = dir.join("editions");
    let mut found: BTreeMap<String, (PathBuf, Arc<str>, bool)> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(&ed_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match read_text(&path, MAX_LAYOUT_BYTES) {
                Ok(src) => {
                    found.insert(stem.to_owned(), (path.clone(), src, false));
                }
                Err(p) => problems.push(p),
            }
        }
    }
    for (id, src) in DEFAULT_EDITIONS {
        found
            .entry((*id).to_owned())
            .or_insert_with(|| (ed_dir.join(format!("{id}.toml")), Arc::from(*src), true));
    }
    found
        .into_iter()
        .map(|(id, (path, src, embedded))| (id, path, src, embedded))
        .collect()
}

fn parse_edition(id: &str, file: &Path, src: &Arc<str>) -> Result<Edition, Problem> {
    let id: EditionId = id.parse().map_err(|e: String| {
        Problem::error(file, e).hint("rename the file: its name is the edition's id")
    })?;
    let mut edition: Edition = toml::from_str(src).map_err(|e| toml_problem(file, src, &e))?;
    edition.id = id;
    edition.file = file.to_path_buf();
    edition.source = src.clone();
    let mut seen = Vec::new();
    for s in &edition.sections {
        if seen.contains(s) {
            return Err(
                Problem::error(file, format!("section {s:?} is listed twice"))
                    .hint("each of note, guide and news may appear once in `sections`"),
            );
        }
        seen.push(*s);
    }
    if edition.news.limit == Some(0) {
        return Err(
            Problem::error(file, "news.limit is 0, so no news would be shown")
                .hint("remove `limit` to show every item, or set it to 1 or more"),
        );
    }
    Ok(edition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layouts::load(dir.path()).unwrap();
        assert!(l.css.contains("var(--accent)"));
        assert_eq!(l.edition_names(), "`midweek`, `sunday`");
    }

    #[test]
    fn a_third_edition_is_just_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("editions")).unwrap();
        let src = DEFAULT_EDITIONS[0].1.replace("Midweek", "Friday");
        std::fs::write(dir.path().join("editions/friday.toml"), src).unwrap();
        let l = Layouts::load(dir.path()).unwrap();
        assert!(l.edition(&"friday".parse().unwrap()).is_some());
    }

    #[test]
    fn bad_colour_is_located() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("editions")).unwrap();
        let src = DEFAULT_EDITIONS[0].1.replacen("\"#", "\"#zz", 1);
        std::fs::write(dir.path().join("editions/midweek.toml"), src).unwrap();
        let p = Layouts::load(dir.path()).unwrap_err();
        assert!(p.0[0].line_col().is_some());
        assert!(p.0[0].message.contains("not a colour"));
    }
}
