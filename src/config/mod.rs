//! `newsletter.toml` → a validated `Config`. The raw serde mirror lives in
//! `raw.rs`; this module resolves paths against the config's folder, applies
//! the environment overrides (the environment wins over the file) and checks
//! everything that needs more than one value to judge.

mod feeds;
mod raw;
pub mod secret;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use toml::Spanned;

use crate::diag::{Problem, Problems, read_text, toml_problem};
use crate::domain::{EditionId, Email, HttpsUrl, ImapUrl, Line, Mailbox, Prose};
pub use feeds::{Feed, NewsDesk};
pub use secret::{Password, Secret};

/// Variables an operator may set per machine; read once, in one place.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub smtp_url: Option<String>,
    pub smtp_password: Option<Secret>,
    pub subscribers: Option<String>,
    pub state_dir: Option<String>,
    pub unsubscribe_secret: Option<Secret>,
    pub dkim_key: Option<String>,
    /// The first retry's delay in milliseconds (tests shorten it).
    pub retry_backoff_ms: Option<u64>,
    /// Any other variable a config names (e.g. `password_env`).
    pub lookup: std::collections::BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            smtp_url: get("ALMANAC_SMTP_URL"),
            smtp_password: get("ALMANAC_SMTP_PASSWORD").map(Secret::new),
            subscribers: get("ALMANAC_SUBSCRIBERS"),
            state_dir: get("ALMANAC_STATE_DIR"),
            unsubscribe_secret: get("ALMANAC_UNSUBSCRIBE_SECRET").map(Secret::new),
            dkim_key: get("ALMANAC_DKIM_KEY"),
            retry_backoff_ms: get("ALMANAC_RETRY_BACKOFF_MS").and_then(|v| v.parse().ok()),
            lookup: std::env::vars().collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    /// The file's text, for problems found after loading.
    pub source: Arc<str>,
    pub root: PathBuf,
    pub newsletter: Newsletter,
    pub links: Links,
    pub paths: Paths,
    pub schedule: Option<Schedule>,
    pub send: SendSettings,
    /// The SMTP relays, in the order configured: none (the outbox), one
    /// (`[smtp]` or ALMANAC_SMTP_URL), or several (`[[smtp]]`).
    pub relays: Vec<Relay>,
    pub dkim: Option<Dkim>,
    pub unsubscribe_secret: Option<Secret>,
    pub signup: Signup,
    pub bounces: Bounces,
    /// The news desk's sources (`[[feeds]]`), in file order.
    pub feeds: Vec<Feed>,
    pub news: NewsDesk,
}

/// The postal address `almanac init` writes, for the editor to replace.
pub const INIT_POSTAL_ADDRESS: &str = "Your name, street, city, postcode, country";

/// Returned mail: the VERP return path and the bounce mailbox.
#[derive(Debug, Clone)]
pub struct Bounces {
    /// The VERP bounce mailbox; without it messages go out from `from`.
    pub address: Option<Email>,
    /// Soft bounces in consecutive issues that suppress a reader.
    pub soft_limit: u32,
    pub imap: Option<ImapUrl>,
    pub imap_folder: String,
    pub imap_tls_ca: Option<Vec<u8>>,
}

impl Default for Bounces {
    fn default() -> Self {
        Bounces {
            address: None,
            soft_limit: 3,
            imap: None,
            imap_folder: "Processed".into(),
            imap_tls_ca: None,
        }
    }
}

/// How readers sign up on the form.
#[derive(Debug, Clone)]
pub struct Signup {
    /// How long a confirmation link works.
    pub confirm_within: Duration,
    pub record_ip: bool,
    /// Requests one client may make in 10 minutes.
    pub per_client: u32,
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone)]
pub struct Newsletter {
    pub name: Line,
    pub tagline: Line,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub list_id: String,
    pub postal_address: Line,
    pub why: Prose,
    pub language: Line,
    pub greeting_fallback: Line,
}

#[derive(Debug, Clone)]
pub struct Links {
    pub archive: HttpsUrl,
    pub unsubscribe: HttpsUrl,
    pub unsubscribe_mailto: Email,
    pub subscribe: Option<HttpsUrl>,
    pub manage: Option<HttpsUrl>,
}

#[derive(Debug, Clone)]
pub struct Paths {
    pub issues: PathBuf,
    pub layouts: PathBuf,
    pub out: PathBuf,
    pub state: PathBuf,
    pub subscribers: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub timezone: Tz,
    pub grace: Duration,
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub edition: EditionId,
    pub weekday: Weekday,
    pub time: NaiveTime,
    /// Where `edition` is written, for problems found later.
    pub span: std::ops::Range<usize>,
}

#[derive(Debug, Clone)]
pub struct SendSettings {
    pub connections: usize,
    pub rate_per_second: Option<f64>,
    pub rate_per_hour: Option<u64>,
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time, capped at 30 s.
    pub first_backoff: Duration,
    /// `transport = "outbox"`: the operator asked for the outbox.
    pub outbox_chosen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP; only to loopback unless explicitly allowed.
    None,
    /// Plain TCP upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
}

/// One SMTP relay and its share of a send.
#[derive(Debug, Clone)]
pub struct Relay {
    pub smtp: Smtp,
    /// Sessions to it; `None` takes `[send] connections`.
    pub connections: Option<usize>,
    /// Its share of the recipients, relative to the other relays'.
    pub weight: u32,
    pub rate_per_second: Option<f64>,
    pub rate_per_hour: Option<u64>,
    /// At most this many messages in any 24 hours, across runs.
    pub rate_per_day: Option<u64>,
}

/// A relay's limits as checked, before its server is.
struct Limits {
    connections: Option<usize>,
    weight: u32,
    rate_per_second: Option<f64>,
    rate_per_hour: Option<u64>,
    rate_per_day: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    /// What the journal and `status` call it (default `host:port`).
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub user: Option<String>,
    pub password: Password,
    pub helo: String,
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM), read when the config loads.
    pub tls_ca: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    RsaSha256,
    Ed25519Sha256,
}

#[derive(Debug, Clone)]
pub struct Dkim {
    pub domain: String,
    pub selector: String,
    pub key_path: PathBuf,
    pub algorithm: DkimAlgorithm,
}

const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Loads and validates `path`, reporting every problem found.
    pub fn load(path: &Path, env: &Env) -> Result<Config, Problems> {
        let src = read_text(path, MAX_CONFIG_BYTES)?;
        let raw: raw::RawConfig = toml::from_str(&src).map_err(|e| toml_problem(path, &src, &e))?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(""));
        let mut v = Validator {
            file: path,
            src: &src,
            problems: Problems::default(),
        };
        let newsletter = newsletter(raw.newsletter);
        let paths = paths(&root, raw.paths, env);
        let schedule = raw.schedule.map(|s| v.schedule(s));
        let transport = raw.send.transport.clone();
        let mut send = v.send(raw.send);
        if let Some(ms) = env.retry_backoff_ms {
            send.first_backoff = Duration::from_millis(ms);
        }
        let relays = v.relays(raw.smtp, env, &newsletter);
        if let Some(t) = transport {
            match t.get_ref().as_str() {
                "outbox" => send.outbox_chosen = true,
                "smtp" if relays.is_empty() => {
                    v.err::<()>(
                        t.span(),
                        "`transport = \"smtp\"`, but no SMTP server is configured".into(),
                        "set ALMANAC_SMTP_URL or [smtp] url",
                    );
                }
                "smtp" => {}
                other => {
                    v.err::<()>(
                        t.span(),
                        format!("unknown transport `{other}`"),
                        "use `smtp` (the configured server) or `outbox` (files in out/outbox/, delivered to nobody)",
                    );
                }
            }
        }
        let dkim = raw.dkim.and_then(|d| v.dkim(d, env, &root));
        let signup = v.signup(raw.signup);
        let bounces = v.bounces(raw.bounces);
        let feeds = v.feeds(raw.feeds);
        let news = v.news_desk(raw.news);
        let config = Config {
            file: path.to_owned(),
            source: src.clone(),
            root,
            newsletter,
            links: Links {
                archive: raw.links.archive,
                unsubscribe: raw.links.unsubscribe,
                unsubscribe_mailto: raw.links.unsubscribe_mailto,
                subscribe: raw.links.subscribe,
                manage: raw.links.manage,
            },
            paths,
            schedule: schedule.flatten(),
            send,
            relays,
            dkim,
            unsubscribe_secret: env.unsubscribe_secret.clone(),
            signup,
            bounces,
            feeds,
            news,
        };
        v.problems.into_result(config)
    }

    /// The web address of an issue in the archive ("view in browser").
    /// The manage page (`almanac serve`'s /manage): `links.manage`, else
    /// beside the unsubscribe endpoint.
    pub fn manage_url(&self) -> String {
        match &self.links.manage {
            Some(m) => m.to_string(),
            None => self.beside_unsubscribe("manage"),
        }
    }

    /// What `almanac init` left for the editor to fill in (or that is
    /// plainly not theirs): a real send refuses to go out with any of it.
    pub fn placeholders(&self) -> Vec<String> {
        let example = |domain: &str| {
            let d = domain.to_ascii_lowercase();
            ["example.com", "example.org", "example.net"]
                .iter()
                .any(|e| d == *e || d.ends_with(&format!(".{e}")))
        };
        let nl = &self.newsletter;
        let mut out = Vec::new();
        if example(nl.from.email.domain()) {
            out.push(format!(
                "`from` is {}, an example address; use your own sending address",
                nl.from.email
            ));
        }
        if nl.postal_address.as_str() == INIT_POSTAL_ADDRESS {
            out.push("`postal_address` still holds the template's text; write the sender's postal address".into());
        }
        for (key, url) in [
            ("archive", self.links.archive.as_str()),
            ("unsubscribe", self.links.unsubscribe.as_str()),
        ] {
            if url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(example))
                .unwrap_or(false)
            {
                out.push(format!("`links.{key}` ({url}) is at an example domain; point it at where almanac serve runs"));
            }
        }
        out
    }

    /// The subscribe page (`almanac serve`'s /subscribe): `links.subscribe`,
    /// else beside the unsubscribe endpoint.
    pub fn subscribe_url(&self) -> String {
        match &self.links.subscribe {
            Some(m) => m.to_string(),
            None => self.beside_unsubscribe("subscribe"),
        }
    }

    /// Where confirmation links lead: beside the subscribe page.
    pub fn confirm_url(&self) -> String {
        beside(&self.subscribe_url(), "confirm")
    }

    fn beside_unsubscribe(&self, name: &str) -> String {
        beside(self.links.unsubscribe.as_str(), name)
    }

    /// A problem at a schedule slot's `edition`.
    pub fn slot_problem(&self, slot: &Slot, message: String) -> Problem {
        Problem::error(&self.file, message)
            .at(&self.source, slot.span.clone())
            .hint("each [[schedule.send]] edition needs a file layouts/editions/<edition>.toml (or an embedded default)")
    }

    pub fn web_url(&self, issue: &crate::domain::IssueId) -> String {
        let base = self.links.archive.as_str();
        let sep = if base.ends_with('/') { "" } else { "/" };
        format!("{base}{sep}{issue}/")
    }
}

fn newsletter(n: raw::RawNewsletter) -> Newsletter {
    let list_id = match n.list_id {
        Some(id) => id
            .as_str()
            .trim_matches(|c| c == '<' || c == '>')
            .to_owned(),
        None => format!("{}.{}", slug(n.name.as_str()), n.from.email.domain()),
    };
    Newsletter {
        name: n.name,
        tagline: n.tagline,
        from: n.from,
        reply_to: n.reply_to,
        list_id,
        postal_address: n.postal_address,
        why: n.why,
        language: n.language,
        greeting_fallback: n.greeting_fallback,
    }
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn paths(root: &Path, p: raw::RawPaths, env: &Env) -> Paths {
    let at = |s: &str| {
        let p = Path::new(s);
        if p.is_absolute() {
            p.to_owned()
        } else {
            root.join(p)
        }
    };
    // Environment paths are taken as given (relative to the working
    // directory), as a shell user would expect.
    Paths {
        issues: at(&p.issues),
        layouts: at(&p.layouts),
        out: at(&p.out),
        state: env
            .state_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| at(&p.state)),
        subscribers: env
            .subscribers
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| p.subscribers.as_deref().map(at)),
    }
}

struct Validator<'a> {
    file: &'a Path,
    src: &'a Arc<str>,
    problems: Problems,
}

impl Validator<'_> {
    fn err<T>(&mut self, span: std::ops::Range<usize>, msg: String, hint: &str) -> Option<T> {
        let mut p = Problem::error(self.file, msg).hint(hint);
        if span.end > 0 {
            p = p.at(self.src, span);
        }
        self.problems.push(p);
        None
    }

    fn schedule(&mut self, s: raw::RawSchedule) -> Option<Schedule> {
        let tz = match s.timezone.get_ref().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => self.err(
                s.timezone.span(),
                format!("`{}` is not an IANA time zone", s.timezone.get_ref()),
                "use a name such as `Europe/London`, `America/New_York` or `UTC`",
            ),
        };
        let grace = match parse_duration(s.grace.get_ref()) {
            Some(d) => Some(d),
            None => self.err(
                s.grace.span(),
                format!("`{}` is not a duration", s.grace.get_ref()),
                "write a number followed by m or h, e.g. `90m` or `6h`",
            ),
        };
        let mut slots = Vec::new();
        for slot in s.send {
            let weekday = slot.weekday.get_ref().parse::<Weekday>().ok();
            if weekday.is_none() {
                self.err::<()>(
                    slot.weekday.span(),
                    format!("`{}` is not a weekday", slot.weekday.get_ref()),
                    "write the day in English, e.g. `Wednesday` or `Sun`",
                );
            }
            let time = NaiveTime::parse_from_str(slot.time.get_ref(), "%H:%M").ok();
            if time.is_none() {
                self.err::<()>(
                    slot.time.span(),
                    format!("`{}` is not a time of day", slot.time.get_ref()),
                    "write 24-hour local time as HH:MM, e.g. `07:00`",
                );
            }
            if let (Some(weekday), Some(time)) = (weekday, time) {
                let span = slot.edition.span();
                slots.push(Slot {
                    edition: slot.edition.into_inner(),
                    weekday,
                    time,
                    span,
                });
            }
        }
        Some(Schedule {
            timezone: tz?,
            grace: grace?,
            slots,
        })
    }

    /// A PEM file of extra root certificates, relative to the config.
    fn ca(&mut self, root: &Path, ca: &Spanned<String>) -> Option<Vec<u8>> {
        let path = root.join(ca.get_ref());
        match std::fs::read(&path) {
            Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(pem),
            Ok(_) => self.err(
                ca.span(),
                format!("{} holds no PEM certificate", path.display()),
                "give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)",
            ),
            Err(e) => self.err(
                ca.span(),
                format!("cannot read {}: {e}", path.display()),
                "the path is relative to newsletter.toml",
            ),
        }
    }

    fn bounces(&mut self, b: Option<raw::RawBounces>) -> Bounces {
        let Some(b) = b else {
            return Bounces::default();
        };
        let address = b
            .address
            .as_ref()
            .and_then(|a| match a.get_ref().parse::<Email>() {
                Ok(e) if !e.as_str().split('@').next().unwrap_or("").contains('+') => Some(e),
                Ok(_) => self.err(
                    a.span(),
                    format!(
                        "`{}` already has a `+`; almanac adds `+TOKEN` to it",
                        a.get_ref()
                    ),
                    "give the plain mailbox, e.g. `bounces@almanac.example`",
                ),
                Err(e) => self.err(
                    a.span(),
                    format!("`{}` is not an email address: {e}", a.get_ref()),
                    "e.g. `address = \"bounces@almanac.example\"`",
                ),
            });
        let soft = *b.soft_limit.get_ref();
        if !(1..=100).contains(&soft) {
            self.err::<()>(
                b.soft_limit.span(),
                format!("soft_limit must be from 1 to 100, got {soft}"),
                "3 soft bounces in a row is what most senders use",
            );
        }
        let imap = b
            .imap
            .as_ref()
            .and_then(|u| match u.get_ref().parse::<ImapUrl>() {
                Ok(url) => Some(url),
                Err(e) => self.err(
                    u.span(),
                    e,
                    "e.g. `imap = \"imaps://bounces@mail.almanac.example/INBOX\"`",
                ),
            });
        let folder = b.imap_folder.get_ref().trim().to_owned();
        if folder.is_empty() || folder.chars().any(char::is_control) {
            self.err::<()>(
                b.imap_folder.span(),
                "imap_folder must be a folder name".into(),
                "e.g. `imap_folder = \"Processed\"`",
            );
        }
        let root = self
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let imap_tls_ca = b.imap_tls_ca.as_ref().and_then(|ca| self.ca(&root, ca));
        Bounces {
            address,
            soft_limit: soft.clamp(1, 100) as u32,
            imap,
            imap_folder: folder,
            imap_tls_ca,
        }
    }

    fn signup(&mut self, s: raw::RawSignup) -> Signup {
        let confirm_within = parse_duration(s.confirm_within.get_ref())
            .filter(|d| d.as_secs() >= 600)
            .or_else(|| {
                self.err(
                    s.confirm_within.span(),
                    format!(
                        "`{}` is not a duration of 10 minutes or more",
                        s.confirm_within.get_ref()
                    ),
                    "write a number followed by d, h or m, e.g. `7d` or `48h`",
                )
            })
            .unwrap_or(Duration::from_secs(7 * 86400));
        let per_client = *s.per_client.get_ref();
        if !(1..=1000).contains(&per_client) {
            self.err::<()>(
                s.per_client.span(),
                format!("per_client must be from 1 to 1000, got {per_client}"),
                "5 sign-ups per client in 10 minutes is plenty for people and little for scripts",
            );
        }
        Signup {
            confirm_within,
            record_ip: s.record_ip,
            per_client: per_client.clamp(1, 1000) as u32,
            trust_forwarded_for: s.trust_forwarded_for,
        }
    }

    fn send(&mut self, s: raw::RawSend) -> SendSettings {
        let connections = *s.connections.get_ref();
        if !(1..=64).contains(&connections) {
            self.err::<()>(
                s.connections.span(),
                format!("connections must be from 1 to 64, got {connections}"),
                "4 is a good start; ask your provider how many parallel sessions it allows",
            );
        }
        let rate = *s.rate_per_second.get_ref();
        if !(rate.is_finite() && rate >= 0.0) {
            self.err::<()>(
                s.rate_per_second.span(),
                format!("rate_per_second must be 0 (no limit) or positive, got {rate}"),
                "e.g. `rate_per_second = 10`",
            );
        }
        let per_hour = *s.rate_per_hour.get_ref();
        if per_hour < 0 {
            self.err::<()>(
                s.rate_per_hour.span(),
                format!("rate_per_hour must be 0 (no limit) or positive, got {per_hour}"),
                "e.g. `rate_per_hour = 5000`",
            );
        }
        let attempts = *s.max_attempts.get_ref();
        if !(1..=20).contains(&attempts) {
            self.err::<()>(
                s.max_attempts.span(),
                format!("max_attempts must be from 1 to 20, got {attempts}"),
                "5 retries a flaky server for about a minute",
            );
        }
        SendSettings {
            connections: connections.clamp(1, 64) as usize,
            rate_per_second: (rate > 0.0 && rate.is_finite()).then_some(rate),
            rate_per_hour: (per_hour > 0).then_some(per_hour as u64),
            max_attempts: attempts.clamp(1, 20) as u32,
            first_backoff: Duration::from_millis(500),
            outbox_chosen: false,
        }
    }

    fn relays(
        &mut self,
        s: Option<raw::OneOrMany<raw::RawSmtp>>,
        env: &Env,
        n: &Newsletter,
    ) -> Vec<Relay> {
        let Some(raw::OneOrMany(list)) = s else {
            return self
                .smtp(None, env, n, true)
                .map(|smtp| Relay {
                    smtp,
                    connections: None,
                    weight: 1,
                    rate_per_second: None,
                    rate_per_hour: None,
                    rate_per_day: None,
                })
                .into_iter()
                .collect();
        };
        let single = list.len() == 1;
        if !single && env.smtp_url.is_some() {
            self.err::<()>(
                0..0,
                format!(
                    "ALMANAC_SMTP_URL names one server, but [[smtp]] lists {} relays",
                    list.len()
                ),
                "unset ALMANAC_SMTP_URL, or keep a single [smtp] table",
            );
            return Vec::new();
        }
        let mut relays: Vec<Relay> = Vec::new();
        for r in list {
            let name = r.name.clone();
            let limits = self.relay_limits(&r);
            let Some(mut smtp) = self.smtp(Some(r), env, n, single) else {
                continue;
            };
            if let Some(name) = name {
                let trimmed = name.get_ref().trim();
                if trimmed.is_empty() || trimmed.contains(char::is_control) {
                    self.err::<()>(
                        name.span(),
                        "a relay's name must be a non-empty line".into(),
                        "e.g. `name = \"primary\"`",
                    );
                } else {
                    smtp.name = trimmed.to_owned();
                }
            }
            if relays.iter().any(|o| o.smtp.name == smtp.name) {
                self.err::<()>(
                    0..0,
                    format!("two [[smtp]] relays are both called `{}`", smtp.name),
                    "give each relay its own `name`: the journal counts its quota by name",
                );
            }
            relays.push(Relay {
                smtp,
                connections: limits.connections,
                weight: limits.weight,
                rate_per_second: limits.rate_per_second,
                rate_per_hour: limits.rate_per_hour,
                rate_per_day: limits.rate_per_day,
            });
        }
        relays
    }

    /// A relay's own connections, weight and rates, each checked.
    fn relay_limits(&mut self, r: &raw::RawSmtp) -> Limits {
        let mut whole = |v: &Option<Spanned<i64>>, what: &str, max: i64, hint: &str| {
            let v = v.as_ref()?;
            let n = *v.get_ref();
            if !(1..=max).contains(&n) {
                self.err::<()>(
                    v.span(),
                    format!("{what} must be a whole number from 1 to {max}, got {n}"),
                    hint,
                );
                return None;
            }
            Some(n)
        };
        let connections = whole(
            &r.connections,
            "connections",
            64,
            "ask the relay's operator how many parallel sessions it allows",
        )
        .map(|n| n as usize);
        let weight = whole(
            &r.weight,
            "weight",
            1000,
            "weights are relative: 3 and 1 split the list 75% / 25%",
        )
        .unwrap_or(1) as u32;
        let per_hour = whole(
            &r.rate_per_hour,
            "rate_per_hour",
            i64::MAX,
            "e.g. `rate_per_hour = 5000`",
        )
        .map(|n| n as u64);
        let per_day = whole(
            &r.rate_per_day,
            "rate_per_day",
            i64::MAX,
            "the provider's daily sending quota, e.g. `rate_per_day = 50000`",
        )
        .map(|n| n as u64);
        let per_second = match &r.rate_per_second {
            Some(v) if !(v.get_ref().is_finite() && *v.get_ref() > 0.0) => {
                self.err::<()>(
                    v.span(),
                    format!("rate_per_second must be positive, got {}", v.get_ref()),
                    "e.g. `rate_per_second = 14` (leave it out for no limit)",
                );
                None
            }
            Some(v) => Some(*v.get_ref()),
            None => None,
        };
        Limits {
            connections,
            weight,
            rate_per_second: per_second,
            rate_per_hour: per_hour,
            rate_per_day: per_day,
        }
    }

    /// One server. `single`: the only one, where ALMANAC_SMTP_URL and
    /// ALMANAC_SMTP_PASSWORD win over the file; among several relays each
    /// keeps its own URL and password setting.
    fn smtp(
        &mut self,
        s: Option<raw::RawSmtp>,
        env: &Env,
        n: &Newsletter,
        single: bool,
    ) -> Option<Smtp> {
        let env_url = env.smtp_url.as_ref().filter(|_| single);
        let (url, span) = match (env_url, s.as_ref().and_then(|s| s.url.as_ref())) {
            (Some(u), _) => (u.clone(), 0..0),
            (None, Some(u)) => (u.get_ref().clone(), u.span()),
            (None, None) if s.is_some() => {
                return self.err(
                    0..0,
                    "[smtp] has no `url`, and ALMANAC_SMTP_URL is not set".into(),
                    "set `url = \"smtp://host:587?tls=required\"` or the environment variable",
                );
            }
            (None, None) => return None,
        };
        let allow_plain = s.as_ref().is_some_and(|s| s.allow_plaintext);
        let mut smtp = match parse_smtp_url(&url, allow_plain) {
            Ok(smtp) => smtp,
            Err(msg) => {
                return self.err(
                    span,
                    msg,
                    "examples: `smtp://127.0.0.1:2525`, `smtp://user@mail.example.com:587?tls=required`, `smtps://mail.example.com:465`",
                );
            }
        };
        smtp.helo = n.from.email.domain().to_owned();
        let root = self
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let s = match s {
            Some(s) => s,
            None => {
                if let Some(p) = &env.smtp_password {
                    smtp.password = Password::Given(p.clone());
                }
                return Some(smtp);
            }
        };
        if let Some(h) = s.helo {
            smtp.helo = h.as_str().to_owned();
        }
        if let Some(ca) = &s.tls_ca {
            smtp.tls_ca = Some(self.ca(&root, ca)?);
        }
        let secs = *s.timeout_seconds.get_ref();
        if !(1..=600).contains(&secs) {
            self.err::<()>(
                s.timeout_seconds.span(),
                format!("timeout_seconds must be from 1 to 600, got {secs}"),
                "60 is a safe value",
            );
        }
        smtp.timeout = Duration::from_secs(secs.clamp(1, 600) as u64);
        smtp.password = if let Some(p) = env.smtp_password.clone().filter(|_| single) {
            Password::Given(p)
        } else if let Some(var) = &s.password_env {
            env.lookup
                .get(var)
                .cloned()
                .map_or(Password::None, |p| Password::Given(Secret::new(p)))
        } else if let Some(cmd) = &s.password_command {
            if cmd.get_ref().trim().is_empty() {
                return self.err(
                    cmd.span(),
                    "password_command is empty".into(),
                    "name a command that prints the password on standard output and exits 0",
                );
            }
            Password::Command(cmd.get_ref().clone())
        } else if let Some(p) = env.smtp_password.clone() {
            Password::Given(p)
        } else {
            Password::None
        };
        Some(smtp)
    }

    fn dkim(&mut self, d: raw::RawDkim, env: &Env, root: &Path) -> Option<Dkim> {
        let algorithm = match d.algorithm.get_ref().as_str() {
            "rsa-sha256" => DkimAlgorithm::RsaSha256,
            "ed25519-sha256" => DkimAlgorithm::Ed25519Sha256,
            other => {
                return self.err(
                    d.algorithm.span(),
                    format!("unknown DKIM algorithm `{other}`"),
                    "use `rsa-sha256` (most compatible) or `ed25519-sha256`",
                );
            }
        };
        let key_path = match (&env.dkim_key, &d.key) {
            (Some(p), _) => PathBuf::from(p),
            (None, Some(p)) => root.join(p.get_ref()),
            (None, None) => {
                return self.err(
                    0..0,
                    "[dkim] names no key, and ALMANAC_DKIM_KEY is not set".into(),
                    "set ALMANAC_DKIM_KEY to the path of the PEM private key",
                );
            }
        };
        Some(Dkim {
            domain: d.domain.as_str().to_owned(),
            selector: d.selector.as_str().to_owned(),
            key_path,
            algorithm,
        })
    }
}

/// `https://host/dir/NAME` for the URL `https://host/dir/x?query`.
fn beside(url: &str, name: &str) -> String {
    let path_end = url.find('?').unwrap_or(url.len());
    match url[..path_end].rfind('/') {
        Some(slash) if slash > "https://".len() => format!("{}{name}", &url[..=slash]),
        _ => format!("{}/{name}", url[..path_end].trim_end_matches('/')),
    }
}

/// "6h", "90m", "1h30m", "45s".
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            'd' => 86400,
            _ => return None,
        };
    }
    num.is_empty().then_some(Duration::from_secs(total))
}

fn parse_smtp_url(s: &str, allow_plain: bool) -> Result<Smtp, String> {
    let url = url::Url::parse(s).map_err(|e| format!("the SMTP URL is not valid ({e})"))?;
    let implicit = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => {
            return Err(format!(
                "the SMTP URL has scheme `{other}:`; use `smtp://` or `smtps://`"
            ));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the SMTP URL has no host")?
        .trim_matches(|c| c == '[' || c == ']')
        .to_owned();
    let mut tls = if implicit { Tls::Implicit } else { Tls::None };
    for (k, v) in url.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("tls", "required") if !implicit => tls = Tls::StartTls,
            ("tls", "none" | "off") if !implicit => tls = Tls::None,
            ("tls", other) => {
                return Err(format!(
                    "unknown `tls={other}` in the SMTP URL; use `tls=required`"
                ));
            }
            (other, _) => return Err(format!("unknown parameter `{other}` in the SMTP URL")),
        }
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if tls == Tls::None && !loopback && !allow_plain {
        return Err(format!(
            "`{host}` is not a loopback address, and plain SMTP would send passwords and mail unencrypted"
        ));
    }
    let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
    let user = (!url.username().is_empty()).then(|| percent_decode(url.username()));
    if url.password().is_some() {
        return Err(
            "the SMTP URL contains a password; put it in ALMANAC_SMTP_PASSWORD instead".into(),
        );
    }
    Ok(Smtp {
        name: format!("{host}:{port}"),
        host,
        port,
        tls,
        user,
        password: Password::None,
        helo: String::new(),
        timeout: Duration::from_secs(60),
        tls_ca: None,
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("u={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// The `Spanned` import is used by `raw`; re-exported for sibling modules.
pub type SpannedStr = Spanned<String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let s = parse_smtp_url("smtp://127.0.0.1:2525", false).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("127.0.0.1", 2525, Tls::None)
        );
        let s =
            parse_smtp_url("smtp://me%40x.com@mail.example.com:587?tls=required", false).unwrap();
        assert_eq!(s.tls, Tls::StartTls);
        assert_eq!(s.user.as_deref(), Some("me@x.com"));
        assert_eq!(
            parse_smtp_url("smtps://mail.example.com", false)
                .unwrap()
                .port,
            465
        );
        assert!(parse_smtp_url("smtp://mail.example.com:25", false).is_err());
        assert!(parse_smtp_url("smtp://mail.example.com:25", true).is_ok());
        assert!(parse_smtp_url("smtp://u:pw@localhost:25", false).is_err());
        assert!(parse_smtp_url("http://localhost", false).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("6"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Call Me Almanac!"), "call-me-almanac");
    }
}
