//! How `#[body]`, `#[query]` and message payloads become arguments, and the validation
//! settings; `Valid<T>` (feature `validation`) is in `valid.rs`.

use serde::de::DeserializeOwned;

use super::HttpException;

/// App-wide validation settings (`app.use_validation(..)`), Nest's `ValidationPipe` options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Refuse bodies with properties the DTO does not declare (Nest's
    /// `forbidNonWhitelisted: true`), naming each one.
    pub forbid_unknown: bool,
}

/// A `#[body]` argument: any `DeserializeOwned` type, or `Valid<T>` (feature `validation`).
pub trait FromJsonBody: Sized {
    /// Builds the argument from the body's JSON text.
    fn from_json(text: &[u8], options: ValidationOptions) -> Result<Self, HttpException>;
}

/// A body serde refused: text that is not JSON gets Node's `JSON.parse` message, as Nest's
/// body parser answers; JSON of the wrong shape gets serde's (Nest has no such check without a
/// validation pipe).
pub(super) fn body_error(text: &[u8], error: &serde_json::Error) -> HttpException {
    let message = match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            super::json_syntax::v8_message(&String::from_utf8_lossy(text))
        }
        _ => None,
    };
    HttpException::bad_request(message.unwrap_or_else(|| error.to_string()))
}

impl<T: DeserializeOwned> FromJsonBody for T {
    fn from_json(text: &[u8], _: ValidationOptions) -> Result<Self, HttpException> {
        serde_json::from_slice(text).map_err(|error| body_error(text, &error))
    }
}

tokio::task_local! {
    /// The validation settings of the microservice a message handler runs in, when it has
    /// some (`use_validation`).
    pub(crate) static PAYLOAD_VALIDATION: ValidationOptions;
}

/// A `#[query]` argument: any `DeserializeOwned` type, or `Valid<T>` (feature `validation`).
pub trait FromQuery: Sized {
    /// Builds the argument from the parsed query string.
    fn from_query(query: Option<&str>) -> Result<Self, HttpException>;
}

pub(super) fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, HttpException> {
    let uri: axum::http::Uri = match query {
        Some(q) => format!("/?{q}")
            .parse()
            .map_err(|_| HttpException::bad_request("Malformed query string"))?,
        None => axum::http::Uri::from_static("/"),
    };
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|rejection| HttpException::bad_request(rejection.body_text()))
}

impl<T: DeserializeOwned> FromQuery for T {
    fn from_query(query: Option<&str>) -> Result<Self, HttpException> {
        parse_query(query)
    }
}
