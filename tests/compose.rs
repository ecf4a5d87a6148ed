//! The compose side end to end: `almanac build` on the sample issues, and
//! what mail clients and people will see in each output file.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{ISSUES, MIDWEEK, SUNDAY, Sample, stderr, stdout};
use mail_parser::{MessageParser, MimeHeaders};
use scraper::{ElementRef, Html, Selector};

const ARCHIVE: &str = "https://almanac.example/issues/";
const SAMPLE_NAME: &str = "Sample Reader";
const SAMPLE_EMAIL: &str = "reader@example.com";

/// The four files of one build.
struct Built {
    id: &'static str,
    html: String,
    text: String,
    web: String,
    eml: Vec<u8>,
}

fn build(sample: &Sample, id: &'static str) -> Built {
    let dir = sample.build(id);
    let read =
        |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{id}/{name}: {e}"));
    let text = |name: &str| {
        String::from_utf8(read(name)).unwrap_or_else(|_| panic!("{id}/{name} is not UTF-8"))
    };
    Built {
        id,
        html: text("email.html"),
        text: text("email.txt"),
        web: text("web.html"),
        eml: read("message.eml"),
    }
}

fn build_all() -> (Sample, Vec<Built>) {
    let sample = Sample::new();
    let built = ISSUES.iter().map(|id| build(&sample, id)).collect();
    (sample, built)
}

// ---------------------------------------------------------------------------
// The sample content, read independently of the program.

#[derive(Debug, Clone)]
struct News {
    title: String,
    url: String,
    published: toml::value::Datetime,
    score: i64,
}

struct Source {
    subject: String,
    preheader: String,
    news: Vec<News>,
    guide_title: String,
}

fn source(sample: &Sample, id: &str) -> Source {
    let issue: toml::Table = sample
        .read(format!("issues/{id}/issue.toml"))
        .parse()
        .expect("the sample issue.toml is TOML");
    let s = |t: &toml::Table, k: &str| {
        t[k].as_str()
            .unwrap_or_else(|| panic!("{k} is a string"))
            .to_owned()
    };
    let news = issue["news"]
        .as_array()
        .expect("news is an array")
        .iter()
        .map(|n| {
            let n = n.as_table().expect("news items are tables");
            News {
                title: s(n, "title"),
                url: s(n, "url"),
                published: *n["published"].as_datetime().expect("published is a date"),
                score: n["score"].as_integer().expect("score is an integer"),
            }
        })
        .collect();
    let guide = sample.read(format!("issues/{id}/guide.md"));
    let front_matter = guide
        .split("+++\n")
        .nth(1)
        .expect("guide.md has front matter between +++ lines");
    let meta: toml::Table = front_matter.parse().expect("front matter is TOML");
    Source {
        subject: s(&issue, "subject"),
        preheader: s(&issue, "preheader"),
        news,
        guide_title: s(&meta, "title"),
    }
}

/// Whitespace runs folded to one space, so wrapped text can be searched.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e:?}"))
}

fn text_of(el: ElementRef<'_>) -> String {
    fold(&el.text().collect::<String>())
}

/// Lower-cased CSS without whitespace, for substring checks.
fn squash(css: &str) -> String {
    css.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

// ---------------------------------------------------------------------------
// email.html

#[test]
fn email_html_is_safe_for_mail_clients() {
    let (sample, built) = build_all();
    for b in &built {
        let id = b.id;
        let src = source(&sample, id);
        let doc = Html::parse_document(&b.html);

        assert!(
            b.html.len() < 102_000,
            "{id}: email.html is {} bytes; Gmail clips above 102,000",
            b.html.len()
        );
        for tag in [
            "script", "form", "iframe", "object", "embed", "link", "input",
        ] {
            assert!(
                doc.select(&sel(tag)).next().is_none(),
                "{id}: email.html contains <{tag}>"
            );
        }

        let styles: Vec<_> = doc.select(&sel("style")).collect();
        assert_eq!(
            styles.len(),
            1,
            "{id}: expected exactly one <style> element"
        );
        let css: String = styles[0].text().collect();
        assert!(
            css.len() < 16 * 1024,
            "{id}: <style> is {} bytes; Gmail drops one above 16 KB",
            css.len()
        );
        assert!(css.contains("@media"), "{id}: <style> has no @media rules");
        assert!(
            css.contains("max-width"),
            "{id}: no phone (max-width) @media rule:\n{css}"
        );
        assert!(
            css.contains("prefers-color-scheme"),
            "{id}: no dark-mode @media rule:\n{css}"
        );

        let meta = doc
            .select(&sel(r#"meta[name="color-scheme"]"#))
            .next()
            .unwrap_or_else(|| panic!("{id}: no <meta name=\"color-scheme\">"));
        assert!(
            meta.value()
                .attr("content")
                .is_some_and(|c| c.contains("dark")),
            "{id}: color-scheme meta without dark"
        );

        assert!(
            b.html.contains("<!--[if mso]>"),
            "{id}: no MSO conditional comment for Outlook"
        );

        // CSS was inlined: every table cell carries its own style attribute.
        let cells: Vec<_> = doc.select(&sel("td")).collect();
        assert!(cells.len() > 5, "{id}: only {} table cells", cells.len());
        for td in &cells {
            let style = td.value().attr("style").unwrap_or("");
            assert!(
                !style.trim().is_empty(),
                "{id}: a <td class={:?}> has no inline style",
                td.value().attr("class")
            );
        }

        // No CSS the clients cannot handle, inline or in the <style> block.
        let mut all_css = squash(&css);
        for el in doc.select(&sel("[style]")) {
            all_css.push_str(&squash(el.value().attr("style").unwrap_or("")));
            all_css.push(';');
        }
        for bad in [
            "display:flex",
            "display:inline-flex",
            "display:grid",
            "display:inline-grid",
            "var(",
        ] {
            assert!(!all_css.contains(bad), "{id}: the CSS contains `{bad}`");
        }
        assert!(
            !b.html.contains("var(--"),
            "{id}: a CSS custom property survived"
        );

        // The hidden preheader.
        let pre = doc
            .select(&sel(".preheader"))
            .next()
            .unwrap_or_else(|| panic!("{id}: no .preheader element"));
        let pre_style = squash(pre.value().attr("style").unwrap_or(""));
        assert!(
            pre_style.contains("display:none"),
            "{id}: the preheader is not hidden: {pre_style}"
        );
        assert!(
            text_of(pre).starts_with(&fold(&src.preheader)),
            "{id}: the preheader element does not start with the issue's preheader"
        );

        // "View in browser" goes to the archive page of this issue.
        let view = doc
            .select(&sel("a"))
            .find(|a| text_of(*a) == "View in browser")
            .unwrap_or_else(|| panic!("{id}: no \"View in browser\" link"));
        assert_eq!(
            view.value().attr("href"),
            Some(format!("{ARCHIVE}{id}/").as_str())
        );

        for a in doc.select(&sel("a")) {
            let href = a.value().attr("href").unwrap_or("");
            assert!(
                href.starts_with("https://") || href.starts_with("mailto:"),
                "{id}: link {href:?} is not absolute https or mailto"
            );
            if let Some(rest) = href.strip_prefix("https://") {
                assert!(
                    !rest.is_empty() && !rest.starts_with('/'),
                    "{id}: link {href:?} has no host"
                );
            }
        }
        for img in doc.select(&sel("img")) {
            for attr in ["alt", "width"] {
                assert!(
                    img.value().attr(attr).is_some_and(|v| !v.trim().is_empty()),
                    "{id}: image {:?} has no {attr}",
                    img.value().attr("src")
                );
            }
        }

        let title = doc.select(&sel("title")).next().map(text_of);
        assert_eq!(
            title.as_deref(),
            Some(fold(&src.subject).as_str()),
            "{id}: <title> is not the subject"
        );
        assert!(
            b.html.contains(&format!("Hi {SAMPLE_NAME},")),
            "{id}: the greeting is not personalised"
        );
    }
}

/// The titles in the order the edition shows them, with the checks that the
/// order follows the edition's rule.
fn expected_news(id: &str, src: &Source) -> Vec<News> {
    let mut news = src.news.clone();
    let date = |n: &News| n.published.to_string();
    match id {
        // Midweek: the six best by score, highest first (ties: newest first).
        MIDWEEK => {
            news.sort_by(|a, b| b.score.cmp(&a.score).then(date(b).cmp(&date(a))));
            assert!(
                news.len() > 6,
                "the midweek sample should have more items than it shows"
            );
            news.truncate(6);
        }
        // Sunday: every item, newest first (ties: higher score first).
        SUNDAY => {
            news.sort_by(|a, b| date(b).cmp(&date(a)).then(b.score.cmp(&a.score)));
            assert_eq!(news.len(), 13, "the sunday sample has 13 items");
        }
        other => panic!("no news rule for {other}"),
    }
    news
}

#[test]
fn the_edition_picks_and_orders_the_news() {
    let (sample, built) = build_all();
    for b in &built {
        let id = b.id;
        let src = source(&sample, id);
        let doc = Html::parse_document(&b.html);
        let shown: Vec<String> = doc.select(&sel("a.news-link")).map(text_of).collect();
        let by_title = |t: &str| {
            src.news
                .iter()
                .find(|n| fold(&n.title) == t)
                .unwrap_or_else(|| panic!("{id}: shown title {t:?} is not in issue.toml"))
        };
        let shown_items: Vec<&News> = shown.iter().map(|t| by_title(t)).collect();

        match id {
            MIDWEEK => {
                assert_eq!(shown.len(), 6, "{id}: midweek shows the top 6");
                let scores: Vec<i64> = shown_items.iter().map(|n| n.score).collect();
                assert!(
                    scores.windows(2).all(|w| w[0] >= w[1]),
                    "{id}: not by score, highest first: {scores:?}"
                );
                let lowest_shown = *scores.last().unwrap();
                let shown_set: BTreeSet<&str> = shown.iter().map(String::as_str).collect();
                for n in &src.news {
                    if !shown_set.contains(fold(&n.title).as_str()) {
                        assert!(
                            n.score <= lowest_shown,
                            "{id}: {:?} (score {}) was left out",
                            n.title,
                            n.score
                        );
                    }
                }
                // The rendered scores agree with the file.
                let rendered: Vec<String> = doc.select(&sel("span.score")).map(text_of).collect();
                let want: Vec<String> = scores.iter().map(|s| format!("{s}/10")).collect();
                assert_eq!(rendered, want, "{id}: the score badges");
            }
            SUNDAY => {
                assert_eq!(shown.len(), 13, "{id}: sunday shows every item");
                let dates: Vec<String> = shown_items
                    .iter()
                    .map(|n| n.published.to_string())
                    .collect();
                assert!(
                    dates.windows(2).all(|w| w[0] >= w[1]),
                    "{id}: not newest first: {dates:?}"
                );
            }
            _ => unreachable!(),
        }
        let want: Vec<String> = expected_news(id, &src)
            .iter()
            .map(|n| fold(&n.title))
            .collect();
        assert_eq!(shown, want, "{id}: the news in email.html");

        // Each shown item links to its own URL, in both parts.
        let links: Vec<String> = doc
            .select(&sel("a.news-link"))
            .map(|a| a.value().attr("href").unwrap_or("").to_owned())
            .collect();
        let urls: Vec<String> = shown_items.iter().map(|n| n.url.clone()).collect();
        assert_eq!(links, urls, "{id}: news links");

        // Plain text: the same titles, in the same order, each with a
        // reference number that leads to the item's URL.
        let text = fold(&b.text);
        let refs = references(&b.text);
        let mut at = 0;
        for item in &shown_items {
            let title = fold(&item.title);
            let pos = text[at..].find(&title).unwrap_or_else(|| {
                panic!("{id}: {title:?} missing (or out of order) in email.txt")
            }) + at;
            at = pos + title.len();
            let after = &text[at..];
            let n: usize = after
                .strip_prefix(" [")
                .and_then(|r| r.split(']').next())
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("{id}: {title:?} has no [n] reference in email.txt"));
            assert_eq!(
                refs.get(n - 1),
                Some(&item.url),
                "{id}: reference [{n}] of {title:?}"
            );
        }

        // The guide title, in both.
        let guide = fold(&src.guide_title);
        let h2: Vec<String> = doc.select(&sel("h2.guide-title")).map(text_of).collect();
        assert_eq!(
            h2,
            vec![guide.clone()],
            "{id}: the guide title in email.html"
        );
        assert!(
            text.contains(&guide),
            "{id}: the guide title is missing from email.txt"
        );
    }
}

// ---------------------------------------------------------------------------
// email.txt

/// Whether a line may exceed 78 columns: URLs are never wrapped.
fn may_be_long(line: &str) -> bool {
    line.contains("https://") || line.contains("http://") || line.contains("mailto:")
}

/// The URLs of the "Links" list, in number order; checks the list's shape.
fn references(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .windows(2)
        .position(|w| w[0] == "Links" && w[1] == "-----")
        .expect("email.txt has a \"Links\" list");
    let mut urls = Vec::new();
    for line in &lines[start + 2..] {
        let Some(rest) = line.strip_prefix('[') else {
            break;
        };
        let (n, url) = rest
            .split_once("] ")
            .unwrap_or_else(|| panic!("bad reference line {line:?}"));
        assert_eq!(
            n.parse::<usize>().ok(),
            Some(urls.len() + 1),
            "references are numbered 1, 2, 3...: {line:?}"
        );
        assert!(
            url.starts_with("https://"),
            "reference {n} is not https: {url}"
        );
        assert!(
            !url.contains(char::is_whitespace),
            "reference {n} is wrapped: {url}"
        );
        urls.push(url.to_owned());
    }
    assert!(!urls.is_empty(), "the Links list is empty");
    urls
}

/// Every `[n]` marker in `text`.
fn markers(text: &str) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        if let Some(Ok(n)) = rest.find(']').map(|close| rest[..close].parse::<usize>()) {
            found.insert(n);
        }
    }
    found
}

#[test]
fn email_text_is_wrapped_and_references_its_links() {
    let (_sample, built) = build_all();
    for b in &built {
        let id = b.id;
        for (i, line) in b.text.lines().enumerate() {
            let width = line.chars().count();
            assert!(
                width <= 78 || may_be_long(line),
                "{id}: email.txt line {} is {width} columns: {line:?}",
                i + 1
            );
            assert!(
                !line.contains('\r') && !line.contains('\t'),
                "{id}: line {} has a CR or tab",
                i + 1
            );
        }
        assert!(
            b.text.ends_with('\n'),
            "{id}: email.txt does not end with a newline"
        );
        assert!(
            b.text.lines().any(|l| l == format!("Hi {SAMPLE_NAME},")),
            "{id}: no greeting line"
        );
        assert!(
            b.text
                .contains(&format!("View in your browser: {ARCHIVE}{id}/")),
            "{id}: no web link in email.txt"
        );

        // The Links list is the last block before the footer; its numbers are
        // exactly the markers used in the text above it.
        let refs = references(&b.text);
        let body = &b.text[..b.text.find("\nLinks\n-----\n").expect("Links heading")];
        let used = markers(body);
        let listed: BTreeSet<usize> = (1..=refs.len()).collect();
        assert_eq!(
            used, listed,
            "{id}: [n] markers in the text vs the Links list"
        );
        let unique: BTreeSet<&String> = refs.iter().collect();
        assert_eq!(unique.len(), refs.len(), "{id}: a URL is listed twice");

        // The footer: signature separator, then the personal lines.
        let footer = &b.text[b
            .text
            .rfind("\n-- \n")
            .expect("a `-- ` signature separator line")
            + 5..];
        assert!(
            footer.contains(&format!("This email was sent to {SAMPLE_EMAIL}.")),
            "{id}: footer address"
        );
        let edition = if id.ends_with("midweek") {
            "Midweek"
        } else {
            "Sunday"
        };
        assert!(
            footer.contains(&format!(
                "Unsubscribe from the {edition} edition with one click:\nhttps://almanac.example/unsubscribe?t=v2."
            )) || footer.contains(&format!(
                "Unsubscribe from the {edition} edition with one click: https://almanac.example/unsubscribe?t=v2."
            )),
            "{id}: footer unsubscribe:\n{footer}"
        );
        assert!(
            footer.contains(
                "Choose editions, or leave everything: https://almanac.example/manage?t=v2."
            ),
            "{id}: footer manage:\n{footer}"
        );
    }
}

// ---------------------------------------------------------------------------
// message.eml

#[test]
fn message_eml_is_a_well_formed_multipart_message() {
    let (sample, built) = build_all();
    for b in &built {
        let id = b.id;
        let src = source(&sample, id);

        // Raw form: CRLF everywhere, RFC 5322 line limits.
        assert!(
            b.eml.ends_with(b"\r\n"),
            "{id}: message.eml does not end with CRLF"
        );
        for (i, w) in b.eml.windows(2).enumerate() {
            assert!(
                !(w[1] == b'\n' && w[0] != b'\r'),
                "{id}: bare LF at byte {}",
                i + 1
            );
            assert!(
                !(w[0] == b'\r' && w[1] != b'\n'),
                "{id}: bare CR at byte {i}"
            );
        }
        let raw = String::from_utf8(b.eml.clone()).expect("message.eml is ASCII/UTF-8");
        assert!(raw.is_ascii(), "{id}: message.eml has 8-bit bytes");
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .expect("a blank line after the headers");
        for (i, line) in raw.split("\r\n").enumerate() {
            assert!(
                line.len() <= 998,
                "{id}: line {} is {} octets",
                i + 1,
                line.len()
            );
        }
        for line in head.split("\r\n") {
            assert!(line.len() <= 998, "{id}: header line {line:?}");
        }
        for line in body.split("\r\n") {
            assert!(
                line.len() <= 76,
                "{id}: quoted-printable body line over 76 octets: {line:?}"
            );
        }

        let msg = MessageParser::default()
            .parse(&b.eml)
            .expect("mail-parser reads message.eml");
        let hv = |name: &str| {
            msg.header_raw(name)
                .unwrap_or_else(|| panic!("{id}: no {name} header"))
                .trim()
                .replace("\r\n", "")
        };

        let from = msg.from().and_then(|a| a.first()).expect("From");
        assert_eq!(from.address(), Some("letters@almanac.example"));
        assert_eq!(from.name(), Some("Call Me Almanac"));
        let reply = msg.reply_to().and_then(|a| a.first()).expect("Reply-To");
        assert_eq!(reply.address(), Some("editors@almanac.example"));
        let to = msg.to().and_then(|a| a.first()).expect("To");
        assert_eq!(to.address(), Some(SAMPLE_EMAIL));
        assert_eq!(to.name(), Some(SAMPLE_NAME));
        assert_eq!(msg.subject(), Some(src.subject.as_str()), "{id}: Subject");

        let date = msg.date().expect("Date");
        let want_day: Vec<u32> = id[..10].split('-').map(|p| p.parse().unwrap()).collect();
        assert_eq!(
            (date.year as u32, date.month as u32, date.day as u32),
            (want_day[0], want_day[1], want_day[2]),
            "{id}: Date is the issue date"
        );
        // The scheduled 07:00 Europe/London (GMT in November).
        assert_eq!(
            (date.hour, date.minute, date.tz_hour, date.tz_minute),
            (7, 0, 0, 0),
            "{id}: Date time"
        );

        let mid = msg.message_id().expect("Message-ID");
        assert!(
            mid.starts_with(id) && mid.ends_with("@almanac.example"),
            "{id}: Message-ID {mid}"
        );
        assert!(
            hv("Message-ID").starts_with('<'),
            "{id}: Message-ID is bracketed"
        );

        // Each edition is its own list.
        let (edition, name) = if id.ends_with("midweek") {
            ("midweek", "Midweek")
        } else {
            ("sunday", "Sunday")
        };
        assert_eq!(
            hv("List-Id"),
            format!("\"Call Me Almanac ({name})\" <{edition}.call-me-almanac.almanac.example>")
        );
        let unsub = hv("List-Unsubscribe");
        assert!(
            unsub.contains("<mailto:unsubscribe@almanac.example?"),
            "{id}: List-Unsubscribe {unsub}"
        );
        assert!(
            unsub.contains("<https://almanac.example/unsubscribe?t=v2."),
            "{id}: List-Unsubscribe {unsub}"
        );
        // The token names the reader by an opaque id, never the address.
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            SAMPLE_EMAIL,
        );
        assert!(
            !unsub.contains(SAMPLE_EMAIL) && !unsub.contains(&b64),
            "{unsub}"
        );
        assert_eq!(hv("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
        assert_eq!(hv("MIME-Version"), "1.0");

        // multipart/alternative: text/plain then text/html, decoding to the
        // built files (MIME text is CRLF on the wire, LF on disk).
        let root = msg.root_part();
        let ct = root.content_type().expect("Content-Type");
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative")),
            "{id}: top-level type"
        );
        let parts: Vec<_> = root
            .sub_parts()
            .expect("multipart has parts")
            .iter()
            .map(|&i| &msg.parts[i as usize])
            .collect();
        assert_eq!(parts.len(), 2, "{id}: expected a text and an HTML part");
        let kinds: Vec<(String, String)> = parts
            .iter()
            .map(|p| {
                let ct = p.content_type().expect("part Content-Type");
                (ct.ctype().to_owned(), ct.subtype().unwrap_or("").to_owned())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("text".into(), "plain".into()),
                ("text".into(), "html".into())
            ]
        );
        for p in &parts {
            let ct = p.content_type().unwrap();
            assert_eq!(
                ct.attribute("charset").map(str::to_lowercase).as_deref(),
                Some("utf-8")
            );
        }
        let decoded = |i: usize| {
            String::from_utf8(parts[i].contents().to_vec())
                .unwrap()
                .replace("\r\n", "\n")
        };
        assert!(
            decoded(0) == b.text,
            "{id}: the text/plain part differs from email.txt"
        );
        assert!(
            decoded(1) == b.html,
            "{id}: the text/html part differs from email.html"
        );
    }
}

// ---------------------------------------------------------------------------
// The build as a whole

#[test]
fn building_twice_gives_identical_bytes() {
    let files = ["email.html", "email.txt", "web.html", "message.eml"];
    let sample = Sample::new();
    let other = Sample::new();
    for id in ISSUES {
        let first: Vec<Vec<u8>> = {
            let dir = sample.build(id);
            files
                .iter()
                .map(|f| std::fs::read(dir.join(f)).unwrap())
                .collect()
        };
        let again = sample.build(id);
        let elsewhere = other.build(id);
        for (f, bytes) in files.iter().zip(&first) {
            assert!(
                *bytes == std::fs::read(again.join(f)).unwrap(),
                "{id}/{f} changed on rebuild"
            );
            assert!(
                *bytes == std::fs::read(elsewhere.join(f)).unwrap(),
                "{id}/{f} depends on the folder it was built in"
            );
        }
        // Only the four files, and no leftover temporary folder.
        let names: BTreeSet<String> = std::fs::read_dir(&again)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, files.iter().map(|f| f.to_string()).collect());
    }
    let leftovers: Vec<String> = std::fs::read_dir(sample.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary build folders left behind: {leftovers:?}"
    );
}

#[test]
fn the_web_version_has_nothing_personal() {
    let (_sample, built) = build_all();
    for b in &built {
        let id = b.id;
        for personal in [
            "?t=",
            "&t=",
            SAMPLE_NAME,
            SAMPLE_EMAIL,
            "\u{E000}",
            "almanac.example/unsubscribe",
        ] {
            assert!(
                !b.web.contains(personal),
                "{id}: web.html contains {personal:?}"
            );
        }
        assert!(
            !b.web.contains('\u{E001}'),
            "{id}: web.html contains a personal-field marker"
        );
        for mailing in ["Hi there,", "Hi ", "You are receiving this"] {
            assert!(
                !b.web.contains(mailing),
                "{id}: web.html speaks as a mailing: {mailing:?}"
            );
        }
        assert!(
            b.web.contains("href=\"https://almanac.example/subscribe\""),
            "{id}: web.html should invite readers to subscribe"
        );
        let doc = Html::parse_document(&b.web);
        assert!(
            doc.select(&sel(".preheader")).next().is_none(),
            "{id}: web.html has the email preheader"
        );
        for a in doc.select(&sel("a")) {
            let href = a.value().attr("href").unwrap_or("");
            assert!(
                href.starts_with("https://") || href.starts_with("mailto:"),
                "{id}: web.html link {href:?}"
            );
        }
        assert!(
            !b.web.contains("var(--"),
            "{id}: web.html kept a CSS custom property"
        );
    }
}

#[test]
fn check_all_passes_on_the_sample() {
    let sample = Sample::new();
    let out = sample.run_ok(&["check", "--all"]);
    let so = stdout(&out);
    assert!(so.contains("0 errors"), "stdout:\n{so}");
    for id in ISSUES {
        assert!(
            so.contains(&format!("ok: {id}")),
            "{id} not reported ok:\n{so}"
        );
    }
    assert!(!stderr(&out).contains("error"), "stderr:\n{}", stderr(&out));
    assert!(!sample.exists("out"), "check wrote output");
}

#[test]
fn new_scaffolds_an_issue_once() {
    let sample = Sample::new();
    let id = "2026-12-06-sunday";
    let dir = Path::new("issues").join(id);
    let out = sample.run_ok(&["new", "sunday", "--date", "2026-12-06"]);
    assert!(stdout(&out).contains(id), "stdout:\n{}", stdout(&out));
    let issue = sample.read_bytes(dir.join("issue.toml"));
    let guide = sample.read_bytes(dir.join("guide.md"));

    let table: toml::Table = String::from_utf8(issue.clone())
        .unwrap()
        .parse()
        .expect("the scaffolded issue.toml is TOML");
    assert_eq!(table["edition"].as_str(), Some("sunday"));
    assert_eq!(
        table["date"]
            .as_datetime()
            .map(|d| d.to_string())
            .as_deref(),
        Some("2026-12-06")
    );

    // A second run refuses and leaves the files alone.
    let again = sample.run(&["new", "sunday", "--date", "2026-12-06"]);
    assert!(!again.status.success(), "a second `new` succeeded");
    assert!(
        stderr(&again).contains("already exists"),
        "stderr:\n{}",
        stderr(&again)
    );
    assert!(!stderr(&again).contains("panicked"));
    assert_eq!(sample.read_bytes(dir.join("issue.toml")), issue);
    assert_eq!(sample.read_bytes(dir.join("guide.md")), guide);

    // The scaffold parses: any complaint is about its TODO text, never
    // about TOML or the front matter.
    let check = sample.run(&["check", id]);
    let err = stderr(&check);
    assert!(!err.contains("panicked"), "{err}");
    for line in err.lines().filter(|l| l.contains(": error: ")) {
        assert!(
            line.contains("TODO"),
            "the scaffold does not parse: {line}\n{err}"
        );
    }
    assert!(
        check.status.success() || err.contains("TODO"),
        "check failed on the scaffold:\n{err}\n{}",
        stdout(&check)
    );

    // An unknown edition is a usage error, and creates nothing.
    let bad = sample.run(&["new", "weekly", "--date", "2026-12-07"]);
    assert_eq!(bad.status.code(), Some(2), "stderr:\n{}", stderr(&bad));
    assert!(!sample.exists("issues/2026-12-07-weekly"));
}
