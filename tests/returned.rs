//! The corpus of returned mail in `tests/returned/`: realistic samples of
//! what comes back from Postfix, Gmail, Microsoft, Exim, qmail and Yahoo,
//! complaint reports, automatic replies, and mail that is none of those.
//! Each file's name says what it is (`hard--exim.eml`); every bounce is
//! about reader@example.org.

use almanac::mail::TokenKey;
use almanac::mail::bounce::{Context, Kind, Who, classify};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/returned");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus is in tests/returned/");
    files
}

#[test]
fn every_sample_is_classified_as_its_name_says() {
    let key = TokenKey::new("corpus");
    let cx = Context {
        key: &key,
        return_path: None,
        envelope_to: None,
        own_domain: "almanac.example",
    };
    for (name, raw) in corpus() {
        let expected = name.split("--").next().unwrap();
        let got = classify(&raw, &cx);
        if expected == "not-understood" {
            assert!(got.is_err(), "{name}: {got:?}");
            continue;
        }
        let f = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(f.len(), 1, "{name}: {f:?}");
        let class = match &f[0].kind {
            Kind::Hard => "hard",
            Kind::Soft => "soft",
            Kind::Policy => "policy",
            Kind::Complaint { .. } => "complaint",
            Kind::AutoReply(_) => "auto-reply",
            Kind::Unsubscribe => "unsubscribe",
            Kind::Notice(_) => "notice",
        };
        assert_eq!(class, expected, "{name}: {:?}", f[0]);
        if expected != "auto-reply" {
            assert_eq!(
                f[0].who,
                Some(Who::Address("reader@example.org".parse().unwrap())),
                "{name}"
            );
        }
    }
}
