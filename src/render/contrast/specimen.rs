//! An issue that uses every part of the email template (note, guide with
//! TL;DR, takeaways, sections, sub-sections, quotes, code, lists, links, a
//! timeline, an FAQ, related topics; news with scores and topics), so that
//! rendering it with an edition shows every text and background pair its
//! theme produces, whatever the issues being written happen to contain.
//!
//! Built from the content types themselves: a field added to them stops
//! this from compiling until it is filled in here too.

use chrono::NaiveDate;

use crate::content::guide::{Faq, GuideMeta, GuideSection, Level, TimelineEntry};
use crate::content::markdown::{self, Block, Inline};
use crate::content::{Date, Guide, Issue, NewsItem};
use crate::diag::Problems;
use crate::domain::{EditionId, Line, Prose, Score};

/// Every block and inline the guide's Markdown can hold.
const BODY: &str = "\
A paragraph with **strong**, *emphasis*, `code` and [a link](https://almanac.example/a).

### A sub-section

- An item with [a link](https://almanac.example/b)
- Another item

1. A numbered item

> A quotation, with [a link](https://almanac.example/c).

```
code block
```

---
";

fn line(s: &str) -> Line {
    Line::new(s, "specimen text", 200).expect("specimen text is one line")
}

fn prose(s: &str) -> Prose {
    Prose::new(s).expect("specimen text is prose")
}

fn blocks(md: &str) -> Vec<Block> {
    markdown::parse(md)
        .expect("the specimen's Markdown is valid")
        .into_iter()
        .map(|(b, _)| b)
        .collect()
}

fn news_item(n: u8, day: u32, topic: bool) -> NewsItem {
    NewsItem {
        title: line("A news item"),
        url: format!("https://almanac.example/news/{n}")
            .parse()
            .expect("an https URL"),
        source: line("A source"),
        published: Date(NaiveDate::from_ymd_opt(2000, 1, day).expect("a date")),
        score: Score::new(i64::from(n)).expect("a score"),
        topic: topic.then(|| line("A topic")),
        summary: prose("A summary of the item."),
    }
}

/// The specimen issue for `edition`.
pub fn issue(edition: &EditionId) -> Issue {
    let guide = Guide {
        meta: GuideMeta {
            title: line("A guide"),
            kind: line("Explainer"),
            level: Level::Intermediate,
            topic: line("A topic"),
            tldr: prose("The short of it."),
            takeaways: vec![line("A takeaway")],
            related: vec![line("Another topic")],
        },
        intro: blocks("An introduction."),
        sections: vec![GuideSection {
            heading: "A section".into(),
            blocks: blocks(BODY),
        }],
        timeline: vec![TimelineEntry {
            when: Some("2000".into()),
            what: vec![Inline::Text("Something happened.".into())],
        }],
        faq: vec![Faq {
            question: "A question?".into(),
            answer: blocks("An answer."),
        }],
        warnings: Problems::default(),
    };
    Issue {
        id: format!("2000-01-09-{edition}")
            .parse()
            .unwrap_or_else(|_| "2000-01-09-specimen".parse().expect("an id")),
        edition: edition.clone(),
        date: Date(NaiveDate::from_ymd_opt(2000, 1, 9).expect("a date")),
        subject: line("A subject"),
        preheader: line("A preheader"),
        note: Some(prose("An editor's note.")),
        news: vec![news_item(9, 8, true), news_item(3, 2, false)],
        guide,
        draft: false,
        warnings: Problems::default(),
    }
}
