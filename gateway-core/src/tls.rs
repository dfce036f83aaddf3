//! TLS for every transport (feature `tls`): Nest's `tlsOptions`.
//!
//! One [`TlsOptions`] value says what a connection trusts and what it shows, in the words of
//! Node's `tls.connect`/`tls.createServer` options that a Nest team already writes:
//! `ca` ([`ca_pem`](TlsOptions::ca_pem)), `cert` + `key` ([`cert_pem`](TlsOptions::cert_pem)),
//! `servername` ([`server_name`](TlsOptions::server_name)). The same value configures:
//!
//! | where | Nest | ours |
//! | --- | --- | --- |
//! | TCP client | `{ transport: Transport.TCP, options: { tlsOptions } }` | `ClientOptions::tcp(..).tls(tls)` |
//! | TCP server | `connectMicroservice({ transport: Transport.TCP, options: { tlsOptions } })` | `Transport::tcp_with(addr, ServerOptions { tls: Some(tls), .. })` |
//! | Redis | `rediss://` URL, ioredis's `tls` | `ClientOptions::redis(.., "rediss://..").tls(tls)`, `RedisServerOptions::tls` |
//! | RabbitMQ | `amqps://` URL, `socketOptions` | `ClientOptions::rmq(.., "amqps://..", ..).tls(tls)`, `RmqOptions::tls` |
//! | MQTT | `mqtts://` URL, `ca`/`cert`/`key` | `ClientOptions::mqtt(.., "mqtts://..").tls(tls)`, `MqttServerOptions::tls` |
//! | NATS | `tls: { ca, cert, key }` | `ClientOptions::nats(..).tls(tls)`, `NatsServerOptions::tls` |
//!
//! A client without [`ca_pem`](TlsOptions::ca_pem) trusts the Mozilla roots (Node's default
//! list too). A server with [`ca_pem`](TlsOptions::ca_pem) asks every client for a
//! certificate signed by it and refuses a client without one (Node's `requestCert: true` and
//! `rejectUnauthorized: true`). Certificates are always verified: there is no
//! `rejectUnauthorized: false`. The crypto is rustls on `ring`, the one provider in the tree.
//!
//! ```
//! # fn demo(ca: &str) -> Result<(), gateway_core::tls::TlsError> {
//! use gateway_core::client::ClientOptions;
//! use gateway_core::tls::TlsOptions;
//! let users = ClientOptions::tcp("USERS_SERVICE", "users.internal:3001")
//!     .tls(TlsOptions::new().ca_pem(ca)?);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls;

/// A TLS setting that cannot be used: a PEM that does not parse, a key that does not match.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

impl TlsError {
    fn new(what: impl std::fmt::Display) -> Self {
        TlsError(what.to_string())
    }
}

/// What a TLS connection trusts and shows: see the module docs.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// The PEM of `ca` as given (the Redis and RabbitMQ clients take PEM).
    ca_pem: Option<Arc<[u8]>>,
    ca: Vec<CertificateDer<'static>>,
    /// The PEMs of `cert` and `key` as given.
    cert_pem: Option<Arc<[u8]>>,
    key_pem: Option<Arc<[u8]>>,
    cert: Vec<CertificateDer<'static>>,
    key: Option<Arc<PrivateKeyDer<'static>>>,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca", &self.ca.len())
            .field("cert", &self.cert.len())
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsOptions {
    /// No settings: a client trusting the Mozilla roots, showing no certificate.
    pub fn new() -> Self {
        TlsOptions::default()
    }

    /// Trusts the certificates of `pem` (one or more `CERTIFICATE` blocks) instead of the
    /// Mozilla roots: Node's `ca`. On a server, clients must show a certificate they sign.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        let pem = pem.as_ref();
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::new(format!("`ca` is not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(TlsError::new("`ca` holds no CERTIFICATE block"));
        }
        self.ca = certs;
        self.ca_pem = Some(pem.into());
        Ok(self)
    }

    /// Shows the certificate chain `cert_pem` (leaf first) with its private key `key_pem`
    /// (PKCS#8, PKCS#1 or SEC1): Node's `cert` and `key`. A server needs them; a client
    /// shows them to a server that asks (mutual TLS).
    pub fn cert_pem(
        mut self,
        cert_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = (cert_pem.as_ref(), key_pem.as_ref());
        let cert = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::new(format!("`cert` is not PEM certificates: {e}")))?;
        if cert.is_empty() {
            return Err(TlsError::new("`cert` holds no CERTIFICATE block"));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::new(format!("`key` is not a PEM private key: {e}")))?;
        // The key must be one the provider can sign with, and match the certificate.
        let signer = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| TlsError::new(format!("`key` cannot be used: {e}")))?;
        rustls::sign::CertifiedKey::new(cert.clone(), signer)
            .keys_match()
            .map_err(|e| TlsError::new(format!("`key` does not match `cert`: {e}")))?;
        self.cert = cert;
        self.key = Some(Arc::new(key));
        self.cert_pem = Some(cert_pem.into());
        self.key_pem = Some(key_pem.into());
        Ok(self)
    }

    /// The name the server's certificate must carry (Node's `servername`); default: the host
    /// of the address dialed.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The PEM given to [`ca_pem`](Self::ca_pem), if any.
    #[cfg_attr(not(any(feature = "redis", feature = "rmq")), allow(dead_code))]
    pub(crate) fn ca_pem_bytes(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// The PEMs given to [`cert_pem`](Self::cert_pem), if any.
    #[cfg_attr(not(any(feature = "redis", feature = "rmq")), allow(dead_code))]
    pub(crate) fn identity_pem_bytes(&self) -> Option<(&[u8], &[u8])> {
        self.cert_pem.as_deref().zip(self.key_pem.as_deref())
    }

    /// The name to check the server's certificate against: the configured one, else `host`.
    pub(crate) fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(name.to_owned())
            .map_err(|e| TlsError::new(format!("`{name}` cannot be a server name: {e}")))
    }

    /// A rustls client configuration from these options.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        if self.ca.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        } else {
            for cert in &self.ca {
                roots
                    .add(cert.clone())
                    .map_err(|e| TlsError::new(format!("a `ca` certificate is invalid: {e}")))?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::new)?
            .with_root_certificates(roots);
        let config = match &self.key {
            Some(key) => builder
                .with_client_auth_cert(self.cert.clone(), key.clone_key())
                .map_err(|e| TlsError::new(format!("`cert`/`key`: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// A rustls server configuration from these options: `cert` and `key` are required; with
    /// `ca`, clients must show a certificate it signs.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| TlsError::new("a TLS server needs `cert` and `key` (cert_pem)"))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::new)?;
        let builder = if self.ca.is_empty() {
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for cert in &self.ca {
                roots
                    .add(cert.clone())
                    .map_err(|e| TlsError::new(format!("a `ca` certificate is invalid: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(TlsError::new)?;
            builder.with_client_cert_verifier(verifier)
        };
        let config = builder
            .with_single_cert(self.cert.clone(), key.clone_key())
            .map_err(|e| TlsError::new(format!("`cert`/`key`: {e}")))?;
        Ok(Arc::new(config))
    }
}

/// The crypto provider every configuration of this crate uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The host part of `host:port` (`[::1]:3000` gives `::1`).
pub(crate) fn host_of(addr: &str) -> &str {
    let host = match addr.rfind(':') {
        Some(colon) if !addr[colon + 1..].contains(']') => &addr[..colon],
        _ => addr,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_addresses() {
        assert_eq!(host_of("users.internal:3001"), "users.internal");
        assert_eq!(host_of("127.0.0.1:3001"), "127.0.0.1");
        assert_eq!(host_of("[::1]:3001"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn bad_pem_is_a_clear_error() {
        let error = TlsOptions::new().ca_pem("not a certificate").unwrap_err();
        assert_eq!(error.to_string(), "TLS: `ca` holds no CERTIFICATE block");
        let error = TlsOptions::new().server_config().map(|_| ()).unwrap_err();
        assert!(
            error.to_string().contains("needs `cert` and `key`"),
            "{error}"
        );
    }
}
