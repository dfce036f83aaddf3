//! Success responses exactly as a Nest (Express) route sends them (docs/nest-wire.md §8.1).

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::HttpException;

/// Nest's default status for a route: 201 for POST, 200 for everything else. `#[http_code]`
/// overrides it.
pub fn default_status(method: &Method) -> StatusCode {
    if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Sends a handler's value the way Express sends what a Nest handler returns:
///
/// | value | Content-Type | body |
/// | --- | --- | --- |
/// | object or array | `application/json; charset=utf-8` | compact JSON |
/// | `null` (`None`, `()`) | none | empty (`Content-Length: 0`) |
/// | string | `text/html; charset=utf-8` | the text, unquoted |
/// | number or boolean | `text/html; charset=utf-8` | `3`, `true` |
///
/// A value that cannot be serialized is Nest's 500 (and logged).
///
/// ```
/// # use gateway_core::http::nest_response;
/// # use axum::http::StatusCode;
/// let response = nest_response(StatusCode::CREATED, &serde_json::json!({ "id": 1 }));
/// assert_eq!(response.status(), 201);
/// assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
/// ```
pub fn nest_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    // Sized for a typical body: growing from empty reallocates (and copies) five times.
    let mut json = Vec::with_capacity(256);
    let json = match serde_json::to_writer(&mut json, value) {
        Ok(()) => json,
        Err(error) => {
            tracing::error!(%error, "a route's result could not be serialized");
            return HttpException::internal().into_response();
        }
    };
    let (content_type, body) = match json.first() {
        Some(b'{' | b'[') => (Some("application/json; charset=utf-8"), json),
        Some(b'n') | None => (None, Vec::new()),
        Some(b'"') => {
            let text: String = serde_json::from_slice(&json).expect("a JSON string we just wrote");
            (Some("text/html; charset=utf-8"), text.into_bytes())
        }
        Some(_) => (Some("text/html; charset=utf-8"), json),
    };
    let mut response = (status, Body::from(body)).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// What a client sees of `response`: status, content type, body.
    pub(crate) async fn parts(response: Response) -> (u16, Option<String>, String) {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn values_are_sent_as_express_sends_them() {
        let json = Some("application/json; charset=utf-8".to_owned());
        let html = Some("text/html; charset=utf-8".to_owned());
        let ok = StatusCode::OK;
        assert_eq!(
            parts(nest_response(ok, &json!({"a": 1}))).await,
            (200, json.clone(), r#"{"a":1}"#.into())
        );
        assert_eq!(
            parts(nest_response(ok, &[1, 2])).await,
            (200, json, "[1,2]".into())
        );
        assert_eq!(
            parts(nest_response(ok, &None::<u8>)).await,
            (200, None, String::new())
        );
        assert_eq!(
            parts(nest_response(ok, &())).await,
            (200, None, String::new())
        );
        assert_eq!(
            parts(nest_response(ok, "ordered-ok")).await,
            (200, html.clone(), "ordered-ok".into())
        );
        assert_eq!(
            parts(nest_response(ok, "héllo \"q\"")).await,
            (200, html.clone(), "héllo \"q\"".into())
        );
        assert_eq!(
            parts(nest_response(ok, &3)).await,
            (200, html.clone(), "3".into())
        );
        assert_eq!(
            parts(nest_response(StatusCode::CREATED, &true)).await,
            (201, html, "true".into())
        );
    }

    #[test]
    fn post_defaults_to_201() {
        assert_eq!(default_status(&Method::POST), StatusCode::CREATED);
        assert_eq!(default_status(&Method::GET), StatusCode::OK);
        assert_eq!(default_status(&Method::DELETE), StatusCode::OK);
    }
}
