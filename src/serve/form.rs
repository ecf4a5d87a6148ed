//! What a POST to the unsubscribe URL asks for, from its body.
//!
//! RFC 8058 one-click requests carry `List-Unsubscribe=One-Click`, sent as
//! `multipart/form-data` or `application/x-www-form-urlencoded` (some senders
//! omit the content type; the body is then read as url-encoded). The confirm
//! page's form sends `confirm=yes`. Anything else is refused, so a stray POST
//! never unsubscribes anybody.

/// What a POST body asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// RFC 8058: answer with a short text, never a redirect.
    OneClick,
    /// The confirm page's form: answer with a page.
    Confirm,
    /// Neither.
    Unknown,
}

/// Decides from the `Content-Type` header (if any) and the body.
pub fn intent(content_type: Option<&str>, body: &[u8]) -> Intent {
    let fields = match content_type.and_then(multipart_boundary) {
        Some(boundary) => multipart_fields(body, &boundary),
        None => url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    };
    let has = |name: &str, value: &str| {
        fields
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value))
    };
    if has("List-Unsubscribe", "One-Click") {
        Intent::OneClick
    } else if has("confirm", "yes") {
        Intent::Confirm
    } else {
        Intent::Unknown
    }
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// The text fields of a `multipart/form-data` body (RFC 7578), enough for
/// short values: no files, no nested multiparts, no transfer encodings.
fn multipart_fields(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break; // the closing delimiter
        }
        let part = part
            .strip_prefix("\r\n")
            .or_else(|| part.strip_prefix('\n'));
        let Some(part) = part else { continue };
        let (head, value) = match part.split_once("\r\n\r\n") {
            Some(hv) => hv,
            None => match part.split_once("\n\n") {
                Some(hv) => hv,
                None => continue,
            },
        };
        let name = head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("name"))
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
        });
        if let Some(name) = name {
            let value = value
                .strip_suffix("\r\n")
                .or_else(|| value.strip_suffix('\n'))
                .unwrap_or(value);
            fields.push((name, value.to_owned()));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded() {
        let ct = Some("application/x-www-form-urlencoded");
        assert_eq!(intent(ct, b"List-Unsubscribe=One-Click"), Intent::OneClick);
        assert_eq!(
            intent(None, b"List-Unsubscribe=One-Click"),
            Intent::OneClick
        );
        assert_eq!(
            intent(Some("text/plain"), b"List-Unsubscribe=One-Click"),
            Intent::OneClick
        );
        assert_eq!(intent(ct, b"confirm=yes"), Intent::Confirm);
        assert_eq!(intent(ct, b""), Intent::Unknown);
        assert_eq!(intent(ct, b"List-Unsubscribe=No"), Intent::Unknown);
        assert_eq!(intent(ct, b"confirm=no"), Intent::Unknown);
    }

    #[test]
    fn multipart() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert_eq!(
            intent(Some("multipart/form-data; boundary=XyZ"), body),
            Intent::OneClick
        );
        assert_eq!(
            intent(Some("multipart/form-data; boundary=\"XyZ\""), body),
            Intent::OneClick
        );
        assert_eq!(
            intent(Some("multipart/form-data; boundary=Other"), body),
            Intent::Unknown
        );
        let other =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert_eq!(
            intent(Some("multipart/form-data; boundary=XyZ"), other),
            Intent::Unknown
        );
    }
}
