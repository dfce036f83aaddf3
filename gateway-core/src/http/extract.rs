//! Request extraction with Nest's answers to bad input (docs/nest-wire.md §8.4, §8.5).

use std::str::FromStr;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::HttpException;

/// body-parser's default JSON limit, which Nest keeps: 100 kb.
pub const DEFAULT_BODY_LIMIT: usize = 100 * 1024;

/// A request extension that changes the JSON body limit for [`Body`] (set by the app).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// How long a request body may take to arrive, whole, by default: nginx's
/// `client_body_timeout` (60 s) as a total, where Node's `requestTimeout` is 300 s.
pub const DEFAULT_BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A request extension that changes how long a body may take to arrive (set by the app from
/// `HttpLimits::body_read_timeout`).
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub std::time::Duration);

/// The request body as JSON, for `#[body] dto: T`, with Nest's answers to bad bodies:
///
/// | request | answer |
/// | --- | --- |
/// | malformed JSON | 400 `{"message":<parser's message>,"error":"Bad Request","statusCode":400}` |
/// | a JSON scalar (`5`, `"x"`): Express's strict parser | 400, same shape |
/// | JSON that does not fit `T` | 400, same shape, naming the field |
/// | more than 100 kb ([`BodyLimit`]) | 413 `{"statusCode":413,"message":"request entity too large"}` |
/// | a body still arriving after 60 s ([`BodyReadTimeout`]) | 408 `{"message":"Request Timeout","statusCode":408}`, the connection closed |
/// | a malformed body (bad chunked framing) | 400 `{"message":"Bad Request","statusCode":400}`, the connection closed |
/// | `application/x-www-form-urlencoded` | parsed as Express's extended parser does (`qs`): `a[b]=1&c[]=2` is `{"a":{"b":"1"},"c":["2"]}`, values are strings; over 1000 parameters 413 `too many parameters`, nested deeper than 32 400 |
/// | empty, or another type | parsed as `{}`, as the Nest handler would see it |
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = HttpException;

    async fn from_request(request: Request, _state: &S) -> Result<Self, HttpException> {
        let text = json_text(request).await?;
        serde_json::from_slice(&text)
            .map(Body)
            .map_err(|error| HttpException::bad_request(error.to_string()))
    }
}

/// The JSON text of a request body, with Nest's answers: the 413 over the limit, the 400 for
/// a scalar, a form body as JSON, and `{}` for an empty body or another type.
pub(crate) async fn json_text(request: Request) -> Result<Bytes, HttpException> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(&parts, body).await?;
    json_of(&parts, &bytes)
}

/// The body's bytes, within the limit ([`BodyLimit`], 100 kb by default): Nest's 413 over it.
pub(crate) async fn read_body(
    parts: &axum::http::request::Parts,
    body: axum::body::Body,
) -> Result<Bytes, HttpException> {
    let limit = super::RequestSettings::body_limit(&parts.extensions).unwrap_or(DEFAULT_BODY_LIMIT);
    let too_large = || HttpException::new("request entity too large", 413);
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    match tokio::time::timeout(body_deadline(parts), axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) if is_length_limit(&error) => Err(too_large()),
        // The framing is broken (hyper's parse error): the connection cannot be trusted.
        Ok(Err(_)) => Err(HttpException::bad_request(()).closing()),
        Err(_) => Err(HttpException::request_timeout(()).closing()),
    }
}

/// How long the request's body may take to arrive ([`BodyReadTimeout`]).
pub(crate) fn body_deadline(parts: &axum::http::request::Parts) -> std::time::Duration {
    super::RequestSettings::body_read_timeout(&parts.extensions)
        .unwrap_or(DEFAULT_BODY_READ_TIMEOUT)
}

/// Whether a body error is the length limit's.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// The JSON a body's `bytes` stand for, by the request's content type.
pub(crate) fn json_of(
    parts: &axum::http::request::Parts,
    bytes: &Bytes,
) -> Result<Bytes, HttpException> {
    let essence = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/x-www-form-urlencoded") {
        return super::form::form_to_json(bytes).map(Bytes::from);
    }
    if essence.as_deref() != Some("application/json") || bytes.trim_ascii().is_empty() {
        return Ok(Bytes::from_static(b"{}"));
    }
    if let Some(first) = bytes.trim_ascii_start().first() {
        if *first != b'{' && *first != b'[' {
            let text = String::from_utf8_lossy(bytes);
            return Err(HttpException::bad_request(
                super::json_syntax::strict_violation(&text),
            ));
        }
    }
    Ok(bytes.clone())
}

/// A `#[raw_body]` argument: the body as received (Nest's `rawBody: true` and
/// `req.rawBody`), for a webhook's signature check beside the parsed `#[body]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a raw body",
    label = "`#[raw_body]` takes `Bytes`, `Vec<u8>` or `String`",
    note = "the raw body is the request's bytes as received: `#[raw_body] raw: Bytes`"
)]
pub trait FromRawBody: Sized {
    /// The argument from the body's bytes (a `String` refuses bytes that are not UTF-8 with
    /// a 400).
    fn from_raw_body(bytes: &Bytes) -> Result<Self, HttpException>;
}

impl FromRawBody for Bytes {
    fn from_raw_body(bytes: &Bytes) -> Result<Self, HttpException> {
        Ok(bytes.clone())
    }
}

impl FromRawBody for Vec<u8> {
    fn from_raw_body(bytes: &Bytes) -> Result<Self, HttpException> {
        Ok(bytes.to_vec())
    }
}

impl FromRawBody for String {
    fn from_raw_body(bytes: &Bytes) -> Result<Self, HttpException> {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| HttpException::bad_request("the body is not UTF-8 text"))
    }
}

/// What Nest's parse pipes say about integers and floats.
pub const NUMERIC_EXPECTED: &str = "numeric string is expected";
/// What Nest's `ParseBoolPipe` says.
pub const BOOLEAN_EXPECTED: &str = "boolean string is expected";
/// What Nest's `ParseUUIDPipe` says.
pub const UUID_EXPECTED: &str = "uuid is expected";

/// Parses a path or query parameter for a typed `#[param] id: u64`, failing with Nest's parse
/// pipe body: 400 `{"message":"Validation failed (numeric string is expected)","error":"Bad Request","statusCode":400}`.
///
/// ```
/// # use gateway_core::http::{parse_param, NUMERIC_EXPECTED};
/// assert_eq!(parse_param::<u64>("42", NUMERIC_EXPECTED).unwrap(), 42);
/// let error = parse_param::<u64>("abc", NUMERIC_EXPECTED).unwrap_err();
/// assert_eq!(error.body().to_string(), r#"{"message":"Validation failed (numeric string is expected)","error":"Bad Request","statusCode":400}"#);
/// ```
pub fn parse_param<T: FromStr>(raw: &str, expected: &str) -> Result<T, HttpException> {
    raw.parse()
        .map_err(|_| HttpException::bad_request(format!("Validation failed ({expected})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body as HttpBody;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Order {
        item: String,
        #[serde(default)]
        quantity: u32,
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<Order, HttpException> {
        let mut request = Request::builder().method("POST").uri("/orders");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(HttpBody::from(body.to_owned())).unwrap();
        Body::<Order>::from_request(request, &()).await.map(|b| b.0)
    }

    const JSON: Option<&str> = Some("application/json");

    #[tokio::test]
    async fn good_bodies_parse() {
        let order = extract(
            Some("application/json; charset=utf-8"),
            r#"{"item":"Loom","quantity":2}"#,
        )
        .await;
        assert_eq!(
            order.unwrap(),
            Order {
                item: "Loom".into(),
                quantity: 2
            }
        );
    }

    #[tokio::test]
    async fn bad_bodies_get_nest_shaped_400s() {
        let bad = |e: HttpException| {
            (
                e.status(),
                e.body()["error"].clone(),
                e.body()["message"].as_str().unwrap().to_owned(),
            )
        };
        let (status, error, message) = bad(extract(JSON, "{nope").await.unwrap_err());
        assert_eq!((status, error.as_str().unwrap()), (400, "Bad Request"));
        assert!(message.contains("line 1 column 2"), "{message}");

        let (status, _, message) = bad(extract(JSON, "5").await.unwrap_err());
        assert_eq!(
            (status, message.as_str()),
            (400, r#"Unexpected token '5', "5" is not valid JSON"#)
        );

        let (status, _, message) = bad(extract(JSON, r#"{"quantity":1}"#).await.unwrap_err());
        assert_eq!(
            (status, message.as_str()),
            (400, "missing field `item` at line 1 column 14")
        );
    }

    #[tokio::test]
    async fn empty_or_non_json_bodies_are_an_empty_object() {
        for (content_type, body) in [
            (JSON, ""),
            (Some("text/plain"), r#"{"item":"x"}"#),
            (None, r#"{"item":"x"}"#),
        ] {
            let error = extract(content_type, body).await.unwrap_err();
            assert_eq!(
                error.body()["message"],
                "missing field `item` at line 1 column 2"
            );
        }
    }

    #[tokio::test]
    async fn oversized_bodies_get_413() {
        let big = format!(r#"{{"item":"{}"}}"#, "x".repeat(DEFAULT_BODY_LIMIT));
        let error = extract(JSON, &big).await.unwrap_err();
        assert_eq!(error.status(), 413);
        assert_eq!(
            error.body().to_string(),
            r#"{"statusCode":413,"message":"request entity too large"}"#
        );
    }

    #[test]
    fn params_use_the_parse_pipe_messages() {
        assert_eq!(parse_param::<i32>("-7", NUMERIC_EXPECTED).unwrap(), -7);
        assert!(parse_param::<bool>("true", BOOLEAN_EXPECTED).unwrap());
        let error = parse_param::<bool>("yes", BOOLEAN_EXPECTED).unwrap_err();
        assert_eq!(
            error.body()["message"],
            "Validation failed (boolean string is expected)"
        );
    }
}
