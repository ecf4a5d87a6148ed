//! Lints the stylesheet where it is written. A rule that breaks mail clients
//! is reported once, at its line and column in `layouts/email.css`, rather
//! than once per element of the built email that ends up carrying it. The
//! CSS is walked with cssparser, the parser css-inline itself uses, so what
//! is checked is what will be inlined.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use cssparser::{
    AtRuleParser, CowRcStr, DeclarationParser, ParseError, Parser, ParserState,
    QualifiedRuleParser, RuleBodyItemParser, RuleBodyParser, StyleSheetParser,
};

use super::css::var_refs;
use super::lint::{BREAKING_CSS, PARTIAL_CSS, squash};
use crate::content::markdown::MAX_NESTING;
use crate::diag::{Problem, Problems};

/// A stylesheet to lint and how to name it in problems.
pub struct Sheet<'a> {
    /// The file the CSS is in, or would be in (embedded defaults).
    pub file: &'a Path,
    pub css: &'a Arc<str>,
    /// Whether `css` is the whole of `file`, so problems carry its positions;
    /// otherwise (CSS inside an edition's TOML) they name the line within it.
    pub located: bool,
    /// Said after each message, e.g. that the CSS is the embedded default.
    pub note: &'a str,
}

/// One thing found, before it is made a problem.
struct Finding {
    span: Range<usize>,
    message: String,
    hint: &'static str,
    error: bool,
}

const LAYOUT_HINT: &str = "use tables for layout and plain colours; see the README's \"The email\"";

/// Every rule in the sheet that mail clients break on (errors) or only
/// partly support (warnings).
pub fn lint(sheet: &Sheet<'_>) -> Problems {
    let mut walker = Walker::default();
    style_end_tags(sheet.css, &mut walker.found);
    let mut parser = Parser::new(sheet.css);
    for _ in StyleSheetParser::new(&mut parser, &mut walker) {}
    walker.found.sort_by_key(|f| f.span.start);
    Problems(
        walker
            .found
            .into_iter()
            .map(|f| problem(sheet, f))
            .collect(),
    )
}

fn problem(sheet: &Sheet<'_>, f: Finding) -> Problem {
    let new = if f.error {
        Problem::error
    } else {
        Problem::warning
    };
    let p = if sheet.located {
        new(sheet.file, format!("{}{}", f.message, sheet.note)).at(sheet.css, f.span)
    } else {
        let (line, _) = crate::diag::line_col(sheet.css, f.span.start);
        new(
            sheet.file,
            format!(
                "{} in `css`, line {line} of that CSS{}",
                f.message, sheet.note
            ),
        )
    };
    p.hint(f.hint)
}

/// `</style` anywhere (a string, a comment) would end the `<style>` element
/// the CSS is written into and let the rest be read as HTML.
fn style_end_tags(css: &str, found: &mut Vec<Finding>) {
    let lower = css.to_ascii_lowercase();
    for (at, _) in lower.match_indices("</style") {
        found.push(Finding {
            span: at..at + "</style".len(),
            message: "`</style` would end the <style> element early and turn the rest into HTML"
                .into(),
            hint: "remove it; to show the text `</style>` use `\\3c /style>` in a CSS string",
            error: true,
        });
    }
}

#[derive(Default)]
struct Walker {
    found: Vec<Finding>,
    /// Blocks open around the current one.
    depth: usize,
}

impl Walker {
    /// Walks a `{}` block's rules and declarations, one level deeper; past
    /// `MAX_NESTING` the block is reported and left to cssparser to skip
    /// (which it does without recursing).
    fn block<'i>(&mut self, at: usize, input: &mut Parser<'i>) {
        if self.depth >= MAX_NESTING {
            if !self.found.iter().any(|f| f.message.starts_with("nesting")) {
                self.found.push(Finding {
                    span: at..at + 1,
                    message: format!("nesting deeper than {MAX_NESTING} levels"),
                    hint: "a stylesheet needs two levels at most (an @media block and its rules); look for unclosed `{`",
                    error: true,
                });
            }
            return;
        }
        self.depth += 1;
        for _ in RuleBodyParser::new(input, self) {}
        self.depth -= 1;
    }

    fn at_rule(&mut self, name: &str, span: Range<usize>) {
        let at = format!("@{}", name.to_ascii_lowercase());
        self.check(&at, span);
    }

    fn declaration(&mut self, name: &str, value: &str, span: Range<usize>) {
        if name.starts_with("--") {
            self.found.push(Finding {
                span,
                message: format!(
                    "the custom property `{name}` would be left in the email: CSS custom properties are not supported by Outlook or Gmail"
                ),
                hint: "write the value itself; theme colours are written var(--accent) and filled in from the edition",
                error: true,
            });
            return;
        }
        // Theme colours are substituted before inlining; anything else
        // written `var(--...)` would be left in the email.
        let text = format!("{name}:{}", without_theme_vars(value));
        self.check(&text, span);
    }

    /// Reports what `text` (a declaration, or an at-rule's `@name`) uses.
    fn check(&mut self, text: &str, span: Range<usize>) {
        let squashed = squash(text);
        let found = BREAKING_CSS
            .iter()
            .map(|f| (f, true))
            .chain(PARTIAL_CSS.iter().map(|f| (f, false)));
        for ((needle, why), error) in found {
            if squashed.contains(needle) {
                self.found.push(Finding {
                    span: span.clone(),
                    message: format!("this rule uses `{needle}`: {why}"),
                    hint: LAYOUT_HINT,
                    error,
                });
            }
        }
    }
}

/// `value` without the `var(--name)` references that `css::stylesheet`
/// replaces (or reports, when the theme lacks the name).
fn without_theme_vars(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    for (range, _) in var_refs(value) {
        out.push_str(&value[copied..range.start]);
        copied = range.end;
    }
    out.push_str(&value[copied..]);
    out
}

/// The rest of `input`, as written.
pub(crate) fn exhaust<'i>(input: &mut Parser<'i>) -> &'i str {
    let start = input.position();
    while input.next().is_ok() {}
    input.slice_from(start)
}

impl<'i> QualifiedRuleParser<'i> for Walker {
    type Prelude = ();
    type QualifiedRule = ();
    type Error = ();

    fn parse_prelude(&mut self, input: &mut Parser<'i>) -> Result<(), ParseError<()>> {
        exhaust(input);
        Ok(())
    }

    fn parse_block(
        &mut self,
        _: (),
        start: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<(), ParseError<()>> {
        self.block(start.position().byte_index(), input);
        Ok(())
    }
}

impl<'i> AtRuleParser<'i> for Walker {
    type Prelude = CowRcStr<'i>;
    type AtRule = ();
    type Error = ();

    fn parse_prelude(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i>,
    ) -> Result<CowRcStr<'i>, ParseError<()>> {
        exhaust(input);
        Ok(name)
    }

    fn rule_without_block(&mut self, name: CowRcStr<'i>, start: &ParserState) -> Result<(), ()> {
        let at = start.position().byte_index();
        self.at_rule(&name, at..at + name.len() + 1);
        Ok(())
    }

    fn parse_block(
        &mut self,
        name: CowRcStr<'i>,
        start: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<(), ParseError<()>> {
        let at = start.position().byte_index();
        self.at_rule(&name, at..at + name.len() + 1);
        self.block(at, input);
        Ok(())
    }
}

impl<'i> DeclarationParser<'i> for Walker {
    type Declaration = ();
    type Error = ();

    fn parse_value(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i>,
        start: &ParserState,
    ) -> Result<(), ParseError<()>> {
        let value = exhaust(input);
        let span = start.position().byte_index()..input.position().byte_index();
        self.declaration(&name, value, span);
        Ok(())
    }
}

impl<'i> RuleBodyItemParser<'i, (), ()> for Walker {
    fn parse_declarations(&self) -> bool {
        true
    }
    fn parse_qualified(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint_str(css: &str) -> Vec<(usize, usize, String)> {
        let css: Arc<str> = Arc::from(css);
        let sheet = Sheet {
            file: Path::new("layouts/email.css"),
            css: &css,
            located: true,
            note: "",
        };
        lint(&sheet)
            .0
            .into_iter()
            .map(|p| {
                let (l, c) = p.line_col().unwrap();
                (l, c, p.message)
            })
            .collect()
    }

    #[test]
    fn each_bad_declaration_once_at_its_place() {
        let found = lint_str(
            "td { color: var(--text); display : FLEX; }\n@media (max-width: 600px) {\n  p { position: absolute }\n}\n.a { --gap: 4px; color: VAR(--text) }\n.b::after { content: \"</STYLE>\" }\n@import url(x.css);\n.c { float: left }\n",
        );
        let at: Vec<(usize, usize)> = found.iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(
            at,
            [(1, 26), (3, 7), (5, 6), (5, 18), (6, 23), (7, 1), (8, 6)],
            "{found:#?}"
        );
        assert!(found[0].2.contains("display:flex"));
        assert!(found[2].2.contains("`--gap`"));
        assert!(found[3].2.contains("var(--"));
    }

    #[test]
    fn the_sample_stylesheet_is_clean() {
        let css = include_str!("../../layouts/email.css");
        assert_eq!(lint_str(css), []);
    }

    #[test]
    fn deep_blocks_stop_at_the_limit() {
        let css = format!(
            "{}p{{color:red}}{}",
            "@media x{".repeat(50_000),
            "}".repeat(50_000)
        );
        let found = lint_str(&css);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].2.starts_with("nesting deeper"));
    }
}
