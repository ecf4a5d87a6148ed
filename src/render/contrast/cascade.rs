//! Just enough of the CSS cascade to know, for every element of a document
//! that shows text, which colour it is drawn in, on which background, at
//! which size and weight: in the light and in the dark colour scheme, and
//! where each colour was written (a theme colour, a declaration in a
//! stylesheet, or the browser's default).
//!
//! It follows what css-inline makes of the stylesheet: plain rules become
//! `style` attributes (so they beat any selector), `@media` rules stay in
//! `<style>` and only win with `!important`. Selectors are matched by
//! scraper (the `selectors` crate); rules with pseudo-classes such as
//! `:hover` describe states, not what is read, and are left out.

use std::ops::Range;

use cssparser::{
    AtRuleParser, CowRcStr, DeclarationParser, ParseError, Parser, ParserState,
    QualifiedRuleParser, RuleBodyItemParser, RuleBodyParser, StyleSheetParser,
};
use scraper::{ElementRef, Html, Node, Selector};

use super::color::Rgba;
use crate::content::markdown::MAX_NESTING;
use crate::render::css::var_refs;
use crate::render::css_lint::exhaust;
use crate::render::lint::squash;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    Light,
    Dark,
}

impl Scheme {
    pub const BOTH: [Scheme; 2] = [Scheme::Light, Scheme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

/// Where a colour was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A theme colour (the edition's key, e.g. `accent_text`).
    Theme(&'static str),
    /// A declaration in stylesheet `sheet` (an index into the sheets given
    /// to `Rules::parse`), at `span` of its text.
    Sheet { sheet: usize, span: Range<usize> },
    /// The browser's default, e.g. the page's background.
    Browser(&'static str),
}

/// A colour and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Paint {
    pub color: Rgba,
    pub origin: Origin,
}

/// A theme colour as `var(--name)` refers to it: its value and the
/// edition key that gave it.
pub struct Var {
    pub name: &'static str,
    pub key: &'static str,
    pub color: Rgba,
}

/// One element that shows text, as drawn in one scheme.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// `tag.class.class`, or `tag in .class` of the nearest ancestor with one
    /// (its last, most particular class).
    pub label: String,
    pub fg: Paint,
    /// The opaque background behind the text.
    pub bg: Paint,
    pub size_px: f64,
    pub bold: bool,
    /// A badge (an inline block with its own background): that background
    /// and the one around it, which must tell apart as a UI component.
    pub badge: Option<(Paint, Paint)>,
}

/// How each declaration was placed by css-inline: the order of precedence,
/// lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    Browser,
    Media,
    Inlined,
    Attribute,
    MediaImportant,
    InlinedImportant,
    AttributeImportant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    Always,
    Only(Scheme),
    Never,
}

impl Cond {
    fn of_media(prelude: &str) -> Cond {
        let q = squash(prelude);
        if q.contains("prefers-color-scheme:dark") {
            Cond::Only(Scheme::Dark)
        } else if q.contains("prefers-color-scheme:light") {
            Cond::Only(Scheme::Light)
        } else if q.starts_with("print") {
            Cond::Never
        } else {
            // Widths: the phone rules apply on phones, and the samples'
            // set no colour; checking them as applying covers both.
            Cond::Always
        }
    }
    fn allows(self, s: Scheme) -> bool {
        match self {
            Cond::Always => true,
            Cond::Only(x) => x == s,
            Cond::Never => false,
        }
    }
}

struct Decl {
    name: String,
    value: String,
    important: bool,
    sheet: usize,
    span: Range<usize>,
}

struct Rule {
    selector: Selector,
    specificity: (u32, u32, u32),
    conds: Vec<Cond>,
    in_media: bool,
    order: usize,
    decls: Vec<Decl>,
}

/// The rules of one or more stylesheets, in order.
#[derive(Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Parses each stylesheet (numbered by position, for `Origin::Sheet`).
    pub fn parse(sheets: &[&str]) -> Rules {
        let mut c = Collector::default();
        for (i, css) in sheets.iter().enumerate() {
            c.sheet = i;
            let mut parser = Parser::new(css);
            for _ in StyleSheetParser::new(&mut parser, &mut c) {}
        }
        Rules { rules: c.rules }
    }
}

/// The browser's own rules that matter here.
const BROWSER: &[(&str, &str, &str)] = &[
    ("a", "color", "LinkText"),
    (
        "h1, h2, h3, h4, h5, h6, strong, b, th",
        "font-weight",
        "bold",
    ),
    ("h1", "font-size", "2em"),
    ("h2", "font-size", "1.5em"),
    ("h3", "font-size", "1.17em"),
    ("h5", "font-size", "0.83em"),
    ("h6", "font-size", "0.67em"),
    ("small", "font-size", "smaller"),
];

/// What is inherited while walking down.
#[derive(Clone)]
struct Inherited {
    fg: Paint,
    bg: Paint,
    size_px: f64,
    bold: bool,
    /// The nearest class of this element or an ancestor, for labels.
    class: Option<String>,
}

/// Every element of `html` that shows text, drawn in `scheme`.
pub fn drawn(html: &str, rules: &Rules, vars: &[Var], scheme: Scheme) -> Vec<Drawn> {
    let doc = Html::parse_document(html);
    let browser: Vec<(Selector, &str, &str)> = BROWSER
        .iter()
        .filter_map(|(s, n, v)| Selector::parse(s).ok().map(|s| (s, *n, *v)))
        .collect();
    let w = Walk {
        rules,
        vars,
        scheme,
        browser,
    };
    let (canvas, text) = match scheme {
        Scheme::Light => (Rgba::WHITE, Rgba::BLACK),
        Scheme::Dark => (Rgba::from_hex("#121212").expect("hex"), Rgba::WHITE),
    };
    let top = Inherited {
        fg: Paint {
            color: text,
            origin: Origin::Browser("the browser's default text colour"),
        },
        bg: Paint {
            color: canvas,
            origin: Origin::Browser("the browser's default background"),
        },
        size_px: 16.0,
        bold: false,
        class: None,
    };
    let mut out = Vec::new();
    w.element(doc.root_element(), &top, 0, &mut out);
    out
}

struct Walk<'a> {
    rules: &'a Rules,
    vars: &'a [Var],
    scheme: Scheme,
    browser: Vec<(Selector, &'a str, &'a str)>,
}

/// Where a declaration stands: its tier, its selector's specificity, its
/// order in the sheet.
type Precedence = (Tier, (u32, u32, u32), usize);

/// The winning declaration of one property on one element.
struct Won<'a> {
    value: &'a str,
    origin: Option<Origin>,
}

impl Walk<'_> {
    fn element(&self, el: ElementRef<'_>, up: &Inherited, depth: usize, out: &mut Vec<Drawn>) {
        if depth > MAX_NESTING * 4 || matches!(el.value().name(), "head" | "style" | "script") {
            return;
        }
        let decls = self.declarations(el);
        let get = |name: &str| decls.iter().rev().find(|(n, _, _)| n == name);
        if get("display").is_some_and(|(_, w, _)| squash(w.value).starts_with("none")) {
            return;
        }
        let mut here = up.clone();
        if let Some(c) = el.value().classes().last() {
            here.class = Some(c.to_owned());
        }
        if let Some((_, w, _)) = get("color")
            && let Some(p) = self.paint(w, &up.fg, &up.fg)
        {
            here.fg = p;
        }
        here.fg.color = here.fg.color.over(up.bg.color);
        let own_bg = get("background-color")
            .or_else(|| get("background"))
            .and_then(|(_, w, _)| self.paint(w, &up.fg, &up.bg))
            .or_else(|| self.bgcolor_attribute(el));
        if let Some(p) = &own_bg {
            here.bg = Paint {
                color: p.color.over(up.bg.color),
                origin: p.origin.clone(),
            };
        }
        if let Some((_, w, _)) = get("font-size") {
            here.size_px = font_size(w.value, up.size_px);
        }
        if let Some((_, w, _)) = get("font-weight") {
            here.bold = is_bold(w.value, up.bold);
        }
        let inline_block =
            get("display").is_some_and(|(_, w, _)| squash(w.value).starts_with("inline-block"));
        let badge = match (&own_bg, inline_block) {
            (Some(_), true) => Some((here.bg.clone(), up.bg.clone())),
            _ => None,
        };
        if shows_text(el) || badge.is_some() {
            out.push(Drawn {
                label: label(el, up.class.as_deref()),
                fg: here.fg.clone(),
                bg: here.bg.clone(),
                size_px: here.size_px,
                bold: here.bold,
                badge,
            });
        }
        for child in el.children().filter_map(ElementRef::wrap) {
            self.element(child, &here, depth + 1, out);
        }
    }

    /// The declarations that win on `el`, one per property, as
    /// (property, value, precedence).
    fn declarations<'r>(&'r self, el: ElementRef<'r>) -> Vec<(String, Won<'r>, Precedence)> {
        let mut all: Vec<(String, Won<'r>, Precedence)> = Vec::new();
        for (sel, name, value) in &self.browser {
            if sel.matches(&el) {
                let won = Won {
                    value,
                    origin: None,
                };
                all.push((name.to_string(), won, (Tier::Browser, (0, 0, 0), 0)));
            }
        }
        for r in &self.rules.rules {
            if !r.conds.iter().all(|c| c.allows(self.scheme)) || !r.selector.matches(&el) {
                continue;
            }
            for d in &r.decls {
                let tier = match (r.in_media, d.important) {
                    (true, false) => Tier::Media,
                    (false, false) => Tier::Inlined,
                    (true, true) => Tier::MediaImportant,
                    (false, true) => Tier::InlinedImportant,
                };
                let won = Won {
                    value: &d.value,
                    origin: Some(Origin::Sheet {
                        sheet: d.sheet,
                        span: d.span.clone(),
                    }),
                };
                all.push((d.name.clone(), won, (tier, r.specificity, r.order)));
            }
        }
        if let Some(style) = el.value().attr("style") {
            for (i, (name, value, important)) in style_attribute(style).into_iter().enumerate() {
                let tier = match important {
                    true => Tier::AttributeImportant,
                    false => Tier::Attribute,
                };
                let won = Won {
                    value,
                    origin: None,
                };
                all.push((name, won, (tier, (0, 0, 0), i)));
            }
        }
        // Lowest precedence first, so the last of each property wins.
        all.sort_by_key(|a| a.2);
        all
    }

    /// The colour a declaration's value gives, with its origin; `current`
    /// is `currentColor`, `inherited` what `inherit` means for it.
    fn paint(&self, won: &Won<'_>, current: &Paint, inherited: &Paint) -> Option<Paint> {
        let value = won.value.trim();
        if let Some((_, name)) = var_refs(value).first() {
            let v = self.vars.iter().find(|v| v.name == *name)?;
            return Some(Paint {
                color: v.color,
                origin: Origin::Theme(v.key),
            });
        }
        let lower = value.to_ascii_lowercase();
        let origin = won.origin.clone().unwrap_or(Origin::Browser(
            "the browser's default (or a style attribute)",
        ));
        match lower.as_str() {
            "inherit" | "unset" => return Some(inherited.clone()),
            "currentcolor" => return Some(current.clone()),
            "transparent" | "none" | "initial" => return None,
            "linktext" => {
                let hex = match self.scheme {
                    Scheme::Light => "#0000ee",
                    Scheme::Dark => "#9e9eff",
                };
                return Some(Paint {
                    color: Rgba::from_hex(hex).expect("hex"),
                    origin: Origin::Browser("the browser's default link colour"),
                });
            }
            _ => {}
        }
        // `background` is a shorthand: its colour is one of its parts.
        std::iter::once(value)
            .chain(value.split_whitespace())
            .find_map(Rgba::parse)
            .map(|color| Paint { color, origin })
    }

    /// `<td bgcolor>` and the like, which mail clients honour.
    fn bgcolor_attribute(&self, el: ElementRef<'_>) -> Option<Paint> {
        let color = Rgba::parse(el.value().attr("bgcolor")?)?;
        Some(Paint {
            color,
            origin: Origin::Browser("a bgcolor attribute of the template"),
        })
    }
}

fn shows_text(el: ElementRef<'_>) -> bool {
    el.children().any(|n| match n.value() {
        Node::Text(t) => !t.trim().is_empty(),
        _ => false,
    })
}

fn label(el: ElementRef<'_>, ancestor_class: Option<&str>) -> String {
    let tag = el.value().name();
    let classes: Vec<&str> = el.value().classes().collect();
    match (classes.is_empty(), ancestor_class) {
        (false, _) => format!("{tag}.{}", classes.join(".")),
        (true, Some(c)) => format!("{tag} in .{c}"),
        (true, None) => tag.to_owned(),
    }
}

/// `name: value` pairs of a `style` attribute, with `!important` taken off.
fn style_attribute(style: &str) -> Vec<(String, &str, bool)> {
    style
        .split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(n, v)| {
            let (v, important) = strip_important(v);
            (n.trim().to_ascii_lowercase(), v.trim(), important)
        })
        .collect()
}

fn strip_important(value: &str) -> (&str, bool) {
    let trimmed = value.trim_end();
    let lower = trimmed.to_ascii_lowercase();
    match lower.rfind('!') {
        Some(at) if squash(&lower[at..]) == "!important" => (&trimmed[..at], true),
        _ => (trimmed, false),
    }
}

/// A `font-size` value in pixels, relative to the parent's `parent_px`.
fn font_size(value: &str, parent_px: f64) -> f64 {
    let v = squash(value);
    let num = |suffix: &str| v.strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok());
    if let Some(n) = num("px") {
        n
    } else if let Some(n) = num("pt") {
        n * 4.0 / 3.0
    } else if let Some(n) = num("rem") {
        n * 16.0
    } else if let Some(n) = num("em") {
        n * parent_px
    } else if let Some(n) = num("%") {
        n * parent_px / 100.0
    } else {
        match v.as_str() {
            "xx-small" => 9.0,
            "x-small" => 10.0,
            "small" => 13.0,
            "medium" => 16.0,
            "large" => 18.0,
            "x-large" => 24.0,
            "xx-large" => 32.0,
            "smaller" => parent_px / 1.2,
            "larger" => parent_px * 1.2,
            _ => parent_px,
        }
    }
}

/// Bold as WCAG's "large text" counts it (and axe-core measures it): 700
/// or more.
fn is_bold(value: &str, parent: bool) -> bool {
    match squash(value).as_str() {
        "bold" | "bolder" => true,
        "normal" | "lighter" => false,
        "inherit" => parent,
        n => n.parse::<f64>().map_or(parent, |w| w >= 700.0),
    }
}

/// Specificity (ids, classes and attributes and pseudo-classes, types) of
/// one complex selector, counted from its text.
fn specificity(selector: &str) -> (u32, u32, u32) {
    let (mut a, mut b, mut c) = (0, 0, 0);
    let chars: Vec<char> = selector.chars().collect();
    let mut i = 0;
    let mut at_start = true;
    while i < chars.len() {
        let ch = chars[i];
        match ch {
            '#' => {
                a += 1;
                at_start = false;
            }
            '.' | '[' => {
                b += 1;
                at_start = false;
                if ch == '[' {
                    while i < chars.len() && chars[i] != ']' {
                        i += 1;
                    }
                }
            }
            ':' => {
                if chars.get(i + 1) == Some(&':') {
                    c += 1;
                    i += 1;
                } else {
                    b += 1;
                }
                at_start = false;
            }
            ' ' | '>' | '+' | '~' | '(' | ')' | ',' => at_start = true,
            '*' => at_start = false,
            _ if at_start && (ch.is_alphanumeric() || ch == '-' || ch == '_') => {
                c += 1;
                at_start = false;
            }
            _ => {}
        }
        // Skip the rest of an identifier.
        if !matches!(ch, ' ' | '>' | '+' | '~' | '(' | ')' | ',') {
            while i + 1 < chars.len()
                && (chars[i + 1].is_alphanumeric() || matches!(chars[i + 1], '-' | '_'))
            {
                i += 1;
            }
        }
        i += 1;
    }
    (a, b, c)
}

/// Splits a selector list at its top-level commas.
fn split_selectors(list: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0usize, 0);
    for (i, ch) in list.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(list[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(list[from..].trim());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

#[derive(Default)]
struct Collector {
    sheet: usize,
    rules: Vec<Rule>,
    conds: Vec<Cond>,
    /// Declarations of the rule being read.
    current: Vec<Decl>,
    order: usize,
}

impl Collector {
    fn body<'i>(&mut self, input: &mut Parser<'i>) {
        if self.conds.len() >= MAX_NESTING {
            return;
        }
        for _ in RuleBodyParser::new(input, self) {}
    }
}

impl<'i> QualifiedRuleParser<'i> for Collector {
    type Prelude = String;
    type QualifiedRule = ();
    type Error = ();

    fn parse_prelude(&mut self, input: &mut Parser<'i>) -> Result<String, ParseError<()>> {
        Ok(exhaust(input).to_owned())
    }

    fn parse_block(
        &mut self,
        prelude: String,
        _: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<(), ParseError<()>> {
        let outer = std::mem::take(&mut self.current);
        self.body(input);
        let decls = std::mem::replace(&mut self.current, outer);
        self.order += 1;
        let in_media = !self.conds.is_empty();
        for part in split_selectors(&prelude) {
            // scraper knows no state pseudo-classes (:hover, ::after): those
            // rules fail to parse here and are left out, as intended.
            let Ok(selector) = Selector::parse(part) else {
                continue;
            };
            let decls = decls
                .iter()
                .map(|d| Decl {
                    name: d.name.clone(),
                    value: d.value.clone(),
                    important: d.important,
                    sheet: d.sheet,
                    span: d.span.clone(),
                })
                .collect();
            self.rules.push(Rule {
                selector,
                specificity: specificity(part),
                conds: self.conds.clone(),
                in_media,
                order: self.order,
                decls,
            });
        }
        Ok(())
    }
}

impl<'i> AtRuleParser<'i> for Collector {
    type Prelude = (CowRcStr<'i>, String);
    type AtRule = ();
    type Error = ();

    fn parse_prelude(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i>,
    ) -> Result<Self::Prelude, ParseError<()>> {
        Ok((name, exhaust(input).to_owned()))
    }

    fn rule_without_block(&mut self, _: Self::Prelude, _: &ParserState) -> Result<(), ()> {
        Ok(())
    }

    fn parse_block(
        &mut self,
        (name, prelude): Self::Prelude,
        _: &ParserState,
        input: &mut Parser<'i>,
    ) -> Result<(), ParseError<()>> {
        let cond = match name.to_ascii_lowercase().as_str() {
            "media" => Cond::of_media(&prelude),
            "supports" => Cond::Always,
            // @font-face, @keyframes, ...: no colours of text.
            _ => return Ok(()),
        };
        self.conds.push(cond);
        self.body(input);
        self.conds.pop();
        Ok(())
    }
}

impl<'i> DeclarationParser<'i> for Collector {
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
        let (value, important) = strip_important(value);
        self.current.push(Decl {
            name: name.to_ascii_lowercase(),
            value: value.trim().to_owned(),
            important,
            sheet: self.sheet,
            span,
        });
        Ok(())
    }
}

impl<'i> RuleBodyItemParser<'i, (), ()> for Collector {
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

    fn vars() -> Vec<Var> {
        let v = |name, key, hex| Var {
            name,
            key,
            color: Rgba::from_hex(hex).unwrap(),
        };
        vec![
            v("text", "text", "#222222"),
            v("surface", "surface", "#ffffff"),
            v("accent", "accent", "#4338ca"),
            v("dark-text", "dark_text", "#eeeeee"),
            v("dark-surface", "dark_surface", "#111111"),
        ]
    }

    fn find<'a>(d: &'a [Drawn], label: &str) -> &'a Drawn {
        d.iter()
            .find(|d| d.label == label)
            .unwrap_or_else(|| panic!("no {label} in {d:#?}"))
    }

    #[test]
    fn inlined_rules_beat_media_rules_unless_important() {
        let css = "td { color: var(--text); background-color: var(--surface) }\n\
                   .x { color: red }\n\
                   @media (prefers-color-scheme: dark) {\n\
                     td { background-color: var(--dark-surface) !important; color: var(--dark-text) !important }\n\
                     .x { color: blue }\n\
                   }";
        let html = "<table><tr><td class=\"cell\">a <span class=\"x\">b</span> <a href=\"#\">c</a></td></tr></table>";
        let rules = Rules::parse(&[css]);
        let light = drawn(html, &rules, &vars(), Scheme::Light);
        let dark = drawn(html, &rules, &vars(), Scheme::Dark);
        assert_eq!(find(&light, "td.cell").fg.origin, Origin::Theme("text"));
        assert_eq!(find(&dark, "td.cell").fg.origin, Origin::Theme("dark_text"));
        assert_eq!(
            find(&dark, "td.cell").bg.origin,
            Origin::Theme("dark_surface")
        );
        // The inlined red beats the @media blue, as in the built email.
        assert_eq!(find(&dark, "span.x").fg.color, Rgba::parse("red").unwrap());
        assert!(matches!(
            find(&dark, "span.x").fg.origin,
            Origin::Sheet { sheet: 0, .. }
        ));
        // No author colour for links: the browser's.
        assert!(matches!(
            find(&light, "a in .cell").fg.origin,
            Origin::Browser(_)
        ));
    }

    #[test]
    fn sizes_weights_badges_and_hidden_elements() {
        let css = ".big { font-size: 18pt } h2 { font-size: 19px } .badge { display: inline-block; background-color: var(--accent); color: #fff } .gone { display: none }";
        let html = "<p class=\"big\">x</p><h2>y</h2><p><span class=\"badge\">8/10</span></p><div class=\"gone\"><p>z</p></div>";
        let d = drawn(html, &Rules::parse(&[css]), &vars(), Scheme::Light);
        assert_eq!(find(&d, "p.big").size_px, 24.0);
        assert!(find(&d, "h2").bold);
        let badge = find(&d, "span.badge").badge.as_ref().unwrap();
        assert_eq!(badge.0.origin, Origin::Theme("accent"));
        assert!(d.iter().all(|x| x.label != "p in .gone"), "{d:#?}");
    }

    #[test]
    fn specificity_counts_as_browsers_do() {
        assert_eq!(specificity("td"), (0, 0, 1));
        assert_eq!(specificity("pre.code"), (0, 1, 1));
        assert_eq!(specificity(".a .b > p:first-child"), (0, 3, 1));
        assert_eq!(specificity("#m a[href]"), (1, 1, 1));
        assert_eq!(
            split_selectors("a, b:not(.x, .y) ,c"),
            ["a", "b:not(.x, .y)", "c"]
        );
    }
}
