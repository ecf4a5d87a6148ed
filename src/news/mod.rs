//! The news desk's intake: feeds fetched over HTTP(S) (`fetch`) and read
//! into candidate stories (`parse`). This is the only place almanac reads
//! content from the network; `build` and `check` never do, so they stay
//! offline and reproducible.
//!
//! A pipeline module: it imports `config` (the feeds), `content` (what makes
//! two links the same) and the base, never `app` or a face. Whatever a
//! server sends (an HTML page, a huge or truncated body, silence) ends as a
//! `FetchError` or a `ParseError` naming what happened, never a panic.

pub mod fetch;
pub mod parse;

pub use fetch::{FetchError, Fetched, Fetcher, Validators};
pub use parse::{Entry, ParseError};

/// The most a feed may send; bigger bodies are refused, not truncated
/// (half a feed would look like a feed that lost its older entries).
pub const MAX_FEED_BYTES: usize = 10 * 1024 * 1024;
