//! almanac composes a twice-weekly newsletter and sends it.
//!
//! The data flows one way, and each arrow is a module boundary:
//!
//! ```text
//! newsletter.toml ─┐
//! layouts/*        ├─> config, layouts, content ─> render ─> mail ─> send ─> state
//! issues/<id>/*    ┘   (validated on parse)        (once)   (bytes, per recipient)
//! ```
//!
//! * `domain`: validated newtypes (`Email`, `IssueId`, `Score`, `HttpsUrl`, ...).
//! * `diag`: problems with file:line:column and a hint, printed once by `main`.
//! * `config`: `newsletter.toml` + environment → `Config`.
//! * `layouts`: the look as data (CSS, editions), embedded defaults.
//! * `content`: issue folders → `Issue` (news items, guide).
//! * `render`: `Issue` → HTML and text templates with personal-field holes,
//!   CSS inlined once; plus the lint of the result.
//! * `mail`: templates → RFC 5322 bytes per recipient, unsubscribe tokens.
//! * `cli`: one module per subcommand; the only place that wires modules.
//!
//! `content` never imports `render`; `render` never imports `mail`; only
//! `cli` sees everything.

pub mod archive;
pub mod cli;
pub mod clock;
pub mod config;
pub mod content;
pub mod diag;
pub mod domain;
pub mod layouts;
pub mod mail;
pub mod preview;
pub mod render;
pub mod schedule;
pub mod send;
pub mod serve;
pub mod state;
pub mod subscribers;
