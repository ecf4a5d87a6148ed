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

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use super::reply::Reply;
use super::transport::{Attempt, Envelope, Transport, TransportError, Via};
use crate::config::{Secret, Smtp, Tls};

/// An SMTP server as a transport. The password (which may come from a
/// command) is resolved at the first connection and kept for the others.
pub struct SmtpTransport {
    cfg: Smtp,
    password: OnceCell<Option<Secret>>,
}

impl SmtpTransport {
    pub fn new(cfg: Smtp) -> Self {
        SmtpTransport {
            cfg,
            password: OnceCell::new(),
        }
    }

    pub fn config(&self) -> &Smtp {
        &self.cfg
    }

    fn server(&self) -> String {
        format!("{}:{}", self.cfg.host, self.cfg.port)
    }

    async fn password(&self) -> Result<Option<Secret>, TransportError> {
        self.password
            .get_or_try_init(|| async {
                let source = self.cfg.password.clone();
                tokio::task::spawn_blocking(move || source.resolve())
                    .await
                    .unwrap_or(Ok(None))
                    .map_err(TransportError::from)
            })
            .await
            .cloned()
    }

    /// Connects and logs in once, then says goodbye: a wrong host,
    /// certificate or password fails here, before anything is queued.
    pub async fn preflight(&self) -> Result<(), TransportError> {
        let s = self.connect().await?;
        super::transport::Session::quit(s).await;
        Ok(())
    }
}

impl Transport for SmtpTransport {
    type Session = Session;

    fn via(&self) -> Via {
        Via::Smtp(self.server())
    }

    fn describe(&self) -> String {
        let scheme = if self.cfg.tls == Tls::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        format!("{scheme}://{}", self.server())
    }

    async fn connect(&self) -> Result<Session, TransportError> {
        let timeout = self.cfg.timeout;
        tokio::time::timeout(timeout, self.open())
            .await
            .map_err(|_| TransportError::Timeout {
                server: self.server(),
                step: "connecting to",
                seconds: timeout.as_secs(),
            })?
    }
}

impl SmtpTransport {
    async fn open(&self) -> Result<Session, TransportError> {
        let cfg = &self.cfg;
        let server = self.server();
        let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
            .await
            .map_err(|source| TransportError::Connect {
                server: server.clone(),
                source,
            })?;
        tcp.set_nodelay(true)
            .map_err(|source| TransportError::Connect {
                server: server.clone(),
                source,
            })?;
        let hello = ClientId::Domain(cfg.helo.clone());
        let stream: Box<dyn AsyncTokioStream> = match cfg.tls {
            Tls::Implicit => Box::new(implicit_tls(tcp, cfg).await?),
            Tls::None | Tls::StartTls => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello)
            .await
            .map_err(|e| session_error(&server, e))?;
        if cfg.tls == Tls::StartTls {
            if !conn.can_starttls() {
                return Err(TransportError::NoStartTls { server });
            }
            let params = starttls_parameters(cfg)?;
            conn.starttls(params, &hello)
                .await
                .map_err(|e| TransportError::Tls {
                    server: server.clone(),
                    what: "STARTTLS",
                    source: Box::new(e),
                })?;
        }
        let pipelining = pipelining(&mut conn, &hello).await;
        if let Some(user) = &cfg.user {
            let password = self.password().await?.ok_or(TransportError::NoPassword)?;
            let creds = Credentials::new(user.clone(), password.expose().to_owned());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(|e| TransportError::Auth {
                    user: user.clone(),
                    detail: redact(&e.to_string(), password.expose()),
                })?;
        }
        Ok(Session {
            conn,
            timeout: cfg.timeout,
            pipelining,
        })
    }
}

/// Does the server take MAIL, RCPT and DATA in one write (PIPELINING, RFC
/// 2920)? lettre keeps only the EHLO keywords it uses itself, so this asks
/// again: one round trip per connection (EHLO resets nothing that matters
/// here: it is sent after STARTTLS and before AUTH). Without PIPELINING a
/// message costs four round trips; with it, two.
async fn pipelining(conn: &mut AsyncSmtpConnection, hello: &ClientId) -> bool {
    match tokio::time::timeout(
        Duration::from_secs(10),
        conn.command(Ehlo::new(hello.clone())),
    )
    .await
    {
        Ok(Ok(reply)) => reply.message().any(|line| {
            line.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        }),
        _ => false,
    }
}

/// A failure while greeting: the server's own refusal (a 554 banner), or a
/// protocol or network error.
fn session_error(server: &str, e: lettre::transport::smtp::Error) -> TransportError {
    match Reply::from_error(&e) {
        Some(reply) => TransportError::Refused {
            server: server.to_owned(),
            reply,
        },
        None => TransportError::Protocol {
            server: server.to_owned(),
            source: e,
        },
    }
}

pub struct Session {
    conn: AsyncSmtpConnection,
    timeout: Duration,
    /// MAIL, RCPT and DATA go in one write.
    pipelining: bool,
}

type Step = Result<Result<Response, lettre::transport::smtp::Error>, tokio::time::error::Elapsed>;

/// A command's result as an attempt: a reply, or why there was none.
fn step(r: Step, at_rcpt: bool) -> Result<Response, Attempt> {
    match r {
        Err(_) => Err(Attempt::Broken("timed out waiting for the server".into())),
        Ok(Err(e)) => Err(classify(&e, at_rcpt)),
        Ok(Ok(resp)) => Ok(resp),
    }
}

impl super::transport::Session for Session {
    /// One transaction: MAIL, RCPT, DATA, the bytes.
    async fn send(&mut self, envelope: &Envelope<'_>, message: &[u8]) -> Attempt {
        let t = self.timeout;
        let mail = Mail::new(Some(envelope.from.clone()), vec![]);
        let rcpt = Rcpt::new(envelope.to.clone(), vec![]);
        if self.pipelining {
            if let Err(a) = self.envelope_pipelined(mail, rcpt).await {
                return a;
            }
        } else {
            if let Err(a) = step(
                tokio::time::timeout(t, self.conn.command(mail)).await,
                false,
            ) {
                return self.after_failure(a).await;
            }
            if let Err(a) = step(tokio::time::timeout(t, self.conn.command(rcpt)).await, true) {
                return self.after_failure(a).await;
            }
            if let Err(a) = step(
                tokio::time::timeout(t, self.conn.command(Data)).await,
                false,
            ) {
                return self.after_failure(a).await;
            }
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
        match step(sent, false) {
            Ok(resp) => Attempt::Accepted(Reply::from_response(&resp)),
            // After a reply to the message itself the transaction is over;
            // no RSET is needed, but the session stays usable.
            Err(a) => a,
        }
    }

    fn is_broken(&self) -> bool {
        self.conn.has_broken()
    }

    async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.quit()).await;
    }
}

impl Session {
    /// MAIL, RCPT and DATA in one write (RFC 2920), then their three
    /// replies in order. Ok once DATA got its 354. A refused MAIL or RCPT
    /// is the attempt's outcome as without pipelining (RCPT's refusal is
    /// the recipient's bounce), after every reply of the group was read, so
    /// the session stays in step.
    async fn envelope_pipelined(&mut self, mail: Mail, rcpt: Rcpt) -> Result<(), Attempt> {
        let t = self.timeout;
        let group = format!("{mail}{rcpt}{Data}");
        let mail = step(
            tokio::time::timeout(t, self.conn.command(group)).await,
            false,
        );
        if let Err(a @ Attempt::Broken(_)) = mail {
            return Err(a);
        }
        let rcpt = step(
            tokio::time::timeout(t, self.conn.read_response()).await,
            true,
        );
        if let Err(a @ Attempt::Broken(_)) = rcpt {
            return Err(a);
        }
        let data = step(
            tokio::time::timeout(t, self.conn.read_response()).await,
            false,
        );
        let refused = match (mail, rcpt) {
            (Err(a), _) | (_, Err(a)) => a,
            (Ok(_), Ok(_)) => match data {
                Ok(_) => return Ok(()),
                Err(a) => return Err(self.after_failure(a).await),
            },
        };
        if data.is_ok() {
            // A server that took DATA though the envelope was refused gets
            // an empty message, which it must refuse (RFC 2920 3.1).
            let _ = tokio::time::timeout(t, self.conn.command(Payload("".into()))).await;
        }
        Err(self.after_failure(refused).await)
    }

    /// Resets the transaction after a refused command, so the session can
    /// carry on; a failed reset turns into a broken connection.
    async fn after_failure(&mut self, a: Attempt) -> Attempt {
        if matches!(a, Attempt::Broken(_)) {
            // The caller drops the session; a QUIT to a stalled server
            // would only wait again.
            return a;
        }
        match tokio::time::timeout(self.timeout, self.conn.command(Rset)).await {
            Ok(Ok(_)) => a,
            _ => {
                // Keep the classification, but make sure the caller
                // reconnects (abort marks the session broken; its QUIT gets
                // a short leash).
                let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.abort()).await;
                match a {
                    Attempt::Deferred(r) => Attempt::Broken(format!("{r}; the reset failed too")),
                    other => other,
                }
            }
        }
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

fn classify(e: &lettre::transport::smtp::Error, at_rcpt: bool) -> Attempt {
    match Reply::from_error(e) {
        Some(reply) if reply.is_permanent() => Attempt::Rejected { reply, at_rcpt },
        Some(reply) => Attempt::Deferred(reply),
        None => Attempt::Broken(e.to_string()),
    }
}

fn redact(s: &str, secret: &str) -> String {
    if secret.is_empty() {
        s.to_owned()
    } else {
        s.replace(secret, "[redacted]")
    }
}

fn tls_error(
    cfg: &Smtp,
    what: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> TransportError {
    let server = format!("{}:{}", cfg.host, cfg.port);
    move |source| TransportError::Tls {
        server,
        what,
        source,
    }
}

/// lettre's STARTTLS settings: the webpki roots, plus the configured CA.
fn starttls_parameters(cfg: &Smtp) -> Result<TlsParameters, TransportError> {
    let mut b = TlsParameters::builder(cfg.host.clone());
    if let Some(pem) = &cfg.tls_ca {
        let ca = lettre::transport::smtp::client::Certificate::from_pem(pem)
            .map_err(|e| tls_error(cfg, "reading the tls_ca certificate")(Box::new(e)))?;
        b = b.add_root_certificate(ca);
    }
    b.build_rustls()
        .map_err(|e| tls_error(cfg, "setting up TLS")(Box::new(e)))
}

/// TLS from the first byte (smtps), verified against the webpki roots and
/// the configured CA.
async fn implicit_tls(tcp: TcpStream, cfg: &Smtp) -> Result<TlsStream, TransportError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let ca = cfg.tls_ca.as_deref();
    for cert in ca.map(CertificateDer::pem_slice_iter).into_iter().flatten() {
        let cert =
            cert.map_err(|e| tls_error(cfg, "reading the tls_ca certificate")(Box::new(e)))?;
        roots
            .add(cert)
            .map_err(|e| tls_error(cfg, "reading the tls_ca certificate")(Box::new(e)))?;
    }
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls_error(cfg, "setting up TLS")(Box::new(e)))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| tls_error(cfg, "naming the TLS server")(Box::new(e)))?;
    let peer = tcp
        .peer_addr()
        .map_err(|e| tls_error(cfg, "the TLS handshake")(Box::new(e)))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| tls_error(cfg, "the TLS handshake")(Box::new(e)))?;
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
    use crate::send::transport::Session as _;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A server that announces PIPELINING (or not), refuses RCPT to
    /// addresses starting with "bounce" (550 5.1.1) or "later" (450 4.2.0),
    /// and reports every message it took.
    async fn server(pipelining: bool) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (took, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let took = took.clone();
                tokio::spawn(async move {
                    let (r, mut w) = tcp.into_split();
                    let mut r = BufReader::new(r);
                    w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                    let (mut to, mut line) = (None, String::new());
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let reply: String =
                            match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                                Some("EHLO") if pipelining => {
                                    "250-test\r\n250-PIPELINING\r\n250 8BITMIME\r\n".into()
                                }
                                Some("EHLO") => "250-test\r\n250 8BITMIME\r\n".into(),
                                Some("MAIL") => "250 2.1.0 ok\r\n".into(),
                                Some("RCPT") if line.contains("<bounce") => {
                                    "550 5.1.1 no such user\r\n".into()
                                }
                                Some("RCPT") if line.contains("<later") => {
                                    "450 4.2.0 try later\r\n".into()
                                }
                                Some("RCPT") => {
                                    to = Some(line[9..line.len() - 3].to_owned());
                                    "250 2.1.5 ok\r\n".into()
                                }
                                Some("DATA") if to.is_none() => {
                                    "554 5.5.1 no valid recipients\r\n".into()
                                }
                                Some("DATA") => {
                                    w.write_all(b"354 go\r\n").await.unwrap();
                                    loop {
                                        line.clear();
                                        r.read_line(&mut line).await.unwrap();
                                        if line == ".\r\n" {
                                            break;
                                        }
                                    }
                                    took.send(to.take().unwrap()).unwrap();
                                    "250 2.0.0 queued\r\n".into()
                                }
                                Some("RSET") => {
                                    to = None;
                                    "250 2.0.0 ok\r\n".into()
                                }
                                Some("QUIT") => {
                                    let _ = w.write_all(b"221 bye\r\n").await;
                                    return;
                                }
                                _ => "250 ok\r\n".into(),
                            };
                        w.write_all(reply.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        (port, rx)
    }

    /// With and without PIPELINING, a refused recipient is a bounce at
    /// RCPT (or deferred), and the session stays in step for the next one.
    #[tokio::test]
    async fn pipelined_envelopes_keep_the_session_in_step() {
        for pipelining in [true, false] {
            let (port, mut took) = server(pipelining).await;
            let transport = SmtpTransport::new(Smtp {
                host: "127.0.0.1".into(),
                port,
                tls: Tls::None,
                user: None,
                password: Default::default(),
                helo: "almanac.example".into(),
                timeout: Duration::from_secs(5),
                tls_ca: None,
            });
            let mut session = transport.connect().await.unwrap();
            assert_eq!(session.pipelining, pipelining);
            let from: lettre::Address = "letters@almanac.example".parse().unwrap();
            for (to, expect) in [
                ("ada@example.com", "accepted"),
                ("bounce@example.com", "bounced"),
                ("later@example.com", "deferred"),
                ("zoe@example.com", "accepted"),
            ] {
                let to: lettre::Address = to.parse().unwrap();
                let envelope = Envelope {
                    from: &from,
                    to: &to,
                    message_id: "<x@almanac.example>",
                };
                let got = match session
                    .send(&envelope, b"Subject: hi\r\n\r\nhello\r\n")
                    .await
                {
                    Attempt::Accepted(_) => "accepted",
                    Attempt::Rejected {
                        reply,
                        at_rcpt: true,
                    } if reply.code == 550 => "bounced",
                    Attempt::Deferred(reply) if reply.code == 450 => "deferred",
                    _ => "something else",
                };
                assert_eq!(got, expect, "{to}, pipelining {pipelining}");
                assert!(!session.is_broken());
                if expect == "accepted" {
                    assert_eq!(took.recv().await.unwrap(), to.to_string());
                }
            }
            session.quit().await;
            assert!(took.try_recv().is_err(), "nothing else was taken");
        }
    }

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
}
