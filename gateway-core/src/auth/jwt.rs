//! [`JwtGuard`]: bearer tokens checked against a key pinned to its algorithm, or against the
//! keys a JWKS URL publishes.

use std::marker::PhantomData;
use std::time::Duration;

use axum::http::header;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::{CanActivate, ExecutionContext, HttpException};

/// A key, a URL or a token that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// A key that could not be read.
    #[error("invalid JWT key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    /// A key given for an algorithm of another family (an RSA key for ES256, a secret for
    /// RS256, ...).
    #[error("{algorithm:?} {problem}")]
    Algorithm {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// What is wrong.
        problem: &'static str,
    },
    /// A JWKS URL that cannot be fetched (`http://` or `https://` only).
    #[error("invalid JWKS URL {url}: {problem}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        problem: String,
    },
}

/// Where the guard finds the key for a token.
pub(super) enum Keys {
    /// One key, pinned to one algorithm.
    One {
        key: DecodingKey,
        algorithm: Algorithm,
    },
    /// The keys a JWKS URL publishes, each pinned to its algorithm.
    #[cfg(feature = "jwks")]
    Jwks(Box<super::jwks::JwksKeys>),
}

/// The algorithms a family of keys signs with.
pub(super) fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// Checks `Authorization: Bearer <jwt>` and puts its claims (type `C`, JSON by default) on
/// the request for `#[user] claims: C`. Nest's `JwtAuthGuard` over passport-jwt, as a global
/// guard that honours `#[public]`.
///
/// Checked: the signature, with the one key given (a secret for HS256/384/512, a PEM public
/// key for RS*, PS*, ES256/384 and EdDSA) or the key a JWKS URL publishes under the token's
/// `kid` ([`jwks`](Self::jwks), feature `jwks`); the token's `alg` must be the key's own
/// (`none` never is, and an HS token is never checked with an RSA key's bytes as its
/// secret); `exp` (required), `nbf` when present, `aud` and `iss` when configured, with a
/// clock skew (default 0 s, `passport-jwt`'s). Any failure is 401
/// `{"message":"Unauthorized","statusCode":401}`, as passport answers; the reason is logged
/// at `debug`, never the token.
///
/// ```
/// use gateway_core::auth::JwtGuard;
/// let guard = JwtGuard::hs256(b"secret").audience("orders-api").issuer("auth.example").leeway_secs(5);
/// ```
pub struct JwtGuard<C = Value> {
    keys: Keys,
    validation: Validation,
    _claims: PhantomData<fn() -> C>,
}

impl JwtGuard<Value> {
    /// HS256 tokens signed with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with_keys(
            Keys::One {
                key: DecodingKey::from_secret(secret),
                algorithm: Algorithm::HS256,
            },
            vec![Algorithm::HS256],
        )
    }

    /// Tokens signed with `secret` by `algorithm` (HS256, HS384 or HS512).
    pub fn secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, JwtError> {
        if !is_hmac(algorithm) {
            return Err(JwtError::Algorithm {
                algorithm,
                problem: "checks with a public key, not a secret: use `JwtGuard::public_key_pem`",
            });
        }
        Ok(Self::with_keys(
            Keys::One {
                key: DecodingKey::from_secret(secret),
                algorithm,
            },
            vec![algorithm],
        ))
    }

    /// RS256 tokens, checked with an RSA public key in PEM.
    pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, JwtError> {
        Self::public_key_pem(Algorithm::RS256, public_key_pem)
    }

    /// Tokens signed by `algorithm`, checked with its public key in PEM: an RSA key for
    /// RS256/384/512 and PS256/384/512, a P-256 or P-384 key for ES256 or ES384, an Ed25519
    /// key for EdDSA.
    pub fn public_key_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, JwtError> {
        use Algorithm::*;
        let key = match algorithm {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => DecodingKey::from_rsa_pem(pem)?,
            ES256 | ES384 => DecodingKey::from_ec_pem(pem)?,
            EdDSA => DecodingKey::from_ed_pem(pem)?,
            HS256 | HS384 | HS512 => {
                return Err(JwtError::Algorithm {
                    algorithm,
                    problem: "checks with a secret, not a public key: use `JwtGuard::secret`",
                })
            }
        };
        Ok(Self::with_keys(
            Keys::One { key, algorithm },
            vec![algorithm],
        ))
    }
}

impl<C> JwtGuard<C> {
    pub(super) fn with_keys(keys: Keys, algorithms: Vec<Algorithm>) -> Self {
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        JwtGuard {
            keys,
            validation,
            _claims: PhantomData,
        }
    }

    /// Puts the claims on the request as `D` instead (a struct of yours).
    pub fn claims<D: DeserializeOwned>(self) -> JwtGuard<D> {
        JwtGuard {
            keys: self.keys,
            validation: self.validation,
            _claims: PhantomData,
        }
    }

    /// Requires `aud` to be (or contain) `audience`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self.validation.validate_aud = true;
        self
    }

    /// Requires `iss` to be `issuer`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self
    }

    /// Accepts `exp` and `nbf` this many seconds off (clock skew).
    pub fn leeway_secs(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds;
        self
    }

    /// Accepts `exp` and `nbf` this far off (clock skew).
    pub fn leeway(self, skew: Duration) -> Self {
        self.leeway_secs(skew.as_secs())
    }
}

impl<C: DeserializeOwned> JwtGuard<C> {
    /// The token's claims, or why it is refused.
    async fn verify(&self, token: &str) -> Result<C, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.kind_name())?;
        let checked = match &self.keys {
            Keys::One { key, algorithm } => {
                pinned(header.alg, *algorithm)?;
                jsonwebtoken::decode::<C>(token, key, &self.validation)
            }
            #[cfg(feature = "jwks")]
            Keys::Jwks(keys) => {
                let (key, algorithm) = keys.key_for(header.kid.as_deref()).await?;
                pinned(header.alg, algorithm)?;
                // jsonwebtoken wants every listed algorithm of the key's family.
                let mut validation = self.validation.clone();
                validation.algorithms = vec![algorithm];
                jsonwebtoken::decode::<C>(token, &key, &validation)
            }
        };
        checked.map(|data| data.claims).map_err(|e| e.kind_name())
    }
}

/// A token signed by `alg` checks only against a key of `algorithm`.
fn pinned(alg: Algorithm, algorithm: Algorithm) -> Result<(), &'static str> {
    if alg == algorithm {
        Ok(())
    } else {
        Err("wrong algorithm for the key")
    }
}

impl<C: DeserializeOwned + Clone + Send + Sync + 'static> CanActivate for JwtGuard<C> {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        if ctx.reflector().is_public() {
            return Ok(true);
        }
        let token = ctx
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let Some(token) = token else {
            tracing::debug!(target: "gateway::auth", "no bearer token");
            return Err(HttpException::unauthorized(()));
        };
        match self.verify(token).await {
            Ok(claims) => {
                ctx.set_user(claims);
                Ok(true)
            }
            Err(reason) => {
                tracing::debug!(target: "gateway::auth", reason, "token refused");
                Err(HttpException::unauthorized(()))
            }
        }
    }
}

pub(super) trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind::*;
        match self.kind() {
            ExpiredSignature => "expired",
            ImmatureSignature => "not yet valid (nbf)",
            InvalidAudience => "wrong audience",
            InvalidIssuer => "wrong issuer",
            InvalidSignature => "bad signature",
            InvalidAlgorithm => "wrong algorithm",
            MissingRequiredClaim(_) => "missing claim",
            InvalidToken | Base64(_) | Json(_) | Utf8(_) => "malformed",
            _ => "invalid",
        }
    }
}
