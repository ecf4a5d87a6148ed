//! The stylesheet: `layouts/email.css` plus the edition's extra CSS, with the
//! edition's theme colours substituted for `var(--name)` (mail clients do not
//! support custom properties, and the `@media` rules that stay in `<style>`
//! need real values too), then inlined by css-inline. At-rules (phone layout,
//! dark mode) are kept in one `<style>` block.

use std::path::Path;
use std::sync::Arc;

use crate::diag::{Problem, Problems};
use crate::layouts::{Edition, Layouts};

pub fn stylesheet(layouts: &Layouts, edition: &Edition) -> Result<String, Problems> {
    let mut problems = Problems::default();
    let mut css =
        substitute_vars(&layouts.css, edition, &layouts.css_file, true).unwrap_or_else(|p| {
            problems.extend(p);
            String::new()
        });
    if let Some(extra) = &edition.css {
        // The edition's own CSS is a string inside its TOML file, whose
        // position is not kept: its problems name that file, not email.css.
        let file = layouts
            .css_file
            .with_file_name("editions")
            .join(format!("{}.toml", edition.id));
        match substitute_vars(extra, edition, &file, false) {
            Ok(extra) => {
                css.push('\n');
                css.push_str(&extra);
            }
            Err(p) => problems.extend(p),
        }
    }
    problems.into_result(css)
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
    let mut rest = css;
    let mut problems = Problems::default();
    while let Some(pos) = rest.find("var(--") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 6..];
        let end = after.find(')').unwrap_or(after.len());
        let name = after[..end].trim();
        match vars.iter().find(|(n, _)| *n == name) {
            Some((_, color)) => out.push_str(color.as_str()),
            None => {
                let offset = css.len() - rest.len() + pos;
                let known: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
                let hint = format!("the theme defines: --{}", known.join(", --"));
                let problem = if located {
                    let src: Arc<str> = Arc::from(css);
                    Problem::error(file, format!("unknown theme colour `--{name}`"))
                        .at(&src, offset..offset + 6 + end + 1)
                } else {
                    let (line, _) = crate::diag::line_col(css, offset);
                    Problem::error(
                        file,
                        format!(
                            "unknown theme colour `--{name}` in `css`, line {line} of that CSS"
                        ),
                    )
                };
                problems.push(problem.hint(hint));
            }
        }
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    problems.into_result(out)
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
