//! DKIM signatures checked by an independent verifier (Python's dkimpy),
//! never by the code that signed them: RSA-2048 (PKCS#8 and PKCS#1 keys)
//! and Ed25519, with List-Unsubscribe and List-Unsubscribe-Post signed;
//! the per-issue fast path (`Prepared::personalise_signed`) for many
//! recipients of one issue, and tampered messages that must fail.

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

/// dkimpy's verdict on a message file, given the selector's TXT record.
fn dkimpy_verifies(message: &std::path::Path, dns_txt: &std::path::Path) -> bool {
    Command::new("python3")
        .args(["-c", VERIFY])
        .arg(message)
        .arg(dns_txt)
        .output()
        .unwrap()
        .status
        .success()
}

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

/// The value of tag `tag` in a message's DKIM-Signature header.
fn dkim_tag(message: &[u8], tag: &str) -> String {
    let text = String::from_utf8_lossy(message);
    let header: String = text
        .split("\r\n")
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("")
        .replace(['\t', ' '], "");
    let start = header.find(&format!(";{tag}=")).expect("the tag is there") + tag.len() + 2;
    header[start..].split(';').next().unwrap().to_owned()
}

/// The fast path signs many recipients of one issue from chunks
/// canonicalised once and a body-prefix hash cloned per message: every
/// message verifies with dkimpy, each has its own body hash, the same as
/// signing the finished message in one piece, and changing one byte of a
/// body or a signed header makes verification fail.
#[test]
fn fast_path_signatures_verify_for_every_recipient_and_tampering_fails() {
    use almanac::app::Project;
    use almanac::config::{Dkim, DkimAlgorithm, Env};
    use almanac::domain::Email;
    use almanac::mail::dkim::Signer;
    use almanac::mail::{Recipient, TokenKey};

    if !tools() {
        return;
    }
    let s = Sample::new();
    rsa_key(&s, 2048, "dkim.pem");
    s.write("dns.txt", rsa_record(&s));
    let project = Project::load(&s.path("newsletter.toml"), &Env::default()).unwrap();
    let built = project.build(project.issue(Some(SUNDAY)).unwrap()).unwrap();
    let date = chrono::DateTime::parse_from_rfc3339("2026-11-29T07:00:00+00:00").unwrap();
    let prepared = project.prepare(&built.issue, &built.rendered, date, false);
    let signer = Signer::load(&Dkim {
        domain: "almanac.example".into(),
        selector: "almanac".into(),
        key_path: s.path("dkim.pem"),
        algorithm: DkimAlgorithm::RsaSha256,
    })
    .unwrap();
    let key = TokenKey::new("k");
    let people: [(&str, Option<&str>); 6] = [
        ("ada@example.com", Some("Ada Lovelace")),
        ("zoe@example.com", Some("Zoë Ångström")),
        ("bob@example.org", None),
        ("spaces@example.net", Some("Two  Spaces\tand a tab ")),
        ("dot@example.com", Some(". at the start")),
        (
            "a.very.long.address.that.wraps.in.quoted.printable@subdomain.example.com",
            Some("Someone With A Rather Long Name That Goes On & On <and on>"),
        ),
    ];
    let mut body_hashes = std::collections::HashSet::new();
    for (i, (address, name)) in people.iter().enumerate() {
        let email: Email = address.parse().unwrap();
        let r = Recipient {
            id: i as i64 + 1,
            email: &email,
            name: *name,
        };
        let fast = prepared
            .personalise_signed(&r, &key, &signer)
            .unwrap()
            .bytes;
        let file = s.path(format!("fast-{i}.eml"));
        std::fs::write(&file, &fast).unwrap();
        assert!(
            dkimpy_verifies(&file, &s.path("dns.txt")),
            "dkimpy rejects the fast path's message to {address}"
        );
        // The same message, signed in one piece, has the same body hash.
        let whole = signer.sign(prepared.personalise(&r, &key).bytes).unwrap();
        assert_eq!(dkim_tag(&fast, "bh"), dkim_tag(&whole, "bh"), "{address}");
        let after = |m: &[u8]| m[m.windows(4).position(|w| w == b"\r\n\r\n").unwrap()..].to_vec();
        assert_eq!(
            after(&fast),
            after(&whole),
            "the same message after the signature"
        );
        body_hashes.insert(dkim_tag(&fast, "bh"));

        // One byte of the body changed, far from any personal field.
        let mut tampered = fast.clone();
        let at = tampered.len() / 2;
        let at = at
            + tampered[at..]
                .iter()
                .position(u8::is_ascii_lowercase)
                .unwrap();
        tampered[at] = if tampered[at] == b'a' { b'b' } else { b'a' };
        std::fs::write(&file, &tampered).unwrap();
        assert!(
            !dkimpy_verifies(&file, &s.path("dns.txt")),
            "a tampered body must fail"
        );
        // Another recipient in To.
        let text = String::from_utf8(fast.clone()).unwrap();
        let to = text.lines().find(|l| l.starts_with("To: ")).unwrap();
        std::fs::write(&file, text.replacen(to, "To: mallory@example.com", 1)).unwrap();
        assert!(
            !dkimpy_verifies(&file, &s.path("dns.txt")),
            "a changed To must fail"
        );
    }
    assert_eq!(body_hashes.len(), people.len(), "each body is personal");
}
