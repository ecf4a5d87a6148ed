//! The command line: argument parsing, the one place that prints errors, and
//! exit codes. Each subcommand lives in its own file: it parses, calls one
//! use case in `crate::app`, and prints what came back. The exit code of a
//! failure is the error's own (`app::Error::exit_code`).

mod archive;
mod bounces;
mod build;
mod check;
mod init;
mod mark;
mod new;
mod preview;
mod progress;
mod schedule;
mod send;
mod serve;
mod status;
mod subscribe_form;
mod subscriber_report;
mod subscribers;
mod summary;
mod unsubscribe;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, Error, Project};
use crate::config::Env;

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

/// The subcommands, in the order of an editor's week.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a new newsletter: newsletter.toml, .gitignore and a first draft.
    Init(init::Args),
    /// Scaffold the next issue of an edition from a commented template.
    #[command(after_help = "Examples:
  almanac new midweek                 # the next Wednesday's issue, as a draft
  almanac new sunday --date 2026-12-06")]
    New(new::Args),
    /// Serve every issue on 127.0.0.1 as it will look, reloading on save.
    #[command(after_help = "Examples:
  almanac preview                     # http://127.0.0.1:4747
  almanac preview --port 8000")]
    Preview(preview::Args),
    /// Validate the config, layouts and an issue, and lint the built email.
    #[command(after_help = "Examples:
  almanac check                       # the newest issue
  almanac check 2026-11-25-midweek
  almanac check --all --json")]
    Check(check::Args),
    /// Build an issue into out/<issue>/: email.html, email.txt, web.html, message.eml.
    #[command(after_help = "Examples:
  almanac build 2026-11-25-midweek
  almanac build                       # the newest issue")]
    Build(build::Args),
    /// Deliver an issue to every subscriber who should get it, exactly once.
    #[command(
        override_usage = "almanac send <ISSUE> [OPTIONS]\n       almanac send --due [OPTIONS]"
    )]
    #[command(after_help = "Examples:
  almanac send 2026-11-25-midweek --test ed@example.org --test rev@example.org   # proofs
  almanac send 2026-11-25-midweek --dry-run     # build every message, send none
  almanac send 2026-11-25-midweek               # asks, then sends over SMTP
  almanac send 2026-11-25-midweek --outbox --yes   # write the messages to out/outbox/
  almanac send --due                            # for cron/systemd: what the schedule says is due")]
    Send(send::Args),
    /// Where each issue stands (draft, ready, due, sent ...), or one issue's deliveries.
    #[command(after_help = "Examples:
  almanac status
  almanac status 2026-11-25-midweek --json")]
    Status(status::Args),
    /// Upcoming sends, or systemd/cron units for `send --due`.
    #[command(after_help = "Examples:
  almanac schedule
  almanac schedule --systemd > almanac-send.units")]
    Schedule(schedule::Args),
    /// Never send this issue from `send --due` (--undo to take it back).
    #[command(after_help = "Example:
  almanac skip 2026-11-25-midweek")]
    Skip(mark::Args),
    /// Put an issue in the archive although it was not sent over SMTP (--undo to withdraw).
    #[command(after_help = "Example:
  almanac publish 2026-11-25-midweek")]
    Publish(mark::Args),
    /// Check, list and edit the subscriber list.
    #[command(after_help = "Examples:
  almanac subscribers import mailchimp-export.csv --dry-run
  almanac subscribers list --status pending
  almanac subscribers add ada@example.com --name Ada --editions sunday")]
    Subscribers(subscribers::Args),
    /// Read returned mail (bounces, complaints, auto-replies) from stdin, a Maildir, an mbox or IMAP, and record it.
    #[command(after_help = "Examples:
  almanac bounces ~/Maildir/.Bounces
  almanac bounces -                   # one message from an MTA's pipe
  almanac bounces imaps://bounces%40almanac.example@mail.almanac.example/INBOX --json")]
    Bounces(bounces::Args),
    /// Suppress addresses (by address or unsubscribe token); wins over the list.
    #[command(after_help = "Examples:
  almanac unsubscribe ada@example.com
  almanac unsubscribe ada@example.com --undo")]
    Unsubscribe(unsubscribe::Args),
    /// Write the web archive to out/site/: every issue, an index and an Atom feed.
    Archive(archive::Args),
    /// Serve sign-up, one-click unsubscribe, the manage page and the archive (behind a TLS reverse proxy).
    #[command(after_help = "Example:
  almanac serve --listen 127.0.0.1:8080")]
    Serve(serve::Args),
    /// Print an HTML form for a website that signs readers up through `almanac serve`.
    SubscribeForm(subscribe_form::Args),
}

/// A command's result: the exit code of a finished run, or why it stopped.
pub type CmdResult = Result<u8, Error>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Init(a) => init::run(&cli, a),
        Command::Build(a) => build::run(&cli, a),
        Command::Check(a) => check::run(&cli, a),
        Command::New(a) => new::run(&cli, a),
        Command::Send(a) => send::run(&cli, a),
        Command::Status(a) => status::run(&cli, a),
        Command::Skip(a) => mark::run(&cli, a, crate::state::Mark::Skipped),
        Command::Publish(a) => mark::run(&cli, a, crate::state::Mark::Published),
        Command::Unsubscribe(a) => unsubscribe::run(&cli, a),
        Command::Bounces(a) => bounces::run(&cli, a),
        Command::Subscribers(a) => subscribers::run(&cli, a),
        Command::Schedule(a) => schedule::run(&cli, a),
        Command::Archive(a) => archive::run(&cli, a),
        Command::Serve(a) => serve::run(&cli, a),
        Command::SubscribeForm(a) => subscribe_form::run(&cli, a),
        Command::Preview(a) => preview::run(&cli, a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints an error once: located problems with their summary, or the
/// message with its cause chain on one line.
fn report(e: &Error) {
    match e.problems() {
        Some(p) => {
            if let Error::ProblemsIn { context, .. } = e {
                eprintln!("{context}");
            }
            eprint!("{}", p.render(fancy()));
            eprintln!("{}", app::summary(p));
        }
        None => eprintln!("error: {}", crate::send::chain(e)),
    }
}

/// The project named by `--config`, with the process environment.
fn project(cli: &Cli) -> Result<Project, Error> {
    Project::load(&cli.config, &Env::from_process())
}

/// Pretty diagnostics with source snippets on a terminal; one line per
/// problem otherwise (logs, CI, pipes).
pub fn fancy() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints warnings (and errors that did not stop the command).
fn print_problems(p: &crate::diag::Problems) {
    if !p.is_empty() {
        eprint!("{}", p.render(fancy()));
    }
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
