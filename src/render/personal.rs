//! Personal fields. The issue is rendered once with sentinel markers where a
//! recipient's own values go; a `Template` is that output cut at the markers,
//! so personalising is concatenation, never re-rendering. Sentinels are
//! private-use characters, which content is not allowed to contain.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The name in the greeting ("Hi Ada,"), or the configured fallback.
    Name,
    /// The recipient's address, in the footer.
    Email,
    /// The https one-click unsubscribe URL of this edition, with the
    /// recipient's token.
    UnsubscribeUrl,
    /// The https page where the reader chooses editions or leaves.
    ManageUrl,
}

impl Field {
    const ALL: [Field; 4] = [
        Field::Name,
        Field::Email,
        Field::UnsubscribeUrl,
        Field::ManageUrl,
    ];

    fn code(self) -> char {
        match self {
            Field::Name => 'N',
            Field::Email => 'E',
            Field::UnsubscribeUrl => 'U',
            Field::ManageUrl => 'M',
        }
    }

    /// The marker the renderers write in place of the value.
    pub fn marker(self) -> String {
        format!("\u{E000}{}\u{E001}", self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Field(Field),
}

/// Rendered output with holes for personal fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

impl Template {
    pub fn parse(s: &str) -> Template {
        let mut pieces = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find('\u{E000}') {
            let after = &rest[start + 3..];
            let field = after
                .chars()
                .next()
                .and_then(|c| Field::ALL.into_iter().find(|f| f.code() == c))
                .filter(|_| after[1..].starts_with('\u{E001}'));
            let Some(field) = field else {
                // Not one of ours (content can't contain these); keep as text.
                push_text(&mut pieces, &rest[..start + 3]);
                rest = after;
                continue;
            };
            push_text(&mut pieces, &rest[..start]);
            pieces.push(Piece::Field(field));
            rest = &after[1 + 3..];
        }
        push_text(&mut pieces, rest);
        Template { pieces }
    }

    /// Fills every field with `value(field)`.
    pub fn fill(&self, mut value: impl FnMut(Field) -> String) -> String {
        let mut out = String::with_capacity(self.len_hint());
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(f) => {
                    let _ = write!(out, "{}", value(*f));
                }
            }
        }
        out
    }

    pub fn len_hint(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.len(),
                Piece::Field(_) => 64,
            })
            .sum()
    }

    pub fn has(&self, field: Field) -> bool {
        self.pieces.contains(&Piece::Field(field))
    }
}

fn push_text(pieces: &mut Vec<Piece>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Piece::Text(prev)) = pieces.last_mut() {
        prev.push_str(s);
    } else {
        pieces.push(Piece::Text(s.to_owned()));
    }
}

/// Escapes a value for HTML text or a double-quoted attribute.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = format!(
            "Hi {}, <a href=\"{}\">x</a>",
            Field::Name.marker(),
            Field::UnsubscribeUrl.marker()
        );
        let t = Template::parse(&s);
        assert_eq!(t.pieces.len(), 5);
        let out = t.fill(|f| match f {
            Field::Name => html_escape("<Ada & \"Bob\">"),
            _ => "https://x/u?t=1".into(),
        });
        assert_eq!(
            out,
            "Hi &lt;Ada &amp; &quot;Bob&quot;&gt;, <a href=\"https://x/u?t=1\">x</a>"
        );
    }
}
