//! A server that stops answering in the middle of a send: after a few
//! messages (at MAIL), or after DATA (the 354 never comes). A proxy in front
//! of Postfix's smtp-sink withholds the replies on the first sessions; the
//! sender must abandon each stalled session after its per-command timeout,
//! retry on a new one, never hang, and deliver to everyone exactly once
//! (nothing was accepted on a stalled session, so nothing is doubled).

mod common;
mod sink;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{SUNDAY, Sample, text};
use sink::Sink;

/// Where a stalling session stops answering.
#[derive(Clone, Copy)]
enum Stall {
    /// At the MAIL of its `n`th message (after n-1 were accepted).
    AtMail(usize),
    /// After the DATA command of its first message.
    AfterData,
}

/// Relays to `upstream`; the first `stalled` sessions stop relaying
/// replies at `stall`, and keep the socket open, as a hung server does.
fn proxy(upstream: u16, stall: Stall, stalled: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let n = sessions.fetch_add(1, Ordering::SeqCst);
            let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            relay(client, server, (n < stalled).then_some(stall));
        }
    });
    port
}

fn relay(client: TcpStream, server: TcpStream, stall: Option<Stall>) {
    let hung = Arc::new(AtomicBool::new(false));
    // Client → server, line by line, watching the commands.
    {
        let mut to_server = server.try_clone().unwrap();
        let hung = hung.clone();
        let reader = BufReader::new(client.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut mails = 0;
            let mut in_data = false;
            for line in reader.split(b'\n') {
                let Ok(mut line) = line else { break };
                let upper = String::from_utf8_lossy(&line).to_ascii_uppercase();
                if !in_data && upper.starts_with("MAIL FROM") {
                    mails += 1;
                    if matches!(stall, Some(Stall::AtMail(n)) if n == mails) {
                        hung.store(true, Ordering::SeqCst);
                    }
                }
                if !in_data && upper.trim_end() == "DATA" {
                    in_data = true;
                    if matches!(stall, Some(Stall::AfterData)) {
                        hung.store(true, Ordering::SeqCst);
                    }
                } else if in_data && upper.trim_end() == "." {
                    in_data = false;
                }
                if hung.load(Ordering::SeqCst) {
                    // Swallow the rest: the server hears nothing more either.
                    continue;
                }
                line.push(b'\n');
                if to_server.write_all(&line).is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown(Shutdown::Both);
        });
    }
    // Server → client, unless hung.
    let mut to_client = client;
    let mut from_server = server;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match from_server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if hung.load(Ordering::SeqCst) {
                continue;
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
}

fn stalled_send(stall: Stall) {
    let Some(sink) = Sink::start(&[]) else { return };
    let s = Sample::new();
    let mut csv = String::from("email,name,editions\n");
    for i in 0..12 {
        csv.push_str(&format!("reader{i}@example.com,Reader {i},both\n"));
    }
    s.write("subscribers.example.csv", csv);
    s.edit("newsletter.toml", "connections = 4", "connections = 2");
    let mut config = s.read("newsletter.toml");
    config.push_str("\n[smtp]\ntimeout_seconds = 1\n");
    s.write("newsletter.toml", config);
    // The first three sessions stall: the preflight's (which sends no MAIL
    // or DATA, so it gets through) and each worker's first.
    let stalled_port = proxy(sink.port, stall, 3);
    let mut child = s
        .command(&["send", SUNDAY, "--yes", "--json"])
        .env(
            "ALMANAC_SMTP_URL",
            format!("smtp://127.0.0.1:{stalled_port}"),
        )
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "stall-secret")
        .env("ALMANAC_RETRY_BACKOFF_MS", "50")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the send hung on a stalled server");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["sent"], 12, "{}", text(&out));
    assert!(summary["retries"].as_u64().unwrap() >= 1, "{summary}");
    let counts = sink.counts();
    assert_eq!(counts.len(), 12, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "doubled: {counts:?}");
}

#[test]
fn a_server_that_stalls_after_some_messages_is_abandoned_and_nobody_is_lost_or_doubled() {
    stalled_send(Stall::AtMail(3));
}

#[test]
fn a_server_that_stalls_after_data_is_abandoned_and_nobody_is_lost_or_doubled() {
    stalled_send(Stall::AfterData);
}
