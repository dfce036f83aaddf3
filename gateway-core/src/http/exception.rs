//! [`HttpException`]: Nest's HTTP errors, with their exact JSON bodies.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use std::sync::Arc;

use crate::client::RpcError;

/// An HTTP error answered with Nest's JSON body, byte for byte (key order included).
///
/// | Nest | here | body |
/// | --- | --- | --- |
/// | `new NotFoundException()` | `HttpException::not_found(())` | `{"message":"Not Found","statusCode":404}` |
/// | `new NotFoundException('User 7 not found')` | `HttpException::not_found("User 7 not found")` | `{"message":"User 7 not found","error":"Not Found","statusCode":404}` |
/// | `new NotFoundException('m', 'Custom Desc')` | `HttpException::not_found("m").with_description("Custom Desc")` | `{"message":"m","error":"Custom Desc","statusCode":404}` |
/// | `new BadRequestException(['a', 'b'])` | `HttpException::bad_request(["a", "b"])` | `{"message":["a","b"],"error":"Bad Request","statusCode":400}` |
/// | `new BadRequestException({ code: 'X' })` | `HttpException::bad_request(json!({ "code": "X" }))` | `{"code":"X"}` (an object replaces the body) |
/// | `new HttpException('Custom forbidden', 403)` | `HttpException::new("Custom forbidden", 403)` | `{"statusCode":403,"message":"Custom forbidden"}` |
///
/// `RpcError` converts into it with `?` (see [`From<RpcError>`](#impl-From<RpcError>-for-HttpException)).
///
/// ```
/// # use gateway_core::http::HttpException;
/// let e = HttpException::unauthorized("Invalid or missing token");
/// assert_eq!(e.status(), 401);
/// assert_eq!(e.body().to_string(), r#"{"message":"Invalid or missing token","error":"Unauthorized","statusCode":401}"#);
/// ```
#[derive(Debug, Clone)]
pub struct HttpException {
    status: StatusCode,
    body: Value,
    cause: Option<Arc<ExceptionCause>>,
    /// The connection closes after this answer (the request could not be read whole).
    close: bool,
}

/// Two exceptions are equal when they answer the same (status and body).
impl PartialEq for HttpException {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.body == other.body
    }
}

/// What an [`HttpException`] was made from, when it was not thrown as one: for exception
/// filters that catch downstream failures or everything.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExceptionCause {
    /// A downstream call failed (the `?` on a `ClientProxy` call).
    Rpc(RpcError),
    /// The handler panicked; the panic's message.
    Panic(String),
}

/// What a Nest exception constructor accepts: nothing, a message (string or list), or an
/// object that replaces the whole body.
#[derive(Debug, Clone, PartialEq)]
pub enum ExceptionMessage {
    /// No argument: the body is `{message: <description>, statusCode}`.
    Default,
    /// A message (a string, or a list of strings like `ValidationPipe`'s).
    Message(Value),
    /// An object: sent as the whole body.
    Body(Map<String, Value>),
}

impl From<()> for ExceptionMessage {
    fn from(_: ()) -> Self {
        ExceptionMessage::Default
    }
}

impl From<&str> for ExceptionMessage {
    fn from(message: &str) -> Self {
        ExceptionMessage::Message(Value::from(message))
    }
}

impl From<String> for ExceptionMessage {
    fn from(message: String) -> Self {
        ExceptionMessage::Message(Value::from(message))
    }
}

impl From<Vec<String>> for ExceptionMessage {
    fn from(messages: Vec<String>) -> Self {
        ExceptionMessage::Message(Value::from(messages))
    }
}

impl<const N: usize> From<[&str; N]> for ExceptionMessage {
    fn from(messages: [&str; N]) -> Self {
        ExceptionMessage::Message(Value::from(messages.to_vec()))
    }
}

impl From<Value> for ExceptionMessage {
    fn from(value: Value) -> Self {
        match value {
            Value::Object(body) => ExceptionMessage::Body(body),
            Value::Null => ExceptionMessage::Default,
            other => ExceptionMessage::Message(other),
        }
    }
}

macro_rules! nest_exceptions {
    ($($(#[$doc:meta])* $name:ident => $status:ident;)*) => {
        impl HttpException {
            $(
                $(#[$doc])*
                pub fn $name(message: impl Into<ExceptionMessage>) -> Self {
                    HttpException::family(StatusCode::$status, message.into())
                }
            )*
        }
    };
}

nest_exceptions! {
    /// 400, Nest's `BadRequestException`.
    bad_request => BAD_REQUEST;
    /// 401, Nest's `UnauthorizedException`.
    unauthorized => UNAUTHORIZED;
    /// 403, Nest's `ForbiddenException`.
    forbidden => FORBIDDEN;
    /// 404, Nest's `NotFoundException`.
    not_found => NOT_FOUND;
    /// 405, Nest's `MethodNotAllowedException`.
    method_not_allowed => METHOD_NOT_ALLOWED;
    /// 406, Nest's `NotAcceptableException`.
    not_acceptable => NOT_ACCEPTABLE;
    /// 408, Nest's `RequestTimeoutException`.
    request_timeout => REQUEST_TIMEOUT;
    /// 409, Nest's `ConflictException`.
    conflict => CONFLICT;
    /// 410, Nest's `GoneException`.
    gone => GONE;
    /// 412, Nest's `PreconditionFailedException`.
    precondition_failed => PRECONDITION_FAILED;
    /// 413, Nest's `PayloadTooLargeException`.
    payload_too_large => PAYLOAD_TOO_LARGE;
    /// 415, Nest's `UnsupportedMediaTypeException`.
    unsupported_media_type => UNSUPPORTED_MEDIA_TYPE;
    /// 418, Nest's `ImATeapotException`.
    im_a_teapot => IM_A_TEAPOT;
    /// 422, Nest's `UnprocessableEntityException`.
    unprocessable_entity => UNPROCESSABLE_ENTITY;
    /// 429, Nest's `ThrottlerException`/`HttpStatus.TOO_MANY_REQUESTS`.
    too_many_requests => TOO_MANY_REQUESTS;
    /// 500, Nest's `InternalServerErrorException`.
    internal_server_error => INTERNAL_SERVER_ERROR;
    /// 501, Nest's `NotImplementedException`.
    not_implemented => NOT_IMPLEMENTED;
    /// 502, Nest's `BadGatewayException`.
    bad_gateway => BAD_GATEWAY;
    /// 503, Nest's `ServiceUnavailableException`.
    service_unavailable => SERVICE_UNAVAILABLE;
    /// 504, Nest's `GatewayTimeoutException`.
    gateway_timeout => GATEWAY_TIMEOUT;
    /// 505, Nest's `HttpVersionNotSupportedException`.
    http_version_not_supported => HTTP_VERSION_NOT_SUPPORTED;
}

/// Nest's description for a status (the `error` field), as in `http.exception.ts`.
fn description(status: StatusCode) -> &'static str {
    match status {
        StatusCode::IM_A_TEAPOT => "I'm a teapot",
        other => other.canonical_reason().unwrap_or("Error"),
    }
}

impl HttpException {
    /// Nest's bare `new HttpException(response, status)`: a string (or any non-object) gives
    /// `{"statusCode":..,"message":..}`, an object is the whole body.
    ///
    /// # Panics
    /// If `status` is not a valid HTTP status code (100 to 999).
    pub fn new(response: impl Into<Value>, status: u16) -> Self {
        let status = StatusCode::from_u16(status).expect("an HTTP status code from 100 to 999");
        let body = match response.into() {
            Value::Object(body) => Value::Object(body),
            message => {
                let mut body = Map::new();
                body.insert("statusCode".into(), status.as_u16().into());
                body.insert("message".into(), message);
                Value::Object(body)
            }
        };
        HttpException {
            status,
            body,
            cause: None,
            close: false,
        }
    }

    /// The same answer, after which the connection closes (`Connection: close`): for a
    /// request whose body could not be read whole, so nothing after it can be trusted.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The subclass shape: `{message, error, statusCode}`, or `{message, statusCode}` with no
    /// argument, or the object given.
    fn family(status: StatusCode, message: ExceptionMessage) -> Self {
        let body = match message {
            ExceptionMessage::Body(body) => Value::Object(body),
            ExceptionMessage::Default => {
                let mut body = Map::new();
                body.insert("message".into(), description(status).into());
                body.insert("statusCode".into(), status.as_u16().into());
                Value::Object(body)
            }
            ExceptionMessage::Message(message) => {
                let mut body = Map::new();
                body.insert("message".into(), message);
                body.insert("error".into(), description(status).into());
                body.insert("statusCode".into(), status.as_u16().into());
                Value::Object(body)
            }
        };
        HttpException {
            status,
            body,
            cause: None,
            close: false,
        }
    }

    /// Nest's second constructor argument (`new NotFoundException('m', 'Custom Desc')`):
    /// replaces the `error` field when the body has one.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        if let Some(error) = self.body.get_mut("error") {
            *error = Value::from(description.into());
        }
        self
    }

    /// Records what this exception was made from (see [`rpc_error`](Self::rpc_error)).
    pub fn with_cause(mut self, cause: ExceptionCause) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// The failed downstream call this exception answers, if it comes from one.
    pub fn rpc_error(&self) -> Option<&RpcError> {
        match self.cause.as_deref() {
            Some(ExceptionCause::Rpc(error)) => Some(error),
            _ => None,
        }
    }

    /// The panic message, if this is the 500 for a panicking handler.
    pub fn panic_message(&self) -> Option<&str> {
        match self.cause.as_deref() {
            Some(ExceptionCause::Panic(message)) => Some(message),
            _ => None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The JSON body.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The `{"statusCode":..,"message":..}` body Nest's default filter gives anything that is
    /// not an `HttpException` but looks like an HTTP error, and the generic 500.
    fn plain(status: StatusCode, message: &str) -> Self {
        HttpException::new(message, status.as_u16())
    }

    /// Nest's answer to an unexpected error: 500 `Internal server error`.
    pub fn internal() -> Self {
        HttpException::plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    /// Nest's answer to an unknown route: 404 `Cannot GET /path`.
    pub fn route_not_found(method: &str, path: &str) -> Self {
        HttpException::not_found(format!("Cannot {method} {path}"))
    }
}

impl std::fmt::Display for HttpException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body)
    }
}

impl std::error::Error for HttpException {}

impl IntoResponse for HttpException {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body).expect("a serde_json::Value always serializes");
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if self.close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        // Kept for exception filters, which run on responses.
        response.extensions_mut().insert(self);
        response
    }
}

impl From<RpcError> for HttpException {
    /// What a failed downstream call answers at the HTTP edge. Nest's rules where Nest has
    /// one (docs/nest-wire.md §8.3), and two deliberate departures:
    ///
    /// | `RpcError` | HTTP |
    /// | --- | --- |
    /// | `Remote` with an `err` object holding an integer `statusCode` 400–599 and a non-empty string `message` | that status, `{"statusCode","message"}` only |
    /// | any other `Remote`, `EmptyResponse`, `Encode` | 500 `{"statusCode":500,"message":"Internal server error"}` |
    /// | `Connect`, `ConnectionLost` | **503** `Service Unavailable` naming the service (Nest: 500) |
    /// | `Timeout` | **504** `Gateway Timeout` naming the service (Nest: hangs) |
    /// | `Decode` (the reply is not the type the route expects) | 502 `Bad Gateway` |
    /// | `Grpc` | by the gRPC → HTTP table: `NOT_FOUND` 404, `INVALID_ARGUMENT` 400, ... with the status's message; `UNAVAILABLE` 503 and `DEADLINE_EXCEEDED` 504 naming the service; `INTERNAL`, `UNKNOWN` 500 |
    ///
    /// The full error is logged; the response never carries more than the service's name.
    fn from(error: RpcError) -> Self {
        let exception = Self::answer_for(&error);
        exception.with_cause(ExceptionCause::Rpc(error))
    }
}

impl HttpException {
    fn answer_for(error: &RpcError) -> Self {
        let service = error.service().unwrap_or("the service").to_owned();
        // One line per service and kind of failure per interval, with how many were left out.
        let logged = || crate::log_limit::allow(format!("downstream {service} {}", error.kind()));
        match error {
            RpcError::Remote { error: err, .. } => {
                if let Some((status, message)) = http_error_of(err) {
                    tracing::debug!(%error, "downstream error passed through");
                    return HttpException::new(message, status);
                }
                if let Some(left_out) = logged() {
                    tracing::error!(%error, left_out, "downstream error");
                }
                HttpException::internal()
            }
            RpcError::Connect { .. } | RpcError::ConnectionLost { .. } => {
                if let Some(left_out) = logged() {
                    tracing::warn!(%error, left_out, "downstream unavailable");
                }
                HttpException::service_unavailable(format!("{service} is unavailable"))
            }
            RpcError::CircuitOpen { .. } => {
                // The breaker logs its own changes of state; the refusals are not news.
                HttpException::service_unavailable(format!("{service} is unavailable"))
            }
            RpcError::Timeout { timeout, .. } => {
                if let Some(left_out) = logged() {
                    tracing::warn!(%error, left_out, "downstream deadline");
                }
                HttpException::gateway_timeout(format!(
                    "{service} did not answer within {} ms",
                    timeout.as_millis()
                ))
            }
            RpcError::Grpc { code, message, .. } => {
                let status = crate::transport::grpc_http_status(*code);
                match status {
                    503 | 504 => {
                        if let Some(left_out) = logged() {
                            tracing::warn!(%error, left_out, "downstream unavailable");
                        }
                        if status == 503 {
                            HttpException::service_unavailable(format!("{service} is unavailable"))
                        } else {
                            HttpException::gateway_timeout(format!(
                                "{service} did not answer in time"
                            ))
                        }
                    }
                    400..=499 | 501 if !message.is_empty() => {
                        tracing::debug!(%error, "downstream gRPC status passed through");
                        HttpException::new(message.clone(), status)
                    }
                    _ => {
                        if let Some(left_out) = logged() {
                            tracing::error!(%error, left_out, "downstream error");
                        }
                        HttpException::internal()
                    }
                }
            }
            RpcError::Decode { .. } => {
                if let Some(left_out) = logged() {
                    tracing::error!(%error, left_out, "downstream reply has the wrong shape");
                }
                HttpException::bad_gateway(format!("{service} sent an unexpected reply"))
            }
            _ => {
                if let Some(left_out) = logged() {
                    tracing::error!(%error, left_out, "downstream call failed");
                }
                HttpException::internal()
            }
        }
    }
}

/// Nest 12's "looks like an HTTP error" test on a plain object: an integer `statusCode` from
/// 400 to 599 and a non-empty string `message`.
fn http_error_of(err: &Value) -> Option<(u16, String)> {
    let status = err.get("statusCode")?.as_u64()?;
    let message = err.get("message")?.as_str()?;
    ((400..=599).contains(&status) && !message.is_empty())
        .then(|| (status as u16, message.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    fn body(e: &HttpException) -> String {
        e.body().to_string()
    }

    // Every row of docs/nest-wire.md §8.2.
    #[test]
    fn bodies_match_nest_byte_for_byte() {
        let cases = [
            (
                HttpException::unauthorized("Invalid token"),
                401,
                r#"{"message":"Invalid token","error":"Unauthorized","statusCode":401}"#,
            ),
            (
                HttpException::unauthorized(()),
                401,
                r#"{"message":"Unauthorized","statusCode":401}"#,
            ),
            (
                HttpException::not_found(()),
                404,
                r#"{"message":"Not Found","statusCode":404}"#,
            ),
            (
                HttpException::not_found("User 7 not found"),
                404,
                r#"{"message":"User 7 not found","error":"Not Found","statusCode":404}"#,
            ),
            (
                HttpException::not_found("User 7 not found").with_description("Custom Desc"),
                404,
                r#"{"message":"User 7 not found","error":"Custom Desc","statusCode":404}"#,
            ),
            (
                HttpException::bad_request([
                    "name must be a string",
                    "age must not be less than 18",
                ]),
                400,
                r#"{"message":["name must be a string","age must not be less than 18"],"error":"Bad Request","statusCode":400}"#,
            ),
            (
                HttpException::bad_request(json!({"code": "X", "detail": "y"})),
                400,
                r#"{"code":"X","detail":"y"}"#,
            ),
            (
                HttpException::forbidden(()),
                403,
                r#"{"message":"Forbidden","statusCode":403}"#,
            ),
            (
                HttpException::forbidden("Forbidden resource"),
                403,
                r#"{"message":"Forbidden resource","error":"Forbidden","statusCode":403}"#,
            ),
            (
                HttpException::new("Custom forbidden", 403),
                403,
                r#"{"statusCode":403,"message":"Custom forbidden"}"#,
            ),
            (
                HttpException::new(json!({"status": 418, "error": "teapot"}), 418),
                418,
                r#"{"status":418,"error":"teapot"}"#,
            ),
            (
                HttpException::route_not_found("GET", "/nope"),
                404,
                r#"{"message":"Cannot GET /nope","error":"Not Found","statusCode":404}"#,
            ),
            (
                HttpException::internal(),
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                HttpException::new("request entity too large", 413),
                413,
                r#"{"statusCode":413,"message":"request entity too large"}"#,
            ),
            (
                HttpException::payload_too_large(()),
                413,
                r#"{"message":"Payload Too Large","statusCode":413}"#,
            ),
            (
                HttpException::too_many_requests(()),
                429,
                r#"{"message":"Too Many Requests","statusCode":429}"#,
            ),
            (
                HttpException::im_a_teapot(()),
                418,
                r#"{"message":"I'm a teapot","statusCode":418}"#,
            ),
            (
                HttpException::bad_gateway(()),
                502,
                r#"{"message":"Bad Gateway","statusCode":502}"#,
            ),
            (
                HttpException::service_unavailable(()),
                503,
                r#"{"message":"Service Unavailable","statusCode":503}"#,
            ),
            (
                HttpException::gateway_timeout(()),
                504,
                r#"{"message":"Gateway Timeout","statusCode":504}"#,
            ),
        ];
        for (exception, status, expected) in cases {
            assert_eq!(exception.status(), status, "{expected}");
            assert_eq!(body(&exception), expected);
        }
    }

    #[test]
    fn the_response_is_json_with_the_status() {
        let response = HttpException::not_found(()).into_response();
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }

    fn remote(err: Value) -> RpcError {
        RpcError::Remote {
            service: Arc::from("USERS_SERVICE"),
            pattern: "{\"cmd\":\"get_user\"}".into(),
            error: err,
        }
    }

    // docs/nest-wire.md §8.3, and our 503/504.
    #[test]
    fn rpc_errors_map_like_a_nest_gateway() {
        let cases = [
            (
                remote(json!({"status": "error", "message": "boom"})),
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                remote(json!({"statusCode": 404, "message": "User not found"})),
                404,
                r#"{"statusCode":404,"message":"User not found"}"#,
            ),
            (
                remote(
                    json!({"message": "User 7 not found", "error": "Not Found", "statusCode": 404}),
                ),
                404,
                r#"{"statusCode":404,"message":"User 7 not found"}"#,
            ),
            (
                remote(json!(
                    "There is no matching message handler defined in the remote service."
                )),
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                remote(json!({"statusCode": 200, "message": "not an error"})),
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                remote(json!({"statusCode": 400, "message": ["a", "b"]})),
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                remote(json!({"statusCode": 404, "message": ""})),
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                RpcError::EmptyResponse {
                    service: Arc::from("USERS_SERVICE"),
                    pattern: "p".into(),
                },
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#,
            ),
            (
                RpcError::ConnectionLost {
                    service: Arc::from("USERS_SERVICE"),
                    reason: Arc::from("Connection closed"),
                },
                503,
                r#"{"message":"USERS_SERVICE is unavailable","error":"Service Unavailable","statusCode":503}"#,
            ),
            (
                RpcError::Connect {
                    service: Arc::from("ORDERS_SERVICE"),
                    addr: Arc::from("127.0.0.1:3002"),
                    source: std::io::ErrorKind::ConnectionRefused.into(),
                },
                503,
                r#"{"message":"ORDERS_SERVICE is unavailable","error":"Service Unavailable","statusCode":503}"#,
            ),
            (
                RpcError::CircuitOpen {
                    service: Arc::from("ORDERS_SERVICE"),
                    retry_in: Duration::from_secs(3),
                },
                503,
                r#"{"message":"ORDERS_SERVICE is unavailable","error":"Service Unavailable","statusCode":503}"#,
            ),
            (
                RpcError::Timeout {
                    service: Arc::from("USERS_SERVICE"),
                    pattern: "p".into(),
                    timeout: Duration::from_millis(1500),
                },
                504,
                r#"{"message":"USERS_SERVICE did not answer within 1500 ms","error":"Gateway Timeout","statusCode":504}"#,
            ),
            (
                RpcError::Decode {
                    service: Arc::from("USERS_SERVICE"),
                    pattern: "p".into(),
                    source: serde_json::from_str::<u8>("\"x\"").unwrap_err(),
                },
                502,
                r#"{"message":"USERS_SERVICE sent an unexpected reply","error":"Bad Gateway","statusCode":502}"#,
            ),
        ];
        for (error, status, expected) in cases {
            let exception = HttpException::from(error);
            assert_eq!(
                (exception.status(), body(&exception).as_str()),
                (status, expected)
            );
        }
    }
}
