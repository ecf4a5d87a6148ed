//! A small HTTP/1.1 server on loopback serving the fixture feeds of
//! `tests/feeds/`, and the ways real feed servers go wrong: an HTML page,
//! a 500, a truncated body, a 20 MB body with no length, a redirect, and
//! one that accepts the connection and never answers. Written on std
//! sockets so each failure is exactly what a broken server does on the
//! wire. Every request is logged for the tests to inspect.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    /// The status line's code the server answered with (0: none).
    pub status: u16,
}

/// The fixed Last-Modified of every fixture.
pub const LAST_MODIFIED: &str = "Fri, 04 Dec 2026 16:05:00 GMT";

/// How big the oversized body is.
pub const HUGE_BYTES: usize = 20 * 1024 * 1024;

pub struct FeedServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl FeedServer {
    pub fn start() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, st) = (s.clone(), st.clone());
                std::thread::spawn(move || serve(conn, &s, &st));
            }
        });
        FeedServer { port, seen, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far for `path`.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/feeds")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A static fixture: path, file, content type, and whether the server
/// sends validators (ETag, Last-Modified) and honours conditional requests.
const FILES: &[(&str, &str, &str, bool)] = &[
    (
        "/blog.rss",
        "blog.rss",
        "application/rss+xml; charset=UTF-8",
        true,
    ),
    (
        "/arxiv/cs.CL",
        "arxiv-cs-cl.rdf",
        "application/rdf+xml",
        true,
    ),
    (
        "/updates/feed.atom",
        "lab.atom",
        "application/atom+xml",
        true,
    ),
    (
        "/digest.json",
        "digest.json",
        "application/feed+json",
        false,
    ),
    (
        "/broken/page.html",
        "page.html",
        "text/html; charset=utf-8",
        false,
    ),
    (
        "/broken/truncated.rss",
        "truncated.rss",
        "application/rss+xml",
        false,
    ),
];

fn serve(mut conn: TcpStream, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((path, headers)) = read_request(&conn) else {
        return;
    };
    let log = |status: u16| {
        seen.lock().unwrap().push(Seen {
            path: path.clone(),
            headers: headers.clone(),
            status,
        })
    };
    if let Some(&(_, file, ctype, validators)) = FILES.iter().find(|f| f.0 == path) {
        let body = fixture(file);
        let etag = format!(
            "\"{:x}-{}\"",
            body.len(),
            body.iter().map(|&b| b as u32).sum::<u32>()
        );
        let fresh = validators
            && (headers.get("if-none-match") == Some(&etag)
                || headers.get("if-modified-since").map(String::as_str) == Some(LAST_MODIFIED));
        if fresh {
            log(304);
            let _ = write!(
                conn,
                "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        log(200);
        let extra = if validators {
            format!("ETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n")
        } else {
            String::new()
        };
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(&body);
        return;
    }
    match path.as_str() {
        "/broken/500" => {
            log(500);
            let body = "<html><body><h1>Internal Server Error</h1></body></html>";
            let _ = write!(
                conn,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        // No Content-Length: the client must stop reading by itself.
        "/broken/huge.xml" => {
            log(200);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n"
            );
            let _ = conn.write_all(
                b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Huge</title>",
            );
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < HUGE_BYTES && !stop.load(Ordering::SeqCst) {
                if conn.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        }
        // Accepts the request and never answers, until the client gives up.
        "/broken/silent" => {
            log(0);
            let mut buf = [0u8; 1];
            let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = std::io::Read::read(&mut conn, &mut buf);
        }
        "/old/feed.atom" => {
            log(301);
            let _ = write!(
                conn,
                "HTTP/1.1 301 Moved Permanently\r\nLocation: /updates/feed.atom\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        "/loop" => {
            log(302);
            let _ = write!(
                conn,
                "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        _ => {
            log(404);
            let _ = write!(
                conn,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    }
}

/// The request's path and headers (names lower-cased); `None` for a
/// connection that sent no request (the stop wake-up).
fn read_request(conn: &TcpStream) -> Option<(String, HashMap<String, String>)> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Some((path, headers))
}
