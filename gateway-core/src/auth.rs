//! Authentication and authorization guards: a JWT guard (feature `jwt`) and a roles guard.
//!
//! The Nest recipe they follow: a global auth guard that lets `#[public]` routes through and
//! puts the token's claims on the request (`#[user] claims: Claims`), and a roles guard that
//! checks `#[roles("admin")]` against the user's roles.

use std::marker::PhantomData;

use serde_json::Value;

use crate::http::{CanActivate, ExecutionContext, HttpException, ROLES_KEY};

/// What the roles guard asks of the authenticated user.
pub trait HasRoles {
    /// Whether the user holds `role`.
    fn has_role(&self, role: &str) -> bool;
}

/// JWT claims as JSON: the roles are the `roles` claim (a list of strings) or the `role`
/// claim (one string).
impl HasRoles for Value {
    fn has_role(&self, role: &str) -> bool {
        match (self.get("roles"), self.get("role")) {
            (Some(Value::Array(roles)), _) => roles.iter().any(|r| r.as_str() == Some(role)),
            (_, Some(Value::String(one))) => one == role,
            _ => false,
        }
    }
}

/// Lets a request through when its route needs no roles, or when the user (set by an earlier
/// guard, of type `U`) holds any of the roles `#[roles(..)]` lists on the route (or else its
/// controller). Otherwise 403 `Forbidden resource`. Nest docs' `RolesGuard`.
///
/// Register it after the auth guard: `app.use_global_guards(jwt).use_global_guards(RolesGuard::<Value>::new())`.
pub struct RolesGuard<U = Value> {
    _user: PhantomData<fn() -> U>,
}

impl<U> RolesGuard<U> {
    /// The guard, for users of type `U`.
    pub fn new() -> Self {
        RolesGuard { _user: PhantomData }
    }
}

impl<U> Default for RolesGuard<U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<U: HasRoles + Send + Sync + 'static> CanActivate for RolesGuard<U> {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let Some(required) = ctx.reflector().get_all_and_override(ROLES_KEY) else {
            return Ok(true);
        };
        let mut roles = required.strs().peekable();
        if roles.peek().is_none() {
            return Ok(true);
        }
        let Some(user) = ctx.user::<U>() else {
            return Ok(false);
        };
        Ok(roles.any(|role| user.has_role(role)))
    }
}

#[cfg(feature = "jwt")]
pub use jwt::{JwtError, JwtGuard};

#[cfg(feature = "jwt")]
mod jwt {
    use std::marker::PhantomData;
    use std::time::Duration;

    use axum::http::header;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use crate::http::{CanActivate, ExecutionContext, HttpException};

    /// A key that could not be read.
    #[derive(Debug, thiserror::Error)]
    #[error("invalid JWT key: {0}")]
    pub struct JwtError(#[from] jsonwebtoken::errors::Error);

    /// Checks `Authorization: Bearer <jwt>` and puts its claims (type `C`, JSON by default) on
    /// the request for `#[user] claims: C`. Nest's `JwtAuthGuard` over passport-jwt, as a
    /// global guard that honours `#[public]`.
    ///
    /// Checked: the signature (HS256 with a secret, RS256 with a PEM public key), `exp` (required),
    /// `nbf` when present, `aud` and `iss` when configured, with a clock skew (default 0 s,
    /// `passport-jwt`'s). Any failure is 401 `{"message":"Unauthorized","statusCode":401}`, as
    /// passport answers; the reason is logged at `debug`, never the token.
    ///
    /// ```
    /// use gateway_core::auth::JwtGuard;
    /// let guard = JwtGuard::hs256(b"secret").audience("orders-api").issuer("auth.example").leeway_secs(5);
    /// ```
    pub struct JwtGuard<C = Value> {
        key: DecodingKey,
        validation: Validation,
        _claims: PhantomData<fn() -> C>,
    }

    impl JwtGuard<Value> {
        /// HS256 tokens signed with `secret`.
        pub fn hs256(secret: &[u8]) -> Self {
            Self::with_key(DecodingKey::from_secret(secret), Algorithm::HS256)
        }

        /// RS256 tokens, checked with an RSA public key in PEM.
        pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, JwtError> {
            Ok(Self::with_key(
                DecodingKey::from_rsa_pem(public_key_pem)?,
                Algorithm::RS256,
            ))
        }
    }

    impl<C> JwtGuard<C> {
        fn with_key(key: DecodingKey, algorithm: Algorithm) -> Self {
            let mut validation = Validation::new(algorithm);
            validation.leeway = 0;
            validation.validate_nbf = true;
            validation.validate_aud = false;
            JwtGuard {
                key,
                validation,
                _claims: PhantomData,
            }
        }

        /// Puts the claims on the request as `D` instead (a struct of yours).
        pub fn claims<D: DeserializeOwned>(self) -> JwtGuard<D> {
            JwtGuard {
                key: self.key,
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

    impl<C: DeserializeOwned + Clone + Send + Sync + 'static> CanActivate for JwtGuard<C> {
        async fn can_activate(
            &self,
            ctx: &mut ExecutionContext<'_>,
        ) -> Result<bool, HttpException> {
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
            match jsonwebtoken::decode::<C>(token, &self.key, &self.validation) {
                Ok(data) => {
                    ctx.set_user(data.claims);
                    Ok(true)
                }
                Err(error) => {
                    tracing::debug!(target: "gateway::auth", reason = %error.kind_name(), "token refused");
                    Err(HttpException::unauthorized(()))
                }
            }
        }
    }

    trait KindName {
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
}
