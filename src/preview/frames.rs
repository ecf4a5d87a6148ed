//! What the frames and panels show, derived from the built files. The email
//! itself is served byte for byte as `build` writes it; only the dark-mode
//! frame gets a modified copy.

/// The email with its dark-mode rules switched on whatever the viewer's
/// system prefers: inside `<style>` blocks, `(prefers-color-scheme: dark)`
/// becomes a condition that always holds and `(prefers-color-scheme: light)`
/// one that never does. Nothing else changes, so the frame shows exactly
/// what a client honouring the email's own dark rules shows.
pub fn force_dark(html: &str) -> String {
    let lower = html.to_ascii_lowercase(); // same byte offsets as `html`
    let mut out = String::with_capacity(html.len());
    let mut done = 0;
    let mut search = 0;
    while let Some(open) = lower[search..].find("<style").map(|i| i + search) {
        let Some(close) = lower[open..].find("</style").map(|i| i + open) else {
            break;
        };
        let mut at = open;
        while let Some(hit) = lower[at..close]
            .find("prefers-color-scheme")
            .map(|i| i + at)
        {
            let paren = lower[at..hit].rfind('(').map(|i| i + at);
            let end = lower[hit..close].find(')').map(|i| i + hit);
            let (Some(paren), Some(end)) = (paren, end) else {
                break;
            };
            let value: String = lower[hit..end]
                .split(':')
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let always = match value.as_str() {
                "dark" => "(min-width: 0px)",
                _ => "(max-width: 0px)",
            };
            out.push_str(&html[done..paren]);
            out.push_str(always);
            done = end + 1;
            at = end + 1;
        }
        search = close;
    }
    out.push_str(&html[done..]);
    out
}

/// The header block of a message: everything before the first empty line.
pub fn headers(eml: &[u8]) -> String {
    let text = String::from_utf8_lossy(eml).replace("\r\n", "\n");
    match text.split_once("\n\n") {
        Some((head, _)) => head.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_rules_apply_and_light_rules_do_not() {
        let html = "<style>a{x}@media (prefers-color-scheme: dark) {b{y}}\
                    @MEDIA screen and (Prefers-Color-Scheme:light){c{z}}</style>\
                    <p>(prefers-color-scheme: dark)</p>";
        assert_eq!(
            force_dark(html),
            "<style>a{x}@media (min-width: 0px) {b{y}}\
             @MEDIA screen and (max-width: 0px){c{z}}</style>\
             <p>(prefers-color-scheme: dark)</p>"
        );
    }

    #[test]
    fn headers_stop_at_the_blank_line() {
        assert_eq!(
            headers(b"Subject: Hi\r\nTo: a@b.c\r\n\r\nbody\r\n"),
            "Subject: Hi\nTo: a@b.c"
        );
    }
}
