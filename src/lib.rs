//! almanac composes a twice-weekly newsletter and sends it.
//!
//! Three layers, each importing only the ones below it:
//!
//! ```text
//! faces        cli  ·  serve  ·  preview          parse, call one use case, print or answer
//!                          │
//! application  app                                the use cases, typed errors, exit codes
//!                          │
//! pipeline     config, layouts ─> content ─> render ─> mail ─> send ─> state
//!              subscribers, schedule, archive
//!                          │
//! base         domain, diag, clock, fsx, rt
//! ```
//!
//! The data flows one way through the pipeline, and each arrow is a module
//! boundary: `content` never imports `render`, `render` never imports
//! `mail`, `mail` never imports `send` or `state`, and `send` gets bytes and
//! addresses, never an `Issue`. Nothing below `app` imports it, and nothing
//! imports a face (`cli` starts the servers, that is all).
//!
//! * `domain`: validated newtypes (`Email`, `IssueId`, `Score`, `HttpsUrl`, ...).
//! * `diag`: problems with file:line:column and a hint, printed once by a face.
//! * `clock`, `rt`, `fsx`: the wall clock, the async runtime and stop
//!   signal, and output written whole or not at all.
//! * `config`: `newsletter.toml` + environment → `Config`.
//! * `layouts`: the look as data (CSS, editions), embedded defaults.
//! * `content`: issue folders → `Issue` (news items, guide).
//! * `render`: `Issue` → HTML and text templates with personal-field holes,
//!   CSS inlined once; plus the lint of the result.
//! * `mail`: templates → RFC 5322 bytes per recipient, link and VERP
//!   tokens, DKIM, and what returned mail says (`mail/bounce.rs`).
//! * `send`: the delivery engine over a `Transport` (SMTP, outbox, recorder).
//! * `intake`: where returned mail is read from (stdin, Maildir, mbox, IMAP).
//! * `news`: the news desk's feeds, fetched and parsed into candidate
//!   stories; the only module that reads content from the network.
//! * `state`: the SQLite journal, subscribers, bounces and the send lock.
//! * `app`: build, check, new, send (plan, run, proof, due), status,
//!   archive, subscribers, suppressions, sign-up, bounces, the news desk.
//! * `cli`, `serve`, `preview`: the faces.
//!
//! A newcomer following a send opens `cli/send.rs` first.

pub mod app;
pub mod archive;
pub mod cli;
pub mod clock;
pub mod config;
pub mod content;
pub mod diag;
pub mod domain;
pub mod fsx;
pub mod intake;
pub mod layouts;
pub mod mail;
pub mod news;
pub mod preview;
pub mod render;
pub mod rt;
pub mod schedule;
pub mod send;
pub mod serve;
pub mod state;
pub mod subscribers;
