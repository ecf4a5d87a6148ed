//! The stylesheet: `layouts/email.css` plus the edition's extra CSS, with the
//! edition's theme colours substituted for `var(--name)` (mail clients do not
//! support custom properties, and the `@media` rules that stay in `<style>`
//! need real values too), then inlined by css-inline. At-rules (phone layout,
//! dark mode) are kept in one `<style>` block.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::css_lint::{self, Sheet};
use crate::diag::{Problem, Problems};
use crate::layouts::{Edition, Layouts, THEME_VARS};

/// The stylesheet of one edition, ready for css-inline, and the warnings
/// its lint found. Errors (CSS that breaks mail clients, unknown theme
/// colours) are reported at their line in the file that holds the CSS.
pub fn stylesheet(layouts: &Layouts, edition: &Edition) -> Result<(String, Problems), Problems> {
    // The lint comes first: it is also what stops a stylesheet nested too
    // deeply for css-inline's recursive walk.
    let note = match layouts.css_embedded {
        true => " (in the embedded default stylesheet)",
        false => "",
    };
    let mut problems = css_lint::lint(&Sheet {
        file: &layouts.css_file,
        css: &layouts.css,
        located: true,
        note,
    });
    let mut css = String::new();
    match substitute_vars(&layouts.css, edition, &layouts.css_file, true) {
        Ok(text) => css = text,
        Err(p) => problems.extend(p),
    }
    if let Some(extra) = &edition.css {
        // The edition's own CSS is a string inside its TOML file, whose
        // position is not kept: its problems name that file, not email.css.
        let file = layouts
            .css_file
            .with_file_name("editions")
            .join(format!("{}.toml", edition.id));
        problems.extend(css_lint::lint(&Sheet {
            file: &file,
            css: &Arc::from(extra.as_str()),
            located: false,
            note: "",
        }));
        match substitute_vars(extra, edition, &file, false) {
            Ok(extra) => {
                css.push('\n');
                css.push_str(&extra);
            }
            Err(p) => problems.extend(p),
        }
    }
    let problems = problems.capped(crate::content::MAX_PROBLEMS_PER_FILE);
    match problems.has_errors() {
        true => Err(problems),
        false => Ok((css, problems)),
    }
}

/// Every `var(--name)` in `css`: its range and the name. The one place
/// that decides what a theme-colour reference looks like, for the
/// substitution here and for the lint, which must not flag what this replaces.
pub(crate) fn var_refs(css: &str) -> Vec<(Range<usize>, &str)> {
    let mut refs = Vec::new();
    let mut from = 0;
    while let Some(pos) = css[from..].find("var(--").map(|p| from + p) {
        let after = pos + "var(--".len();
        let close = css[after..].find(')').map_or(css.len(), |c| after + c);
        refs.push((pos..(close + 1).min(css.len()), css[after..close].trim()));
        from = (close + 1).min(css.len());
    }
    refs
}

/// `located`: `css` is the whole of `file`, so problems carry its position;
/// otherwise the message names the line within `css`.
fn substitute_vars(
    css: &str,
    edition: &Edition,
    file: &Path,
    located: bool,
) -> Result<String, Problems> {
    let vars = edition.theme.vars();
    let mut out = String::with_capacity(css.len());
    let mut problems = Problems::default();
    let mut copied = 0;
    for (range, name) in var_refs(css) {
        out.push_str(&css[copied..range.start]);
        copied = range.end;
        match vars.iter().find(|(n, _)| *n == name) {
            Some((_, color)) => out.push_str(color.as_str()),
            None => problems.push(unknown_var(css, range, name, file, located)),
        }
    }
    out.push_str(&css[copied..]);
    problems.into_result(out)
}

fn unknown_var(css: &str, range: Range<usize>, name: &str, file: &Path, located: bool) -> Problem {
    let hint = format!("the theme defines: --{}", THEME_VARS.join(", --"));
    let problem = if located {
        Problem::error(file, format!("unknown theme colour `--{name}`")).at(&Arc::from(css), range)
    } else {
        let (line, _) = crate::diag::line_col(css, range.start);
        Problem::error(
            file,
            format!("unknown theme colour `--{name}` in `css`, line {line} of that CSS"),
        )
    };
    problem.hint(hint)
}

/// Inlines the document's `<style>` into `style` attributes, keeping at-rules.
pub fn inline(html: &str, css_file: &Path) -> Result<String, Problems> {
    let inliner = css_inline::CSSInliner::options()
        .keep_style_tags(false)
        .keep_at_rules(true)
        .load_remote_stylesheets(false)
        .apply_width_attributes(true)
        .build();
    inliner.inline(html).map_err(|e| {
        Problems::from(
            Problem::error(
                css_file,
                format!("the stylesheet could not be inlined: {e}"),
            )
            .hint("check the CSS syntax in layouts/email.css"),
        )
    })
}
