//! Fetching one feed politely: a User-Agent that says who is asking and
//! where to find them, conditional requests (ETag, Last-Modified) so a
//! feed that has not changed costs one small 304, a few redirects, a
//! deadline for the whole exchange and a cap on the body. Certificates are
//! verified against the webpki roots (rustls, no OpenSSL); plain http is
//! allowed because many feeds are still served that way.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

/// Redirects followed before giving up (a loop, or a chain no feed needs).
pub const MAX_REDIRECTS: usize = 5;

/// What a feed's server said last time, sent back so it can answer 304.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The outcome of a fetch that worked.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing new since the validators were given.
    NotModified,
    Body {
        bytes: Vec<u8>,
        content_type: Option<String>,
        /// Where the feed was finally found (after redirects): the base
        /// for its relative links.
        url: url::Url,
        validators: Validators,
    },
}

/// Why a feed could not be fetched, in words for the editor.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no complete answer within {0} s (the server is slow or not answering)")]
    Timeout(u64),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("more than {MAX_REDIRECTS} redirects (a redirect loop?)")]
    Redirects,
    #[error("the server answered {0}")]
    Status(String),
    #[error("the feed is larger than {} MB; almanac reads at most that much", .0 / (1024 * 1024))]
    TooLarge(usize),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// A hint for the editor, by kind.
    pub fn hint(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => {
                "try again later; raise [news] timeout_seconds if the server is just slow"
            }
            FetchError::Connect(_) => {
                "check the feed's address; a certificate error means the https server's certificate is not trusted"
            }
            FetchError::Redirects => "open the URL in a browser and use the address it ends at",
            FetchError::Status(_) => {
                "check the feed's `url` in newsletter.toml (a 404 often means the feed moved)"
            }
            FetchError::TooLarge(_) => {
                "this is no ordinary feed; look for a smaller one (a category or a summary feed)"
            }
            FetchError::Other(_) => "check the feed's `url` in newsletter.toml",
        }
    }
}

/// One HTTP client for every feed of a pull (connections are reused).
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
}

/// Formats feeds come in, most specific first; anything else is tried too.
const ACCEPTED: &str = "application/rss+xml, application/atom+xml, application/rdf+xml, \
    application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

impl Fetcher {
    /// `user_agent` is sent with every request; `timeout` bounds each
    /// fetch from connecting to the last byte.
    pub fn new(
        user_agent: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                FetchError::Other(format!("cannot set up the HTTP client: {}", chain(&e)))
            })?;
        Ok(Fetcher {
            client,
            timeout,
            max_bytes,
        })
    }

    /// Fetches `url`, asking only for what changed since `known`.
    pub async fn fetch(&self, url: &url::Url, known: &Validators) -> Result<Fetched, FetchError> {
        // reqwest's own timeout covers the body too; this one also bounds
        // anything it might not (a stalled DNS lookup).
        let deadline = self.timeout + Duration::from_secs(1);
        match tokio::time::timeout(deadline, self.exchange(url, known)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(self.timeout.as_secs())),
        }
    }

    async fn exchange(&self, url: &url::Url, known: &Validators) -> Result<Fetched, FetchError> {
        let mut req = self.client.get(url.clone()).header(ACCEPT, ACCEPTED);
        if let Some(etag) = &known.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &known.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status_text(status)));
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let content_type = header(CONTENT_TYPE);
        let declared: Option<usize> = header(CONTENT_LENGTH).and_then(|l| l.parse().ok());
        if declared.is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let final_url = resp.url().clone();
        let mut bytes = Vec::with_capacity(declared.unwrap_or(64 * 1024).min(self.max_bytes));
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if bytes.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            content_type,
            url: final_url,
            validators,
        })
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout.as_secs())
        } else if e.is_redirect() {
            FetchError::Redirects
        } else if e.is_connect() {
            FetchError::Connect(chain(&e))
        } else {
            FetchError::Other(chain(&e))
        }
    }
}

/// "500 Internal Server Error".
fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

/// An error and its causes on one line, without the repeats reqwest and
/// hyper put in (each layer often quotes the one below).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_like_the_server_said_them() {
        assert_eq!(
            status_text(StatusCode::INTERNAL_SERVER_ERROR),
            "500 Internal Server Error"
        );
        assert_eq!(status_text(StatusCode::from_u16(599).unwrap()), "599");
    }
}
