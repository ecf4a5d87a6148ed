//! The serde mirror of `newsletter.toml`. Unknown keys are errors (a typo
//! must not silently fall back to a default), and every value whose type can
//! validate itself does so here, so TOML reports it at its own position.

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{EditionId, Email, HttpsUrl, Line, Mailbox, Prose};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub newsletter: RawNewsletter,
    pub links: RawLinks,
    #[serde(default)]
    pub paths: RawPaths,
    #[serde(default)]
    pub schedule: Option<RawSchedule>,
    #[serde(default)]
    pub send: RawSend,
    #[serde(default)]
    /// `[smtp]` (one server) or `[[smtp]]` (several relays).
    pub smtp: Option<OneOrMany<RawSmtp>>,
    #[serde(default)]
    pub dkim: Option<RawDkim>,
    #[serde(default)]
    pub signup: RawSignup,
    #[serde(default)]
    pub bounces: Option<RawBounces>,
    /// The news desk's sources, one `[[feeds]]` table each.
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
    #[serde(default)]
    pub news: RawNews,
}

/// One feed the news desk pulls candidate stories from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    /// Shown as each item's `source`, e.g. "arXiv cs.CL".
    pub name: Spanned<String>,
    /// RSS 2.0, RSS 1.0 (RDF), Atom or JSON Feed, over https or http.
    pub url: Spanned<String>,
    /// Written as the `topic` of the items added from this feed.
    pub topic: Option<Spanned<String>>,
    /// Keep only entries whose title or summary mentions one of these.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    /// Drop entries whose title or summary mentions any of these.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
}

/// How the news desk fetches feeds and judges items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNews {
    /// Seconds a feed may take, from connecting to the last byte.
    #[serde(default = "d_news_timeout")]
    pub timeout_seconds: Spanned<i64>,
    /// `check` warns about an item published longer than this before its issue.
    #[serde(default = "d_max_age")]
    pub max_age: Spanned<String>,
    /// Editions that recap the week: their items may repeat the links of
    /// the week's other issues without a warning.
    #[serde(default)]
    pub roundup: Vec<Spanned<EditionId>>,
}

fn d_news_timeout() -> Spanned<i64> {
    Spanned::new(0..0, 20)
}
fn d_max_age() -> Spanned<String> {
    Spanned::new(0..0, "60d".into())
}

impl Default for RawNews {
    fn default() -> Self {
        RawNews {
            timeout_seconds: d_news_timeout(),
            max_age: d_max_age(),
            roundup: Vec::new(),
        }
    }
}

/// Returned mail: the VERP return path and where bounces are read from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBounces {
    /// The bounce mailbox; messages go out as `local+TOKEN@domain`.
    pub address: Option<Spanned<String>>,
    /// Soft bounces in consecutive issues that suppress a reader.
    #[serde(default = "d_soft_limit")]
    pub soft_limit: Spanned<i64>,
    /// `imaps://user@host/INBOX`, read by `almanac bounces` without a source.
    pub imap: Option<Spanned<String>>,
    /// Where handled messages are moved on the IMAP server.
    #[serde(default = "d_imap_folder")]
    pub imap_folder: Spanned<String>,
    /// Extra trusted CA (PEM) for the IMAP server.
    pub imap_tls_ca: Option<Spanned<String>>,
}

fn d_soft_limit() -> Spanned<i64> {
    Spanned::new(0..0, 3)
}
fn d_imap_folder() -> Spanned<String> {
    Spanned::new(0..0, "Processed".into())
}

/// Sign-ups through `almanac serve`'s form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignup {
    /// How long a confirmation link works, e.g. "7d" or "48h".
    #[serde(default = "d_confirm")]
    pub confirm_within: Spanned<String>,
    /// Keep the sign-up's IP address with the consent record.
    #[serde(default)]
    pub record_ip: bool,
    /// Sign-up requests one client may make in 10 minutes.
    #[serde(default = "d_per_client")]
    pub per_client: Spanned<i64>,
    /// Take the client's address from X-Forwarded-For (behind a proxy you
    /// run), instead of the connection's.
    #[serde(default)]
    pub trust_forwarded_for: bool,
}

fn d_confirm() -> Spanned<String> {
    Spanned::new(0..0, "7d".into())
}
fn d_per_client() -> Spanned<i64> {
    Spanned::new(0..0, 5)
}

impl Default for RawSignup {
    fn default() -> Self {
        RawSignup {
            confirm_within: d_confirm(),
            record_ip: false,
            per_client: d_per_client(),
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNewsletter {
    pub name: Line,
    pub tagline: Line,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// Defaults to `<name-slug>.<from-domain>`.
    pub list_id: Option<Line>,
    /// CAN-SPAM: a valid physical postal address of the sender.
    pub postal_address: Line,
    /// Why the reader gets this email, shown in the footer.
    pub why: Prose,
    #[serde(default = "default_language")]
    pub language: Line,
    /// Used in "Hi {name}," when a subscriber has no name.
    #[serde(default = "default_greeting")]
    pub greeting_fallback: Line,
}

fn default_language() -> Line {
    Line::new("en", "language", 10).expect("valid")
}
fn default_greeting() -> Line {
    Line::new("there", "greeting", 10).expect("valid")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinks {
    /// Base of the web archive; an issue's web version is `<archive><issue-id>/`.
    pub archive: HttpsUrl,
    /// The one-click unsubscribe endpoint (`almanac serve`), given `?t=TOKEN`.
    pub unsubscribe: HttpsUrl,
    /// Address that receives `mailto:` unsubscribe requests.
    pub unsubscribe_mailto: Email,
    /// The subscribe page (`almanac serve`'s /subscribe), linked from the
    /// web version of each issue.
    #[serde(default)]
    pub subscribe: Option<HttpsUrl>,
    /// The manage page; default: `manage` beside `unsubscribe`.
    #[serde(default)]
    pub manage: Option<HttpsUrl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    #[serde(default = "d_issues")]
    pub issues: String,
    #[serde(default = "d_layouts")]
    pub layouts: String,
    #[serde(default = "d_out")]
    pub out: String,
    #[serde(default = "d_state")]
    pub state: String,
    pub subscribers: Option<String>,
}

fn d_issues() -> String {
    "issues".into()
}
fn d_layouts() -> String {
    "layouts".into()
}
fn d_out() -> String {
    "out".into()
}
fn d_state() -> String {
    "state".into()
}

impl Default for RawPaths {
    fn default() -> Self {
        RawPaths {
            issues: d_issues(),
            layouts: d_layouts(),
            out: d_out(),
            state: d_state(),
            subscribers: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub timezone: Spanned<String>,
    /// How late a missed send may still go out, e.g. "6h" or "90m".
    #[serde(default = "d_grace")]
    pub grace: Spanned<String>,
    #[serde(default)]
    pub send: Vec<RawSlot>,
}

fn d_grace() -> Spanned<String> {
    Spanned::new(0..0, "6h".into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlot {
    pub edition: Spanned<EditionId>,
    pub weekday: Spanned<String>,
    pub time: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSend {
    #[serde(default = "d_connections")]
    pub connections: Spanned<i64>,
    /// Messages per second over all connections; 0 means no limit.
    #[serde(default = "d_rate")]
    pub rate_per_second: Spanned<f64>,
    /// Messages per hour; 0 means no limit.
    #[serde(default = "d_zero")]
    pub rate_per_hour: Spanned<i64>,
    /// Attempts per message for temporary failures (4xx, dropped connections).
    #[serde(default = "d_attempts")]
    pub max_attempts: Spanned<i64>,
    /// `smtp` or `outbox`; without it, SMTP when a server is configured.
    /// `send --due` uses the outbox only when it is named here.
    pub transport: Option<Spanned<String>>,
}

fn d_connections() -> Spanned<i64> {
    Spanned::new(0..0, 4)
}
fn d_rate() -> Spanned<f64> {
    Spanned::new(0..0, 0.0)
}
fn d_zero() -> Spanned<i64> {
    Spanned::new(0..0, 0)
}
fn d_attempts() -> Spanned<i64> {
    Spanned::new(0..0, 5)
}

impl Default for RawSend {
    fn default() -> Self {
        RawSend {
            connections: d_connections(),
            rate_per_second: Spanned::new(0..0, 0.0),
            rate_per_hour: Spanned::new(0..0, 0),
            max_attempts: d_attempts(),
            transport: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    /// `smtp://host:port`, `smtp://user@host:587?tls=required`, `smtps://host:465`.
    pub url: Option<Spanned<String>>,
    /// Name of the environment variable holding the password
    /// (default `ALMANAC_SMTP_PASSWORD`).
    pub password_env: Option<String>,
    /// A command whose standard output is the password (e.g. `pass show smtp`).
    pub password_command: Option<Spanned<String>>,
    /// Allow unencrypted SMTP to a host that is not loopback.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Name sent in EHLO; defaults to the From domain.
    pub helo: Option<Line>,
    /// A PEM file of extra root certificates to trust (a private relay's CA).
    pub tls_ca: Option<Spanned<String>>,
    /// Seconds to wait for the server before giving up on a command.
    #[serde(default = "d_timeout")]
    pub timeout_seconds: Spanned<i64>,
    /// The relay's name in the journal and `status` (default `host:port`).
    pub name: Option<Spanned<String>>,
    /// Sessions to this relay (default: `[send] connections`).
    pub connections: Option<Spanned<i64>>,
    /// Its share of the recipients relative to the other relays.
    pub weight: Option<Spanned<i64>>,
    pub rate_per_second: Option<Spanned<f64>>,
    pub rate_per_hour: Option<Spanned<i64>>,
    /// Messages it takes in any 24 hours, counted in the journal.
    pub rate_per_day: Option<Spanned<i64>>,
}

/// A table or an array of tables under one key: `[smtp]` and `[[smtp]]`.
/// Hand-written rather than `#[serde(untagged)]`, which would replace the
/// inner error (an unknown key, a wrong type, with its position) by "did
/// not match any variant".
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table ([smtp]) or an array of tables ([[smtp]])")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(|one| OneOrMany(vec![one]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                s: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(s))
                    .map(OneOrMany)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn d_timeout() -> Spanned<i64> {
    Spanned::new(0..0, 60)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDkim {
    pub domain: Line,
    pub selector: Line,
    /// Path of the PEM private key (PKCS#1 or PKCS#8); `ALMANAC_DKIM_KEY` wins.
    pub key: Option<Spanned<String>>,
    #[serde(default = "d_algo")]
    pub algorithm: Spanned<String>,
}

fn d_algo() -> Spanned<String> {
    Spanned::new(0..0, "rsa-sha256".into())
}
