//! STARTTLS, implicit TLS and AUTH against a real TLS SMTP server (Python's
//! aiosmtpd with a certificate from a throwaway CA): certificates are
//! verified, the password is sent only over TLS and never printed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::{SUNDAY, Sample, text};

const PASSWORD: &str = "s3cret-pa55word";

fn tools() -> bool {
    common::tool("openssl", &["openssl", "version"])
        && common::tool(
            "Python's aiosmtpd (pip install aiosmtpd)",
            &["python3", "-c", "import aiosmtpd"],
        )
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(s: &Sample, mode: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tls_smtp.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([
            mode,
            &port.to_string(),
            "server.pem",
            "server.key",
            "letters",
            PASSWORD,
            "dump.txt",
        ])
        .current_dir(s.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the TLS server did not start");
    Server { child, port }
}

fn configure(s: &Sample, url: &str, ca: bool) {
    let cfg = std::fs::read_to_string(s.path("newsletter.toml")).unwrap();
    let ca = if ca { "tls_ca = \"ca.pem\"\n" } else { "" };
    s.write(
        "newsletter.toml",
        format!("{cfg}\n[smtp]\nurl = \"{url}\"\n{ca}"),
    );
    s.write(
        "subscribers.example.csv",
        "email,name,editions\nada@example.com,Ada,both\nbob@example.org,Bob,both\n",
    );
}

fn send(s: &Sample, password: &str) -> Output {
    s.command(&["send", SUNDAY, "--yes"])
        .env("ALMANAC_SMTP_PASSWORD", password)
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "k")
        .output()
        .unwrap()
}

fn delivered_over_tls_with_auth(mode: &str, url: impl Fn(u16) -> String) {
    if !tools() {
        return;
    }
    let s = Sample::new();
    common::certificates(s.root());
    let server = start(&s, mode);
    configure(&s, &url(server.port), true);
    let out = send(&s, PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dump = s.read("dump.txt");
    assert_eq!(dump.matches("RCPT ").count(), 2, "{dump}");
    assert_eq!(dump.matches("TLS True").count(), 2);
    assert_eq!(dump.matches("AUTH True").count(), 2);
    assert!(!text(&out).contains(PASSWORD));

    // A wrong password fails the preflight: nothing is sent, nothing leaks.
    let wrong = s
        .command(&["send", SUNDAY, "--test", "editor@example.com"])
        .env("ALMANAC_SMTP_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(text(&wrong).contains("authentication"), "{}", text(&wrong));
    assert!(!text(&wrong).contains("not-the-password"));
    assert_eq!(s.read("dump.txt").matches("RCPT ").count(), 2);
}

#[test]
fn starttls_with_auth() {
    delivered_over_tls_with_auth("starttls", |p| {
        format!("smtp://letters@localhost:{p}?tls=required")
    });
}

#[test]
fn implicit_tls_with_auth() {
    delivered_over_tls_with_auth("implicit", |p| format!("smtps://letters@localhost:{p}"));
}

#[test]
fn an_untrusted_certificate_stops_the_send() {
    if !tools() {
        return;
    }
    let s = Sample::new();
    common::certificates(s.root());
    let server = start(&s, "starttls");
    configure(
        &s,
        &format!("smtp://letters@localhost:{}?tls=required", server.port),
        false,
    );
    let out = send(&s, PASSWORD);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing was sent"), "{}", text(&out));
    assert!(!s.path("dump.txt").exists());
}
