//! Unsubscribe tokens: the address plus an HMAC-SHA256 of it under the
//! operator's secret, so a token names exactly one address and nobody can
//! forge one for somebody else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Email;

/// Bytes of MAC kept in a token: 128 bits is far beyond guessing.
const MAC_BYTES: usize = 16;

#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

impl TokenKey {
    pub fn new(secret: &str) -> Self {
        TokenKey(secret.as_bytes().to_vec())
    }

    fn mac(&self, key: &str) -> Hmac<Sha256> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any size");
        m.update(b"almanac-unsubscribe\0");
        m.update(key.as_bytes());
        m
    }

    pub fn token(&self, email: &Email) -> String {
        let key = email.key();
        let tag = self.mac(&key).finalize().into_bytes();
        format!(
            "{}.{}",
            B64.encode(key.as_bytes()),
            B64.encode(&tag[..MAC_BYTES])
        )
    }

    /// The address a token was made for, if the token is genuine.
    pub fn verify(&self, token: &str) -> Option<Email> {
        let (addr, tag) = token.trim().split_once('.')?;
        let addr = String::from_utf8(B64.decode(addr).ok()?).ok()?;
        let tag = B64.decode(tag).ok()?;
        if tag.len() != MAC_BYTES {
            return None;
        }
        let email: Email = addr.parse().ok()?;
        if email.key() != addr {
            return None;
        }
        self.mac(&addr).verify_truncated_left(&tag).ok()?;
        Some(email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let k = TokenKey::new("s3cret");
        let ada: Email = "Ada@Example.com".parse().unwrap();
        let t = k.token(&ada);
        assert_eq!(k.verify(&t).unwrap().key(), "ada@example.com");
        // Another key, a truncated token, another address with this MAC.
        assert!(TokenKey::new("other").verify(&t).is_none());
        assert!(k.verify(&t[..t.len() - 2]).is_none());
        let bob: Email = "bob@example.com".parse().unwrap();
        let forged = format!(
            "{}.{}",
            k.token(&bob).split('.').next().unwrap(),
            t.split('.').nth(1).unwrap()
        );
        assert!(k.verify(&forged).is_none());
        assert!(k.verify("garbage").is_none() && k.verify("").is_none());
    }
}
