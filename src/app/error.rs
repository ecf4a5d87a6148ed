//! The application layer's error: every way a use case can stop, each kind
//! with the exit code the README documents, decided here and nowhere else.
//! Lower layers' errors come in with `#[from]` and keep their cause chain,
//! which the faces print once (`error: what: why: root cause`).

use std::path::PathBuf;

use crate::diag::Problems;

/// Exit codes, documented in the README.
pub mod exit {
    /// Everything worked (or, for `send --due`, nothing was due).
    pub const OK: u8 = 0;
    /// Content, layout or configuration errors: nothing was built or sent.
    pub const INVALID: u8 = 1;
    /// Bad command-line usage (clap's own code).
    pub const USAGE: u8 = 2;
    /// A send finished, but some recipients failed or were not attempted.
    pub const SOME_FAILED: u8 = 3;
    /// Another send holds the lock; nothing was done.
    pub const LOCKED: u8 = 4;
    /// `send --due`: the due edition is past its grace window and unsent.
    pub const PAST_GRACE: u8 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in files, each with its position and a hint.
    #[error("{}", summary(.0))]
    Problems(Problems),
    /// The same, with a sentence that says what they stopped.
    #[error("{context}")]
    ProblemsIn { context: String, problems: Problems },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    State(#[from] crate::state::Error),
    #[error(transparent)]
    File(#[from] crate::fsx::Error),
    #[error("{0}; nothing was sent")]
    Transport(#[from] crate::send::TransportError),
    #[error(transparent)]
    Archive(#[from] crate::archive::Error),
    #[error(transparent)]
    Dkim(#[from] crate::mail::dkim::Error),
    #[error(transparent)]
    SubscriberFile(#[from] crate::subscribers::RowError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error(
        "no subscriber list: set `paths.subscribers` in newsletter.toml or ALMANAC_SUBSCRIBERS"
    )]
    NoSubscriberList,
    #[error(
        "ALMANAC_UNSUBSCRIBE_SECRET is not set; without it unsubscribe links can't be verified. \
         Set it to a long random string (e.g. `openssl rand -hex 32`) and keep it the same for every send"
    )]
    NoSecret,
    #[error(
        "send --due needs an SMTP server (ALMANAC_SMTP_URL or [smtp] url); it never falls back to the outbox on its own. \
         To deliver to out/outbox/ instead, set `transport = \"outbox\"` under [send]; nothing was sent"
    )]
    NoSmtp,
    #[error("newsletter.toml has no [schedule]{0}")]
    NoSchedule(&'static str),
    #[error("{0}")]
    Locked(String),
    #[error("not sent (answer was not yes)")]
    Declined,
    #[error("{0}")]
    Missed(String),
    #[error("{0}")]
    NoIssueForSlot(String),
    #[error("the proof to {addr} was not delivered: {why}")]
    ProofFailed { addr: String, why: String },
    #[error("{} already exists; not overwriting it (pass --date for another day)", .0.display())]
    IssueExists(PathBuf),
    #[error("{0}")]
    Draft(String),
    #[error("{0}")]
    NotFound(String),
    /// A value given on the command line or in a form that is not valid.
    #[error("{0}")]
    Invalid(String),
    /// A server refused one message outright (5xx): another relay would too.
    #[error("{0}")]
    Refused(String),
    #[error("cannot listen on `{addr}`{hint}")]
    Listen {
        addr: String,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped")]
    Server(#[source] std::io::Error),
    #[error(
        "ALMANAC_UNSUBSCRIBE_SECRET is not set, so unsubscribe tokens could be forged; \
         set it (the same value the sends use) before listening on `{0}`"
    )]
    PublicWithoutSecret(String),
    #[error("the From address {0} can't be used as an envelope sender")]
    EnvelopeFrom(String),
    #[error("a background task failed: {0}")]
    Task(String),
    #[error(
        "the message for {email} has a line of {len} octets (line {line}); RFC 5322 allows {max}"
    )]
    LongLine {
        email: String,
        line: usize,
        len: usize,
        max: usize,
    },
    #[error("the journal writer crashed")]
    JournalCrashed,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The process exit code for this error (see `exit`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Locked(_) => exit::LOCKED,
            Error::Missed(_) => exit::PAST_GRACE,
            Error::ProofFailed { .. } => exit::SOME_FAILED,
            _ => exit::INVALID,
        }
    }

    /// The located problems to print before the message, if any.
    pub fn problems(&self) -> Option<&Problems> {
        match self {
            Error::Problems(p) | Error::ProblemsIn { problems: p, .. } => Some(p),
            _ => None,
        }
    }

    /// Gives file problems a sentence saying what they stopped.
    pub fn context(self, context: impl Into<String>) -> Error {
        match self {
            Error::Problems(problems) => Error::ProblemsIn {
                context: context.into(),
                problems,
            },
            other => other,
        }
    }
}

impl From<Problems> for Error {
    fn from(p: Problems) -> Self {
        Error::Problems(p)
    }
}

impl From<crate::diag::Problem> for Error {
    fn from(p: crate::diag::Problem) -> Self {
        Error::Problems(p.into())
    }
}

/// "2 errors, 1 warning".
pub fn summary(p: &Problems) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(p.errors(), "error"),
        plural(p.warnings(), "warning")
    )
}
