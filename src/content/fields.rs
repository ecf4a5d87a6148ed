//! Reading a TOML table one field at a time. Deserialising a whole struct
//! stops at its first bad value, so a wrong score would hide a wrong URL in
//! the same item until the score was fixed; here every field is tried, and
//! each problem keeps the span of the key or value it is about.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// A problem in a table: where, and what (without the file, which the
/// caller knows).
pub type FieldError = (Range<usize>, String);

pub struct Fields<'a, 'i> {
    table: &'a DeTable<'i>,
    /// Where a missing field is reported: the table's header, or the file's
    /// first character for the top-level table.
    at: Range<usize>,
    errors: Vec<FieldError>,
    missing: Vec<String>,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub fn new(table: &'a DeTable<'i>, at: Range<usize>) -> Self {
        Fields {
            table,
            at,
            errors: Vec::new(),
            missing: Vec::new(),
        }
    }

    /// The problems found so far, in the order they appear in the file.
    /// Missing keys are one problem per table, not one each: an empty file
    /// is one mistake.
    pub fn take_errors(&mut self) -> Vec<FieldError> {
        let mut errors = std::mem::take(&mut self.errors);
        match &std::mem::take(&mut self.missing)[..] {
            [] => {}
            [key] => errors.push((self.at.clone(), format!("missing key `{key}`"))),
            [rest @ .., last] => {
                let list = rest.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
                errors.push((
                    self.at.clone(),
                    format!("missing keys {} and `{last}`", list.join(", ")),
                ));
            }
        }
        errors.sort_by_key(|e| e.0.start);
        errors
    }

    /// Reports every key that is not in `known`, as `deny_unknown_fields`
    /// would, with the likely intended key.
    pub fn deny_unknown(&mut self, known: &[&str]) {
        for (key, _) in self.table.iter() {
            let key_str: &str = key.get_ref().as_ref();
            if !known.contains(&key_str) {
                let msg = match crate::diag::did_you_mean(key_str, known) {
                    Some(m) => format!("unknown key `{key_str}`; did you mean `{m}`?"),
                    None => format!(
                        "unknown key `{key_str}` (the keys here: {})",
                        known.join(", ")
                    ),
                };
                self.errors.push((key.span(), msg));
            }
        }
    }

    /// The raw value of `key`, if present.
    pub fn value(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// A required field; `None` (with a problem recorded) if missing or bad.
    pub fn required<T: DeserializeOwned>(&mut self, key: &str) -> Option<Spanned<T>> {
        match self.optional(key) {
            Some(Some(v)) => Some(v),
            Some(None) => {
                self.missing.push(key.to_owned());
                None
            }
            None => None,
        }
    }

    /// An optional field: `Some(None)` when absent, `None` when bad.
    pub fn optional<T: DeserializeOwned>(&mut self, key: &str) -> Option<Option<Spanned<T>>> {
        let Some(value) = self.value(key) else {
            return Some(None);
        };
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(Some(Spanned::new(span, v))),
            Err(e) => {
                let at = e.span().unwrap_or(span);
                let (msg, hint) = crate::diag::in_words(e.message(), Some(key));
                let msg = match hint {
                    Some(h) => format!("{msg} ({h})"),
                    None => msg,
                };
                self.errors.push((at, msg));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_tried() {
        let src = "a = 1\nb = \"x\"\nc = true\n";
        let doc = DeTable::parse(src).unwrap();
        let mut f = Fields::new(doc.get_ref(), 0..1);
        f.deny_unknown(&["a", "b", "d", "e"]);
        assert!(f.required::<String>("a").is_none());
        assert_eq!(f.required::<String>("b").unwrap().into_inner(), "x");
        assert!(f.required::<String>("d").is_none());
        assert!(f.required::<String>("e").is_none());
        let errors = f.take_errors();
        let spans: Vec<_> = errors.iter().map(|e| e.0.start).collect();
        assert_eq!(spans, [0, 4, 14], "{errors:?}");
        assert_eq!(errors[0].1, "missing keys `d` and `e`");
    }
}
