//! The stylesheet lint (issue 11): CSS that breaks mail clients is reported
//! where it is written, `layouts/email.css:LINE:COL`, once per rule, not
//! once per element of the built email that carries it.

mod common;

use std::path::Path;

use almanac::config::{Config, Env};
use almanac::content;
use almanac::layouts::Layouts;
use almanac::render;
use common::{MIDWEEK, Sample, stderr, stdout};

const CSS: &str = "layouts/email.css";

/// Rules appended to the sample stylesheet, each with the column where the
/// lint must point (the start of the bad declaration or at-rule).
const BAD_RULES: &[(&str, usize, &str)] = &[
    // On every <td>: dozens of elements, one problem.
    (
        "td { color: var(--text); display: flex; }",
        26,
        "display:flex",
    ),
    (
        "@media only screen and (max-width: 620px) { .masthead { position: absolute; } }",
        57,
        "position:absolute",
    ),
    // A custom property declared, and one that substitution will not touch.
    (".footer { --gap: 4px; }", 11, "--gap"),
    (".footer-link { color: VAR(--accent); }", 16, "var(--"),
    // Text that would close the <style> element the CSS is written into.
    (
        ".kicker::after { content: \"</style><script>alert(1)</script>\"; }",
        28,
        "</style",
    ),
    ("@import url(https://example.com/x.css);", 1, "@import"),
];

#[test]
fn bad_css_is_reported_once_per_rule_at_its_place_in_email_css() {
    let sample = Sample::new();
    let base = sample.read(CSS);
    let first = base.lines().count() + 1;
    let rules: Vec<&str> = BAD_RULES.iter().map(|r| r.0).collect();
    sample.write(CSS, format!("{base}{}\n", rules.join("\n")));

    let out = sample.run(&["check", MIDWEEK]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}{err}", stdout(&out));
    for (i, (rule, col, what)) in BAD_RULES.iter().enumerate() {
        let at = format!("{CSS}:{}:{col}: error: ", first + i);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with(&at)).collect();
        assert_eq!(
            lines.len(),
            1,
            "`{rule}` should be reported once at {at}\n{err}"
        );
        assert!(lines[0].contains(what), "{}: wants `{what}`", lines[0]);
    }
    assert!(
        !err.contains("email.html"),
        "a finding from the CSS was also reported in the built HTML:\n{err}"
    );
    let errors = format!("{} errors, 0 warnings", BAD_RULES.len());
    assert!(
        stdout(&out).contains(&errors),
        "wanted {errors}:\n{}",
        stdout(&out)
    );
}

#[test]
fn build_stops_at_the_stylesheet_too() {
    let sample = Sample::new();
    sample.edit(
        CSS,
        "p { margin: 0 0 14px 0; }",
        "p { margin: 0; float: left; position: fixed; }",
    );
    let out = sample.run(&["build", MIDWEEK]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = sample
        .read(CSS)
        .lines()
        .position(|l| l.starts_with("p { margin: 0;"))
        .expect("the edited rule")
        + 1;
    let at = format!("{CSS}:{line}:29: error: this rule uses `position:fixed`");
    assert!(err.contains(&at), "wanted {at}:\n{err}");
    assert!(!sample.exists(format!("out/{MIDWEEK}")));
}

/// Partial support is a warning at the rule, carried by the render for the
/// command that prints it.
#[test]
fn partial_support_is_a_warning_at_the_rule() {
    let sample = Sample::new();
    sample.edit(
        CSS,
        "p { margin: 0 0 14px 0; }",
        "p { margin: 0 0 14px 0; float: left; }",
    );
    let config = Config::load(&sample.path("newsletter.toml"), &Env::default()).unwrap();
    let layouts = Layouts::load(&sample.path("layouts")).unwrap();
    let dir = sample.path(Path::new("issues").join(MIDWEEK));
    let issue = content::load_issue(MIDWEEK.parse().unwrap(), &dir, &layouts).unwrap();
    let rendered = render::render(&config, &layouts, &issue).unwrap();
    let warnings: Vec<String> = rendered.warnings.0.iter().map(|p| p.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("float:"), "{warnings:?}");
    assert_eq!(rendered.warnings.0[0].line_col().map(|l| l.1), Some(25));
    assert!(!rendered.warnings.has_errors());
}

/// With no layouts/email.css the embedded default is linted too, and its
/// problems name the file that would hold it.
#[test]
fn the_embedded_default_is_linted_under_the_name_of_its_file() {
    let sample = Sample::new();
    sample.remove(CSS);
    sample.run_ok(&["check", MIDWEEK]);

    let mut layouts = Layouts::load(&sample.path("layouts")).unwrap();
    assert!(layouts.css_embedded);
    layouts.css = format!("{}\n.x {{ display: grid }}\n", layouts.css).into();
    let config = Config::load(&sample.path("newsletter.toml"), &Env::default()).unwrap();
    let dir = sample.path(Path::new("issues").join(MIDWEEK));
    let issue = content::load_issue(MIDWEEK.parse().unwrap(), &dir, &layouts).unwrap();
    let problems = render::render(&config, &layouts, &issue).unwrap_err();
    let p = &problems.0[0];
    assert_eq!(p.file, sample.path(CSS));
    assert!(p.line_col().is_some(), "{p}");
    assert!(p.message.contains("display:grid"), "{p}");
    assert!(p.message.contains("embedded default"), "{p}");
}
