//! DKIM signatures checked by an independent verifier (Python's dkimpy),
//! never by the code that signed them: RSA-2048 (PKCS#8 and PKCS#1 keys)
//! and Ed25519, with List-Unsubscribe and List-Unsubscribe-Post signed.

mod common;

use std::process::Command;

use common::{SUNDAY, Sample};

/// dkimpy's verify with the selector's TXT record served from a string.
const VERIFY: &str = r#"
import sys, dkim
msg = open(sys.argv[1], 'rb').read()
txt = open(sys.argv[2], 'rb').read()
def dns(name, timeout=5):
    assert name == b'almanac._domainkey.almanac.example.', name
    return txt
ok = dkim.verify(msg, dnsfunc=dns)
print('verified' if ok else 'FAILED')
sys.exit(0 if ok else 1)
"#;

fn tools() -> bool {
    common::tool("openssl", &["openssl", "version"])
        && common::tool(
            "Python's dkimpy and pynacl",
            &["python3", "-c", "import dkim, nacl"],
        )
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs the Sunday issue for three recipients into the outbox and verifies
/// every message with dkimpy.
fn sign_and_verify(s: &Sample, algorithm: &str, txt: &str) {
    s.write("subscribers.example.csv", "email,name,editions\nada@example.com,Ada Lovelace,both\nzoe@example.com,Zoë,both\nbob@example.org,,sunday\n");
    let cfg = std::fs::read_to_string(s.path("newsletter.toml")).unwrap();
    s.write(
        "newsletter.toml",
        format!("{cfg}\n[dkim]\ndomain = \"almanac.example\"\nselector = \"almanac\"\nkey = \"dkim.pem\"\nalgorithm = \"{algorithm}\"\n"),
    );
    s.write("dns.txt", txt);
    let out = s
        .command(&["send", SUNDAY, "--yes"])
        .env("ALMANAC_UNSUBSCRIBE_SECRET", "k")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(s.path("out/outbox"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 3);
    for f in files {
        let msg = std::fs::read_to_string(&f).unwrap();
        let sig_header: String = msg
            .split("\r\n")
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let h = sig_header
            .split("h=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_lowercase()
            .replace(['\n', ' ', '\t'], "");
        for needed in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(
                h.split(':').any(|x| x == needed),
                "{needed} is signed: h={h}"
            );
        }
        assert!(
            msg.starts_with("DKIM-Signature:"),
            "the signature comes first"
        );
        assert!(sig_header.contains(&format!("a={algorithm}")));
        let v = Command::new("python3")
            .args(["-c", VERIFY])
            .arg(&f)
            .arg(s.path("dns.txt"))
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "dkimpy: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

/// Generates an RSA key of `bits` into `file` in the sample.
fn rsa_key(s: &Sample, bits: u32, file: &str) {
    let bits = format!("rsa_keygen_bits:{bits}");
    common::openssl(
        s.root(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            file,
        ],
    );
}

/// The DNS TXT record for the RSA key in `dkim.pem`.
fn rsa_record(s: &Sample) -> String {
    let public = common::openssl(
        s.root(),
        &["pkey", "-in", "dkim.pem", "-pubout", "-outform", "DER"],
    );
    format!("v=DKIM1; k=rsa; p={}", b64(&public))
}

#[test]
fn rsa_2048_pkcs8_signatures_verify() {
    if !tools() {
        return;
    }
    let s = Sample::new();
    rsa_key(&s, 2048, "dkim.pem");
    sign_and_verify(&s, "rsa-sha256", &rsa_record(&s));
}

#[test]
fn rsa_pkcs1_keys_are_accepted_too() {
    if !tools() {
        return;
    }
    let s = Sample::new();
    rsa_key(&s, 2048, "p8.pem");
    common::openssl(
        s.root(),
        &["rsa", "-in", "p8.pem", "-traditional", "-out", "dkim.pem"],
    );
    assert!(
        s.read("dkim.pem")
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    sign_and_verify(&s, "rsa-sha256", &rsa_record(&s));
}

#[test]
fn rsa_1024_keys_still_work() {
    if !tools() {
        return;
    }
    let s = Sample::new();
    rsa_key(&s, 1024, "dkim.pem");
    sign_and_verify(&s, "rsa-sha256", &rsa_record(&s));
}

#[test]
fn ed25519_signatures_verify() {
    if !tools() {
        return;
    }
    let s = Sample::new();
    common::openssl(
        s.root(),
        &["genpkey", "-algorithm", "ed25519", "-out", "dkim.pem"],
    );
    let spki = common::openssl(
        s.root(),
        &["pkey", "-in", "dkim.pem", "-pubout", "-outform", "DER"],
    );
    // RFC 8463: the record holds the raw 32-byte key, the SPKI's tail.
    let raw = &spki[spki.len() - 32..];
    sign_and_verify(
        &s,
        "ed25519-sha256",
        &format!("v=DKIM1; k=ed25519; p={}", b64(raw)),
    );
}

#[test]
fn short_rsa_keys_are_refused_before_sending() {
    if !tools() {
        return;
    }
    let s = Sample::new();
    s.write(
        "subscribers.example.csv",
        "email,name,editions\nada@example.com,Ada,both\n",
    );
    rsa_key(&s, 512, "dkim.pem");
    let cfg = std::fs::read_to_string(s.path("newsletter.toml")).unwrap();
    s.write(
        "newsletter.toml",
        format!("{cfg}\n[dkim]\ndomain = \"almanac.example\"\nselector = \"almanac\"\nkey = \"dkim.pem\"\n"),
    );
    let out = s.command(&["send", SUNDAY, "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("512 bits"), "{err}");
    assert!(!s.path("out/outbox").exists());
}
