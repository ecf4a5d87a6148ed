//! DKIM signing (RFC 6376, relaxed/relaxed; ed25519-sha256 per RFC 8463).
//! Per recipient, since To and the body's personal fields differ. The
//! signed headers include List-Unsubscribe and List-Unsubscribe-Post, as
//! RFC 8058 requires for one-click unsubscribe.
//!
//! The cryptography is ring's (RSA-2048 and up, Ed25519) or, for the 1024
//! to 2047-bit RSA keys ring refuses, the `rsa` crate's; SHA-256 is sha2's.
//! What is written here is the small part of RFC 6376 around them, so that
//! a send can hash each message's body in a few large pieces:
//!
//! * relaxed body canonicalisation (§3.4.4) of whole buffers, copying the
//!   stretches between the rare places where it changes anything (a run of
//!   spaces or a tab, whitespace at the end of a line) straight into the
//!   hash; `BodyHasher` takes a body in pieces of whole lines, so a message
//!   built from chunks (`message::Prepared`) can canonicalise its shared
//!   chunks once per issue and hash the shared prefix once;
//! * relaxed header canonicalisation (§3.4.2) of the signed headers and the
//!   DKIM-Signature header itself (§3.7), and the header's text.
//!
//! mail-auth, used before, fed the hash one byte at a time and could not
//! take a body hash computed elsewhere. Every signature is checked by an
//! independent verifier (dkimpy) in `tests/dkim.rs`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::Ed25519KeyPair;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::config::{Dkim, DkimAlgorithm};

/// Headers covered by the signature. A header the message lacks is still
/// listed (signed as absent), so it can't be added on the way.
pub const SIGNED_HEADERS: [&str; 11] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// A key that can't sign, or a signature that failed; each names the file
/// and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the DKIM key {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a PEM private key ({detail}); expected `-----BEGIN PRIVATE KEY-----` or `-----BEGIN RSA PRIVATE KEY-----`", path.display())]
    NotPem { path: PathBuf, detail: String },
    #[error("{} is not an RSA private key; for an Ed25519 key set `algorithm = \"ed25519-sha256\"`", path.display())]
    NotRsa { path: PathBuf },
    #[error("the DKIM key {} has {bits} bits; receivers ignore RSA keys under 1024 bits (use 2048)", path.display())]
    TooShort { path: PathBuf, bits: usize },
    #[error("{} must be a PKCS#8 Ed25519 key (`-----BEGIN PRIVATE KEY-----`)", path.display())]
    NotPkcs8 { path: PathBuf },
    #[error("DKIM key {}: {detail}", path.display())]
    BadKey { path: PathBuf, detail: String },
    #[error("DKIM signing failed: {0}")]
    Sign(String),
}

/// A loaded key with the signing domain and selector.
pub struct Signer {
    key: Key,
    domain: String,
    selector: String,
}

enum Key {
    /// 2048 bits and up: ring, the fast path.
    Rsa(ring::rsa::KeyPair, ring::rand::SystemRandom),
    /// 1024 to 2047 bits, which ring refuses: the pure-Rust `rsa` crate.
    /// RFC 8301 still allows 1024, and operators with an old DNS record
    /// need it; signing is slower than ring.
    ShortRsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.algorithm())
    }
}

impl Signer {
    /// Loads and checks the key; every failure names the file and the fix.
    pub fn load(cfg: &Dkim) -> Result<Signer, Error> {
        let path = &cfg.key_path;
        let pem = std::fs::read(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| Error::NotPem {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let key = match cfg.algorithm {
            DkimAlgorithm::RsaSha256 => rsa_key(path, der)?,
            DkimAlgorithm::Ed25519Sha256 => ed25519_key(path, der)?,
        };
        Ok(Signer {
            key,
            domain: cfg.domain.clone(),
            selector: cfg.selector.clone(),
        })
    }

    fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Rsa(..) | Key::ShortRsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// Signs `message` (CRLF line endings, as `message::Prepared` writes
    /// them) and returns it with the DKIM-Signature header first.
    pub fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, Error> {
        let (headers, body) = match memchr::memmem::find(&message, b"\r\n\r\n") {
            Some(at) => (&message[..at + 2], &message[at + 4..]),
            None => (&message[..], &b""[..]),
        };
        let header = self.header(headers, &body_hash(body), crate::clock::now().timestamp())?;
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&message);
        Ok(out)
    }

    /// The DKIM-Signature header field (ending in CRLF) for a message whose
    /// header section is `headers` (whole header lines, without the empty
    /// line that ends them) and whose relaxed body hash is `body_hash`,
    /// signed at `time` (seconds since the epoch).
    pub fn header(&self, headers: &[u8], body_hash: &[u8; 32], time: i64) -> Result<String, Error> {
        // The signed headers, each instance once, bottom-up as §5.4.2 has
        // a verifier pick repeated ones; then the absent ones.
        let mut fields: Vec<(&[u8], &[u8])> = header_fields(headers)
            .filter(|(name, _)| {
                SIGNED_HEADERS
                    .iter()
                    .any(|h| trim_wsp(name).eq_ignore_ascii_case(h.as_bytes()))
            })
            .collect();
        fields.reverse();
        let mut names: Vec<&str> = fields
            .iter()
            .map(|(name, _)| std::str::from_utf8(trim_wsp(name)).unwrap_or("?"))
            .collect();
        for h in SIGNED_HEADERS {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(h)) {
                names.push(h);
            }
        }
        let mut text = format!(
            "DKIM-Signature: v=1; a={}; s={}; d={}; c=relaxed/relaxed;\r\n\t",
            self.algorithm(),
            self.selector,
            self.domain
        );
        let mut col = 1;
        for (i, name) in names.iter().enumerate() {
            let item = if i == 0 {
                format!("h={name}")
            } else {
                format!(":{name}")
            };
            if col + item.len() >= 76 {
                text.push_str("\r\n\t");
                col = 1;
            }
            col += item.len();
            text.push_str(&item);
        }
        text.push_str(&format!(
            ";\r\n\tt={time}; bh={};\r\n\tb=",
            BASE64.encode(body_hash)
        ));
        // §3.7: the canonical signed headers, then this header with an
        // empty b= and no CRLF at its end.
        let mut data = Vec::with_capacity(1024);
        for (name, value) in &fields {
            relaxed_header(name, value, &mut data);
        }
        let (name, value) = text.split_once(':').expect("the header has a colon");
        relaxed_header(name.as_bytes(), value.as_bytes(), &mut data);
        data.truncate(data.len() - 2);
        let signature = self.sign_data(&data)?;
        let b = BASE64.encode(signature);
        let mut col = "\tb=".len();
        for piece in b.as_bytes().chunks(72) {
            if col + piece.len() > 76 {
                text.push_str("\r\n\t");
                col = 1;
            }
            text.push_str(std::str::from_utf8(piece).expect("base64 is ASCII"));
            col += piece.len();
        }
        text.push_str("\r\n");
        Ok(text)
    }

    fn sign_data(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.key {
            Key::Rsa(key, rng) => {
                let mut sig = vec![0; key.public().modulus_len()];
                key.sign(&ring::signature::RSA_PKCS1_SHA256, rng, data, &mut sig)
                    .map_err(|e| Error::Sign(e.to_string()))?;
                Ok(sig)
            }
            Key::ShortRsa(key) => {
                use rsa::signature::{SignatureEncoding, Signer as _};
                Ok(key.sign(data).to_vec())
            }
            // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data.
            Key::Ed25519(key) => Ok(key.sign(&Sha256::digest(data)).as_ref().to_vec()),
        }
    }
}

fn rsa_key(path: &Path, der: PrivateKeyDer<'_>) -> Result<Key, Error> {
    let short = short_rsa(&der).ok_or_else(|| Error::NotRsa {
        path: path.to_owned(),
    })?;
    let bits = rsa::traits::PublicKeyParts::size(&short) * 8;
    if bits < 1024 {
        return Err(Error::TooShort {
            path: path.to_owned(),
            bits,
        });
    }
    if bits < 2048 {
        return Ok(Key::ShortRsa(Box::new(rsa::pkcs1v15::SigningKey::new(
            short,
        ))));
    }
    let key = match &der {
        PrivateKeyDer::Pkcs1(k) => ring::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(k) => ring::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der()),
        _ => {
            return Err(Error::NotRsa {
                path: path.to_owned(),
            });
        }
    }
    .map_err(|e| Error::BadKey {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(Key::Rsa(key, ring::rand::SystemRandom::new()))
}

fn ed25519_key(path: &Path, der: PrivateKeyDer<'_>) -> Result<Key, Error> {
    let PrivateKeyDer::Pkcs8(p8) = der else {
        return Err(Error::NotPkcs8 {
            path: path.to_owned(),
        });
    };
    let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(p8.secret_pkcs8_der()).map_err(|e| {
        Error::BadKey {
            path: path.to_owned(),
            detail: format!("not an Ed25519 key ({e})"),
        }
    })?;
    Ok(Key::Ed25519(key))
}

/// Parses the key with the `rsa` crate, which accepts any size, so the size
/// can be judged before choosing a signer.
fn short_rsa(der: &PrivateKeyDer<'_>) -> Option<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    match der {
        PrivateKeyDer::Pkcs1(k) => rsa::RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der()).ok(),
        PrivateKeyDer::Pkcs8(k) => rsa::RsaPrivateKey::from_pkcs8_der(k.secret_pkcs8_der()).ok(),
        _ => None,
    }
}

/// The header fields of a header section: (name, value), the value
/// including its folds but not its final CRLF.
fn header_fields(headers: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = headers;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            // A field runs until a line that does not start with WSP.
            let mut end = 0;
            let field = loop {
                match memchr::memchr(b'\n', &rest[end..]) {
                    Some(i) if matches!(rest.get(end + i + 1), Some(b' ' | b'\t')) => {
                        end += i + 1;
                    }
                    Some(i) => break &rest[..end + i + 1],
                    None => break rest,
                }
            };
            rest = &rest[field.len()..];
            let field = field.strip_suffix(b"\n").unwrap_or(field);
            let field = field.strip_suffix(b"\r").unwrap_or(field);
            if let Some(colon) = memchr::memchr(b':', field) {
                return Some((&field[..colon], &field[colon + 1..]));
            }
        }
    })
}

fn trim_wsp(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !is_wsp(*b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_wsp(*b)).map_or(start, |i| i + 1);
    &s[start..end]
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// §3.4.2: the name in lower case, the value unfolded with runs of WSP
/// made one SP and WSP at its ends removed, no WSP around the colon.
fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(trim_wsp(name).iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let mut space = false;
    let mut any = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && any {
                    out.push(b' ');
                }
                space = false;
                any = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// §3.4.4 a: in whole lines (CRLF), WSP at the end of a line is dropped and
/// other runs of WSP become one SP. `emit` gets the result in as few
/// pieces as possible: the stretches between the places where something
/// changes, found with memchr/memmem (in quoted-printable text, runs of
/// spaces and trailing WSP are rare; tabs are encoded).
pub fn relax_lines(raw: &[u8], mut emit: impl FnMut(&[u8])) {
    let double = memchr::memmem::Finder::new(b"  ");
    let trailing = memchr::memmem::Finder::new(b" \r");
    let (mut tab, mut dbl, mut trl) = (Some(0), Some(0), Some(0));
    let mut done = 0; // raw[..done] has been emitted or dropped
    let mut from = 0; // where the next search starts
    loop {
        // The next occurrence of each pattern at or after `from`.
        let next = |cached: &mut Option<usize>, find: &dyn Fn(&[u8]) -> Option<usize>| {
            if let Some(at) = *cached
                && at < from
            {
                *cached = find(&raw[from..]).map(|i| from + i);
            }
            *cached
        };
        let candidates = [
            next(&mut tab, &|s| memchr::memchr(b'\t', s)),
            next(&mut dbl, &|s| double.find(s)),
            next(&mut trl, &|s| trailing.find(s)),
        ];
        let Some(at) = candidates.into_iter().flatten().min() else {
            break;
        };
        let mut start = at;
        while start > done && is_wsp(raw[start - 1]) {
            start -= 1;
        }
        let mut end = at;
        while end < raw.len() && is_wsp(raw[end]) {
            end += 1;
        }
        let at_line_end = end == raw.len() || raw[end..].starts_with(b"\r\n");
        if at_line_end {
            emit(&raw[done..start]);
            done = end;
        } else if end - start > 1 || raw[start] == b'\t' {
            emit(&raw[done..start]);
            emit(b" ");
            done = end;
        }
        from = end.max(at + 1);
    }
    emit(&raw[done..]);
}

/// The relaxed body hash (§3.4.4, §3.7) of a whole body.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    // b: empty lines at the end are ignored, and a line of WSP is empty
    // after a: hash up to the end of the last line with anything else.
    let Some(last) = body
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    else {
        return Sha256::digest(b"").into();
    };
    // An unterminated last line loses its trailing WSP here and gets its
    // CRLF below.
    let end = memchr::memchr(b'\n', &body[last..]).map_or(last + 1, |i| last + i + 1);
    let mut sha = Sha256::new();
    relax_lines(&body[..end], |s| sha.update(s));
    if !body[..end].ends_with(b"\r\n") {
        sha.update(b"\r\n");
    }
    sha.finalize().into()
}

/// A relaxed body hash taken in pieces of whole lines, so pieces shared by
/// many messages can be canonicalised once (`relax_lines`) and a hasher
/// that has taken a shared prefix can be cloned per message.
#[derive(Clone, Default)]
pub struct BodyHasher {
    sha: Sha256,
    /// Empty lines seen but not hashed yet: dropped if the body ends here.
    held: usize,
}

impl BodyHasher {
    pub fn new() -> BodyHasher {
        BodyHasher::default()
    }

    /// Hashes `lines`, already canonical (the output of `relax_lines` over
    /// whole lines).
    pub fn canonical(&mut self, lines: &[u8]) {
        let mut crlfs = 0;
        while lines[..lines.len() - 2 * crlfs].ends_with(b"\r\n") {
            crlfs += 1;
        }
        if 2 * crlfs == lines.len() {
            self.held += crlfs;
            return;
        }
        for _ in 0..self.held {
            self.sha.update(b"\r\n");
        }
        // The first of the CRLFs ends the last line with something in it.
        self.held = crlfs.saturating_sub(1);
        self.sha.update(&lines[..lines.len() - 2 * self.held]);
    }

    /// Canonicalises `lines` (whole lines) into `scratch` and hashes them.
    pub fn lines(&mut self, lines: &[u8], scratch: &mut Vec<u8>) {
        scratch.clear();
        relax_lines(lines, |s| scratch.extend_from_slice(s));
        self.canonical(scratch);
    }

    pub fn finish(self) -> [u8; 32] {
        self.sha.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// §3.4.4 as dkimpy writes it: regular expressions over the whole body.
    fn reference(body: &[u8]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let (line, next) = match memchr::memmem::find(rest, b"\r\n") {
                Some(i) => (&rest[..i], &rest[i + 2..]),
                None => (rest, &b""[..]),
            };
            let mut out = Vec::new();
            let mut space = false;
            for &b in line {
                if is_wsp(b) {
                    space = true;
                } else {
                    if space {
                        out.push(b' ');
                    }
                    space = false;
                    out.push(b);
                }
            }
            lines.push(out);
            rest = next;
        }
        while lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        lines
            .iter()
            .flat_map(|l| [&l[..], b"\r\n"].concat())
            .collect()
    }

    #[test]
    fn canonical_bodies() {
        for (body, canonical) in [
            (&b" C \r\nD \t E\r\n"[..], &b" C\r\nD E\r\n"[..]),
            (b" body \t   \r\n\r\n\r\n", b" body\r\n"),
            (b"", b""),
            (b"\r\n\r\n", b""),
            (b"a\r\n  \r\n\t\r\n", b"a\r\n"),
            (b"a\r\n\r\nb", b"a\r\n\r\nb\r\n"),
            (b"=3D  x=\r\n", b"=3D x=\r\n"),
        ] {
            assert_eq!(body_hash(body), <[u8; 32]>::from(Sha256::digest(canonical)));
            assert_eq!(reference(body), canonical);
        }
    }

    #[test]
    fn relaxed_headers() {
        let mut out = Vec::new();
        relaxed_header(b"SUB JECT ", b"\ttest  \t  ", &mut out);
        relaxed_header(b"To", b" \"Ada\"\r\n  <ada@example.com> ", &mut out);
        assert_eq!(out, b"sub ject:test\r\nto:\"Ada\" <ada@example.com>\r\n");
        let fields: Vec<_> = header_fields(b"A: 1\r\nB: 2\r\n 3\r\nC:\r\n").collect();
        assert_eq!(
            fields,
            [(&b"A"[..], &b" 1"[..]), (b"B", b" 2\r\n 3"), (b"C", b"")]
        );
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        const PIECES: &[&[u8]] = &[b"a", b"=3D", b" ", b"  ", b"\t", b"\r\n", b"\r\n\r\n"];
        proptest::collection::vec(proptest::sample::select(PIECES), 0..60)
            .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn whole_bodies_hash_as_the_reference(b in body()) {
            prop_assert_eq!(body_hash(&b), <[u8; 32]>::from(Sha256::digest(reference(&b))));
        }

        /// Any split into pieces of whole lines, canonicalised piece by
        /// piece, hashes as the whole body.
        #[test]
        fn pieces_of_lines_hash_as_the_whole(b in body(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
            let b = if b.is_empty() || b.ends_with(b"\r\n") { b } else { [&b[..], b"\r\n"].concat() };
            let ends: Vec<usize> = memchr::memmem::find_iter(&b, b"\r\n").map(|i| i + 2).collect();
            let mut at: Vec<usize> = cuts.iter().filter(|_| !ends.is_empty()).map(|i| ends[i.index(ends.len())]).collect();
            at.push(b.len());
            at.sort_unstable();
            at.dedup();
            let mut h = BodyHasher::new();
            let mut scratch = Vec::new();
            let mut from = 0;
            for to in at {
                if to > from {
                    h.lines(&b[from..to], &mut scratch);
                }
                from = to;
            }
            prop_assert_eq!(h.finish(), body_hash(&b));
        }
    }
}
