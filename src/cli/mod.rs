//! The command line: argument parsing, the one place that prints errors, and
//! exit codes. Each subcommand lives in its own file and returns
//! `Result<ExitCode, Failure>`.

mod archive;
mod build;
mod check;
mod due;
mod new;
mod preview;
mod progress;
mod project;
mod schedule;
mod send;
mod serve;
mod status;
mod subscribers;
mod unsubscribe;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::Problems;
pub use build::files as build_files;
pub use project::{Built, Project};

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

#[derive(Debug, Parser)]
#[command(name = "almanac", version, about = "Compose a twice-weekly newsletter and send it.", long_about = None)]
pub struct Cli {
    /// The newsletter's configuration file.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "ALMANAC_CONFIG",
        default_value = "newsletter.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an issue into out/<issue>/: email.html, email.txt, web.html, message.eml.
    Build(build::Args),
    /// Validate the config, layouts and an issue, and lint the built email.
    Check(check::Args),
    /// Scaffold the next issue of an edition from a commented template.
    New(new::Args),
    /// Deliver an issue to every subscriber who should get it, exactly once.
    Send(send::Args),
    /// Delivery counts and failures of an issue, from the journal.
    Status(status::Args),
    /// Suppress addresses (by address, unsubscribe token, or bounce/complaint mail); wins over the list.
    Unsubscribe(unsubscribe::Args),
    /// Check, list and edit the subscriber list.
    Subscribers(subscribers::Args),
    /// Upcoming sends, or systemd/cron units for `send --due`.
    Schedule(schedule::Args),
    /// Write the web archive to out/site/: every issue, an index and an Atom feed.
    Archive(archive::Args),
    /// Serve one-click unsubscribe and the archive (behind a TLS reverse proxy).
    Serve(serve::Args),
    /// Serve every issue on 127.0.0.1 as it will look, reloading on save.
    Preview(preview::Args),
}

/// Why a command stopped: problems with files (printed with positions), or a
/// plain message.
#[derive(Debug)]
pub enum Failure {
    Problems(Problems),
    Message(String, u8),
}

impl From<Problems> for Failure {
    fn from(p: Problems) -> Self {
        Failure::Problems(p)
    }
}

impl From<crate::diag::Problem> for Failure {
    fn from(p: crate::diag::Problem) -> Self {
        Failure::Problems(p.into())
    }
}

pub type CmdResult = Result<ExitCode, Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Build(a) => build::run(&cli, a),
        Command::Check(a) => check::run(&cli, a),
        Command::New(a) => new::run(&cli, a),
        Command::Send(a) => send::run(&cli, a),
        Command::Status(a) => status::run(&cli, a),
        Command::Unsubscribe(a) => unsubscribe::run(&cli, a),
        Command::Subscribers(a) => subscribers::run(&cli, a),
        Command::Schedule(a) => schedule::run(&cli, a),
        Command::Archive(a) => archive::run(&cli, a),
        Command::Serve(a) => serve::run(&cli, a),
        Command::Preview(a) => preview::run(&cli, a),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Problems(p)) => {
            eprint!("{}", p.render(fancy()));
            eprintln!("{}", summary(&p));
            ExitCode::from(exit::INVALID)
        }
        Err(Failure::Message(m, code)) => {
            eprintln!("error: {m}");
            ExitCode::from(code)
        }
    }
}

/// Pretty diagnostics with source snippets on a terminal; one line per
/// problem otherwise (logs, CI, pipes).
pub fn fancy() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub fn summary(p: &Problems) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(p.errors(), "error"),
        plural(p.warnings(), "warning")
    )
}
