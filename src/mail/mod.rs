//! Rendered issue → message bytes: headers, MIME, personal fields, unsubscribe
//! tokens (and DKIM, in `dkim.rs`). Never imports `send` or `state`; the
//! transport only ever sees the bytes built here.

pub mod bounce;
pub mod dkim;
pub mod message;
pub mod token;
pub mod verp;

use chrono::{DateTime, FixedOffset};

use crate::config::Config;
use crate::content::Issue;
use crate::render::Rendered;
pub use message::{Identity, Personal, Prepared, Recipient, Single, with_token};
pub use token::{Opened, Purpose, TokenKey};

/// Secret used when none is configured, so `build` and the outbox work on a
/// fresh clone. Tokens made with it are only good for local previews; real
/// sends over SMTP refuse to run without ALMANAC_UNSUBSCRIBE_SECRET.
pub const DEV_SECRET: &str = "almanac-development-secret-do-not-use-for-real-sends";

/// RFC 5322's hard limit on a line, CRLF excluded.
pub const MAX_LINE: usize = 998;

/// Lines of a message longer than `MAX_LINE`: (1-based line, octets).
pub fn long_lines(message: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
        .enumerate()
        .filter(|&(_, len)| len > MAX_LINE)
        .map(|(n, len)| (n + 1, len))
}

pub fn token_key(config: &Config) -> TokenKey {
    TokenKey::new(
        config
            .unsubscribe_secret
            .as_ref()
            .map_or(DEV_SECRET, |s| s.expose()),
    )
}

pub fn prepare(
    config: &Config,
    edition_name: &str,
    issue: &Issue,
    rendered: &Rendered,
    date: DateTime<FixedOffset>,
    proof: bool,
) -> Prepared {
    let n = &config.newsletter;
    let manage_url = config.manage_url();
    let id = Identity {
        issue: &issue.id,
        edition: &issue.edition,
        edition_name,
        subject: &issue.subject,
        from: &n.from,
        reply_to: n.reply_to.as_ref(),
        list_name: n.name.as_str(),
        list_id: &n.list_id,
        unsubscribe_url: config.links.unsubscribe.as_str(),
        manage_url: &manage_url,
        unsubscribe_mailto: &config.links.unsubscribe_mailto,
        greeting_fallback: n.greeting_fallback.as_str(),
    };
    Prepared::new(&id, rendered, date, proof)
}
