//! Keys from a JWKS URL (feature `jwks`): fetched at the first token, kept, and fetched again
//! when a token names a key the set does not have (the issuer rotated its keys), at most once
//! per `min_refresh` so no stream of bad tokens can hammer the issuer. Over `https://` (with
//! the Mozilla roots) or `http://` (a sidecar, a test).

use std::time::Duration;

use axum::http::Uri;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::jwt::{is_hmac, JwtError, JwtGuard, Keys};

/// How a JWKS URL is used.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// How long a fetched set is used before it is fetched again (jwks-rsa's `cacheMaxAge`;
    /// default 10 minutes).
    pub cache_max_age: Duration,
    /// The least time between two fetches, however many unknown `kid`s come (jwks-rsa's
    /// rate limit; default 30 s).
    pub min_refresh: Duration,
    /// How long one fetch may take (default 5 s).
    pub timeout: Duration,
    /// The largest set accepted, in bytes (default 1 MiB).
    pub max_bytes: usize,
    /// Certificates (PEM) trusted besides the Mozilla roots, for an issuer behind a private
    /// CA (default none).
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl Default for JwksOptions {
    fn default() -> Self {
        JwksOptions {
            cache_max_age: Duration::from_secs(600),
            min_refresh: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_bytes: 1 << 20,
            extra_roots_pem: None,
        }
    }
}

impl JwtGuard<serde_json::Value> {
    /// Tokens signed by the keys published at `url` (Auth0's, Keycloak's, Cognito's
    /// `.../.well-known/jwks.json`), picked by the token's `kid`. Each key checks the
    /// algorithm its JWK names (`alg`), else its type's (RS256 for RSA, ES256/ES384 for P-256/
    /// P-384, EdDSA for Ed25519); symmetric (`oct`) keys are ignored. Nest's passport-jwt with
    /// `secretOrKeyProvider: passportJwtSecret({ jwksUri })`.
    pub fn jwks(url: &str) -> Result<Self, JwtError> {
        Self::jwks_with(url, JwksOptions::default())
    }

    /// [`jwks`](Self::jwks) with options.
    pub fn jwks_with(url: &str, options: JwksOptions) -> Result<Self, JwtError> {
        let uri: Uri = url
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| JwtError::Url {
                url: url.to_owned(),
                problem: e.to_string(),
            })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(JwtError::Url {
                url: url.to_owned(),
                problem: "a JWKS URL is http:// or https:// with a host".to_owned(),
            });
        }
        use Algorithm::*;
        let asymmetric = vec![
            RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
        ];
        let tls = crate::http_client::tls_connector(options.extra_roots_pem.as_deref()).map_err(
            |problem| JwtError::Url {
                url: url.to_owned(),
                problem,
            },
        )?;
        let keys = JwksKeys {
            uri,
            tls,
            options,
            state: std::sync::Mutex::new(State::default()),
            fetching: Mutex::new(()),
        };
        Ok(Self::with_keys(Keys::Jwks(Box::new(keys)), asymmetric))
    }
}

/// The set as last fetched, and when.
#[derive(Default)]
struct State {
    keys: Vec<(Option<String>, DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
}

/// A JWKS URL and the keys last fetched from it.
pub(crate) struct JwksKeys {
    uri: Uri,
    tls: tokio_rustls::TlsConnector,
    options: JwksOptions,
    state: std::sync::Mutex<State>,
    fetching: Mutex<()>,
}

impl JwksKeys {
    /// The key a token names (its `kid`; without one, the set's only key), fetching the set
    /// when it is old or does not have it, and may be fetched again.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
    ) -> Result<(DecodingKey, Algorithm), &'static str> {
        let (found, may_fetch) = self.lookup(kid);
        if let (Some(found), false) = (&found, may_fetch) {
            return Ok(found.clone());
        }
        if !may_fetch {
            return found.ok_or("no key for the token's kid");
        }
        // One fetch at a time; tokens with known keys keep being checked meanwhile.
        let _fetching = self.fetching.lock().await;
        let (found, may_fetch) = self.lookup(kid);
        if !may_fetch {
            return found.ok_or("no key for the token's kid"); // fetched while we waited
        }
        self.state().fetched = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => self.state().keys = keys,
            Err(error) => {
                tracing::warn!(target: "gateway::auth", url = %self.uri, %error, "the JWKS could not be fetched; the keys fetched before stay");
            }
        }
        find(&self.state().keys, kid).ok_or("no key for the token's kid")
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key `kid` names in the set as it is, and whether the set should and may be
    /// fetched now (it is old, or lacks the key, and was not fetched too recently).
    fn lookup(&self, kid: Option<&str>) -> (Option<(DecodingKey, Algorithm)>, bool) {
        let state = self.state();
        let age = state.fetched.map(|at| at.elapsed());
        let stale = age.is_none_or(|age| age >= self.options.cache_max_age);
        let found = find(&state.keys, kid);
        let may_fetch = age.is_none_or(|age| age >= self.options.min_refresh);
        let fetch = (stale || found.is_none()) && may_fetch;
        (found, fetch)
    }

    async fn fetch(&self) -> Result<Vec<(Option<String>, DecodingKey, Algorithm)>, String> {
        let fetch = crate::http_client::get_body(&self.uri, &self.tls, self.options.max_bytes);
        let body = tokio::time::timeout(self.options.timeout, fetch)
            .await
            .map_err(|_| "timed out".to_owned())??;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))?;
        let keys: Vec<_> = set.keys.iter().filter_map(usable).collect();
        tracing::debug!(target: "gateway::auth", url = %self.uri, keys = keys.len(), "JWKS fetched");
        Ok(keys)
    }
}

fn find(
    keys: &[(Option<String>, DecodingKey, Algorithm)],
    kid: Option<&str>,
) -> Option<(DecodingKey, Algorithm)> {
    let found = match kid {
        Some(kid) => keys.iter().find(|(k, ..)| k.as_deref() == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    };
    found.map(|(_, key, algorithm)| (key.clone(), *algorithm))
}

/// A JWK's key and the algorithm it is pinned to; `None` for a key we do not check tokens
/// with (symmetric, encryption-only, an unknown curve).
fn usable(jwk: &Jwk) -> Option<(Option<String>, DecodingKey, Algorithm)> {
    if jwk.common.public_key_use == Some(jsonwebtoken::jwk::PublicKeyUse::Encryption) {
        return None;
    }
    let default = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        Some(named) => algorithm_of(named)?,
        None => default,
    };
    if is_hmac(algorithm) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((jwk.common.key_id.clone(), key, algorithm))
}

fn algorithm_of(named: KeyAlgorithm) -> Option<Algorithm> {
    named.to_string().parse().ok()
}
