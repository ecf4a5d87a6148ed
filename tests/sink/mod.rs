//! Postfix's smtp-sink on a free loopback port, with its dump file parsed.
//! A test that needs it skips loudly when it is not installed, unless
//! ALMANAC_REQUIRE_TOOLS is set (CI), where a missing tool is a failure.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sink {
    child: Child,
    pub port: u16,
    pub dump: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sink {
    /// Starts smtp-sink with extra options (e.g. `-f rcpt` to hard-reject).
    pub fn start(extra: &[&str]) -> Option<Sink> {
        Self::start_on(free_port(), extra)
    }

    pub fn start_on(port: u16, extra: &[&str]) -> Option<Sink> {
        if !super::common::tool(
            "Postfix's smtp-sink (apt-get install postfix)",
            &["sh", "-c", "command -v smtp-sink"],
        ) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // smtp-sink drops privileges to `nobody`, which must be able to write.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let dump = dir.path().join("dump.txt");
        let mut cmd = Command::new("smtp-sink");
        cmd.args(["-u", "nobody", "-D"])
            .arg(&dump)
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("256");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smtp-sink");
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "smtp-sink did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Sink {
            child,
            port,
            dump,
            _dir: dir,
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received, as text (envelope lines first).
    pub fn messages(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.dump).unwrap_or_default();
        text.split("X-Client-Addr: ")
            .filter(|m| !m.trim().is_empty())
            .map(|m| format!("X-Client-Addr: {m}"))
            .collect()
    }

    /// How many messages each envelope recipient got.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut c = BTreeMap::new();
        for m in self.messages() {
            for line in m.lines().filter(|l| l.starts_with("X-Rcpt-Args: ")) {
                let addr = line["X-Rcpt-Args: ".len()..]
                    .trim()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_lowercase();
                *c.entry(addr).or_insert(0) += 1;
            }
        }
        c
    }

    /// Waits until at least `n` messages arrived (or 20 s passed); returns
    /// how many did. Used to kill a sender part-way at a known point rather
    /// than after a fixed sleep, which a loaded machine makes flaky.
    pub fn wait_for(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got: usize = self.counts().values().sum();
            if got >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (its connections reset) and keeps what it received.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
