//! One SMTP session, on lettre's low-level async connection. We open the TCP
//! stream ourselves so we can set TCP_NODELAY: lettre 0.11.23 writes the body
//! and the closing `.` separately, and with Nagle on, that terminator waits
//! for the server's delayed ACK (40 ms a message). We drive MAIL, RCPT and
//! DATA one by one so a reply is known to belong to RCPT (a hard bounce) or
//! to DATA, and so a rejected recipient costs an RSET, not a reconnect.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::{Smtp, Tls};

/// How a message attempt ended, classified for retry decisions.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// The server accepted the message (its reply).
    Accepted(String),
    /// 5xx: do not retry. `at_rcpt` when the recipient itself was refused.
    Rejected { reply: String, at_rcpt: bool },
    /// 4xx: retry later on the same or a new connection.
    Deferred(String),
    /// The connection broke or timed out: reconnect and retry.
    Broken(String),
}

pub struct Session {
    conn: AsyncSmtpConnection,
    timeout: Duration,
}

impl Session {
    pub async fn connect(cfg: &Smtp) -> Result<Session, String> {
        let fut = Self::connect_inner(cfg);
        tokio::time::timeout(cfg.timeout, fut)
            .await
            .map_err(|_| format!("timed out connecting to {}:{}", cfg.host, cfg.port))?
    }

    async fn connect_inner(cfg: &Smtp) -> Result<Session, String> {
        let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", cfg.host, cfg.port))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
        let hello = ClientId::Domain(cfg.helo.clone());
        let stream: Box<dyn AsyncTokioStream> = match cfg.tls {
            Tls::Implicit => Box::new(implicit_tls(tcp, &cfg.host, cfg.tls_ca.as_deref()).await?),
            Tls::None | Tls::StartTls => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello)
            .await
            .map_err(|e| format!("SMTP greeting from {}:{} failed: {e}", cfg.host, cfg.port))?;
        if cfg.tls == Tls::StartTls {
            if !conn.can_starttls() {
                return Err(format!(
                    "{} does not offer STARTTLS, and the URL requires TLS",
                    cfg.host
                ));
            }
            let params = starttls_parameters(cfg)?;
            conn.starttls(params, &hello)
                .await
                .map_err(|e| format!("STARTTLS with {} failed: {e}", cfg.host))?;
        }
        if let Some(user) = &cfg.user {
            let password = cfg.password.as_ref().ok_or(
                "the SMTP URL names a user but no password is set (ALMANAC_SMTP_PASSWORD)",
            )?;
            let creds = Credentials::new(user.clone(), password.expose().to_owned());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(|e| {
                    format!(
                        "SMTP authentication as {user} failed: {}",
                        redact(&e.to_string(), password.expose())
                    )
                })?;
        }
        Ok(Session {
            conn,
            timeout: cfg.timeout,
        })
    }

    /// One transaction: MAIL, RCPT, DATA, the bytes.
    pub async fn send(&mut self, from: &Address, to: &Address, message: &[u8]) -> Attempt {
        let t = self.timeout;
        let step = |r: Result<
            Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error>,
            tokio::time::error::Elapsed,
        >| match r {
            Err(_) => Err(Attempt::Broken("timed out waiting for the server".into())),
            Ok(Err(e)) => Err(classify(&e, false)),
            Ok(Ok(resp)) => Ok(resp),
        };
        if let Err(a) = step(
            tokio::time::timeout(t, self.conn.command(Mail::new(Some(from.clone()), vec![]))).await,
        ) {
            return self.after_failure(a).await;
        }
        match tokio::time::timeout(t, self.conn.command(Rcpt::new(to.clone(), vec![]))).await {
            Ok(Err(e)) => return self.after_failure(classify(&e, true)).await,
            Err(_) => return Attempt::Broken("timed out waiting for the server".into()),
            Ok(Ok(_)) => {}
        }
        if let Err(a) = step(tokio::time::timeout(t, self.conn.command(Data)).await) {
            return self.after_failure(a).await;
        }
        // The payload goes through `command`, which writes any text and reads
        // one reply: lettre's own `message` dot-stuffs byte by byte into a
        // fresh buffer, which measured as 80% of our CPU per message.
        // Messages built here are ASCII; anything else takes lettre's path.
        let sent = match std::str::from_utf8(message) {
            Ok(text) if text.is_ascii() => {
                let payload = Payload(dot_stuff(text));
                tokio::time::timeout(t * 2, self.conn.command(payload)).await
            }
            _ => tokio::time::timeout(t * 2, self.conn.message(message)).await,
        };
        match step(sent) {
            Ok(resp) => Attempt::Accepted(reply_text(&resp)),
            // After a reply to the message itself the transaction is over;
            // no RSET is needed, but the session stays usable.
            Err(a) => a,
        }
    }

    /// Resets the transaction after a refused command, so the session can
    /// carry on; a failed reset turns into a broken connection.
    async fn after_failure(&mut self, a: Attempt) -> Attempt {
        if matches!(a, Attempt::Broken(_)) {
            return a;
        }
        match tokio::time::timeout(self.timeout, self.conn.command(Rset)).await {
            Ok(Ok(_)) => a,
            _ => match a {
                // Keep the classification, but make sure the caller reconnects.
                Attempt::Rejected { reply, at_rcpt } => {
                    self.conn.abort().await;
                    Attempt::Rejected { reply, at_rcpt }
                }
                other => Attempt::Broken(format!("{other:?}; the reset failed too")),
            },
        }
    }

    pub fn is_broken(&self) -> bool {
        self.conn.has_broken()
    }

    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.quit()).await;
    }
}

/// The DATA payload with its terminating `.` line (RFC 5321 4.1.1.4).
struct Payload<'a>(std::borrow::Cow<'a, str>);

impl std::fmt::Display for Payload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)?;
        f.write_str(if self.0.ends_with("\r\n") {
            ".\r\n"
        } else {
            "\r\n.\r\n"
        })
    }
}

/// SMTP transparency (RFC 5321 4.5.2): a line that starts with `.` gets
/// another one. One memchr pass; almost every message needs no change.
pub fn dot_stuff(text: &str) -> std::borrow::Cow<'_, str> {
    let starts = text.starts_with('.');
    let mut hits = memchr::memmem::find_iter(text.as_bytes(), b"\n.").peekable();
    if !starts && hits.peek().is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    if starts {
        out.push('.');
    }
    let mut last = 0;
    for at in hits {
        out.push_str(&text[last..=at]);
        out.push('.');
        last = at + 1;
    }
    out.push_str(&text[last..]);
    std::borrow::Cow::Owned(out)
}

fn reply_text(r: &lettre::transport::smtp::response::Response) -> String {
    let lines: Vec<&str> = r.message().collect();
    format!("{} {}", r.code(), lines.join(" "))
}

fn classify(e: &lettre::transport::smtp::Error, at_rcpt: bool) -> Attempt {
    let text = e.to_string();
    if e.is_permanent() {
        Attempt::Rejected {
            reply: text,
            at_rcpt,
        }
    } else if e.is_transient() {
        Attempt::Deferred(text)
    } else {
        Attempt::Broken(text)
    }
}

/// Is this permanent refusal of a recipient (at RCPT) a hard bounce, worth
/// suppressing? Yes, unless the enhanced status code says it is about the
/// sender or the session rather than the mailbox: policy (5.7.x), network
/// (5.4.x) and protocol (5.5.x) refusals only fail the message. Without an
/// enhanced code, 550/551/553 are the classic "no such user" replies.
pub fn is_hard_bounce(reply: &str) -> bool {
    let code = reply
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 3)
        .unwrap_or("");
    let enhanced = reply
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ':')
        .find(|w| w.len() >= 5 && w.starts_with("5.") && w[2..].contains('.'));
    match enhanced {
        Some(e) => !(e.starts_with("5.7.") || e.starts_with("5.4.") || e.starts_with("5.5.")),
        None => matches!(code, "550" | "551" | "553"),
    }
}

fn redact(s: &str, secret: &str) -> String {
    if secret.is_empty() {
        s.to_owned()
    } else {
        s.replace(secret, "[redacted]")
    }
}

/// lettre's STARTTLS settings: the webpki roots, plus the configured CA.
fn starttls_parameters(cfg: &Smtp) -> Result<TlsParameters, String> {
    let mut b = TlsParameters::builder(cfg.host.clone());
    if let Some(pem) = &cfg.tls_ca {
        let ca = lettre::transport::smtp::client::Certificate::from_pem(pem)
            .map_err(|e| format!("the tls_ca certificate: {e}"))?;
        b = b.add_root_certificate(ca);
    }
    b.build_rustls().map_err(|e| format!("TLS setup: {e}"))
}

/// TLS from the first byte (smtps), verified against the webpki roots and
/// the configured CA.
async fn implicit_tls(tcp: TcpStream, host: &str, ca: Option<&[u8]>) -> Result<TlsStream, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in ca.map(CertificateDer::pem_slice_iter).into_iter().flatten() {
        let cert = cert.map_err(|e| format!("the tls_ca certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("the tls_ca certificate: {e}"))?;
    }
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("`{host}` is not a valid TLS server name: {e}"))?;
    let peer = tcp.peer_addr().map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {host} failed: {e}"))?;
    Ok(TlsStream {
        inner: stream,
        peer,
    })
}

/// A rustls stream lettre can drive (it needs `peer_addr`).
#[derive(Debug)]
struct TlsStream {
    inner: tokio_rustls::client::TlsStream<TcpStream>,
    peer: SocketAddr,
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff("a\r\nb\r\n"), "a\r\nb\r\n");
        assert_eq!(
            dot_stuff(".a\r\n.\r\n..b\r\nc.d\r\n"),
            "..a\r\n..\r\n...b\r\nc.d\r\n"
        );
        assert_eq!(Payload(dot_stuff("x\r\n")).to_string(), "x\r\n.\r\n");
        assert_eq!(Payload(dot_stuff("x")).to_string(), "x\r\n.\r\n");
    }

    #[test]
    fn hard_bounces() {
        assert!(is_hard_bounce(
            "550 5.1.1 <x@y>: Recipient address rejected: User unknown"
        ));
        assert!(is_hard_bounce("550 no such user"));
        assert!(!is_hard_bounce("550 5.7.1 Message rejected as spam"));
        assert!(!is_hard_bounce("554 transaction failed"));
        assert!(is_hard_bounce(
            "permanent error (500): 5.3.0 Error: command failed"
        ));
        assert!(!is_hard_bounce("550 5.5.2 Syntax error"));
    }
}
