//! Health checks, as `@nestjs/terminus`: a [`HealthCheckService`] runs indicators together and
//! answers terminus's JSON (`status`, `info`, `error`, `details`), 503 when one is down.
//!
//! ```
//! use gateway_core::health::{
//!     DiskHealthIndicator, HealthCheckResult, HealthCheckService, HealthIndicator,
//!     HealthIndicatorResult, MemoryHealthIndicator, MicroserviceHealthIndicator, TerminusModule,
//! };
//! use gateway_core::prelude::*;
//! use std::time::Duration;
//!
//! #[injectable]
//! struct HealthController {
//!     health: HealthCheckService,
//!     #[inject("USERS_SERVICE")]
//!     users: ClientProxy,
//! }
//!
//! #[controller("health")]
//! impl HealthController {
//!     /// Readiness: the services this gateway needs answer.
//!     #[get("")]
//!     #[public]
//!     async fn check(&self) -> Result<HealthCheckResult, HttpException> {
//!         self.health
//!             .check([
//!                 MicroserviceHealthIndicator::ping_check("users", &self.users, Duration::from_secs(1)),
//!                 MemoryHealthIndicator::check_rss("memory_rss", 1 << 30),
//!                 DiskHealthIndicator::check_storage("storage", "/", 0.9),
//!                 HealthIndicator::new(async { HealthIndicatorResult::up("custom") }),
//!             ])
//!             .await
//!     }
//!
//!     /// Liveness: the process answers.
//!     #[get("live")]
//!     #[public]
//!     async fn live(&self) -> Result<HealthCheckResult, HttpException> {
//!         self.health.check([]).await
//!     }
//! }
//!
//! #[module(imports = [TerminusModule::for_root()], controllers = [HealthController])]
//! struct HealthModule;
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::{ClientProxy, RpcError};
use crate::di::{Exportable, Import, ModuleBuilder, Provider};
use crate::http::HttpException;
use crate::pattern::Pattern;

/// One indicator's outcome: terminus's `{ [key]: { ...data, status } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthIndicatorResult {
    key: String,
    status: &'static str,
    data: Map<String, Value>,
}

impl HealthIndicatorResult {
    fn new(key: &str, status: &'static str, data: impl Serialize) -> Self {
        let data = match serde_json::to_value(data) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        HealthIndicatorResult {
            key: key.to_owned(),
            status,
            data,
        }
    }

    /// `key` is up: Nest's `healthIndicatorService.check(key).up()`.
    pub fn up(key: &str) -> Self {
        Self::new(key, "up", ())
    }

    /// `key` is up, with `data` (an object) beside its status: `.up({ version })`.
    pub fn up_with(key: &str, data: impl Serialize) -> Self {
        Self::new(key, "up", data)
    }

    /// `key` is up but degraded (the check's status becomes `degraded`): `.degraded(data)`.
    pub fn degraded(key: &str, data: impl Serialize) -> Self {
        Self::new(key, "degraded", data)
    }

    /// `key` is down, saying why: `.down(message)` (`{ message, status: 'down' }`).
    pub fn down(key: &str, message: impl Into<String>) -> Self {
        Self::new(
            key,
            "down",
            serde_json::json!({ "message": message.into() }),
        )
    }

    /// `key` is down, with `data` (an object): `.down({ reason })`.
    pub fn down_with(key: &str, data: impl Serialize) -> Self {
        Self::new(key, "down", data)
    }

    /// The indicator's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `up`, `degraded` or `down`.
    pub fn status(&self) -> &'static str {
        self.status
    }

    /// `{ ...data, "status": .. }`, as terminus writes it.
    fn body(&self) -> Value {
        let mut body = self.data.clone();
        body.remove("status");
        body.insert("status".into(), Value::from(self.status));
        Value::Object(body)
    }
}

/// A health check to run: what a terminus indicator function (`() => ..`) is.
pub struct HealthIndicator(BoxFuture<'static, HealthIndicatorResult>);

impl HealthIndicator {
    /// A check of your own (terminus's custom indicator).
    pub fn new(check: impl Future<Output = HealthIndicatorResult> + Send + 'static) -> Self {
        HealthIndicator(check.boxed())
    }

    /// `attempt` of terminus: `work` within `timeout`, timed; up (with `responseTime` in ms)
    /// when it succeeds, down with its error (or `timeout of <ms>ms exceeded`) otherwise.
    pub fn attempt<F>(key: &str, timeout: Duration, work: F) -> Self
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let key = key.to_owned();
        HealthIndicator::new(async move {
            let started = Instant::now();
            let outcome = tokio::time::timeout(timeout, work).await;
            let response_time = started.elapsed().as_millis() as u64;
            match outcome {
                Ok(Ok(())) => HealthIndicatorResult::up_with(
                    &key,
                    serde_json::json!({ "responseTime": response_time }),
                ),
                Ok(Err(message)) => HealthIndicatorResult::down_with(
                    &key,
                    serde_json::json!({ "message": message, "responseTime": response_time }),
                ),
                Err(_) => HealthIndicatorResult::down_with(
                    &key,
                    serde_json::json!({
                        "message": format!("timeout of {}ms exceeded", timeout.as_millis()),
                        "responseTime": response_time,
                    }),
                ),
            }
        })
    }
}

/// What `/health` answers: terminus's `HealthCheckResult`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthCheckResult {
    /// `ok`, `degraded` or `error`.
    pub status: &'static str,
    /// The indicators up (or degraded).
    pub info: Map<String, Value>,
    /// The indicators down.
    pub error: Map<String, Value>,
    /// Every indicator: those up, then those down.
    pub details: Map<String, Value>,
}

/// Runs health indicators together: terminus's `HealthCheckService`. Provided by
/// [`TerminusModule`]; inject it as a field `health: HealthCheckService`.
#[derive(Debug, Clone, Default)]
pub struct HealthCheckService;

impl HealthCheckService {
    /// Runs `indicators` at once: `Ok` (200) when none is down, else Nest's 503 whose body
    /// is the same result with `status: "error"` (terminus's `ServiceUnavailableException`).
    pub async fn check(
        &self,
        indicators: impl IntoIterator<Item = HealthIndicator>,
    ) -> Result<HealthCheckResult, HttpException> {
        let outcomes = futures_util::future::join_all(indicators.into_iter().map(|i| i.0)).await;
        let (mut info, mut error) = (Map::new(), Map::new());
        let mut degraded = false;
        for outcome in &outcomes {
            match outcome.status {
                "down" => {
                    error.insert(outcome.key.clone(), outcome.body());
                }
                status => {
                    degraded |= status == "degraded";
                    info.insert(outcome.key.clone(), outcome.body());
                }
            }
        }
        let mut details = info.clone();
        details.extend(error.clone());
        let status = match (error.is_empty(), degraded) {
            (false, _) => "error",
            (true, true) => "degraded",
            (true, false) => "ok",
        };
        let result = HealthCheckResult {
            status,
            info,
            error,
            details,
        };
        if status == "error" {
            let body = serde_json::to_value(&result).expect("a health result serializes");
            tracing::warn!(target: "gateway::health", %body, "health check failed");
            return Err(HttpException::new(body, 503));
        }
        Ok(result)
    }
}

/// Checks a downstream service through its client: terminus's `MicroserviceHealthIndicator`.
pub struct MicroserviceHealthIndicator;

/// The pattern [`MicroserviceHealthIndicator::ping_check`] sends.
pub const HEALTH_PING_PATTERN: &str = "gateway.health.ping";

impl MicroserviceHealthIndicator {
    /// A real round trip to the service, within `timeout`: a request to
    /// [`HEALTH_PING_PATTERN`], which any answer proves alive, Nest's no-handler error
    /// included (terminus's check only connects; a Nest service logs the unknown pattern).
    /// Down: the client's error.
    ///
    /// That works where the client reaches one service whatever the pattern: TCP, and
    /// RabbitMQ (the service's queue). NATS, Redis and MQTT route by subject and drop what
    /// nobody subscribes to, and several services share the broker: there use
    /// [`ping_pattern`](Self::ping_pattern) with a pattern only that service handles (a
    /// health handler of its own, as the example services have).
    pub fn ping_check(key: &str, client: &ClientProxy, timeout: Duration) -> HealthIndicator {
        Self::ping_pattern(key, client, HEALTH_PING_PATTERN, timeout)
    }

    /// [`ping_check`](Self::ping_check) with the request sent to `pattern`.
    pub fn ping_pattern(
        key: &str,
        client: &ClientProxy,
        pattern: impl Into<Pattern>,
        timeout: Duration,
    ) -> HealthIndicator {
        let call = client.send::<Value>(pattern, &Value::Null);
        HealthIndicator::attempt(key, timeout, async move {
            match call.await {
                Ok(_) | Err(RpcError::Remote { .. }) => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        })
    }
}

/// Checks the process's memory: terminus's `MemoryHealthIndicator`.
pub struct MemoryHealthIndicator;

impl MemoryHealthIndicator {
    /// Down when the process's resident set is over `threshold` bytes: `checkRSS`.
    pub fn check_rss(key: &str, threshold: u64) -> HealthIndicator {
        let key = key.to_owned();
        HealthIndicator::new(async move {
            match resident_bytes() {
                Some(rss) if rss > threshold => {
                    HealthIndicatorResult::down(&key, "Used rss exceeded the set threshold")
                }
                Some(_) => HealthIndicatorResult::up(&key),
                None => HealthIndicatorResult::down(&key, "the resident set size is unknown"),
            }
        })
    }
}

/// The process's resident set, from `/proc/self/statm` (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Checks a disk: terminus's `DiskHealthIndicator`.
pub struct DiskHealthIndicator;

impl DiskHealthIndicator {
    /// Down when the file system holding `path` is used over `threshold_percent` (0 to 1):
    /// `checkStorage(key, { path, thresholdPercent })`.
    pub fn check_storage(key: &str, path: &str, threshold_percent: f64) -> HealthIndicator {
        Self::check(key, path, move |used, total| {
            used as f64 / total.max(1) as f64 > threshold_percent
        })
    }

    /// Down when more than `threshold` bytes of the file system holding `path` are used:
    /// `checkStorage(key, { path, threshold })`.
    pub fn check_storage_bytes(key: &str, path: &str, threshold: u64) -> HealthIndicator {
        Self::check(key, path, move |used, _| used > threshold)
    }

    fn check(
        key: &str,
        path: &str,
        over: impl FnOnce(u64, u64) -> bool + Send + 'static,
    ) -> HealthIndicator {
        let (key, path) = (key.to_owned(), path.to_owned());
        HealthIndicator::new(async move {
            match disk_usage(&path) {
                Ok((used, total)) if over(used, total) => HealthIndicatorResult::down(
                    &key,
                    "Used disk storage exceeded the set threshold",
                ),
                Ok(_) => HealthIndicatorResult::up(&key),
                Err(error) => HealthIndicatorResult::down(&key, error),
            }
        })
    }
}

/// Bytes used and in all on the file system holding `path` (`statvfs`), as `df` counts them.
// The fields' types differ between platforms: the casts are not all no-ops everywhere.
#[allow(clippy::unnecessary_cast)]
fn disk_usage(path: &str) -> Result<(u64, u64), String> {
    let c_path = std::ffi::CString::new(path).map_err(|e| e.to_string())?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a valid C string and `stats` a place statvfs fills.
    let code = unsafe { libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) };
    if code != 0 {
        return Err(format!("{path}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs succeeded, so it filled `stats`.
    let stats = unsafe { stats.assume_init() };
    let block = stats.f_frsize as u64;
    let total = stats.f_blocks as u64 * block;
    let free = stats.f_bfree as u64 * block;
    Ok((total - free, total))
}

/// Nest's `TerminusModule.forRoot()`: provides the [`HealthCheckService`].
#[derive(Debug, Default)]
pub struct TerminusModule;

impl TerminusModule {
    /// The module.
    pub fn for_root() -> Self {
        TerminusModule
    }
}

impl Import for TerminusModule {
    /// A module of its own, named `TerminusModule`, exporting the [`HealthCheckService`].
    fn import(self, into: &mut ModuleBuilder<'_>) {
        into.import_dynamic("TerminusModule", |module| {
            module.provide(Provider::typed(HealthCheckService));
            module.export_all();
        });
    }
}

impl Exportable for TerminusModule {
    /// `exports: [TerminusModule]`.
    fn export(module: &mut ModuleBuilder<'_>) {
        module.export_dynamic("TerminusModule");
    }
}

/// Checks a URL: terminus's `HttpHealthIndicator` (feature `http-client`).
#[cfg(feature = "http-client")]
pub struct HttpHealthIndicator;

#[cfg(feature = "http-client")]
impl HttpHealthIndicator {
    /// Up when `GET url` answers 2xx within `timeout`: `http.pingCheck(key, url, { timeout })`.
    /// Down otherwise, as terminus (axios) words it: `{ message: "Request failed with status
    /// code 503", statusCode: 503, statusText: "Service Unavailable" }`, `timeout of <ms>ms
    /// exceeded`, or the connection's error.
    pub fn ping_check(key: &str, url: &str, timeout: Duration) -> HealthIndicator {
        static TLS: std::sync::OnceLock<Result<tokio_rustls::TlsConnector, String>> =
            std::sync::OnceLock::new();
        let (key, url) = (key.to_owned(), url.to_owned());
        HealthIndicator::new(async move {
            let uri: axum::http::Uri = match url.parse() {
                Ok(uri) => uri,
                Err(error) => return HealthIndicatorResult::down(&key, format!("{url}: {error}")),
            };
            let tls = match TLS.get_or_init(|| crate::http_client::tls_connector(None)) {
                Ok(tls) => tls,
                Err(error) => return HealthIndicatorResult::down(&key, error.clone()),
            };
            let call = crate::http_client::get(&uri, tls, 1 << 20);
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok((status, _))) if status.is_success() => HealthIndicatorResult::up(&key),
                Ok(Ok((status, _))) => HealthIndicatorResult::down_with(
                    &key,
                    serde_json::json!({
                        "message": format!("Request failed with status code {}", status.as_u16()),
                        "statusCode": status.as_u16(),
                        "statusText": status.canonical_reason().unwrap_or(""),
                    }),
                ),
                Ok(Err(error)) => HealthIndicatorResult::down(&key, error),
                Err(_) => HealthIndicatorResult::down(
                    &key,
                    format!("timeout of {}ms exceeded", timeout.as_millis()),
                ),
            }
        })
    }
}

/// Checks a Redis with `PING` (feature `redis`): the connection is made at the first check
/// and remade after a failure.
#[cfg(feature = "redis")]
pub struct RedisHealthIndicator {
    redis: std::sync::Arc<crate::redis_conn::LazyRedis>,
}

#[cfg(feature = "redis")]
impl RedisHealthIndicator {
    /// The Redis at `url` (`redis://127.0.0.1:6379`).
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(RedisHealthIndicator {
            redis: std::sync::Arc::new(crate::redis_conn::LazyRedis::open(url)?),
        })
    }

    /// Up when Redis answers `PING` (with `responseTime`), down with the error otherwise.
    pub fn ping_check(&self, key: &str) -> HealthIndicator {
        let redis = std::sync::Arc::clone(&self.redis);
        // The connection's own bound (a second at most) is the timeout.
        HealthIndicator::attempt(key, Duration::from_secs(2), async move {
            redis
                .run(|mut c| async move {
                    redis::cmd("PING")
                        .query_async::<String>(&mut c)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
                .await
        })
    }
}
