//! VERP return paths: with a bounce address configured, each message's
//! envelope sender is `bounces+<token>@domain`, the token naming its reader
//! and its issue. Whatever a reporting server quotes or leaves out, the
//! bounce comes back *to* that address, so it is attributed from the
//! envelope alone. The From header is untouched (and DKIM with it).

use sha2::{Digest, Sha256};

use super::token::TokenKey;
use crate::domain::Email;

/// The bounce address, split once.
#[derive(Debug, Clone)]
pub struct ReturnPath {
    local: String,
    domain: String,
}

/// What a VERP address found in a message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verp {
    /// A genuine token: this subscriber, this issue's tag.
    Genuine { id: i64, issue_tag: u32 },
    /// Our bounce address with a token that does not verify.
    Forged,
}

/// 32 bits of an issue id, enough to tell a reader's issues apart.
pub fn issue_tag(issue: &str) -> u32 {
    let d = Sha256::digest(issue.as_bytes());
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

impl ReturnPath {
    pub fn new(address: &Email) -> ReturnPath {
        let (local, domain) = address
            .as_str()
            .rsplit_once('@')
            .expect("a validated address has an @");
        ReturnPath {
            local: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    /// The bare bounce address, for mail that is about nobody's issue.
    pub fn plain(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// The envelope sender of `issue` to subscriber `id`.
    pub fn for_reader(&self, key: &TokenKey, id: i64, issue: &str) -> String {
        format!(
            "{}+{}@{}",
            self.local,
            key.verp(id, issue_tag(issue)),
            self.domain
        )
    }

    /// The first VERP address of ours in `text` (a header, a whole
    /// message), compared without regard to case.
    pub fn find(&self, key: &TokenKey, text: &str) -> Option<Verp> {
        let lower = text.to_ascii_lowercase();
        let prefix = format!("{}+", self.local.to_ascii_lowercase());
        let suffix = format!("@{}", self.domain.to_ascii_lowercase());
        let mut forged = false;
        for (i, _) in lower.match_indices(&prefix) {
            // A longer local part that merely ends like ours is not ours.
            let before = lower[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || ".+-_".contains(c)) {
                continue;
            }
            let rest = &lower[i + prefix.len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            if !rest[end..].starts_with(&suffix) {
                continue;
            }
            match key.open_verp(&rest[..end]) {
                Some((id, issue_tag)) => return Some(Verp::Genuine { id, issue_tag }),
                None => forged = true,
            }
        }
        forged.then_some(Verp::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_in_any_case_and_only_when_genuine() {
        let k = TokenKey::new("k");
        let rp = ReturnPath::new(&"Bounces@Almanac.example".parse().unwrap());
        let a = rp.for_reader(&k, 7, "2026-11-29-sunday");
        assert!(
            a.starts_with("Bounces+") && a.ends_with("@almanac.example"),
            "{a}"
        );
        let tag = issue_tag("2026-11-29-sunday");
        let want = Some(Verp::Genuine {
            id: 7,
            issue_tag: tag,
        });
        assert_eq!(rp.find(&k, &format!("To: <{a}>")), want);
        assert_eq!(
            rp.find(&k, &format!("Delivered-To: {}", a.to_uppercase())),
            want
        );
        assert_eq!(rp.find(&k, "To: bounces@almanac.example"), None);
        assert_eq!(rp.find(&k, &format!("x-{a}")), None, "another local part");
        let forged = a.replace(&a[8..12], "aaaa");
        assert_eq!(rp.find(&k, &forged), Some(Verp::Forged));
        assert_eq!(rp.find(&TokenKey::new("other"), &a), Some(Verp::Forged));
    }
}
