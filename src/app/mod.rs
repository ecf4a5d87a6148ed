//! The application layer: almanac's use cases as functions with typed
//! errors. The faces (`cli`, `serve`, `preview`) parse their input, call
//! one of these, print or answer, and map the error to an exit code or an
//! HTTP status; none of them wires pipeline modules itself.
//!
//! This layer may import every module below it (config, layouts, content,
//! render, mail, send, state, subscribers, schedule, archive); nothing below
//! imports it, and it imports no face.
//!
//! To follow a send from the command line to the socket: `cli/send.rs` →
//! `send::plan` (checks, recipients) → `Plan::execute` in `send/deliver.rs`
//! → `crate::send::run` (workers, retries, journal) → `send/smtp.rs`.

pub mod archive;
pub mod bounces;
pub mod build;
pub mod check;
mod error;
pub mod init;
pub mod lifecycle;
pub mod mailer;
pub mod marks;
pub mod new;
mod project;
pub mod schedule;
pub mod send;
pub mod signup;
pub mod status;
pub mod subscribers;
pub mod suppress;

pub use error::{Error, Result, exit, summary};
pub use project::{Built, Project, SAMPLE_EMAIL, SAMPLE_NAME};

/// The async runtime for sends and proofs.
fn runtime() -> Result<tokio::runtime::Runtime> {
    crate::rt::runtime().map_err(Error::Runtime)
}
