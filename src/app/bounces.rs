//! Returned mail, read from a source and recorded: hard bounces and
//! complaints suppress the reader, soft bounces are counted per issue and
//! suppress after `[bounces] soft_limit` consecutive issues, policy
//! refusals and automatic replies change nobody, a mailed unsubscribe
//! follows its token. Every message handled is remembered by digest, so
//! reading a mailbox twice changes nothing the second time; a message not
//! understood is reported and left where it was.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::suppress::{Holder, Scope, holder_of, known_or_new, leave};
use super::{Error, Project, Result};
use crate::intake::{self, Item, Source};
use crate::mail::bounce::{self, Context, Finding, IssueRef, Kind, Who};
use crate::mail::verp::{ReturnPath, issue_tag};
use crate::mail::{TokenKey, token_key};
use crate::state::{BounceKind, State, SubStatus};

/// What a run did, for the operator or a script.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    /// Messages read.
    pub messages: u64,
    /// Messages by class ("hard bounce", "auto-reply", ...).
    pub counts: BTreeMap<&'static str, u64>,
    /// Messages handled by an earlier run (same bytes): nothing done.
    pub seen_before: u64,
    /// Readers whose status changed.
    pub changed: Vec<Changed>,
    /// Messages not understood, left where they were.
    pub not_understood: Vec<Unread>,
    /// One line per message: what it said and what was done.
    pub lines: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Changed {
    pub address: String,
    pub status: String,
    pub why: String,
}

#[derive(Debug, serde::Serialize)]
pub struct Unread {
    pub message: String,
    pub why: String,
}

/// Reads every message of `source` and records what each says.
/// `envelope_to` is the recipient an MTA's pipe delivered to, if known.
pub fn read(
    project: &Project,
    source: &Source,
    envelope_to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Report> {
    let cfg = &project.config;
    let password = std::env::var("ALMANAC_IMAP_PASSWORD").ok();
    if matches!(source, Source::Imap(_)) && password.is_none() {
        return Err(Error::Usage(
            "reading an IMAP mailbox needs its password in ALMANAC_IMAP_PASSWORD".into(),
        ));
    }
    let access = intake::ImapAccess {
        password: password.as_deref(),
        tls_ca: cfg.bounces.imap_tls_ca.as_deref(),
        folder: &cfg.bounces.imap_folder,
        timeout: std::time::Duration::from_secs(60),
    };
    let mut state = State::open(&cfg.paths.state)?;
    let mut run = Run {
        state: &mut state,
        key: token_key(cfg),
        return_path: cfg.bounces.address.as_ref().map(ReturnPath::new),
        own_domain: cfg.newsletter.from.email.domain().to_owned(),
        soft_limit: cfg.bounces.soft_limit as usize,
        now: now.to_rfc3339(),
        report: Report::default(),
    };
    let mut mailbox =
        intake::open(source, &access).map_err(|e| Error::Invalid(format!("{source}: {e}")))?;
    let fail = |e: String| Error::Invalid(format!("{source}: {e}"));
    while let Some(item) = mailbox.next().map_err(fail)? {
        if run.one(&item, envelope_to)? {
            mailbox.handled(&item).map_err(fail)?;
        } else if let (Source::Stdin, Ok(raw)) = (source, &item.raw) {
            // A pipe has nowhere to leave a message: keep it for a person.
            let path = cfg.paths.state.join("unread").join(format!(
                "{}-{}.eml",
                now.format("%Y%m%dT%H%M%S"),
                &hex(&Sha256::digest(raw))[..12]
            ));
            crate::fsx::write_file(&path, raw)?;
            if let Some(u) = run.report.not_understood.last_mut() {
                u.why += &format!("; kept in {}", path.display());
            }
        }
    }
    mailbox.close().map_err(fail)?;
    Ok(run.report)
}

struct Run<'a> {
    state: &'a mut State,
    key: TokenKey,
    return_path: Option<ReturnPath>,
    own_domain: String,
    soft_limit: usize,
    now: String,
    report: Report,
}

/// What recording one finding came to.
enum Outcome {
    /// A line for the report.
    Said(String),
    /// The finding can't be acted on: the message is not understood.
    NotUnderstood(String),
}

impl Run<'_> {
    /// Handles one message; true when it was understood (and may be moved
    /// aside). Database errors stop the run.
    fn one(&mut self, item: &Item, envelope_to: Option<&str>) -> Result<bool> {
        self.report.messages += 1;
        let raw = match &item.raw {
            Ok(raw) => raw,
            Err(why) => return Ok(self.not_understood(item, why.clone())),
        };
        let digest = hex(&Sha256::digest(raw));
        if self.state.returned_before(&digest)? {
            self.report.seen_before += 1;
            self.report
                .lines
                .push(format!("{}: handled before; nothing to do", item.label));
            return Ok(true);
        }
        let cx = Context {
            key: &self.key,
            return_path: self.return_path.as_ref(),
            envelope_to,
            own_domain: &self.own_domain,
        };
        let findings = match bounce::classify(raw, &cx) {
            Ok(f) => f,
            Err(why) => return Ok(self.not_understood(item, why)),
        };
        let mut said = Vec::new();
        for f in &findings {
            match self.record(f, &item.label)? {
                Outcome::Said(line) => said.push(line),
                Outcome::NotUnderstood(why) => return Ok(self.not_understood(item, why)),
            }
        }
        let class = findings.first().map_or("notice", |f| f.kind.class());
        *self.report.counts.entry(class).or_default() += 1;
        self.report
            .lines
            .push(format!("{}: {}", item.label, said.join("; ")));
        self.state.mark_returned(&digest, class, &self.now)?;
        Ok(true)
    }

    fn not_understood(&mut self, item: &Item, why: String) -> bool {
        self.report.not_understood.push(Unread {
            message: item.label.clone(),
            why,
        });
        false
    }

    fn record(&mut self, f: &Finding, label: &str) -> Result<Outcome> {
        let Some(who) = &f.who else {
            return Ok(match &f.kind {
                Kind::AutoReply(_) | Kind::Notice(_) => {
                    Outcome::Said(format!("{}: nothing to do", f.summary()))
                }
                _ => Outcome::NotUnderstood(format!(
                    "a {} that names no recipient we can find",
                    f.kind.class()
                )),
            });
        };
        let holder = match who {
            Who::Address(email) => Some(Holder {
                subscriber: known_or_new(self.state, email)?,
                scope: Scope::All,
            }),
            Who::Token(opened) => holder_of(self.state, opened.clone())?,
            Who::Reader(id) => self.state.subscriber_by_id(*id)?.map(|subscriber| Holder {
                subscriber,
                scope: Scope::All,
            }),
        };
        let Some(h) = holder else {
            return Ok(Outcome::Said(format!(
                "{who}: {}, but nobody on the list has that token",
                f.summary()
            )));
        };
        let address = h.subscriber.address.clone();
        let issue = self.issue_of(&h, f.issue.as_ref())?;
        let on = issue
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default();
        let detail = format!("{}{} [{label}]", f.summary(), detail_suffix(f));
        let line = match &f.kind {
            Kind::AutoReply(_) | Kind::Notice(_) => {
                format!("{address}: {}: nothing to do", f.summary())
            }
            Kind::Unsubscribe => {
                let scope = match &h.scope {
                    Scope::Edition(ed) => format!(" from {ed}"),
                    Scope::All => String::new(),
                };
                if leave(self.state, &h, &detail, &self.now)? {
                    self.changed(&address, "unsubscribed", &detail);
                    format!(
                        "{address}: {}, suppressed as unsubscribed{scope}",
                        f.summary()
                    )
                } else {
                    format!("{address}: {}, already suppressed", f.summary())
                }
            }
            Kind::Hard => {
                let id = self.suppress(&h, SubStatus::Bounced, &detail)?;
                self.bounce(id, issue.as_deref(), BounceKind::Hard, f)?;
                self.said_suppressed(&address, f, &on, id.1, "bounced")
            }
            Kind::Complaint { .. } => {
                let id = self.suppress(&h, SubStatus::Complained, &detail)?;
                self.bounce(id, issue.as_deref(), BounceKind::Complaint, f)?;
                self.said_suppressed(&address, f, &on, id.1, "complaint")
            }
            Kind::Policy => {
                if h.subscriber.id != 0 {
                    self.bounce(
                        (h.subscriber.id, false),
                        issue.as_deref(),
                        BounceKind::Policy,
                        f,
                    )?;
                }
                format!(
                    "{address}: {}{on}, a refusal by policy (about the sender, not the reader): not suppressed",
                    f.summary()
                )
            }
            Kind::Soft => self.soft(&h, issue.as_deref(), f, &on)?,
        };
        Ok(Outcome::Said(line))
    }

    fn said_suppressed(
        &self,
        address: &str,
        f: &Finding,
        on: &str,
        new: bool,
        as_: &str,
    ) -> String {
        if new {
            format!("{address}: {}{on}, suppressed as {as_}", f.summary())
        } else {
            format!("{address}: {}{on}, already suppressed", f.summary())
        }
    }

    /// Sets a suppressing status (a complaint is never downgraded to a
    /// bounce). Returns the reader's id and whether it changed.
    fn suppress(&mut self, h: &Holder, status: SubStatus, why: &str) -> Result<(i64, bool)> {
        let s = &h.subscriber;
        if s.status == SubStatus::Complained && status == SubStatus::Bounced {
            return Ok((s.id, false));
        }
        let (id, changed) = self
            .state
            .set_status(&s.email, &s.address, status, why, &self.now)?;
        if changed {
            self.changed(&s.address, status.as_str(), why);
        }
        Ok((id, changed))
    }

    fn changed(&mut self, address: &str, status: &str, why: &str) {
        self.report.changed.push(Changed {
            address: address.to_owned(),
            status: status.to_owned(),
            why: why.to_owned(),
        });
    }

    fn bounce(
        &mut self,
        (id, _): (i64, bool),
        issue: Option<&str>,
        kind: BounceKind,
        f: &Finding,
    ) -> Result<()> {
        self.state.record_bounce(
            id,
            issue,
            kind,
            f.status.as_deref().unwrap_or(""),
            &f.detail,
            &self.now,
        )?;
        Ok(())
    }

    /// Counts a soft bounce against its issue; `soft_limit` of them in the
    /// reader's last consecutive issues (up to this one) suppress.
    fn soft(&mut self, h: &Holder, issue: Option<&str>, f: &Finding, on: &str) -> Result<String> {
        let s = &h.subscriber;
        let address = &s.address;
        if s.id == 0 {
            return Ok(format!(
                "{address}: {}, not on the list: nothing to count",
                f.summary()
            ));
        }
        let Some(issue) = issue else {
            return Ok(format!(
                "{address}: {}, for no issue sent to them over SMTP: not counted",
                f.summary()
            ));
        };
        self.bounce((s.id, false), Some(issue), BounceKind::Soft, f)?;
        let sent = self.state.issues_sent_to(&s.email)?;
        let bounced = self.state.soft_bounced_issues(s.id)?;
        let upto = sent
            .iter()
            .position(|i| i == issue)
            .map_or(sent.len(), |p| p + 1);
        let run: Vec<&String> = sent[..upto]
            .iter()
            .rev()
            .take_while(|i| bounced.contains(i))
            .collect();
        if run.len() >= self.soft_limit && s.status != SubStatus::Bounced {
            let mut issues: Vec<&str> = run
                .iter()
                .take(self.soft_limit)
                .map(|s| s.as_str())
                .collect();
            issues.reverse();
            let why = format!(
                "{} soft bounces in consecutive issues ({})",
                self.soft_limit,
                issues.join(", ")
            );
            let (_, changed) = self.suppress(h, SubStatus::Bounced, &why)?;
            if changed {
                return Ok(format!(
                    "{address}: {}{on}, {why}: suppressed as bounced",
                    f.summary()
                ));
            }
        }
        Ok(format!(
            "{address}: {}{on}, counted ({} of {} in a row)",
            f.summary(),
            run.len().min(self.soft_limit),
            self.soft_limit
        ))
    }

    /// The issue a finding is about: the one whose tag its VERP token
    /// carries, the one its quoted Message-ID names, else the newest sent
    /// to the reader.
    fn issue_of(&self, h: &Holder, r: Option<&IssueRef>) -> Result<Option<String>> {
        let s = &h.subscriber;
        if s.id == 0 {
            return Ok(None);
        }
        let sent = self.state.issues_sent_to(&s.email)?;
        Ok(match r {
            Some(IssueRef::Tag(t)) => sent.iter().rev().find(|i| issue_tag(i) == *t).cloned(),
            Some(IssueRef::Id(id)) => Some(id.clone()),
            None => sent.last().cloned(),
        })
    }
}

fn detail_suffix(f: &Finding) -> String {
    if f.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", f.detail)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
