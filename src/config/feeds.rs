//! `[[feeds]]` and `[news]`: the news desk's sources and settings, checked
//! when the config loads so a bad feed is reported at its line and column
//! before anything is fetched.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Validator, parse_duration, raw};
use crate::domain::{EditionId, Line};

/// Longest feed name: it becomes each item's one-line `source`.
const MAX_NAME: usize = 80;

/// A source of candidate stories.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Shown as the item's source; also the feed's key in the state database.
    pub name: Line,
    pub url: url::Url,
    pub topic: Option<Line>,
    /// Lower-cased; an entry must mention one of them (when there are any).
    pub include: Vec<String>,
    /// Lower-cased; an entry that mentions any of them is dropped.
    pub exclude: Vec<String>,
}

impl Feed {
    /// Whether an entry with this title and summary passes the keywords.
    pub fn wants(&self, title: &str, summary: &str) -> bool {
        let text = format!("{title}\n{summary}").to_lowercase();
        let included = self.include.is_empty() || self.include.iter().any(|k| text.contains(k));
        included && !self.exclude.iter().any(|k| text.contains(k))
    }
}

/// How feeds are fetched and items judged.
#[derive(Debug, Clone)]
pub struct NewsDesk {
    /// For one feed, from connecting to its last byte.
    pub timeout: Duration,
    /// `check` warns about items published longer than this before the issue.
    pub max_age: Duration,
    /// Editions that recap the week (and where each is named in the file):
    /// repeating the links of the week's other issues is what they are for.
    pub roundup: Vec<(EditionId, Range<usize>)>,
}

impl NewsDesk {
    pub fn is_roundup(&self, edition: &str) -> bool {
        self.roundup.iter().any(|(e, _)| e.as_str() == edition)
    }
}

impl Default for NewsDesk {
    fn default() -> Self {
        NewsDesk {
            timeout: Duration::from_secs(20),
            max_age: Duration::from_secs(60 * 86400),
            roundup: Vec::new(),
        }
    }
}

const FEED_HINT: &str = "each [[feeds]] has a `name` and a `url` (https:// or http://), and optionally `topic`, `include` and `exclude`";

impl Validator<'_> {
    pub(super) fn feeds(&mut self, feeds: Vec<raw::RawFeed>) -> Vec<Feed> {
        let mut out: Vec<Feed> = Vec::new();
        // Every valid name so far, even of a feed dropped for a bad `url`:
        // a duplicate is worth reporting in the same run.
        let mut names: Vec<String> = Vec::new();
        for f in feeds {
            let name = self.feed_name(&f.name, &names);
            if let Some(n) = &name {
                names.push(n.as_str().to_lowercase());
            }
            let url = self.feed_url(&f.url);
            let topic = f.topic.as_ref().and_then(|t| {
                Line::new(t.get_ref(), "the topic", MAX_NAME)
                    .map_err(|e| self.err::<()>(t.span(), e, FEED_HINT))
                    .ok()
            });
            let include = self.keywords(&f.include, "include");
            let exclude = self.keywords(&f.exclude, "exclude");
            if let (Some(name), Some(url)) = (name, url) {
                out.push(Feed {
                    name,
                    url,
                    topic,
                    include,
                    exclude,
                });
            }
        }
        out
    }

    fn feed_name(&mut self, name: &Spanned<String>, earlier: &[String]) -> Option<Line> {
        let line = match Line::new(name.get_ref(), "the feed's name", MAX_NAME) {
            Ok(l) => l,
            Err(e) => return self.err(name.span(), e, FEED_HINT),
        };
        let key = line.as_str().to_lowercase();
        if earlier.contains(&key) {
            return self.err(
                name.span(),
                format!("a feed named `{line}` is already listed"),
                "give each feed its own name: it is shown as the item's source and keys the feed's state",
            );
        }
        Some(line)
    }

    fn feed_url(&mut self, url: &Spanned<String>) -> Option<url::Url> {
        let text = url.get_ref().trim();
        let hint = "the feed's own address, e.g. `https://rss.arxiv.org/rss/cs.CL` or `https://example.org/feed.xml`";
        let parsed = match url::Url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                return self.err(url.span(), format!("`{text}` is not a URL ({e})"), hint);
            }
        };
        if !matches!(parsed.scheme(), "https" | "http") {
            return self.err(
                url.span(),
                format!(
                    "`{text}` uses the `{}:` scheme; feeds are fetched over https:// or http://",
                    parsed.scheme()
                ),
                hint,
            );
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return self.err(url.span(), format!("`{text}` has no host"), hint);
        }
        if parsed.password().is_some() {
            return self.err(
                url.span(),
                "the feed URL contains a password".into(),
                "newsletter.toml is no place for secrets; use a feed address that needs no login",
            );
        }
        Some(parsed)
    }

    fn keywords(&mut self, words: &[Spanned<String>], key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for w in words {
            let word = w.get_ref().trim().to_lowercase();
            if word.is_empty() {
                self.err::<()>(
                    w.span(),
                    format!("an empty keyword in `{key}` would match every entry"),
                    "remove it, or write the word to match",
                );
            } else {
                out.push(word);
            }
        }
        out
    }

    pub(super) fn news_desk(&mut self, n: raw::RawNews) -> NewsDesk {
        let secs = *n.timeout_seconds.get_ref();
        if !(1..=300).contains(&secs) {
            self.err::<()>(
                n.timeout_seconds.span(),
                format!("timeout_seconds must be from 1 to 300, got {secs}"),
                "20 lets a slow server answer and keeps a dead one from holding up the pull",
            );
        }
        let max_age = parse_duration(n.max_age.get_ref())
            .filter(|d| d.as_secs() >= 86400)
            .or_else(|| {
                self.err(
                    n.max_age.span(),
                    format!(
                        "`{}` is not a duration of a day or more",
                        n.max_age.get_ref()
                    ),
                    "write a number of days, e.g. `60d`",
                )
            })
            .unwrap_or(NewsDesk::default().max_age);
        NewsDesk {
            timeout: Duration::from_secs(secs.clamp(1, 300) as u64),
            max_age,
            roundup: n
                .roundup
                .into_iter()
                .map(|e| {
                    let span = e.span();
                    (e.into_inner(), span)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(include: &[&str], exclude: &[&str]) -> Feed {
        Feed {
            name: Line::new("f", "n", 10).unwrap(),
            url: "https://example.org/feed".parse().unwrap(),
            topic: None,
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn keywords_filter_entries() {
        assert!(feed(&[], &[]).wants("Anything", ""));
        let f = feed(&["interpretab", "sparse autoencoder"], &["survey"]);
        assert!(f.wants("Reading circuits", "An INTERPRETABILITY study"));
        assert!(f.wants("Sparse Autoencoders at scale", ""));
        assert!(!f.wants("A survey of interpretability", ""));
        assert!(!f.wants("Faster matrix multiplication", "kernels"));
    }
}
