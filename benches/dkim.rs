//! DKIM signing cost per message: `cargo bench --bench dkim`.
//!
//! Builds the Sunday sample once, then personalises and signs it for
//! different recipients with RSA-2048, RSA-1024 and Ed25519 keys (made by
//! `openssl genpkey` in a temporary folder), next to the primitives the
//! signature can't avoid: ring's RSA-2048 private-key operation over the
//! canonical headers, and SHA-256 of the whole body. Rounds are
//! interleaved and the figures are medians, so a busy machine slows every
//! column alike. Figures, not assertions.
//!
//! `DKIM_PROFILE=200 valgrind --tool=callgrind target/release/deps/dkim-*`
//! signs 200 messages through the fast path with an RSA-2048 key and
//! nothing else, for instruction counts. Under valgrind the CPU has no SHA
//! extensions, so SHA-256 counts are those of the portable code.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use almanac::app::Project;
use almanac::config::{Dkim, DkimAlgorithm, Env};
use almanac::domain::Email;
use almanac::mail::dkim::Signer;
use almanac::mail::{Recipient, TokenKey};

const ISSUE: &str = "2026-11-29-sunday";
const ROUNDS: usize = 7;
const PER_ROUND: usize = 200;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:7.1} µs", d.as_secs_f64() * 1e6)
}

fn key(dir: &Path, file: &str, args: &[&str]) -> Dkim {
    let path = dir.join(file);
    let ok = Command::new("openssl")
        .args(["genpkey"])
        .args(args)
        .arg("-out")
        .arg(&path)
        .status()
        .expect("openssl runs")
        .success();
    assert!(ok, "openssl genpkey {args:?}");
    Dkim {
        domain: "almanac.example".into(),
        selector: "bench".into(),
        key_path: path,
        algorithm: if args.contains(&"ed25519") {
            DkimAlgorithm::Ed25519Sha256
        } else {
            DkimAlgorithm::RsaSha256
        },
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project =
        Project::load(&root.join("newsletter.toml"), &Env::default()).expect("the sample loads");
    let issue = project.issue(Some(ISSUE)).expect("the issue loads");
    let built = project.build(issue).expect("the issue builds");
    let date = chrono::DateTime::parse_from_rfc3339("2026-11-29T07:00:00+00:00").unwrap();
    let prepared = project.prepare(&built.issue, &built.rendered, date, false);
    let token = TokenKey::new("bench");
    let emails: Vec<Email> = (0..PER_ROUND)
        .map(|i| format!("reader{i}@example.com").parse().unwrap())
        .collect();
    let names: Vec<String> = (0..PER_ROUND).map(|i| format!("Reader {i}")).collect();
    let recipient = |i: usize| Recipient {
        id: i as i64 + 1,
        email: &emails[i],
        name: Some(&names[i]),
    };

    let tmp = std::env::temp_dir().join(format!("almanac-dkim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let signers = [
        (
            "RSA-2048",
            Signer::load(&key(
                &tmp,
                "rsa2048.pem",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            ))
            .unwrap(),
        ),
        (
            "RSA-1024",
            Signer::load(&key(
                &tmp,
                "rsa1024.pem",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
            ))
            .unwrap(),
        ),
        (
            "Ed25519",
            Signer::load(&key(&tmp, "ed.pem", &["-algorithm", "ed25519"])).unwrap(),
        ),
    ];
    let ring_key = {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(tmp.join("rsa2048.pem"))
            .expect("pkcs8");
        ring::rsa::KeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("ring takes it")
    };
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(n) = std::env::var("DKIM_PROFILE")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        for i in 0..n {
            let r = recipient(i % PER_ROUND);
            std::hint::black_box(
                prepared
                    .personalise_signed(&r, &token, &signers[0].1)
                    .unwrap(),
            );
        }
        return;
    }

    let sample = prepared.personalise(&recipient(0), &token).bytes;
    let body_at = sample.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = &sample[body_at..];
    let headers = vec![b'h'; 1200];
    let rng = ring::rand::SystemRandom::new();

    let mut personalise = Vec::new();
    let mut signed: Vec<Vec<Duration>> = vec![Vec::new(); signers.len()];
    let mut fast: Vec<Vec<Duration>> = vec![Vec::new(); signers.len()];
    let mut rsa = Vec::new();
    let mut sha_ring = Vec::new();
    let mut sha_rustcrypto = Vec::new();
    let per = |d: Duration| d / PER_ROUND as u32;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for i in 0..PER_ROUND {
            std::hint::black_box(prepared.personalise(&recipient(i), &token));
        }
        personalise.push(per(t.elapsed()));
        for (n, (_, s)) in signers.iter().enumerate() {
            let t = Instant::now();
            for i in 0..PER_ROUND {
                let m = prepared.personalise(&recipient(i), &token);
                std::hint::black_box(s.sign(m.bytes).unwrap());
            }
            signed[n].push(per(t.elapsed()));
            let t = Instant::now();
            for i in 0..PER_ROUND {
                std::hint::black_box(
                    prepared
                        .personalise_signed(&recipient(i), &token, s)
                        .unwrap(),
                );
            }
            fast[n].push(per(t.elapsed()));
        }
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            let mut sig = vec![0; ring_key.public().modulus_len()];
            ring_key
                .sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &headers, &mut sig)
                .unwrap();
            std::hint::black_box(sig);
        }
        rsa.push(per(t.elapsed()));
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, body));
        }
        sha_ring.push(per(t.elapsed()));
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            use sha2::Digest;
            std::hint::black_box(sha2::Sha256::digest(body));
        }
        sha_rustcrypto.push(per(t.elapsed()));
    }
    let p = median(personalise);
    println!(
        "per message of {ISSUE} ({} bytes, body {} bytes), median of {ROUNDS} interleaved rounds of {PER_ROUND}:",
        sample.len(),
        body.len()
    );
    println!("  personalise                          {}", us(p));
    for (n, (name, _)) in signers.iter().enumerate() {
        let s = median(signed[n].clone());
        println!(
            "  personalise, then sign {name:<9}      {}  (signing {})",
            us(s),
            us(s.saturating_sub(p))
        );
        let f = median(fast[n].clone());
        println!(
            "  personalise_signed {name:<9}          {}  (signing {})",
            us(f),
            us(f.saturating_sub(p))
        );
    }
    println!("  ring RSA-2048 sign of 1.2 KB         {}", us(median(rsa)));
    println!(
        "  SHA-256 of the body, ring            {}",
        us(median(sha_ring))
    );
    println!(
        "  SHA-256 of the body, sha2            {}",
        us(median(sha_rustcrypto))
    );
}
