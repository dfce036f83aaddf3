use serde_json::{json, Value};

/// The error a message handler returns, sent to the caller as the packet's `err`. Nest's
/// `RpcException`, serialized the way Nest's `BaseRpcExceptionFilter` does:
///
/// | built with | `err` on the wire |
/// | --- | --- |
/// | `RpcException::new("boom")` (any non-object) | `{"status":"error","message":"boom"}` |
/// | `RpcException::new(json!({"statusCode": 404, "message": "User not found"}))` | the object, unchanged |
/// | [`RpcException::internal()`], a panic, or an unserializable result | `{"status":"error","message":"Internal server error"}` |
///
/// A Nest gateway turns an object with `statusCode` and `message` into that HTTP status; any
/// other error into a 500.
///
/// ```
/// # use gateway_core::server::RpcException;
/// # use serde_json::json;
/// assert_eq!(RpcException::new("boom").error(), &json!({"status": "error", "message": "boom"}));
/// let not_found = RpcException::new(json!({"statusCode": 404, "message": "User not found"}));
/// assert_eq!(not_found.error()["statusCode"], 404);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RpcException {
    error: Value,
}

impl RpcException {
    /// An exception carrying `error`: an object is sent as is, anything else as
    /// `{"status":"error","message":<error>}`.
    pub fn new(error: impl Into<Value>) -> Self {
        let error = error.into();
        let error = if error.is_object() {
            error
        } else {
            json!({ "status": "error", "message": error })
        };
        RpcException { error }
    }

    /// What Nest sends for anything that is not an `RpcException`.
    pub fn internal() -> Self {
        RpcException::new("Internal server error")
    }

    /// The `err` value that goes on the wire.
    pub fn error(&self) -> &Value {
        &self.error
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.error).expect("a serde_json::Value always serializes")
    }
}

impl std::fmt::Display for RpcException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.error.get("message") {
            Some(Value::String(message)) => f.write_str(message),
            _ => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for RpcException {}

impl From<&str> for RpcException {
    fn from(message: &str) -> Self {
        RpcException::new(message)
    }
}

impl From<String> for RpcException {
    fn from(message: String) -> Self {
        RpcException::new(message)
    }
}

impl From<Value> for RpcException {
    fn from(error: Value) -> Self {
        RpcException::new(error)
    }
}

impl From<std::convert::Infallible> for RpcException {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
