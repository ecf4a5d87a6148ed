//! Dovecot (Debian's `dovecot-imapd`) as a private IMAP server over TLS on a
//! free loopback port, configured, stored and logged entirely in a temporary
//! folder: one user, a Maildir, a certificate from a throwaway CA.
//!
//! Include it with `#[path = "support/dovecot.rs"] mod dovecot;` next to
//! `mod common;`. A test that needs it skips loudly when Dovecot is not
//! installed, unless ALMANAC_REQUIRE_TOOLS is set (CI), where that fails.
//!
//! Messages are put in and inspected through the Maildir itself, not over
//! IMAP, so the tests check the client against the server's own storage.
//! Dovecot serves Maildir files with CRLF line ends, so deliver CRLF mail to
//! get back the very bytes delivered.
//!
//! Written for Dovecot 2.3 (the `dovecot -F -c FILE` settings syntax).

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const USER: &str = "bounces@example.org";
pub const PASSWORD: &str = "imap-pa55word-9x";

/// Maildir info letters and the IMAP flags they stand for.
const FLAGS: [(char, &str); 5] = [
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

pub struct Dovecot {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    /// The user mail is stored as; Maildir folders the harness makes are
    /// given to it so Dovecot can rename files in them.
    mail_owner: Option<(u32, u32)>,
}

impl Dovecot {
    pub fn start() -> Option<Dovecot> {
        Self::start_with("")
    }

    /// Starts Dovecot with extra settings appended to its configuration,
    /// e.g. an `imap_capability` line to hide MOVE.
    pub fn start_with(extra_conf: &str) -> Option<Dovecot> {
        if !super::common::tool("openssl", &["openssl", "version"])
            || !super::common::tool(
                "Dovecot (apt-get install dovecot-imapd)",
                &["sh", "-c", &format!("{SBIN_PATH} dovecot --version")],
            )
        {
            return None;
        }
        let binary = dovecot_binary();
        let dir = tempfile::Builder::new()
            .prefix("almanac-dovecot-")
            .tempdir()
            .expect("create a temporary folder");
        // Unprivileged Dovecot processes (the login process, and mail
        // access, which Dovecot never does as root) must reach their files.
        set_mode(dir.path(), 0o755);
        let root = is_root();
        // As root: mail is stored as `nobody`, and imap-login (which refuses
        // to run as root) runs as `nobody` too. Otherwise all runs as us.
        let (login_user, internal_user, internal_group) = if root {
            ("nobody".to_owned(), "root".to_owned(), "root".to_owned())
        } else {
            (id(&["-un"]), id(&["-un"]), id(&["-gn"]))
        };
        let (uid, gid) = if root {
            (id(&["-u", "nobody"]), id(&["-g", "nobody"]))
        } else {
            (id(&["-u"]), id(&["-g"]))
        };
        let mail_owner = root.then(|| (uid.parse().unwrap(), gid.parse().unwrap()));

        certificates(dir.path());
        let d = dir.path().display();
        fs::write(
            dir.path().join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        let port = free_port();
        let conf = format!(
            "base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{d}/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = home={d}/home
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
{extra_conf}
"
        );
        fs::write(dir.path().join("dovecot.conf"), conf).unwrap();
        let server = Dovecot {
            child: Command::new(&binary)
                .arg("-F")
                .arg("-c")
                .arg(dir.path().join("dovecot.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                // Settings errors are printed before the log file is open.
                .stderr(fs::File::create(dir.path().join("stderr.txt")).unwrap())
                // Its own process group, so Drop stops its children too.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display())),
            port,
            dir,
            mail_owner,
        };
        for sub in ["home", "Maildir"] {
            server.make_dir(&server.dir.path().join(sub));
        }
        server.wait_until_listening();
        Some(server)
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Dovecot did not listen on port {} within 20 s\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops every Dovecot process where it is (SIGSTOP to the group):
    /// connections stay open and nothing answers, until `thaw`.
    pub fn freeze(&self) {
        self.signal_group("-STOP");
    }

    pub fn thaw(&self) {
        self.signal_group("-CONT");
    }

    fn signal_group(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// What Dovecot printed and logged, for failure messages.
    pub fn log(&self) -> String {
        let read = |name| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- Dovecot stderr\n{}--- Dovecot log\n{}",
            read("stderr.txt"),
            read("dovecot.log")
        )
    }

    /// The log once it holds `needle` (Dovecot writes a session's last line
    /// after the client has gone), or as it is after 10 s.
    pub fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `imaps://USER@127.0.0.1:PORT/MAILBOX` (the certificate names the IP).
    pub fn url(&self, mailbox: &str) -> String {
        format!(
            "imaps://{}@127.0.0.1:{}/{mailbox}",
            USER.replace('@', "%40"),
            self.port
        )
    }

    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// The PEM of the CA that signed the server's certificate.
    pub fn ca_pem(&self) -> Vec<u8> {
        fs::read(self.dir.path().join("ca.pem")).unwrap()
    }

    /// Puts a message in a mailbox (created if missing), as a mail
    /// delivery agent would: unflagged, in `new/`.
    pub fn deliver(&self, mailbox: &str, raw: &[u8]) {
        self.store(mailbox, raw, &[]);
    }

    /// Puts a message in a mailbox with IMAP flags already set, as if
    /// another client had set them (e.g. `\Deleted`).
    pub fn deliver_flagged(&self, mailbox: &str, raw: &[u8], flags: &[&str]) {
        self.store(mailbox, raw, flags);
    }

    fn store(&self, mailbox: &str, raw: &[u8], flags: &[&str]) {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let folder = self.folder(mailbox);
        for sub in ["", "cur", "new", "tmp"] {
            self.make_dir(&folder.join(sub));
        }
        if mailbox != "INBOX" {
            fs::write(folder.join("maildirfolder"), "").unwrap();
        }
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        // Maildir's time.unique.host shape; the count keeps delivery order.
        let name = format!(
            "{}.P{}Q{n}.almanac-test",
            1_700_000_000 + n,
            std::process::id()
        );
        let tmp = folder.join("tmp").join(&name);
        fs::write(&tmp, raw).unwrap();
        let dest = if flags.is_empty() {
            folder.join("new").join(&name)
        } else {
            let mut letters: Vec<char> = flags
                .iter()
                .map(|f| {
                    FLAGS
                        .iter()
                        .find(|(_, name)| name == f)
                        .unwrap_or_else(|| panic!("no Maildir letter for flag {f}"))
                        .0
                })
                .collect();
            letters.sort_unstable();
            let info: String = letters.into_iter().collect();
            folder.join("cur").join(format!("{name}:2,{info}"))
        };
        fs::rename(&tmp, &dest).unwrap();
        self.give_to_mail_owner(&dest);
    }

    /// What a mailbox holds, as (IMAP flags, raw bytes), in file-name order
    /// (delivery order for what `deliver` put there). `\Recent` is not
    /// stored, so it never appears.
    pub fn list(&self, mailbox: &str) -> Vec<(Vec<String>, Vec<u8>)> {
        let folder = self.folder(mailbox);
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(folder.join(sub)) else {
                continue;
            };
            for entry in entries {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                let letters = name.split_once(":2,").map(|(_, l)| l).unwrap_or("");
                let flags = FLAGS
                    .iter()
                    .filter(|(letter, _)| letters.contains(*letter))
                    .map(|(_, flag)| flag.to_string())
                    .collect();
                found.push((name, flags, fs::read(entry.path()).unwrap()));
            }
        }
        found.sort();
        found
            .into_iter()
            .map(|(_, flags, raw)| (flags, raw))
            .collect()
    }

    /// Every mailbox, INBOX first, then the others by name.
    pub fn folders(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path().join("Maildir"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_dir())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix('.').map(str::to_owned)
            })
            .filter(|name| !name.is_empty() && name != ".")
            .collect();
        names.sort();
        names.insert(0, "INBOX".to_owned());
        names
    }

    /// How many messages all mailboxes hold together.
    pub fn total(&self) -> usize {
        self.folders().iter().map(|f| self.list(f).len()).sum()
    }

    /// Maildir++: INBOX is the Maildir itself, `A.B` is `.A.B/`.
    fn folder(&self, mailbox: &str) -> PathBuf {
        let maildir = self.dir.path().join("Maildir");
        if mailbox == "INBOX" {
            maildir
        } else {
            maildir.join(format!(".{mailbox}"))
        }
    }

    fn make_dir(&self, path: &Path) {
        fs::create_dir_all(path).unwrap();
        self.give_to_mail_owner(path);
    }

    fn give_to_mail_owner(&self, path: &Path) {
        if let Some((uid, gid)) = self.mail_owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGKILL works on stopped processes too (after `freeze`).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian installs `dovecot` in /usr/sbin, which not every PATH has.
const SBIN_PATH: &str = "PATH=\"$PATH:/usr/sbin:/usr/local/sbin\"";

fn dovecot_binary() -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("{SBIN_PATH} command -v dovecot")])
        .output()
        .expect("run sh");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("run id");
    assert!(out.status.success(), "id {args:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn is_root() -> bool {
    id(&["-u"]) == "0"
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A throwaway CA, and a certificate it signed for `localhost` and
/// 127.0.0.1 (the client is given only the CA, as a real one would be).
fn certificates(dir: &Path) {
    use super::common::openssl;
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=almanac test IMAP CA",
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
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    fs::write(
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
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    // Dovecot reads the key as root before dropping privileges; keep it
    // private anyway.
    set_mode(&dir.join("server.key"), 0o600);
    set_mode(&dir.join("ca.key"), 0o600);
}
