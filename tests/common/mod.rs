//! The integration-test harness: a private copy of the sample newsletter and
//! the real `almanac` binary run inside it.
//!
//! Every integration-test crate includes this with `mod common;` and uses only
//! what it needs, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The sample issues in the repository.
pub const MIDWEEK: &str = "2026-11-25-midweek";
pub const SUNDAY: &str = "2026-11-29-sunday";
pub const ISSUES: [&str; 2] = [MIDWEEK, SUNDAY];

/// What `Sample::new` copies from the repository root.
const COPIED: &[&str] = &["newsletter.toml", "layouts", "issues"];

/// A fresh copy of the sample newsletter in a temporary folder, removed when
/// dropped.
pub struct Sample {
    dir: tempfile::TempDir,
}

impl Default for Sample {
    fn default() -> Self {
        Self::new()
    }
}

impl Sample {
    pub fn new() -> Sample {
        let dir = tempfile::Builder::new()
            .prefix("almanac-test-")
            .tempdir()
            .expect("create a temporary folder");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for name in COPIED {
            copy_recursive(&repo.join(name), &dir.path().join(name));
        }
        Sample { dir }
    }

    /// The root of the copy (where `newsletter.toml` is).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the copy.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The `almanac` command, ready to run in the copy: working directory is
    /// the copy, `NO_COLOR=1`, no `ALMANAC_*` variables from the outside,
    /// no standard input. Add `.env(..)` for a test's own settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_almanac"));
        cmd.args(args)
            .current_dir(self.root())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ALMANAC_") {
                cmd.env_remove(&key);
            }
        }
        cmd
    }

    /// Runs `almanac ARGS` in the copy and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run almanac {args:?}: {e}"))
    }

    /// Runs `almanac ARGS` and fails the test unless it exits 0.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_success(&out, &format!("almanac {}", args.join(" ")));
        out
    }

    /// `almanac build ISSUE`, which must succeed; returns `out/ISSUE`.
    pub fn build(&self, issue: &str) -> PathBuf {
        self.run_ok(&["build", issue]);
        self.path(Path::new("out").join(issue))
    }

    /// `almanac publish` for every sample issue: the archive shows only
    /// issues sent over SMTP or published by the editor.
    pub fn publish_samples(&self) {
        for id in ISSUES {
            self.run_ok(&["publish", id]);
        }
    }

    /// Writes a file in the copy (creating folders as needed).
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Replaces the first occurrence of `from` with `to` in a text file of the
    /// copy; fails the test if `from` is not there, so edits cannot silently
    /// stop applying when the sample changes.
    pub fn edit(&self, rel: impl AsRef<Path>, from: &str, to: &str) {
        let rel = rel.as_ref();
        let text = self.read(rel);
        assert!(
            text.contains(from),
            "{} does not contain {from:?}",
            rel.display()
        );
        self.write(rel, text.replacen(from, to, 1));
    }

    /// Removes a file or folder from the copy.
    pub fn remove(&self, rel: impl AsRef<Path>) {
        let path = self.path(rel);
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        let path = self.path(rel);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    pub fn read_bytes(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        let path = self.path(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.path(rel).exists()
    }
}

fn copy_recursive(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("create folder");
        for entry in std::fs::read_dir(from).expect("list folder") {
            let entry = entry.expect("folder entry");
            copy_recursive(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
}

/// Standard output then standard error, for assertions and their messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// Runs `openssl ARGS` in `dir`; fails the test if it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    out.stdout
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails with both output streams unless the process exited 0.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed with {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Whether an outside tool works (`cmd` exits 0). When it does not, the
/// calling test skips with a loud message; under `ALMANAC_REQUIRE_TOOLS`
/// (set by CI) it fails instead, so CI never passes by skipping.
pub fn tool(what: &str, cmd: &[&str]) -> bool {
    let ok = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("ALMANAC_REQUIRE_TOOLS").is_some() {
            panic!(
                "{what} is required (ALMANAC_REQUIRE_TOOLS is set) but `{}` failed",
                cmd.join(" ")
            );
        }
        eprintln!(
            "\n*** SKIPPING: {what} is not available (`{}` failed); this test did not run ***\n",
            cmd.join(" ")
        );
    }
    ok
}

/// Debian's Chromium, as the tests run it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium as root on a machine with no network but loopback:
/// no sandbox, no GPU, and none of the background connections that would
/// be refused (and retried) here. A fresh `--user-data-dir` goes with each.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A throwaway CA (`ca.pem`, `ca.key`) and a certificate it signed for
/// `localhost` and 127.0.0.1 (`server.pem`, `server.key`): the client is
/// given only the CA, as a real one would be.
pub fn certificates(dir: &Path) {
    let (ca, server) = ("ca", "server");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
            "-subj",
            "/CN=almanac test CA",
            "-days",
            "2",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{server}.key"),
            "-out",
            &format!("{server}.csr"),
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{server}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{server}.pem"),
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// `almanac serve` on a free loopback port; stopped when dropped.
pub struct Served {
    child: Child,
    pub port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sample {
    /// Starts `almanac serve` in the copy with these variables set and
    /// waits for the line that names its port.
    pub fn serve(&self, env: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        let mut cmd = self.command(&["serve", "--listen", "127.0.0.1:0"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start almanac serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("serving on http://127.0.0.1:")
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("unexpected: {line}"));
        Served { child, port }
    }
}
