//! Where messages go, as a small trait: the send engine (retries, backoff,
//! the journal, aborts) drives any `Transport`, so it runs the same over
//! SMTP, into the outbox folder, or into the in-memory recorder of the
//! engine's own tests.

use std::future::Future;
use std::path::PathBuf;

use lettre::Address;

use super::reply::Reply;

/// One message's envelope.
pub struct Envelope<'a> {
    /// MAIL FROM (the return path).
    pub from: &'a Address,
    /// RCPT TO.
    pub to: &'a Address,
    /// The message's Message-ID, which names its outbox file.
    pub message_id: &'a str,
}

/// How one attempt at one message ended, classified for retry decisions.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// The server (or the outbox) took the message.
    Accepted(Reply),
    /// 5xx: do not retry. `at_rcpt` when the recipient itself was refused.
    Rejected { reply: Reply, at_rcpt: bool },
    /// 4xx: retry later on the same or a new session.
    Deferred(Reply),
    /// The session broke or timed out: reconnect and retry.
    Broken(String),
    /// The transport can't take any more messages (the outbox's disk is
    /// full): stop the run and leave the rest pending.
    Unusable(String),
}

/// Where a delivery went, as the journal records it: an outbox delivery is
/// never taken for a real one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "kind", content = "target", rename_all = "lowercase")]
pub enum Via {
    /// The outbox folder: written to disk, delivered to nobody.
    Outbox,
    /// An SMTP server, `host:port`.
    Smtp(String),
    /// The in-memory recorder (tests).
    Memory,
}

impl Via {
    /// The form stored in the journal: `outbox`, `smtp:host:port`, `memory`.
    pub fn as_stored(&self) -> String {
        match self {
            Via::Outbox => "outbox".into(),
            Via::Smtp(h) => format!("smtp:{h}"),
            Via::Memory => "memory".into(),
        }
    }

    pub fn from_stored(s: &str) -> Via {
        match s.split_once(':') {
            Some(("smtp", host)) => Via::Smtp(host.to_owned()),
            _ if s == "memory" => Via::Memory,
            _ => Via::Outbox,
        }
    }

    /// The relay's name (`host:port` unless configured), or the kind.
    pub fn name(&self) -> String {
        match self {
            Via::Smtp(name) => name.clone(),
            Via::Outbox => "outbox".into(),
            Via::Memory => "memory".into(),
        }
    }

    pub fn is_real(&self) -> bool {
        matches!(self, Via::Smtp(_))
    }
}

/// Why a transport can't be used at all.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {server}")]
    Connect {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out after {seconds} s {step} {server}")]
    Timeout {
        server: String,
        step: &'static str,
        seconds: u64,
    },
    #[error("{server} refused the session: {reply}")]
    Refused { server: String, reply: Reply },
    #[error("the SMTP session with {server} failed")]
    Protocol {
        server: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("{what} with {server} failed")]
    Tls {
        server: String,
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{server} does not offer STARTTLS, and the URL requires TLS")]
    NoStartTls { server: String },
    #[error("SMTP authentication as {user} failed: {detail}")]
    Auth { user: String, detail: String },
    #[error("the SMTP URL names a user but no password is set (ALMANAC_SMTP_PASSWORD)")]
    NoPassword,
    #[error(transparent)]
    Password(#[from] crate::config::secret::CommandError),
    #[error("cannot write to the outbox {}", path.display())]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Something messages can be handed to, one session per worker.
pub trait Transport: Send + Sync + 'static {
    type Session: Session;
    fn via(&self) -> Via;
    /// For people: `smtp://host:port`, `the outbox out/outbox`.
    fn describe(&self) -> String;
    fn connect(&self) -> impl Future<Output = Result<Self::Session, TransportError>> + Send;
}

pub trait Session: Send + 'static {
    fn send(
        &mut self,
        envelope: &Envelope<'_>,
        message: &[u8],
    ) -> impl Future<Output = Attempt> + Send;
    /// Whether the session must be replaced before the next message.
    fn is_broken(&self) -> bool;
    fn quit(self) -> impl Future<Output = ()> + Send;
}
