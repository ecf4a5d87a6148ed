//! DKIM signing (RFC 6376; ed25519-sha256 per RFC 8463) with mail-auth over
//! ring. Per recipient, since To and the body's personal fields differ. The
//! signed headers include List-Unsubscribe and List-Unsubscribe-Post, as
//! RFC 8058 requires for one-click unsubscribe.

use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{Algorithm, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{Dkim, DkimAlgorithm};

/// Headers covered by the signature (each present once in our messages).
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

pub enum Signer {
    /// 2048 bits and up: ring, the fast path.
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    /// 1024 to 2047 bits, which ring refuses: the pure-Rust `rsa` crate.
    ShortRsa(DkimSigner<ShortRsaKey, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// An RSA key under 2048 bits. RFC 8301 still allows 1024, and operators
/// with an old DNS record need it; signing is slower than ring.
pub struct ShortRsaKey(rsa::pkcs1v15::SigningKey<sha2::Sha256>);

impl SigningKey for ShortRsaKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        use rsa::signature::{SignatureEncoding, Signer as _};
        let mut data = Vec::with_capacity(512);
        input.write(&mut data);
        Ok(self.0.sign(&data).to_vec())
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha256
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signer::Rsa(_) | Signer::ShortRsa(_) => "Signer(rsa-sha256)",
            Signer::Ed25519(_) => "Signer(ed25519-sha256)",
        })
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
        match cfg.algorithm {
            DkimAlgorithm::RsaSha256 => Self::rsa(cfg, path, der),
            DkimAlgorithm::Ed25519Sha256 => Self::ed25519(cfg, path, der),
        }
    }

    fn rsa(cfg: &Dkim, path: &Path, der: PrivateKeyDer<'_>) -> Result<Signer, Error> {
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
            return Ok(Signer::ShortRsa(configure(
                ShortRsaKey(rsa::pkcs1v15::SigningKey::new(short)),
                cfg,
            )));
        }
        let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| Error::BadKey {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Signer::Rsa(configure(key, cfg)))
    }

    fn ed25519(cfg: &Dkim, path: &Path, der: PrivateKeyDer<'_>) -> Result<Signer, Error> {
        let PrivateKeyDer::Pkcs8(p8) = der else {
            return Err(Error::NotPkcs8 {
                path: path.to_owned(),
            });
        };
        let key =
            Ed25519Key::from_pkcs8_maybe_unchecked_der(p8.secret_pkcs8_der()).map_err(|e| {
                Error::BadKey {
                    path: path.to_owned(),
                    detail: format!("not an Ed25519 key ({e})"),
                }
            })?;
        Ok(Signer::Ed25519(configure(key, cfg)))
    }

    /// Signs `message` and returns it with the DKIM-Signature header first.
    pub fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, Error> {
        let sig = match self {
            Signer::Rsa(s) => s.sign(&message),
            Signer::ShortRsa(s) => s.sign(&message),
            Signer::Ed25519(s) => s.sign(&message),
        }
        .map_err(|e| Error::Sign(e.to_string()))?;
        let header = sig.to_header();
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&message);
        Ok(out)
    }
}

fn configure<K: SigningKey>(key: K, cfg: &Dkim) -> DkimSigner<K, Done> {
    DkimSigner::from_key(key)
        .domain(cfg.domain.clone())
        .selector(cfg.selector.clone())
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
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
