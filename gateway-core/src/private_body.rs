//! The generated routes' body arguments: `#[body]` and `#[raw_body]`.

use axum::body::Body as HttpBody;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::http::{FromJsonBody, HttpException, ValidationOptions};

/// The app's validation settings (`app.use_validation`), for a body argument.
fn validation_options(parts: &Parts) -> ValidationOptions {
    crate::http::RequestSettings::of(&parts.extensions)
        .and_then(|s| s.validation)
        .unwrap_or_default()
}

/// The JSON body (`#[body]`), or a validated `Valid<T>`, with Nest's 400/413.
pub async fn body<T: FromJsonBody>(parts: Parts, body: HttpBody) -> Result<T, Response> {
    let options = validation_options(&parts);
    let text = crate::http::json_text(Request::from_parts(parts, body))
        .await
        .map_err(IntoResponse::into_response)?;
    T::from_json(&text, options).map_err(IntoResponse::into_response)
}

/// `#[raw_body]`: the body's bytes, within the limit (Nest's 413 over it).
pub async fn raw_body(parts: &Parts, body: HttpBody) -> Result<bytes::Bytes, Response> {
    crate::http::read_body(parts, body)
        .await
        .map_err(IntoResponse::into_response)
}

/// A `#[body]` beside a `#[raw_body]`: parsed from the bytes already read.
pub fn body_from_bytes<T: FromJsonBody>(
    parts: &Parts,
    raw: &bytes::Bytes,
) -> Result<T, HttpException> {
    let options = validation_options(parts);
    let text = crate::http::json_of(parts, raw)?;
    T::from_json(&text, options)
}

/// The `#[raw_body]` argument.
pub fn raw_body_as<T: crate::http::FromRawBody>(raw: &bytes::Bytes) -> Result<T, HttpException> {
    T::from_raw_body(raw)
}

/// The multipart form of a route with `#[uploaded_file]`s (multer's answers on a bad one).
pub async fn multipart(
    parts: &Parts,
    body: HttpBody,
    expected: &[crate::http::FileField],
) -> Result<crate::http::Multipart, Response> {
    crate::http::Multipart::read(parts, body, expected)
        .await
        .map_err(IntoResponse::into_response)
}

/// An `#[uploaded_file]` / `#[uploaded_files]` argument: the field's files.
pub fn uploaded<T: crate::http::FromUpload>(
    form: &mut crate::http::Multipart,
    field: &str,
) -> Result<T, HttpException> {
    T::from_upload(form.take(field))
}

/// A `#[body]` beside uploaded files: the form's text fields, nested as a form body's.
pub fn body_from_fields<T: FromJsonBody>(
    parts: &Parts,
    form: &crate::http::Multipart,
) -> Result<T, HttpException> {
    let options = validation_options(parts);
    let fields = form.fields();
    let json = crate::http::form_pairs_to_json(fields.iter().cloned(), fields.len())?;
    T::from_json(&bytes::Bytes::from(json), options)
}
