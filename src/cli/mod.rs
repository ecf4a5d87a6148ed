//! The command line: argument parsing, the one place that prints errors, and
//! exit codes. Each subcommand lives in its own file: it parses, calls one
//! use case in `crate::app`, and prints what came back. The exit code of a
//! failure is the error's own (`app::Error::exit_code`).

mod archive;
mod bounces;
mod build;
mod check;
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
    /// Where each issue stands (draft, ready, due, sent ...), or one issue's deliveries.
    Status(status::Args),
    /// Never send this issue from `send --due` (--undo to take it back).
    Skip(mark::Args),
    /// Put an issue in the archive although it was not sent over SMTP (--undo to withdraw).
    Publish(mark::Args),
    /// Suppress addresses (by address, unsubscribe token, or bounce/complaint mail); wins over the list.
    Unsubscribe(unsubscribe::Args),
    /// Read returned mail (bounces, complaints, auto-replies) from stdin, a Maildir, an mbox or IMAP, and record it.
    Bounces(bounces::Args),
    /// Check, list and edit the subscriber list.
    Subscribers(subscribers::Args),
    /// Upcoming sends, or systemd/cron units for `send --due`.
    Schedule(schedule::Args),
    /// Write the web archive to out/site/: every issue, an index and an Atom feed.
    Archive(archive::Args),
    /// Serve sign-up, one-click unsubscribe, the manage page and the archive (behind a TLS reverse proxy).
    Serve(serve::Args),
    /// Print an HTML form for a website that signs readers up through `almanac serve`.
    SubscribeForm(subscribe_form::Args),
    /// Serve every issue on 127.0.0.1 as it will look, reloading on save.
    Preview(preview::Args),
}

/// A command's result: the exit code of a finished run, or why it stopped.
pub type CmdResult = Result<u8, Error>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
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
