//! The IMAP client against a real Dovecot over TLS: reading changes nothing,
//! a handled message moves flagged \Seen and nothing else moves or goes,
//! oversized mail is left alone, certificates are verified, and the password
//! never appears in an error.

mod common;
#[path = "support/dovecot.rs"]
mod dovecot;

use std::time::Duration;

use almanac::intake::imap::{ImapUrl, Mailbox};
use dovecot::Dovecot;

const TIMEOUT: Duration = Duration::from_secs(20);
const MAX: u64 = 1 << 20;
const HANDLED: &str = "Bounces.Handled";

fn message(n: usize) -> Vec<u8> {
    format!(
        "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n\
         To: bounces@example.org\r\nSubject: Undelivered Mail Returned to Sender {n}\r\n\
         Message-ID: <bounce-{n}@mx.example.net>\r\nContent-Type: text/plain\r\n\r\n\
         This is message {n}.\r\n"
    )
    .into_bytes()
}

fn connect(d: &Dovecot) -> Mailbox {
    let url: ImapUrl = d.url("INBOX").parse().unwrap();
    Mailbox::connect(&url, d.password(), Some(&d.ca_pem()), TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log()))
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

/// The raw bytes read for each UID, which must all have been read.
fn read_all(mailbox: &mut Mailbox) -> Vec<(u32, Vec<u8>)> {
    mailbox
        .messages(MAX)
        .unwrap()
        .into_iter()
        .map(|(uid, raw)| (uid, raw.unwrap_or_else(|e| panic!("uid {uid}: {e}"))))
        .collect()
}

fn uid_of(read: &[(u32, Vec<u8>)], raw: &[u8]) -> u32 {
    read.iter().find(|(_, r)| r == raw).expect("message read").0
}

#[test]
fn reads_every_message_byte_for_byte_and_sets_no_flag() {
    let Some(d) = Dovecot::start() else { return };
    let sent: Vec<Vec<u8>> = (1..=3).map(message).collect();
    for raw in &sent {
        d.deliver("INBOX", raw);
    }
    let mut mailbox = connect(&d);
    let first = read_all(&mut mailbox);
    let second = read_all(&mut mailbox);
    mailbox.logout().unwrap();

    assert_eq!(first, second, "two reads differ");
    let uids: Vec<u32> = first.iter().map(|(uid, _)| *uid).collect();
    assert!(uids.is_sorted() && uids.len() == 3, "{uids:?}");
    let read = first.into_iter().map(|(_, raw)| raw).collect();
    assert_eq!(sorted(read), sorted(sent.clone()));
    let held = d.list("INBOX");
    assert_eq!(held.len(), 3);
    for (flags, _) in &held {
        assert!(flags.is_empty(), "reading set {flags:?}");
    }
    assert_eq!(
        sorted(held.into_iter().map(|(_, raw)| raw).collect()),
        sorted(sent)
    );

    // A new session sees the same, still unread.
    let mut again = connect(&d);
    assert_eq!(again.messages(MAX).unwrap().len(), 3);
    again.logout().unwrap();
    assert!(d.list("INBOX").iter().all(|(flags, _)| flags.is_empty()));
}

/// Three messages and one someone else marked \Deleted; two are handled,
/// one of which someone had already read.
fn handle_two_of_three(d: &Dovecot) {
    let sent: Vec<Vec<u8>> = (1..=3).map(message).collect();
    d.deliver("INBOX", &sent[0]);
    d.deliver("INBOX", &sent[1]);
    d.deliver_flagged("INBOX", &sent[2], &["\\Seen"]);
    let marked = message(4);
    d.deliver_flagged("INBOX", &marked, &["\\Deleted"]);

    let mut mailbox = connect(d);
    let read = read_all(&mut mailbox);
    assert_eq!(read.len(), 4);
    mailbox.handled(uid_of(&read, &sent[0]), HANDLED).unwrap();
    mailbox.handled(uid_of(&read, &sent[2]), HANDLED).unwrap();
    // Handled twice (say, by two runs at once): the second finds it gone.
    let err = mailbox
        .handled(uid_of(&read, &sent[0]), HANDLED)
        .unwrap_err();
    assert!(err.contains("removed meanwhile"), "{err}");
    // What is left is what a later run would see.
    let left: Vec<Vec<u8>> = read_all(&mut mailbox).into_iter().map(|(_, r)| r).collect();
    mailbox.logout().unwrap();

    assert_eq!(sorted(left), sorted(vec![sent[1].clone(), marked.clone()]));
    assert!(
        d.folders().contains(&HANDLED.to_owned()),
        "{:?}",
        d.folders()
    );
    let moved = d.list(HANDLED);
    assert_eq!(
        sorted(moved.iter().map(|(_, raw)| raw.clone()).collect()),
        sorted(vec![sent[0].clone(), sent[2].clone()])
    );
    for (flags, _) in &moved {
        assert_eq!(flags, &["\\Seen"]);
    }
    let inbox = d.list("INBOX");
    assert_eq!(inbox.len(), 2, "{:?}", d.folders());
    for (flags, raw) in inbox {
        if raw == marked {
            assert_eq!(flags, ["\\Deleted"], "the other client's mark changed");
        } else {
            assert_eq!(raw, sent[1]);
            assert!(flags.is_empty(), "the unhandled message got {flags:?}");
        }
    }
    assert_eq!(d.total(), 4, "a message was lost or copied");
}

#[test]
fn handled_messages_move_flagged_seen_and_nothing_else_changes() {
    let Some(d) = Dovecot::start() else { return };
    handle_two_of_three(&d);
}

#[test]
fn without_move_handled_expunges_only_its_own_uid() {
    // The capability list the server announces, without MOVE: the client
    // must fall back to UID COPY, STORE \Deleted and UID EXPUNGE.
    let Some(d) = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS") else {
        return;
    };
    handle_two_of_three(&d);
    // Dovecot counts messages flagged \Deleted in its logout line: MOVE sets
    // none, the fallback one per handled message.
    let log = d.log_with("deleted=");
    assert!(log.contains("deleted=2"), "the fallback did not run\n{log}");
}

#[test]
fn a_message_over_the_limit_is_an_error_for_its_uid_and_left_alone() {
    let Some(d) = Dovecot::start() else { return };
    let small = message(1);
    let mut big = message(2);
    big.extend(b"0123456789abcdef0123456789abcdef\r\n".repeat(200));
    d.deliver("INBOX", &small);
    d.deliver("INBOX", &big);
    let limit = 2000;

    let mut mailbox = connect(&d);
    let read = mailbox.messages(limit).unwrap();
    assert_eq!(read.len(), 2);
    let mut small_uid = None;
    for (uid, raw) in read {
        match raw {
            Ok(raw) => {
                assert_eq!(raw, small);
                small_uid = Some(uid);
            }
            Err(e) => assert!(
                e.starts_with(&format!("{} bytes is too large", big.len())),
                "{e}"
            ),
        }
    }
    mailbox.handled(small_uid.unwrap(), HANDLED).unwrap();
    mailbox.logout().unwrap();
    assert_eq!(d.list("INBOX"), vec![(vec![], big)]);
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver("INBOX", &message(1));
    let url: ImapUrl = d.url("INBOX").parse().unwrap();
    let err = Mailbox::connect(&url, d.password(), None, TIMEOUT).unwrap_err();
    assert!(err.contains(&format!("127.0.0.1:{}", d.port)), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(d.list("INBOX").len(), 1);
}

#[test]
fn a_wrong_password_is_a_clear_error_that_does_not_repeat_it() {
    let Some(d) = Dovecot::start() else { return };
    let url: ImapUrl = d.url("INBOX").parse().unwrap();
    let wrong = "not-the-Pa55word-7q";
    let err = Mailbox::connect(&url, wrong, Some(&d.ca_pem()), TIMEOUT).unwrap_err();
    assert!(err.starts_with(&format!("127.0.0.1:{}: ", d.port)), "{err}");
    assert!(err.contains("login as bounces@example.org failed"), "{err}");
    assert!(!err.contains(wrong) && !err.contains(d.password()), "{err}");
}

#[test]
fn a_missing_mailbox_is_a_clear_error() {
    let Some(d) = Dovecot::start() else { return };
    let url: ImapUrl = d.url("Nowhere").parse().unwrap();
    let err = Mailbox::connect(&url, d.password(), Some(&d.ca_pem()), TIMEOUT).unwrap_err();
    assert!(err.contains("opening Nowhere"), "{err}");
}

#[test]
fn a_lost_connection_is_an_error_and_nothing_more_is_sent() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver("INBOX", &message(1));
    let mut mailbox = connect(&d);
    let server = format!("127.0.0.1:{}", d.port);
    drop(d);
    let err = mailbox.messages(MAX).unwrap_err();
    assert!(err.starts_with(&server), "{err}");
    let err = mailbox.handled(1, HANDLED).unwrap_err();
    assert!(
        err.contains("not tried, the connection failed earlier"),
        "{err}"
    );
    mailbox.logout().unwrap();
}

#[test]
fn a_command_without_an_answer_times_out_and_ends_the_session() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver("INBOX", &message(1));
    let url: ImapUrl = d.url("INBOX").parse().unwrap();
    let mut mailbox = Mailbox::connect(
        &url,
        d.password(),
        Some(&d.ca_pem()),
        Duration::from_secs(1),
    )
    .unwrap();
    d.freeze();
    let err = mailbox.messages(MAX).unwrap_err();
    d.thaw();
    assert!(err.contains("no answer within 1 s"), "{err}");
    // The late reply to the timed-out command must not be taken for the
    // answer to the next one.
    let err = mailbox.handled(1, HANDLED).unwrap_err();
    assert!(err.contains("not tried"), "{err}");
    mailbox.logout().unwrap();
    assert_eq!(d.list("INBOX"), vec![(vec![], message(1))]);
}

#[test]
fn a_server_that_never_answers_times_out() {
    // Accepts the connection, then says nothing (no TLS handshake).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url: ImapUrl = format!("imaps://me@127.0.0.1:{port}/").parse().unwrap();
    let err = Mailbox::connect(&url, "x", None, Duration::from_millis(300)).unwrap_err();
    assert!(err.contains("no answer within 0.3 s"), "{err}");
    drop(listener);
}
