//! One lazily made, self-healing Redis connection for the features that keep state on Redis
//! (the throttler's storage, the cache's store): made at the first use, remade after a
//! failure, every command bounded in time so a Redis that is down never holds a request.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

/// How long one connection attempt or one answer may take.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(500);

/// A client for the Redis at `url`; with `tls` (a `rediss://` URL), trusting its `ca` (else
/// the system's roots) and showing its certificate, if any.
pub(crate) fn client(
    url: &str,
    #[cfg(feature = "tls")] tls: Option<&crate::tls::TlsOptions>,
) -> Result<redis::Client, redis::RedisError> {
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        return redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: tls
                    .identity_pem_bytes()
                    .map(|(cert, key)| redis::ClientTlsConfig {
                        client_cert: cert.to_vec(),
                        client_key: key.to_vec(),
                    }),
                root_cert: tls.ca_pem_bytes().map(<[u8]>::to_vec),
            },
        );
    }
    redis::Client::open(url)
}

/// A Redis client and its connection, made when first needed.
pub(crate) struct LazyRedis {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
}

impl LazyRedis {
    /// The Redis at `url` (`redis://127.0.0.1:6379`); nothing is connected yet.
    pub(crate) fn open(url: &str) -> Result<Self, redis::RedisError> {
        Ok(LazyRedis {
            client: redis::Client::open(url)?,
            connection: OnceCell::new(),
        })
    }

    /// The connection, made if it is not yet.
    async fn connection(&self) -> Result<ConnectionManager, String> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        self.connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await
            .cloned()
            .map_err(|e| e.to_string())
    }

    /// Runs `work` on the connection, within twice [`TIMEOUT`].
    pub(crate) async fn run<T, F, Fut>(&self, work: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let attempt = async {
            let connection = self.connection().await?;
            work(connection).await
        };
        tokio::time::timeout(2 * TIMEOUT, attempt)
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
    }
}
