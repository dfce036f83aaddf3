//! Redirects, as Nest's `@Redirect(url, statusCode)` answers them through Express 5's
//! `res.redirect`: the `Location` header (encoded as `encodeurl` encodes it), `Vary: Accept`,
//! and a short text or HTML body chosen by `Accept`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// What a `#[redirect]` route may return to redirect elsewhere than its attribute says: Nest's
/// `HttpRedirectResponse` (`{ url, statusCode }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRedirect {
    /// Where to.
    pub url: String,
    /// The status (the attribute's, or 302, when `None`).
    pub status_code: Option<u16>,
}

impl HttpRedirect {
    /// A redirect to `url` with the route's status.
    pub fn to(url: impl Into<String>) -> Self {
        HttpRedirect {
            url: url.into(),
            status_code: None,
        }
    }

    /// The same redirect with `status`.
    pub fn status(mut self, status: u16) -> Self {
        self.status_code = Some(status);
        self
    }
}

/// What a `#[redirect]` route returns: `()` (the attribute decides), an [`HttpRedirect`], or
/// an `Option<HttpRedirect>`.
#[diagnostic::on_unimplemented(
    message = "a `#[redirect]` route returns `()`, `HttpRedirect` or `Option<HttpRedirect>`, not `{Self}`",
    label = "what the route redirects to"
)]
pub trait IntoRedirect {
    /// The redirect that replaces the attribute's, if any.
    fn into_redirect(self) -> Option<HttpRedirect>;
}

impl IntoRedirect for () {
    fn into_redirect(self) -> Option<HttpRedirect> {
        None
    }
}

impl IntoRedirect for HttpRedirect {
    fn into_redirect(self) -> Option<HttpRedirect> {
        Some(self)
    }
}

impl IntoRedirect for Option<HttpRedirect> {
    fn into_redirect(self) -> Option<HttpRedirect> {
        self
    }
}

/// The redirect response: the handler's redirect if it returned one, else the attribute's.
pub fn redirect_response(
    accept: Option<&str>,
    head: bool,
    url: &str,
    status: Option<u16>,
    result: impl IntoRedirect,
) -> Response {
    let chosen = result.into_redirect();
    let status = chosen
        .as_ref()
        .and_then(|r| r.status_code)
        .or(status)
        .unwrap_or(302);
    let url = chosen.as_ref().map_or(url, |r| r.url.as_str());
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    let address = encode_url(url);
    let reason = status.canonical_reason().unwrap_or_default();
    let (content_type, body) = match preferred(accept) {
        Some("text/html") => (
            Some("text/html; charset=utf-8"),
            format!("<p>{reason}. Redirecting to {}</p>", escape_html(&address)),
        ),
        Some(_) => (
            Some("text/plain; charset=utf-8"),
            format!("{reason}. Redirecting to {address}"),
        ),
        None => (None, String::new()),
    };
    let length = body.len();
    let mut response = Response::new(if head {
        Body::empty()
    } else {
        Body::from(body)
    });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&address) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// `req.accepts(['text', 'html'])`: the type the client prefers (ties go to text, the first
/// listed); none when it accepts neither.
fn preferred(accept: Option<&str>) -> Option<&'static str> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some("text/plain");
    };
    let quality = |wanted: &str| -> f32 {
        let (kind, _) = wanted.split_once('/').expect("a media type");
        let mut best: Option<(u8, f32)> = None;
        for range in accept.split(',') {
            let mut params = range.split(';');
            let media = params
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let specificity = if media == wanted {
                2
            } else if media == format!("{kind}/*") {
                1
            } else if media == "*/*" {
                0
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let (text, html) = (quality("text/plain"), quality("text/html"));
    match (text, html) {
        (t, h) if t <= 0.0 && h <= 0.0 => None,
        (t, h) if h > t => Some("text/html"),
        _ => Some("text/plain"),
    }
}

/// `encodeurl`: characters a URL cannot hold are percent-encoded; existing escapes stay.
fn encode_url(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b != b'%'
            && matches!(b, 0x21 | 0x23..=0x3B | 0x3D | 0x3F..=0x5F | 0x61..=0x7A | 0x7C | 0x7E);
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if allowed || escape {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded_as_encodeurl_does() {
        assert_eq!(
            encode_url("/a b/ü?x=%20&y=%zz"),
            "/a%20b/%C3%BC?x=%20&y=%25zz"
        );
        assert_eq!(
            encode_url("https://docs.nestjs.com/v5/"),
            "https://docs.nestjs.com/v5/"
        );
    }

    #[test]
    fn the_body_follows_accept() {
        assert_eq!(preferred(None), Some("text/plain"));
        assert_eq!(preferred(Some("text/html,*/*;q=0.8")), Some("text/html"));
        assert_eq!(preferred(Some("*/*")), Some("text/plain"));
        assert_eq!(preferred(Some("application/json")), None);
    }
}
