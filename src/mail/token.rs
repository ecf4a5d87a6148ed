//! Tokens in links: they name a subscriber by an opaque id, never by the
//! address, carry their purpose (leave this edition, manage, confirm a
//! sign-up) so one can't be replayed as another, and are unforgeable: an
//! HMAC-SHA256 under the operator's secret covers every byte.
//!
//! `v2.<payload>.<mac>`, both parts base64url; the payload is a purpose
//! tag, the subscriber id and what the purpose needs (an edition name, an
//! expiry). Tokens of the first release, `<base64 address>.<mac>`, are in
//! emails already sent, and still verify (as "leave everything").

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use data_encoding::BASE32_DNSSEC;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{EditionId, Email};

/// Bytes of MAC kept in a token: 128 bits is far beyond guessing.
const MAC_BYTES: usize = 16;
/// Bytes of MAC in a VERP token, which must fit in a local part.
const VERP_MAC_BYTES: usize = 10;

#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

/// What a token lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Leave one edition (the `List-Unsubscribe` of that edition's mail).
    Unsubscribe(EditionId),
    /// Open the manage page: choose editions, or leave everything.
    Manage,
    /// Confirm a sign-up, until this Unix time.
    Confirm { expires: i64 },
}

impl Purpose {
    fn tag(&self) -> u8 {
        match self {
            Purpose::Unsubscribe(_) => 1,
            Purpose::Manage => 2,
            Purpose::Confirm { .. } => 3,
        }
    }
}

/// What a genuine token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A current token: this purpose, for this subscriber.
    Subscriber { id: i64, purpose: Purpose },
    /// A first-release unsubscribe token, which names the address.
    Legacy(Email),
}

impl TokenKey {
    pub fn new(secret: &str) -> Self {
        TokenKey(secret.as_bytes().to_vec())
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> Hmac<Sha256> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any size");
        m.update(domain);
        m.update(data);
        m
    }

    /// A token for `purpose`, naming subscriber `id`.
    pub fn make(&self, id: i64, purpose: &Purpose) -> String {
        let mut payload = vec![purpose.tag()];
        payload.extend_from_slice(&id.to_be_bytes());
        match purpose {
            Purpose::Unsubscribe(ed) => payload.extend_from_slice(ed.as_str().as_bytes()),
            Purpose::Manage => {}
            Purpose::Confirm { expires } => payload.extend_from_slice(&expires.to_be_bytes()),
        }
        let tag = self
            .mac(b"almanac-token-v2\0", &payload)
            .finalize()
            .into_bytes();
        format!(
            "v2.{}.{}",
            B64.encode(&payload),
            B64.encode(&tag[..MAC_BYTES])
        )
    }

    /// What a token says, if it is genuine.
    pub fn open(&self, token: &str) -> Option<Opened> {
        let token = token.trim();
        match token.strip_prefix("v2.") {
            Some(rest) => self.open_v2(rest),
            None => self.verify_legacy(token).map(Opened::Legacy),
        }
    }

    fn open_v2(&self, rest: &str) -> Option<Opened> {
        let (payload, tag) = rest.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        let tag = B64.decode(tag).ok()?;
        if tag.len() != MAC_BYTES {
            return None;
        }
        self.mac(b"almanac-token-v2\0", &payload)
            .verify_truncated_left(&tag)
            .ok()?;
        let (&kind, rest) = payload.split_first()?;
        let id = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        let extra = &rest[8..];
        let purpose = match kind {
            1 => Purpose::Unsubscribe(std::str::from_utf8(extra).ok()?.parse().ok()?),
            2 if extra.is_empty() => Purpose::Manage,
            3 => Purpose::Confirm {
                expires: i64::from_be_bytes(extra.try_into().ok()?),
            },
            _ => return None,
        };
        Some(Opened::Subscriber { id, purpose })
    }

    /// The first release's token: the address and an HMAC of it.
    fn verify_legacy(&self, token: &str) -> Option<Email> {
        let (addr, tag) = token.split_once('.')?;
        let addr = String::from_utf8(B64.decode(addr).ok()?).ok()?;
        let tag = B64.decode(tag).ok()?;
        if tag.len() != MAC_BYTES {
            return None;
        }
        let email: Email = addr.parse().ok()?;
        if email.key() != addr {
            return None;
        }
        self.mac(b"almanac-unsubscribe\0", addr.as_bytes())
            .verify_truncated_left(&tag)
            .ok()?;
        Some(email)
    }

    /// A first-release token, as emails sent before tokens named ids carry
    /// (kept so the tests can prove those links still work).
    pub fn legacy_token(&self, email: &Email) -> String {
        let key = email.key();
        let tag = self
            .mac(b"almanac-unsubscribe\0", key.as_bytes())
            .finalize()
            .into_bytes();
        format!(
            "{}.{}",
            B64.encode(key.as_bytes()),
            B64.encode(&tag[..MAC_BYTES])
        )
    }

    /// The token of a VERP return path: subscriber `id` and a 32-bit tag of
    /// the issue, in lowercase base32 (an MTA may fold the case of a local
    /// part) and short enough for one (64 octets with the prefix). Its MAC
    /// is 80 bits: a forger gets one try per mail they send us.
    pub fn verp(&self, id: i64, issue_tag: u32) -> String {
        let bytes = id.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
        let mut payload = bytes[skip..].to_vec();
        payload.extend_from_slice(&issue_tag.to_be_bytes());
        let tag = self
            .mac(b"almanac-verp\0", &payload)
            .finalize()
            .into_bytes();
        payload.extend_from_slice(&tag[..VERP_MAC_BYTES]);
        BASE32_DNSSEC.encode(&payload)
    }

    /// The subscriber id and issue tag of a genuine VERP token.
    pub fn open_verp(&self, token: &str) -> Option<(i64, u32)> {
        let raw = BASE32_DNSSEC
            .decode(token.to_ascii_lowercase().as_bytes())
            .ok()?;
        let id_len = raw.len().checked_sub(4 + VERP_MAC_BYTES)?;
        if !(1..=8).contains(&id_len) {
            return None;
        }
        let (payload, tag) = raw.split_at(id_len + 4);
        self.mac(b"almanac-verp\0", payload)
            .verify_truncated_left(tag)
            .ok()?;
        let mut id = [0u8; 8];
        id[8 - id_len..].copy_from_slice(&payload[..id_len]);
        let issue = u32::from_be_bytes(payload[id_len..].try_into().ok()?);
        Some((i64::from_be_bytes(id), issue))
    }

    /// A keyed hash of an address: what `forget` keeps, so a later import
    /// can recognise the address without storing it.
    pub fn hash(&self, email: &Email) -> String {
        let digest = self
            .mac(b"almanac-forgotten\0", email.key().as_bytes())
            .finalize()
            .into_bytes();
        B64.encode(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verp_tokens_round_trip_fit_a_local_part_and_resist_forgery() {
        let k = TokenKey::new("s3cret");
        for (id, tag) in [
            (1, 0),
            (42, 0xdead_beef),
            (1_000_000, 7),
            (i64::MAX, u32::MAX),
        ] {
            let t = k.verp(id, tag);
            assert!(t.len() + "bounces+".len() <= 64, "{t}");
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{t}"
            );
            assert_eq!(k.open_verp(&t), Some((id, tag)));
            assert_eq!(k.open_verp(&t.to_ascii_uppercase()), Some((id, tag)));
            assert_eq!(TokenKey::new("other").open_verp(&t), None);
            assert_eq!(k.open_verp(&t[..t.len() - 1]), None);
        }
        // Another reader's id under this MAC does not verify.
        let a = k.verp(1, 5);
        let b = k.verp(2, 5);
        assert_eq!(k.open_verp(&format!("{}{}", &b[..2], &a[2..])), None);
        assert_eq!(k.open_verp(""), None);
        assert_eq!(k.open_verp("not-base32!"), None);
    }

    #[test]
    fn purposes_round_trip_and_do_not_cross() {
        let k = TokenKey::new("s3cret");
        let midweek: EditionId = "midweek".parse().unwrap();
        let cases = [
            Purpose::Unsubscribe(midweek.clone()),
            Purpose::Manage,
            Purpose::Confirm {
                expires: 1_800_000_000,
            },
        ];
        for p in &cases {
            let t = k.make(42, p);
            assert_eq!(
                k.open(&t),
                Some(Opened::Subscriber {
                    id: 42,
                    purpose: p.clone()
                })
            );
            assert!(TokenKey::new("other").open(&t).is_none());
            assert!(k.open(&t[..t.len() - 2]).is_none());
        }
        // Another subscriber's payload under this MAC does not verify.
        let a = k.make(1, &Purpose::Manage);
        let b = k.make(2, &Purpose::Manage);
        let swapped = format!(
            "v2.{}.{}",
            b.split('.').nth(1).unwrap(),
            a.split('.').nth(2).unwrap()
        );
        assert!(k.open(&swapped).is_none());
        assert!(k.open("garbage").is_none() && k.open("").is_none() && k.open("v2..").is_none());
    }

    #[test]
    fn tokens_do_not_show_the_address() {
        let k = TokenKey::new("s3cret");
        let t = k.make(7, &Purpose::Unsubscribe("sunday".parse().unwrap()));
        assert!(!t.contains("ada") && !t.contains(&B64.encode("ada@example.com")));
    }

    #[test]
    fn first_release_tokens_still_verify() {
        let k = TokenKey::new("s3cret");
        let ada: Email = "Ada@Example.com".parse().unwrap();
        let t = k.legacy_token(&ada);
        assert_eq!(
            k.open(&t),
            Some(Opened::Legacy("ada@example.com".parse().unwrap()))
        );
        let bob: Email = "bob@example.com".parse().unwrap();
        let forged = format!(
            "{}.{}",
            k.legacy_token(&bob).split('.').next().unwrap(),
            t.split('.').nth(1).unwrap()
        );
        assert!(k.open(&forged).is_none());
    }
}
