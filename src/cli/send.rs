//! `almanac send ISSUE`: checks everything that can be checked (issue, lint,
//! subscribers, secrets, DKIM key, SMTP login), then delivers to everyone who
//! should get the issue and has not yet, under the send lock, recording each
//! delivery in the journal. `--dry-run`, `--test ADDR` and `--limit N` as
//! documented in the README.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::project::{Built, Project};
use super::{Cli, CmdResult, Failure, exit};
use crate::domain::Email;
use crate::mail::{self, Prepared, Recipient, dkim::Signer};
use crate::send::{self, Target, Transport, rate::Limiter};
use crate::state::{SendLock, State};
use crate::subscribers;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Issue id or folder.
    #[arg(required_unless_present = "due")]
    pub issue: Option<String>,
    /// Send the edition that is due now by the schedule (for cron/systemd).
    #[arg(long, conflicts_with_all = ["issue", "test"])]
    pub due: bool,
    /// Pretend the time is this (RFC 3339), for `--due` and the Date header.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Build and check every personalised message, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send one proof to this address (marked as a proof); the journal is untouched.
    #[arg(long, value_name = "ADDR")]
    pub test: Option<Email>,
    /// Send to at most N of the pending recipients.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short)]
    pub yes: bool,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time such as 2026-11-25T07:00:00Z ({e})"))
}

/// What a send did, printed at the end (and as JSON with `--json`).
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub issue: String,
    pub transport: String,
    pub dry_run: bool,
    pub subscribers: usize,
    pub not_this_edition: usize,
    pub skipped_already_sent: usize,
    pub skipped_suppressed: usize,
    pub invalid_rows: Vec<String>,
    pub pending: usize,
    pub sent: u64,
    pub failed: Vec<send::FailedRecipient>,
    pub not_attempted: u64,
    pub retries: u64,
    pub aborted: Option<String>,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub exit_code: u8,
}

pub fn run(cli: &Cli, args: &Args) -> CmdResult {
    let project = Project::load(cli)?;
    let now = args.now.unwrap_or_else(crate::clock::now);
    if args.due {
        return super::due::run(&project, args, now);
    }
    let built = project.build(project.issue(args.issue.as_deref())?)?;
    send_built(&project, built, args, now, None)
}

/// Sends an already built issue (shared with `send --due`).
pub fn send_built(
    project: &Project,
    built: Built,
    args: &Args,
    now: DateTime<Utc>,
    lock: Option<SendLock>,
) -> CmdResult {
    let transport = transport(project);
    check_secret(project, &transport, args)?;
    let date = now
        .with_timezone(
            &project
                .config
                .schedule
                .as_ref()
                .map_or(chrono_tz::UTC, |s| s.timezone),
        )
        .fixed_offset();
    let prepared = mail::prepare(
        &project.config,
        &built.issue,
        &built.rendered,
        date,
        args.test.is_some(),
    );
    let dkim = load_dkim(project, &prepared)?;
    if let Some(addr) = &args.test {
        preflight(&transport)?;
        return proof(project, prepared, dkim, transport, addr, args);
    }
    // Held until the send ends; a dry run sends nothing and needs none.
    let _lock = match lock {
        Some(l) => Some(l),
        None if args.dry_run => None,
        None => Some(take_lock(project)?),
    };
    let state = State::open(&project.config.paths.state).map_err(fail_msg)?;
    let (targets, mut summary) = recipients(project, &built, &state, args)?;
    summary.transport = transport.describe();
    summary.dry_run = args.dry_run;
    if args.dry_run {
        return dry_run(
            prepared,
            dkim,
            &targets,
            &mail::token_key(&project.config),
            summary,
            args,
        );
    }
    if targets.is_empty() {
        summary.exit_code = exit::OK;
        return finish(summary, args);
    }
    if !confirm(&built, &targets, &transport, args) {
        return Err(Failure::Message(
            "not sent (answer was not yes)".into(),
            exit::INVALID,
        ));
    }
    preflight(&transport)?;
    deliver(
        project, &built, prepared, dkim, transport, targets, state, summary, args,
    )
}

/// SMTP sends need the real unsubscribe secret: links signed with the
/// public development secret could be forged by anyone.
fn check_secret(project: &Project, transport: &Transport, args: &Args) -> Result<(), Failure> {
    let secret_ok = project.config.unsubscribe_secret.is_some();
    let real_send = matches!(transport, Transport::Smtp(_)) && args.test.is_none() && !args.dry_run;
    if !secret_ok && real_send {
        return Err(fail(
            "ALMANAC_UNSUBSCRIBE_SECRET is not set; without it unsubscribe links can't be verified. \
             Set it to a long random string (e.g. `openssl rand -hex 32`) and keep it the same for every send",
        ));
    }
    if !secret_ok {
        eprintln!(
            "warning: ALMANAC_UNSUBSCRIBE_SECRET is not set; using a development secret (fine for the outbox and proofs only)"
        );
    }
    Ok(())
}

/// The DKIM signer, proven by signing one message, so a bad key fails
/// before anything is sent.
fn load_dkim(project: &Project, prepared: &Prepared) -> Result<Option<Signer>, Failure> {
    let Some(cfg) = &project.config.dkim else {
        return Ok(None);
    };
    let signer = Signer::load(cfg).map_err(fail_msg)?;
    let probe: Email = "probe@example.com".parse().expect("a valid address");
    let message = prepared.personalise(
        &Recipient {
            email: &probe,
            name: None,
        },
        &mail::token_key(&project.config),
    );
    signer.sign(message.bytes).map_err(fail_msg)?;
    Ok(Some(signer))
}

fn take_lock(project: &Project) -> Result<SendLock, Failure> {
    SendLock::try_acquire(&project.config.paths.state)
        .map_err(fail_msg)?
        .ok_or_else(|| {
            Failure::Message(
                "another send is in progress (state/send.lock is held); not starting a second one"
                    .into(),
                exit::LOCKED,
            )
        })
}

/// Connects and logs in once before anything is queued, so a wrong host,
/// certificate or password sends nothing and fails fast.
fn preflight(transport: &Transport) -> Result<(), Failure> {
    if let Transport::Smtp(cfg) = transport {
        runtime()?
            .block_on(send::preflight(cfg))
            .map_err(|e| Failure::Message(format!("{e}; nothing was sent"), exit::INVALID))?;
    }
    Ok(())
}

fn fail(m: &str) -> Failure {
    Failure::Message(m.to_owned(), exit::INVALID)
}
fn fail_msg(m: String) -> Failure {
    Failure::Message(m, exit::INVALID)
}

pub fn transport(project: &Project) -> Transport {
    match &project.config.smtp {
        Some(s) => Transport::Smtp(s.clone()),
        None => Transport::Outbox(project.config.paths.out.join("outbox")),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail_msg(format!("cannot start the async runtime: {e}")))
}

/// Subscribers who want this edition, minus suppressed and already sent.
fn recipients(
    project: &Project,
    built: &Built,
    state: &State,
    args: &Args,
) -> Result<(Vec<Target>, Summary), Failure> {
    let path: PathBuf = project.config.paths.subscribers.clone().ok_or_else(|| {
        fail(
            "no subscriber list: set `paths.subscribers` in newsletter.toml or ALMANAC_SUBSCRIBERS",
        )
    })?;
    let editions: Vec<_> = project.layouts.editions.keys().cloned().collect();
    let list = subscribers::load(&path, &editions).map_err(|e| fail_msg(e.to_string()))?;
    for e in &list.errors {
        eprintln!("warning: {e} (row skipped)");
    }
    let suppressed = state.suppressed().map_err(fail_msg)?;
    let delivered = state.delivered(built.issue.id.as_str()).map_err(fail_msg)?;
    let mut s = Summary {
        issue: built.issue.id.to_string(),
        subscribers: list.subscribers.len(),
        invalid_rows: list.errors.iter().map(|e| e.to_string()).collect(),
        ..Summary::default()
    };
    let mut targets = Vec::new();
    for sub in list.subscribers {
        let key = sub.email.key();
        if !sub.wants.includes(&built.issue.edition) {
            s.not_this_edition += 1;
        } else if suppressed.contains(&key) {
            s.skipped_suppressed += 1;
        } else if delivered.contains(&key) {
            s.skipped_already_sent += 1;
        } else {
            targets.push(Target {
                email: sub.email,
                name: sub.name,
            });
        }
    }
    if let Some(n) = args.limit {
        targets.truncate(n);
    }
    s.pending = targets.len();
    Ok((targets, s))
}

fn confirm(built: &Built, targets: &[Target], transport: &Transport, args: &Args) -> bool {
    if args.yes || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return true;
    }
    eprint!(
        "Send \"{}\" ({}) to {} subscriber{} via {}? [y/N] ",
        built.issue.subject,
        built.issue.id,
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
        transport.describe()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

fn dry_run(
    prepared: Prepared,
    dkim: Option<Signer>,
    targets: &[Target],
    key: &mail::TokenKey,
    mut s: Summary,
    args: &Args,
) -> CmdResult {
    let start = std::time::Instant::now();
    let mut bytes = 0usize;
    for t in targets {
        let m = prepared.personalise(
            &Recipient {
                email: &t.email,
                name: t.name.as_ref().map(|n| n.as_str()),
            },
            key,
        );
        let m = match &dkim {
            Some(d) => d.sign(m.bytes).map_err(fail_msg)?,
            None => m.bytes,
        };
        if let Some((line, len)) = mail::long_lines(&m).next() {
            return Err(fail_msg(format!(
                "the message for {} has a line of {len} octets (line {line}); RFC 5322 allows {}",
                t.email,
                mail::MAX_LINE
            )));
        }
        bytes += m.len();
    }
    s.seconds = start.elapsed().as_secs_f64();
    if !args.json {
        println!(
            "dry run: built {} messages ({:.1} MB, {:.0} KB each on average) in {:.2} s; nothing was sent",
            targets.len(),
            bytes as f64 / 1e6,
            bytes as f64 / 1e3 / targets.len().max(1) as f64,
            s.seconds
        );
    }
    s.exit_code = exit::OK;
    finish(s, args)
}

fn proof(
    project: &Project,
    prepared: Prepared,
    dkim: Option<Signer>,
    transport: Transport,
    addr: &Email,
    args: &Args,
) -> CmdResult {
    let job = job(
        project,
        prepared,
        dkim,
        transport.clone(),
        vec![Target {
            email: addr.clone(),
            name: None,
        }],
        1,
    )?;
    let tally = runtime()?.block_on(send::run(job, None, Arc::new(Quiet)));
    if tally.sent == 1 {
        if !args.json {
            println!("proof sent to {addr} via {}", transport.describe());
        }
        return Ok(ExitCode::from(exit::OK));
    }
    let why = tally
        .failed
        .first()
        .map(|f| f.reply.clone())
        .or(tally.aborted)
        .unwrap_or_default();
    Err(Failure::Message(
        format!("the proof to {addr} was not delivered: {why}"),
        exit::SOME_FAILED,
    ))
}

fn job(
    project: &Project,
    prepared: Prepared,
    dkim: Option<Signer>,
    transport: Transport,
    targets: Vec<Target>,
    connections: usize,
) -> Result<send::Job, Failure> {
    let s = &project.config.send;
    Ok(send::Job {
        prepared: Arc::new(prepared),
        key: mail::token_key(&project.config),
        dkim,
        envelope_from: project
            .config
            .newsletter
            .from
            .email
            .as_str()
            .parse()
            .map_err(|e| fail_msg(format!("{e}")))?,
        targets,
        connections,
        max_attempts: s.max_attempts,
        rate: Limiter::new(s.rate_per_second, s.rate_per_hour),
        transport,
        backoff: backoff(),
    })
}

/// First retry delay; tests shorten it with ALMANAC_RETRY_BACKOFF_MS.
fn backoff() -> Duration {
    std::env::var("ALMANAC_RETRY_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_millis(500), Duration::from_millis)
}

#[allow(clippy::too_many_arguments)]
fn deliver(
    project: &Project,
    built: &Built,
    prepared: Prepared,
    dkim: Option<Signer>,
    transport: Transport,
    targets: Vec<Target>,
    mut state: State,
    mut summary: Summary,
    args: &Args,
) -> CmdResult {
    let issue = built.issue.id.to_string();
    let stamp = || crate::clock::now().to_rfc3339();
    let keys: Vec<String> = targets.iter().map(|t| t.email.key()).collect();
    state
        .enqueue(&issue, keys.iter().map(String::as_str), &stamp())
        .map_err(fail_msg)?;
    let run_id = state.start_run(&issue, &stamp()).map_err(fail_msg)?;
    let connections = match transport {
        Transport::Smtp(_) => project.config.send.connections,
        Transport::Outbox(_) => 1,
    };
    let total = targets.len();
    let job = job(project, prepared, dkim, transport, targets, connections)?;
    let (handle, writer) = send::journal::start(state, issue.clone(), stamp);
    let progress = Arc::new(super::progress::Progress::new(total as u64, args.json));
    let tally = runtime()?.block_on(send::run(job, Some(handle), progress.clone()));
    progress.finish();
    let state = writer
        .join()
        .map_err(|_| fail("the journal writer crashed"))?;
    summary.sent = tally.sent;
    summary.failed = tally.failed;
    summary.not_attempted = tally.not_attempted;
    summary.retries = tally.retries;
    summary.aborted = tally.aborted;
    summary.seconds = tally.elapsed_seconds;
    summary.messages_per_second = summary.sent as f64 / tally.elapsed_seconds.max(1e-9);
    let skipped = (summary.skipped_already_sent + summary.skipped_suppressed) as u64;
    let _ = state.finish_run(
        run_id,
        &crate::clock::now().to_rfc3339(),
        summary.sent,
        summary.failed.len() as u64,
        skipped,
    );
    summary.exit_code = if summary.sent == 0 && summary.aborted.is_some() {
        exit::INVALID
    } else if summary.failed.is_empty() && summary.not_attempted == 0 {
        exit::OK
    } else {
        exit::SOME_FAILED
    };
    finish(summary, args)
}

fn finish(s: Summary, args: &Args) -> CmdResult {
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
    } else {
        print_summary(&s);
    }
    Ok(ExitCode::from(s.exit_code))
}

fn print_summary(s: &Summary) {
    if s.dry_run {
        return;
    }
    println!(
        "{}: sent {}, failed {}, skipped {} (already sent {}, suppressed {}), not for this edition {}{} via {} in {:.1} s ({:.0}/s)",
        s.issue,
        s.sent,
        s.failed.len(),
        s.skipped_already_sent + s.skipped_suppressed,
        s.skipped_already_sent,
        s.skipped_suppressed,
        s.not_this_edition,
        if s.not_attempted > 0 {
            format!(", not attempted {}", s.not_attempted)
        } else {
            String::new()
        },
        s.transport,
        s.seconds,
        s.messages_per_second
    );
    for f in &s.failed {
        println!(
            "  failed: {} after {} attempt{}: {}{}",
            f.email,
            f.attempts,
            if f.attempts == 1 { "" } else { "s" },
            f.reply,
            if f.suppressed {
                " (suppressed as a hard bounce)"
            } else {
                ""
            }
        );
    }
    if let Some(a) = &s.aborted {
        println!("  stopped early: {a}");
    }
    if !s.invalid_rows.is_empty() {
        println!(
            "  {} invalid subscriber row(s) skipped (see warnings above)",
            s.invalid_rows.len()
        );
    }
}

struct Quiet;
impl send::Observer for Quiet {
    fn finished(&self, _sent: bool) {}
}
