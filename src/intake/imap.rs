//! An IMAP mailbox over TLS, read with async-imap on a private
//! current-thread runtime so callers stay synchronous.
//!
//! Reading changes nothing (`BODY.PEEK[]` sets no `\Seen`), so a message we
//! cannot make sense of stays exactly as a person will find it. A message we
//! handled is flagged `\Seen` and moved away, and only that message leaves
//! the mailbox: `UID MOVE`, or `UID COPY` then `UID EXPUNGE` of its UID
//! (UIDPLUS), never a plain `EXPUNGE`, which would also remove whatever
//! someone else marked `\Deleted`.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Fetch, Flag, Name};
use futures_util::TryStreamExt;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

pub use crate::domain::ImapUrl;
use crate::domain::check_mailbox_name;

type Session = async_imap::Session<TlsStream<TcpStream>>;

/// INBOX is case-insensitive in IMAP; every other name is not.
fn same_mailbox(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

fn too_large(size: u64, max_bytes: u64) -> String {
    format!("{size} bytes is too large (the limit is {max_bytes} bytes); left in the mailbox")
}

/// One message as read: its UID, and its raw bytes or why they were not
/// read.
pub type Message = (u32, Result<Vec<u8>, String>);

/// A logged-in IMAP connection with one mailbox selected.
pub struct Mailbox {
    session: Session,
    /// `host:port`, the start of every error.
    server: String,
    mailbox: String,
    timeout: Duration,
    can_move: bool,
    uidplus: bool,
    /// Folders seen to exist, so each is looked up (or created) once.
    folders: HashSet<String>,
    /// Set after a timeout or a broken stream: the next reply read could
    /// belong to the interrupted command, so nothing more is sent.
    broken: Option<String>,
    // Last, so the session is dropped while its runtime still exists.
    rt: tokio::runtime::Runtime,
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("server", &self.server)
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

/// Why a command failed, and whether the connection survived it.
enum Failure {
    TimedOut(Duration),
    Imap(ImapError),
}

impl Failure {
    /// A NO or BAD reply ends the command cleanly; anything else leaves the
    /// stream at an unknown point.
    fn breaks_connection(&self) -> bool {
        !matches!(
            self,
            Failure::Imap(ImapError::No(_) | ImapError::Bad(_) | ImapError::Validate(_))
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TimedOut(t) => write!(f, "no answer within {} s", t.as_secs_f64()),
            Failure::Imap(e) => write!(f, "{}", describe(e)),
        }
    }
}

/// async-imap reports a NO or BAD with its parsed reply in Debug form
/// (`code: None, info: Some("...")`); the server's own words read better.
fn describe(e: &ImapError) -> String {
    let (answer, debug) = match e {
        ImapError::No(debug) => ("NO", debug),
        ImapError::Bad(debug) => ("BAD", debug),
        other => return other.to_string(),
    };
    let text = ["information: Some(\"", "info: Some(\""]
        .iter()
        .find_map(|start| debug.rfind(start).map(|at| &debug[at + start.len()..]))
        .and_then(|rest| rest.rfind("\")").map(|end| &rest[..end]));
    match text {
        Some(text) => format!("the server answered {answer}: {}", unescape(text)),
        None => format!("the server answered {answer}: {debug}"),
    }
}

/// Undoes Debug's escaping of a string's quotes and backslashes.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '\''))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `fut` within `limit`, its error as text.
async fn within<T, E: fmt::Display>(
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", limit.as_secs_f64())),
    }
}

impl Mailbox {
    /// Connects over TLS (certificates always verified: webpki roots plus
    /// the optional extra CA PEM bytes), logs in, and selects the URL's
    /// mailbox. Not for use inside an async runtime (it runs its own).
    pub fn connect(
        url: &ImapUrl,
        password: &str,
        tls_ca: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Mailbox, String> {
        let server = format!("{}:{}", url.host, url.port);
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking on our own runtime inside another one would panic.
            return Err(format!(
                "{server}: the IMAP client is synchronous and cannot be used inside an async runtime"
            ));
        }
        let tls = tls_config(tls_ca).map_err(|e| format!("{server}: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("{server}: cannot start the I/O runtime: {e}"))?;
        let (session, can_move, uidplus) = rt
            .block_on(open(url, password, tls, timeout))
            .map_err(|e| format!("{server}: {e}"))?;
        let mut mailbox = Mailbox {
            session,
            server,
            mailbox: url.mailbox.clone(),
            timeout,
            can_move,
            uidplus,
            folders: HashSet::new(),
            broken: None,
            rt,
        };
        mailbox.select()?;
        Ok(mailbox)
    }

    /// Every message currently in the mailbox, as (uid, raw bytes), by UID.
    /// Uses `BODY.PEEK[]`, so reading sets no `\Seen` flag. A message larger
    /// than `max_bytes` (by `RFC822.SIZE`) is not downloaded: its entry is an
    /// error saying so. An entry that failed alone is an error too; the whole
    /// call fails only when the mailbox cannot be listed or the connection
    /// is lost.
    pub fn messages(&mut self, max_bytes: u64) -> Result<Vec<Message>, String> {
        let mut out = Vec::new();
        for (uid, size) in self.list()? {
            out.push((uid, self.read(uid, size, max_bytes)?));
        }
        Ok(out)
    }

    /// The (uid, size) of every message in the mailbox now, by UID.
    pub fn list(&mut self) -> Result<Vec<(u32, u32)>, String> {
        // Selecting again shows mail that arrived since the last look.
        let exists = self.select()?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        let mut sizes = self.run("listing the messages", async |s| {
            let fetches: Vec<Fetch> = s
                .uid_fetch("1:*", "(UID RFC822.SIZE)")
                .await?
                .try_collect()
                .await?;
            Ok(fetches
                .iter()
                .filter_map(|f| Some((f.uid?, f.size?)))
                .collect::<Vec<_>>())
        })?;
        sizes.sort_unstable();
        sizes.dedup_by_key(|(uid, _)| *uid);
        // async-imap ends a FETCH's results at its tagged reply without
        // saying whether that was OK or NO, so a refused listing would look
        // like an empty mailbox. SELECT has just counted the messages.
        if sizes.len() < exists as usize {
            return Err(format!(
                "{}: listing the messages: the server described {} of the {exists} messages in {}",
                self.server,
                sizes.len(),
                self.mailbox
            ));
        }
        Ok(sizes)
    }

    /// One listed message's bytes (without `\Seen`), or why not: too large
    /// by its listed `size`, or gone. The outer error only when the
    /// connection broke.
    pub fn read(
        &mut self,
        uid: u32,
        size: u32,
        max_bytes: u64,
    ) -> Result<Result<Vec<u8>, String>, String> {
        if u64::from(size) > max_bytes {
            return Ok(Err(too_large(size.into(), max_bytes)));
        }
        self.body(uid, max_bytes)
    }

    /// One message's bytes; the outer error only when the connection broke.
    fn body(&mut self, uid: u32, max_bytes: u64) -> Result<Result<Vec<u8>, String>, String> {
        let got = self.run(&format!("reading message {uid}"), async |s| {
            let fetches: Vec<Fetch> = s
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await?;
            Ok(fetches
                .iter()
                .filter(|f| f.uid == Some(uid))
                .find_map(|f| f.body())
                .map(<[u8]>::to_vec))
        });
        Ok(match got {
            // The size it was listed with was wrong.
            Ok(Some(raw)) if raw.len() as u64 > max_bytes => {
                Err(too_large(raw.len() as u64, max_bytes))
            }
            Ok(Some(raw)) => Ok(raw),
            Ok(None) => Err("the server sent no content for it (removed meanwhile?)".into()),
            Err(e) if self.broken.is_some() => return Err(e),
            Err(e) => Err(e),
        })
    }

    /// A message we handled: flag it `\Seen` and move it to `folder`
    /// (created if missing), with `UID MOVE` when the server supports MOVE,
    /// else `UID COPY` + `STORE \Deleted` + `UID EXPUNGE` of that UID only
    /// (UIDPLUS).
    pub fn handled(&mut self, uid: u32, folder: &str) -> Result<(), String> {
        let server = self.server.clone();
        let fail = |why: &str| format!("{server}: moving message {uid} to {folder}: {why}");
        check_mailbox_name(folder, "folder").map_err(|e| fail(&e))?;
        if same_mailbox(folder, &self.mailbox) {
            return Err(fail("that is the mailbox being read"));
        }
        if !self.can_move && !self.uidplus {
            return Err(fail(
                "the server supports neither MOVE nor UIDPLUS, so the message cannot be \
                 removed without also expunging what others marked \\Deleted",
            ));
        }
        self.ensure_folder(folder)?;

        self.run(&format!("flagging message {uid} \\Seen"), async |s| {
            s.run_command_and_check_ok(format!("UID STORE {uid} +FLAGS.SILENT (\\Seen)"))
                .await
        })?;
        // A STORE to a UID that is gone succeeds and matches nothing, so
        // the message is looked at before it is moved.
        let seen = self.run(&format!("checking message {uid}"), async |s| {
            let fetches: Vec<Fetch> = s
                .uid_fetch(uid.to_string(), "(UID FLAGS)")
                .await?
                .try_collect()
                .await?;
            Ok(fetches
                .iter()
                .any(|f| f.uid == Some(uid) && f.flags().any(|flag| flag == Flag::Seen)))
        })?;
        if !seen {
            return Err(fail(
                "the server shows no such message flagged \\Seen (was it removed meanwhile?)",
            ));
        }

        let target = folder.to_owned();
        if self.can_move {
            return self.run(&format!("moving message {uid} to {folder}"), async |s| {
                s.uid_mv(uid.to_string(), &target).await
            });
        }
        self.run(&format!("copying message {uid} to {folder}"), async |s| {
            s.uid_copy(uid.to_string(), &target).await
        })?;
        let mailbox = self.mailbox.clone();
        let copied =
            |e: String| format!("{e} (it was copied to {target}, so it is now in {mailbox} too)");
        self.run(&format!("flagging message {uid} \\Deleted"), async |s| {
            s.run_command_and_check_ok(format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))
                .await
        })
        .map_err(copied)?;
        self.run(&format!("expunging message {uid}"), async |s| {
            s.run_command_and_check_ok(format!("UID EXPUNGE {uid}"))
                .await
        })
        .map_err(copied)
    }

    /// Says goodbye to the server.
    pub fn logout(mut self) -> Result<(), String> {
        // After a broken stream there is nothing to close politely; dropping
        // closes the socket, and the failure was reported when it happened.
        if self.broken.is_some() {
            return Ok(());
        }
        self.run("logging out", async |s| s.logout().await)
    }

    /// Selects the URL's mailbox; returns how many messages it holds.
    fn select(&mut self) -> Result<u32, String> {
        let name = self.mailbox.clone();
        self.run(&format!("opening {name}"), async |s| {
            let selected = s.select(&name).await?;
            // async-imap also returns when the stream ends before the reply
            // does, with nothing filled in; every real reply has UIDVALIDITY.
            if selected.uid_validity.is_none() {
                return Err(ImapError::ConnectionLost);
            }
            Ok(selected.exists)
        })
    }

    fn ensure_folder(&mut self, folder: &str) -> Result<(), String> {
        if self.folders.contains(folder) {
            return Ok(());
        }
        let name = folder.to_owned();
        let exists = self.run(&format!("looking for folder {folder}"), async |s| {
            let names: Vec<Name> = s.list(Some(""), Some(&name)).await?.try_collect().await?;
            Ok(names.iter().any(|n| n.name() == name))
        })?;
        if !exists {
            self.run(&format!("creating folder {folder}"), async |s| {
                s.create(&name).await
            })?;
            // So that mail clients, which show subscribed folders, show it.
            // Not subscribed is still a working folder, so a refusal is
            // ignored (a broken connection is not: `run` records it).
            let _ = self.run(&format!("subscribing to folder {folder}"), async |s| {
                s.subscribe(&name).await
            });
            if let Some(why) = &self.broken {
                return Err(format!(
                    "{}: subscribing to folder {folder}: {why}",
                    self.server
                ));
            }
        }
        self.folders.insert(name);
        Ok(())
    }

    /// Runs one command within the timeout, on the mailbox's runtime.
    fn run<T>(
        &mut self,
        what: &str,
        op: impl AsyncFnOnce(&mut Session) -> Result<T, ImapError>,
    ) -> Result<T, String> {
        if let Some(why) = &self.broken {
            return Err(format!(
                "{}: {what}: not tried, the connection failed earlier ({why})",
                self.server
            ));
        }
        let limit = self.timeout;
        let session = &mut self.session;
        let result = self.rt.block_on(async move {
            match tokio::time::timeout(limit, op(session)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(Failure::Imap(e)),
                Err(_) => Err(Failure::TimedOut(limit)),
            }
        });
        result.map_err(|failure| {
            if failure.breaks_connection() {
                self.broken = Some(failure.to_string());
            }
            format!("{}: {what}: {failure}", self.server)
        })
    }
}

/// TCP, TLS, greeting, login; returns the session and whether the server
/// offers MOVE and UIDPLUS.
async fn open(
    url: &ImapUrl,
    password: &str,
    tls: rustls::ClientConfig,
    limit: Duration,
) -> Result<(Session, bool, bool), String> {
    let tcp = within(limit, TcpStream::connect((url.host.as_str(), url.port)))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let name = ServerName::try_from(url.host.clone())
        .map_err(|e| format!("{:?} is not a valid TLS server name: {e}", url.host))?;
    let stream = within(
        limit,
        tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp),
    )
    .await
    .map_err(|e| format!("TLS handshake failed: {e}"))?;

    let mut client = async_imap::Client::new(stream);
    let greeting = within(limit, client.read_response())
        .await
        .map_err(|e| format!("reading the greeting: {e}"))?
        .ok_or("the server closed the connection before greeting")?;
    if let Response::Data {
        status: Status::Bye,
        outcome,
    } = greeting.parsed()
    {
        let said = outcome.information.as_deref().unwrap_or("");
        return Err(format!("the server refused the connection: {said}"));
    }

    let mut session = match tokio::time::timeout(limit, client.login(&url.user, password)).await {
        Ok(Ok(session)) => session,
        Ok(Err((e, _))) => {
            return Err(format!(
                "login as {} failed: {}",
                url.user,
                redact(&describe(&e), password)
            ));
        }
        Err(_) => {
            return Err(format!(
                "login as {} failed: no answer within {} s",
                url.user,
                limit.as_secs_f64()
            ));
        }
    };
    let caps = within(limit, session.capabilities())
        .await
        .map_err(|e| format!("asking for capabilities: {e}"))?;
    Ok((session, caps.has_str("MOVE"), caps.has_str("UIDPLUS")))
}

/// A server has no reason to echo the password, but if one did, it stays out
/// of our messages.
fn redact(s: &str, secret: &str) -> String {
    if secret.is_empty() {
        s.to_owned()
    } else {
        s.replace(secret, "[redacted]")
    }
}

/// Verifying TLS: the webpki roots plus an optional extra CA (PEM).
fn tls_config(extra_ca: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("reading the tls_ca certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("reading the tls_ca certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("the tls_ca file holds no PEM certificate".into());
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("setting up TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_told_in_the_servers_words() {
        let no =
            ImapError::No(r#"code: None, info: Some("[AUTHENTICATIONFAILED] Say \"hi\"")"#.into());
        assert_eq!(
            describe(&no),
            r#"the server answered NO: [AUTHENTICATIONFAILED] Say "hi""#
        );
        let bad = ImapError::Bad(
            r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: X") }"#
                .into(),
        );
        assert_eq!(
            describe(&bad),
            "the server answered BAD: Mailbox doesn't exist: X"
        );
        let odd = ImapError::No("something else".into());
        assert_eq!(describe(&odd), "the server answered NO: something else");
        assert_eq!(describe(&ImapError::ConnectionLost), "connection lost");
    }

    #[test]
    fn inbox_is_one_mailbox_whatever_its_case() {
        assert!(same_mailbox("INBOX", "inbox"));
        assert!(!same_mailbox("Bounces", "bounces"));
    }
}
