//! axe-core (the accessibility engine of browsers' developer tools) run in
//! headless Chromium over DevTools: WCAG 2.1 A and AA plus best practice,
//! in the light and the dark colour scheme.
//!
//! axe is not in the repository: `.ci/run` installs it from the npm
//! registry into `target/axe/` and names its `axe.min.js` in
//! `ALMANAC_AXE_JS` (which, when unset, defaults to that place).
//! Without it the tests that need it skip loudly, and fail under
//! `ALMANAC_REQUIRE_TOOLS`.
#![allow(dead_code)]

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::browser::Browser;

/// The rule sets run: what the issue asks for, nothing experimental.
const TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

/// Where `.ci/run` installs axe-core.
fn default_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe/node_modules/axe-core/axe.min.js")
}

/// The source of `axe.min.js`, or `None` (after a loud skip) when it is not
/// installed.
pub fn source() -> Option<String> {
    let path = std::env::var_os("ALMANAC_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(default_path);
    let shown = path.display().to_string();
    let what = format!(
        "axe-core at {shown} (`npm install --prefix target/axe axe-core@4`, or name axe.min.js in ALMANAC_AXE_JS)"
    );
    if !super::common::tool(&what, &["test", "-s", &shown]) {
        return None;
    }
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{shown}: {e}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Light,
    Dark,
}

impl Scheme {
    pub const BOTH: [Scheme; 2] = [Scheme::Light, Scheme::Dark];
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        })
    }
}

/// One rule that failed on a page, with the elements it failed on.
#[derive(Debug, Clone)]
pub struct Violation {
    pub rule: String,
    /// axe's impact: minor, moderate, serious or critical.
    pub impact: String,
    pub help: String,
    /// CSS selectors of the failing elements, each with axe's summary.
    pub nodes: Vec<(String, String)>,
}

impl Violation {
    pub fn blocking(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {} ({}) ×{}: {}",
            self.rule,
            self.impact,
            self.nodes.len(),
            self.help
        )?;
        for (target, summary) in self.nodes.iter().take(8) {
            let summary = summary.replace('\n', " ");
            writeln!(f, "    {target}: {summary}")?;
        }
        Ok(())
    }
}

/// Switches the page's `prefers-color-scheme`.
pub fn emulate(b: &mut Browser, scheme: Scheme) {
    b.call(
        "Emulation.setEmulatedMedia",
        json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme.to_string() }] }),
    )
    .expect("emulate the colour scheme");
    // An audit that silently ran in light mode twice would pass for dark.
    let query = format!("matchMedia('(prefers-color-scheme: {scheme})').matches");
    assert_eq!(
        b.eval(&query),
        Value::Bool(true),
        "{scheme} mode is not emulated"
    );
}

/// Opens `url` in the browser's page and waits until it has loaded.
pub fn open(b: &mut Browser, url: &str) {
    b.call("Page.navigate", json!({ "url": url }))
        .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    let href = serde_json::to_string(url).unwrap();
    b.wait_for(
        &format!("{url} to load"),
        &format!("location.href === {href} && document.readyState === 'complete'"),
        Duration::from_secs(20),
        |v| v.as_bool() == Some(true),
    );
}

/// Runs axe on the page as it is, in `scheme`. `frames`: whether to look
/// inside iframes (axe must then be in them too; off for pages whose frames
/// are audited on their own).
pub fn run(b: &mut Browser, axe: &str, scheme: Scheme, frames: bool) -> Vec<Violation> {
    emulate(b, scheme);
    if b.eval("typeof axe === 'object'").as_bool() != Some(true) {
        let loaded = b.eval(&format!("{axe}\n;typeof axe === 'object'"));
        assert_eq!(
            loaded,
            Value::Bool(true),
            "axe-core did not load in the page"
        );
    }
    let options = json!({
        "runOnly": { "type": "tag", "values": TAGS },
        "resultTypes": ["violations"],
        "iframes": frames,
    });
    b.eval(&format!(
        "window.__axe = undefined;
         axe.run(document, {options}).then(
           r => {{ window.__axe = JSON.stringify(r.violations.map(v => ({{
             rule: v.id, impact: v.impact, help: v.help,
             nodes: v.nodes.map(n => [n.target.join(' '), n.failureSummary || ''])
           }}))) }},
           e => {{ window.__axe = JSON.stringify({{ error: String(e) }}) }});
         true"
    ));
    let result = b.wait_for(
        "axe to finish",
        "window.__axe",
        Duration::from_secs(60),
        Value::is_string,
    );
    let result: Value = serde_json::from_str(result.as_str().unwrap()).expect("axe's JSON");
    if let Some(e) = result.get("error") {
        panic!("axe failed: {e}");
    }
    result
        .as_array()
        .expect("a list of violations")
        .iter()
        .map(|v| Violation {
            rule: v["rule"].as_str().unwrap_or("?").to_owned(),
            impact: v["impact"].as_str().unwrap_or("?").to_owned(),
            help: v["help"].as_str().unwrap_or("").to_owned(),
            nodes: v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    (
                        n[0].as_str().unwrap_or("").to_owned(),
                        n[1].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// Every audit of a test, and what is allowed to remain.
#[derive(Default)]
pub struct Report {
    pages: Vec<(String, Scheme, Vec<Violation>)>,
}

impl Report {
    pub fn add(&mut self, page: &str, scheme: Scheme, found: Vec<Violation>) {
        self.pages.push((page.to_owned(), scheme, found));
    }

    /// Audits the page the browser shows, in both schemes, under `name`.
    pub fn audit(&mut self, b: &mut Browser, axe: &str, name: &str, frames: bool) {
        for scheme in Scheme::BOTH {
            let found = run(b, axe, scheme, frames);
            self.add(name, scheme, found);
        }
        emulate(b, Scheme::Light);
    }

    /// Fails on any serious or critical violation, and on any other that
    /// is not in `accepted` (rule ids the README lists with the reason).
    /// Prints the whole table either way, so a run shows where things are.
    pub fn assert_clean(&self, accepted: &[&str]) {
        let mut table = String::from("page | scheme | serious+critical | other\n");
        let mut failures = String::new();
        for (page, scheme, found) in &self.pages {
            let (bad, other): (Vec<&Violation>, Vec<&Violation>) =
                found.iter().partition(|v| v.blocking());
            let rules = |vs: &[&Violation]| {
                vs.iter()
                    .map(|v| format!("{}×{}", v.rule, v.nodes.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            table.push_str(&format!(
                "{page} | {scheme} | {} | {}\n",
                rules(&bad),
                rules(&other)
            ));
            for v in found {
                if v.blocking() || !accepted.contains(&v.rule.as_str()) {
                    failures.push_str(&format!("{page} ({scheme}):\n{v}"));
                }
            }
        }
        eprintln!("axe-core audit:\n{table}");
        assert!(failures.is_empty(), "accessibility violations:\n{failures}");
    }
}
