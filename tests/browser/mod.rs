//! Headless Chromium for end-to-end tests, driven over the DevTools protocol
//! with a minimal WebSocket client (one browser session that stays open
//! across file edits, which `--dump-dom` cannot do).
//!
//! Only what the tests need: launch on a URL, evaluate JavaScript in the
//! page, take a screenshot, and always stop the browser (Drop).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

pub use super::common::CHROMIUM;

/// Whether Chromium can be used (a loud skip, or a failure in CI).
pub fn available() -> bool {
    super::common::tool("headless Chromium", &[CHROMIUM, "--version"])
}

/// A running headless Chromium with one page, connected over DevTools.
pub struct Browser {
    page: Ws,
    next_id: u64,
    // Dropped in this order: the browser is gone before its profile is removed.
    _child: KillOnDrop,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium on `url` with a fresh profile and a 1920×1080 window.
    pub fn launch(url: &str) -> Browser {
        Self::launch_with(url, &[])
    }

    /// `launch` with extra Chromium flags, e.g.
    /// `--blink-settings=imagesEnabled=false`.
    pub fn launch_with(url: &str, extra_flags: &[&str]) -> Browser {
        let profile = tempfile::Builder::new()
            .prefix("almanac-chromium-")
            .tempdir()
            .expect("create a profile folder");
        let mut child = Command::new(CHROMIUM)
            .args(super::common::CHROMIUM_FLAGS)
            .args([
                "--disable-extensions",
                "--hide-scrollbars",
                "--window-size=1920,1080",
                "--remote-debugging-port=0",
            ])
            .args(extra_flags)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so Drop stops the renderer and GPU
            // processes too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));

        // Chromium announces the DevTools address on stderr; the rest of
        // stderr is drained so a full pipe never blocks it.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_owned());
                }
            }
        });
        let guard = KillOnDrop(Some(child));
        let ws_url = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("Chromium did not print `DevTools listening on ws://...` within 20 s");
        let host = ws_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let page_url = page_target(&host, url);
        let page = Ws::connect(&page_url);
        Browser {
            page,
            next_id: 0,
            _child: guard,
            _profile: profile,
        }
    }

    /// One DevTools call on the page; `Err` carries the protocol's error.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        self.page
            .send(&json!({ "id": id, "method": method, "params": params }).to_string());
        loop {
            let message: Value =
                serde_json::from_str(&self.page.recv()).expect("DevTools sends JSON");
            if message["id"] == id {
                return match message.get("error") {
                    Some(e) => Err(e.to_string()),
                    None => Ok(message["result"].clone()),
                };
            }
        }
    }

    /// Evaluates an expression in the page and returns its value, or
    /// `Null` when it threw or the page was between documents (reloading).
    pub fn eval(&mut self, expression: &str) -> Value {
        match self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        ) {
            Ok(r) if r.get("exceptionDetails").is_none() => r["result"]["value"].clone(),
            _ => Value::Null,
        }
    }

    /// Evaluates `expression` every 50 ms until `done` accepts the value;
    /// fails the test with the last value after `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        expression: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let value = self.eval(expression);
            if done(&value) {
                return value;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; last value:\n{value:#}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lays the page out in a viewport `width` CSS pixels wide, as on a
    /// phone (headless windows cannot be made that narrow). Desktop viewport
    /// rules: a mobile one would widen itself to fit overflowing content,
    /// hiding the overflow the tests look for.
    pub fn emulate_phone(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .expect("set the device metrics");
    }

    /// Lays the page out in a `width`×`height` CSS pixel viewport, as a
    /// laptop screen of that size shows it.
    pub fn viewport(&mut self, width: u32, height: u32) {
        self.emulate_phone(width, height);
    }

    /// Saves a PNG of the visible page.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("base64 data"))
            .expect("valid base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Kills a process group started with `process_group(0)` and reaps it.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The WebSocket address of the page Chromium opened on `url`.
fn page_target(host: &str, url: &str) -> String {
    let start = Instant::now();
    loop {
        let list = http_get(host, "/json/list");
        let targets: Value = serde_json::from_str(&list).unwrap_or(Value::Null);
        let page =
            targets.as_array().into_iter().flatten().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
            });
        if let Some(ws) = page.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
            return ws.to_owned();
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!("no page target for {url} in {list}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(host: &str, path: &str) -> String {
    let mut s = TcpStream::connect(host).expect("connect to DevTools");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // DevTools keeps the connection open: read the head, then the body by
    // its Content-Length.
    let mut reader = BufReader::new(s);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read DevTools answer");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("a length");
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("read DevTools answer");
    String::from_utf8(body).expect("UTF-8 JSON")
}

/// Just enough of RFC 6455 for DevTools: one text message at a time,
/// client frames masked, no extensions.
struct Ws {
    stream: TcpStream,
}

impl Ws {
    fn connect(url: &str) -> Ws {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = TcpStream::connect(host).expect("connect to the page's DevTools");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        // Read the handshake answer byte by byte so no frame is swallowed.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("WebSocket handshake");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "WebSocket handshake refused:\n{head}"
        );
        Ws { stream }
    }

    fn send(&mut self, text: &str) {
        self.frame(0x1, text.as_bytes());
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x5a, 0x17, 0xc3, 0x9e];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend((n as u64).to_be_bytes());
            }
        }
        frame.extend(mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).expect("send to DevTools");
    }

    fn recv(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream
                .read_exact(&mut head)
                .expect("read from DevTools");
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mask = if head[1] & 0x80 != 0 {
                let mut m = [0u8; 4];
                self.stream.read_exact(&mut m).unwrap();
                Some(m)
            } else {
                None
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).unwrap();
            if let Some(m) = mask {
                payload
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b ^= m[i % 4]);
            }
            match opcode {
                0x8 => panic!("DevTools closed the connection"),
                0x9 => self.frame(0xA, &payload),
                0xA => {}
                _ => {
                    message.extend(payload);
                    if fin {
                        return String::from_utf8(message).expect("text message");
                    }
                }
            }
        }
    }
}
