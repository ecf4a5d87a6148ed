//! An SMTP reply as data: the basic code lettre hands over typed, and the
//! enhanced status code (RFC 3463) that servers put first in the text. Every
//! decision about a refusal (retry, fail, suppress, stop the run) is made on
//! these numbers, never on the wording.

use std::fmt;

use lettre::transport::smtp::response::Response;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, e.g. 550.
    pub code: u16,
    pub enhanced: Option<Enhanced>,
    /// The text after the code, lines joined with spaces.
    pub text: String,
}

/// `class.subject.detail`, e.g. 5.1.1 (bad destination mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Enhanced {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl fmt::Display for Enhanced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Enhanced {
    /// Parses `5.1.1`; `None` for anything else.
    pub fn parse(word: &str) -> Option<Enhanced> {
        let mut parts = word.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        (parts.next().is_none() && matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000)
            .then_some(Enhanced {
                class,
                subject,
                detail,
            })
    }
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        let text = text.into();
        let enhanced = text.split_whitespace().next().and_then(Enhanced::parse);
        Reply {
            code,
            enhanced,
            text,
        }
    }

    pub fn from_response(r: &Response) -> Reply {
        Reply::new(r.code().into(), r.message().collect::<Vec<_>>().join(" "))
    }

    /// The server's reply inside a lettre error, when the error is one (a
    /// 4xx or 5xx); `None` for network, TLS and client errors.
    pub fn from_error(e: &lettre::transport::smtp::Error) -> Option<Reply> {
        let code = e.status()?;
        let text = std::error::Error::source(e)
            .map(ToString::to_string)
            .unwrap_or_default();
        Some(Reply::new(code.into(), text))
    }

    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// A permanent refusal of the sender or the session rather than of one
    /// mailbox: security or policy (x.7.x, which covers authentication and
    /// reputation blocks). Every other recipient will get the same answer.
    pub fn is_policy(&self) -> bool {
        self.enhanced.is_some_and(|e| e.subject == 7)
    }

    /// Is this permanent refusal of a recipient (at RCPT) a hard bounce,
    /// worth suppressing? Yes, unless the enhanced status code says it is
    /// about the sender or the session rather than the mailbox: policy
    /// (5.7.x), network (5.4.x) and protocol (5.5.x) refusals only fail the
    /// message. Without an enhanced code, 550, 551 and 553 are the classic
    /// "no such user" replies.
    pub fn is_hard_bounce(&self) -> bool {
        if !self.is_permanent() {
            return false;
        }
        match self.enhanced {
            Some(e) => !matches!(e.subject, 4 | 5 | 7),
            None => matches!(self.code, 550 | 551 | 553),
        }
    }

    /// What groups failures in a summary: the code and enhanced code, not
    /// the text (which often quotes the address).
    pub fn kind(&self) -> String {
        match self.enhanced {
            Some(e) => format!("{} {e}", self.code),
            None => self.code.to_string(),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} {}", self.code, self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_bounces() {
        let r = |code, text: &str| Reply::new(code, text);
        assert!(r(550, "5.1.1 <x@y>: Recipient address rejected: User unknown").is_hard_bounce());
        assert!(r(550, "no such user").is_hard_bounce());
        assert!(!r(550, "5.7.1 Message rejected as spam").is_hard_bounce());
        assert!(!r(554, "transaction failed").is_hard_bounce());
        assert!(r(500, "5.3.0 Error: command failed").is_hard_bounce());
        assert!(!r(550, "5.5.2 Syntax error").is_hard_bounce());
        assert!(!r(450, "4.1.1 try later").is_hard_bounce());
    }

    #[test]
    fn enhanced_codes() {
        let r = Reply::new(535, "5.7.8 Authentication credentials invalid");
        assert_eq!(r.enhanced.map(|e| e.to_string()).as_deref(), Some("5.7.8"));
        assert!(r.is_policy() && r.is_permanent());
        assert_eq!(r.kind(), "535 5.7.8");
        assert_eq!(
            Reply::new(250, "2.0.0 Ok: queued").enhanced.unwrap().class,
            2
        );
        assert!(Reply::new(550, "5.1 nope").enhanced.is_none());
        assert!(Reply::new(550, "1.2.3 nope").enhanced.is_none());
        assert_eq!(Reply::new(550, "").to_string(), "550");
    }
}
