//! What makes two news links the same story, and which links each issue
//! already carries. The news desk dedupes candidates with `key`, `check`
//! compares an issue's links with earlier issues', and `news list` hides
//! what an issue already uses: all three must agree on "the same link".

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::Date;
use crate::diag::{Problem, read_text};
use crate::domain::IssueId;

/// Query parameters that only say where a click came from: the same page
/// with or without them is the same story.
const TRACKING: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "cmpid",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
];

fn tracking(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_") || TRACKING.contains(&n.as_str())
}

/// The link without tracking parameters or a fragment: what the news desk
/// stores and writes into an issue. `None` for anything but http(s) with a host.
pub fn clean(url: &str) -> Option<url::Url> {
    let mut u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    u.set_fragment(None);
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        u.set_query(None);
    } else if kept.len() != u.query_pairs().count() {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(u)
}

/// The identity of a link for comparisons: scheme, `www.`, a trailing
/// slash, tracking parameters, the order of the others and the fragment
/// don't make a different story. `None` when `url` is not an http(s) link.
pub fn key(url: &str) -> Option<String> {
    let u = clean(url)?;
    let host = u.host_str()?.trim_start_matches("www.");
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = u.path().trim_end_matches('/');
    let mut pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    let query = if pairs.is_empty() {
        String::new()
    } else {
        let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("?{}", q.join("&"))
    };
    Some(format!("{host}{port}{path}{query}"))
}

/// One `[[news]]` item's link as written in `issue.toml`.
#[derive(Debug, Clone)]
pub struct ItemLink {
    /// 1-based, as `check` numbers news items.
    pub n: usize,
    pub url: String,
    pub key: Option<String>,
    pub url_span: Range<usize>,
    pub published: Option<(Date, Range<usize>)>,
}

/// The links of one issue, read leniently: a file with other problems
/// still tells which stories it carries (its problems are `check`'s
/// business elsewhere).
#[derive(Debug, Clone)]
pub struct IssueLinks {
    pub id: IssueId,
    pub file: PathBuf,
    pub src: Arc<str>,
    pub date: Option<Date>,
    pub edition: Option<String>,
    pub items: Vec<ItemLink>,
}

const MAX_ISSUE_BYTES: u64 = 512 * 1024;

/// Reads `issues/<id>/issue.toml`; `None` when it can't be read or parsed.
pub fn read(issues_dir: &Path, id: &IssueId) -> Option<IssueLinks> {
    let file = issues_dir.join(id.as_str()).join("issue.toml");
    let src = read_text(&file, MAX_ISSUE_BYTES).ok()?;
    let doc = DeTable::parse(&src).ok()?;
    let table = doc.get_ref();
    let date = table.get("date").and_then(|v| date_of(v.get_ref()));
    let edition = table
        .get("edition")
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_owned);
    let items = table
        .get("news")
        .and_then(|n| n.get_ref().as_array())
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| item_link(i + 1, item.get_ref().as_table()?))
                .collect()
        })
        .unwrap_or_default();
    Some(IssueLinks {
        id: id.clone(),
        file,
        src: src.clone(),
        date,
        edition,
        items,
    })
}

fn item_link(n: usize, t: &DeTable<'_>) -> Option<ItemLink> {
    let url = t.get("url")?;
    let text = url.get_ref().as_str()?.trim().to_owned();
    let published = t
        .get("published")
        .and_then(|p| Some((date_of(p.get_ref())?, p.span())));
    Some(ItemLink {
        n,
        key: key(&text),
        url: text,
        url_span: url.span(),
        published,
    })
}

fn date_of(v: &DeValue<'_>) -> Option<Date> {
    Date::deserialize(ValueDeserializer::from(toml::Spanned::new(0..0, v.clone()))).ok()
}

/// Every issue's links, oldest issue first (issue ids sort by date).
pub fn all(issues_dir: &Path, ids: &[IssueId]) -> Vec<IssueLinks> {
    ids.iter().filter_map(|id| read(issues_dir, id)).collect()
}

/// The first issue among `issues` (other than `except`) that carries a link
/// with this key, and the item number there.
pub fn used_in<'a>(
    issues: &'a [IssueLinks],
    key: &str,
    except: Option<&IssueId>,
) -> Option<(&'a IssueLinks, usize)> {
    used_in_any(issues.iter().filter(|i| Some(&i.id) != except), key)
}

/// The first of `issues` that carries a link with this key, and the item
/// number there.
pub fn used_in_any<'a>(
    issues: impl IntoIterator<Item = &'a IssueLinks>,
    key: &str,
) -> Option<(&'a IssueLinks, usize)> {
    issues.into_iter().find_map(|i| {
        i.items
            .iter()
            .find(|l| l.key.as_deref() == Some(key))
            .map(|l| (i, l.n))
    })
}

/// Days a roundup looks back: the week it recaps.
pub const ROUNDUP_DAYS: i64 = 7;

/// What `check` says about an issue's links against the issues before it
/// (`earlier`, in any order): a story already sent, and an item published
/// more than `max_age` before the issue. Both are warnings: a follow-up
/// may link the same page on purpose, and an old item may be the point.
/// A `roundup` issue recaps its week, so only issues from before that
/// week count as already sent.
pub fn history(
    this: &IssueLinks,
    earlier: &[IssueLinks],
    max_age: std::time::Duration,
    roundup: bool,
) -> Vec<Problem> {
    let recapped = |i: &IssueLinks| match (this.date, i.date) {
        (Some(d), Some(e)) => roundup && (d.0 - e.0).num_days() < ROUNDUP_DAYS,
        _ => false,
    };
    let sent: Vec<IssueLinks> = earlier.iter().filter(|i| !recapped(i)).cloned().collect();
    let mut out = Vec::new();
    for item in &this.items {
        let repeat = item
            .key
            .as_deref()
            .and_then(|k| used_in(&sent, k, Some(&this.id)));
        if let Some((issue, n)) = repeat {
            out.push(
                Problem::warning(
                    &this.file,
                    format!(
                        "news item {} was already in {} (news item {n})",
                        item.n, issue.id
                    ),
                )
                .at(&this.src, item.url_span.clone())
                .hint("readers have seen this story; drop it, or keep it if this is a follow-up"),
            );
        }
        let max_days = (max_age.as_secs() / 86400) as i64;
        if let (Some((published, span)), Some(date)) = (&item.published, this.date) {
            let days = (date.0 - published.0).num_days();
            if days > max_days {
                out.push(
                    Problem::warning(
                        &this.file,
                        format!(
                            "news item {} was published {days} days before the issue, more than {max_days}",
                            item.n
                        ),
                    )
                    .at(&this.src, span.clone())
                    .hint("make sure it is still news; the limit is `max_age` under [news] in newsletter.toml"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_story_has_one_key() {
        let k = key("https://openai.com/index/emergent-misalignment/").unwrap();
        for same in [
            "http://openai.com/index/emergent-misalignment",
            "https://www.openai.com/index/emergent-misalignment/?utm_source=rss&utm_medium=feed",
            "https://OpenAI.com/index/emergent-misalignment/#section-2",
            "https://openai.com:443/index/emergent-misalignment/?fbclid=x",
        ] {
            assert_eq!(key(same).as_deref(), Some(k.as_str()), "{same}");
        }
        assert_ne!(key("https://openai.com/index/other/").unwrap(), k);
        assert_eq!(
            key("https://x.org/a?b=2&a=1"),
            key("https://x.org/a?a=1&b=2")
        );
        assert_ne!(key("https://x.org/a?id=1"), key("https://x.org/a?id=2"));
        assert_eq!(key("mailto:a@b.c"), None);
        assert_eq!(key("not a url"), None);
    }

    #[test]
    fn cleaning_keeps_what_matters() {
        let c = clean("https://arxiv.org/abs/2605.18646?utm_source=x&v=2#frag").unwrap();
        assert_eq!(c.as_str(), "https://arxiv.org/abs/2605.18646?v=2");
        let c = clean("http://example.org/p?utm_campaign=y").unwrap();
        assert_eq!(c.as_str(), "http://example.org/p");
    }

    fn issue(dir: &Path, id: &str, src: &str) -> IssueLinks {
        let id: IssueId = id.parse().unwrap();
        std::fs::create_dir_all(dir.join(id.as_str())).unwrap();
        std::fs::write(dir.join(id.as_str()).join("issue.toml"), src).unwrap();
        read(dir, &id).unwrap()
    }

    #[test]
    fn history_names_the_earlier_issue_and_old_items() {
        let dir = tempfile::tempdir().unwrap();
        let before = issue(
            dir.path(),
            "2026-11-25-midweek",
            "date = 2026-11-25\n[[news]]\nurl = \"https://a.org/x/\"\n",
        );
        let this = issue(
            dir.path(),
            "2026-12-09-midweek",
            "date = 2026-12-09\n[[news]]\nurl = \"https://b.org/new\"\npublished = 2026-12-01\n[[news]]\nurl = \"https://www.a.org/x?utm_source=rss\"\npublished = 2026-09-01\n",
        );
        let sixty = std::time::Duration::from_secs(60 * 86400);
        let p = history(&this, std::slice::from_ref(&before), sixty, false);
        let msgs: Vec<String> = p
            .iter()
            .map(|p| format!("{}: {}", p.location(), p.message))
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].ends_with(":6:7: news item 2 was already in 2026-11-25-midweek (news item 1)"),
            "{msgs:?}"
        );
        assert!(
            msgs[1].ends_with(
                ":7:13: news item 2 was published 99 days before the issue, more than 60"
            ),
            "{msgs:?}"
        );
        assert!(p.iter().all(|p| !p.is_error()));
        // A roundup two weeks later still repeats it; within the week, not.
        assert_eq!(
            history(&this, std::slice::from_ref(&before), sixty, true).len(),
            2
        );
        let sunday = issue(
            dir.path(),
            "2026-11-29-sunday",
            "date = 2026-11-29\n[[news]]\nurl = \"https://a.org/x\"\n",
        );
        assert!(history(&sunday, std::slice::from_ref(&before), sixty, true).is_empty());
        assert_eq!(history(&sunday, &[before], sixty, false).len(), 1);
    }

    #[test]
    fn links_are_read_with_their_positions() {
        let dir = tempfile::tempdir().unwrap();
        let id: IssueId = "2026-11-25-midweek".parse().unwrap();
        std::fs::create_dir_all(dir.path().join(id.as_str())).unwrap();
        let src = "date = 2026-11-25\n[[news]]\nurl = \"https://a.org/x\"\npublished = 2026-11-01\n[[news]]\ntitle = \"no url\"\n[[news]]\nurl = \"https://b.org/y/\"\n";
        std::fs::write(dir.path().join(id.as_str()).join("issue.toml"), src).unwrap();
        let links = read(dir.path(), &id).unwrap();
        assert_eq!(links.date.unwrap().0.to_string(), "2026-11-25");
        let ns: Vec<usize> = links.items.iter().map(|l| l.n).collect();
        assert_eq!(ns, [1, 3]);
        assert_eq!(&src[links.items[0].url_span.clone()], "\"https://a.org/x\"");
        let all = [links];
        let (issue, n) = used_in(&all, &key("https://b.org/y").unwrap(), None).unwrap();
        assert_eq!((issue.id.as_str(), n), ("2026-11-25-midweek", 3));
        assert!(used_in(&all, "b.org/y", Some(&id)).is_none());
    }
}
