//! [`JwtService`] and [`JwtModule`]: signing and verifying tokens, as `@nestjs/jwt`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::jwt::{is_hmac, JwtError};
use crate::di::{Exportable, Import, ModuleBuilder, Provider};

/// Signs and verifies tokens: Nest's `JwtService` (`@nestjs/jwt`), with its defaults: `iat`
/// added to every token, `exp` from [`expires_in`](Self::expires_in) (`signOptions:
/// { expiresIn }`), the algorithm pinned (a token signed otherwise does not verify).
///
/// ```
/// use gateway_core::auth::JwtService;
/// use serde_json::json;
/// use std::time::Duration;
///
/// let jwt = JwtService::secret(b"a secret of at least thirty-two bytes").expires_in(Duration::from_secs(60));
/// let token = jwt.sign(&json!({ "sub": "42", "roles": ["admin"] })).unwrap();
/// let claims: serde_json::Value = jwt.verify(&token).unwrap();
/// assert_eq!(claims["sub"], "42");
/// assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
/// ```
#[derive(Clone)]
pub struct JwtService {
    algorithm: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    expires_in: Option<Duration>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for JwtService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtService")
            .field("algorithm", &self.algorithm)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl JwtService {
    /// HS256 with `secret`: `JwtModule.register({ secret })`.
    pub fn secret(secret: &[u8]) -> Self {
        JwtService {
            algorithm: Algorithm::HS256,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            expires_in: None,
            issuer: None,
            audience: None,
        }
    }

    /// `algorithm` (RS*, PS*, ES256/384, EdDSA) with a key pair in PEM: `JwtModule.register({
    /// privateKey, publicKey, signOptions: { algorithm } })`. Without the private key
    /// ([`verify_only`](Self::verify_only)) the service verifies but cannot sign.
    pub fn key_pair(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, JwtError> {
        let mut service = Self::verify_only(algorithm, public_pem)?;
        use Algorithm::*;
        service.encoding = Some(match algorithm {
            ES256 | ES384 => EncodingKey::from_ec_pem(private_pem)?,
            EdDSA => EncodingKey::from_ed_pem(private_pem)?,
            _ => EncodingKey::from_rsa_pem(private_pem)?,
        });
        Ok(service)
    }

    /// A service that verifies `algorithm`'s tokens with a public key in PEM, and signs none.
    pub fn verify_only(algorithm: Algorithm, public_pem: &[u8]) -> Result<Self, JwtError> {
        use Algorithm::*;
        let decoding = match algorithm {
            ES256 | ES384 => DecodingKey::from_ec_pem(public_pem)?,
            EdDSA => DecodingKey::from_ed_pem(public_pem)?,
            _ if is_hmac(algorithm) => {
                return Err(JwtError::Algorithm {
                    algorithm,
                    problem: "takes a secret: use `JwtService::secret`",
                })
            }
            _ => DecodingKey::from_rsa_pem(public_pem)?,
        };
        Ok(JwtService {
            algorithm,
            encoding: None,
            decoding,
            expires_in: None,
            issuer: None,
            audience: None,
        })
    }

    /// HS384 or HS512 instead of HS256, for a [`secret`](Self::secret) service.
    pub fn hmac(mut self, algorithm: Algorithm) -> Result<Self, JwtError> {
        if !is_hmac(algorithm) || !is_hmac(self.algorithm) {
            return Err(JwtError::Algorithm {
                algorithm,
                problem: "is not an HMAC algorithm for a secret",
            });
        }
        self.algorithm = algorithm;
        Ok(self)
    }

    /// `signOptions: { expiresIn }`: tokens signed carry `exp` this far ahead.
    pub fn expires_in(mut self, expires_in: Duration) -> Self {
        self.expires_in = Some(expires_in);
        self
    }

    /// `signOptions: { issuer }` / `verifyOptions: { issuer }`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// `signOptions: { audience }` / `verifyOptions: { audience }`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    /// A token of `claims` (an object), with `iat`, and `exp`, `iss`, `aud` when configured
    /// (claims of the same names in `claims` are kept): Nest's `jwtService.sign(payload)`.
    pub fn sign<T: Serialize + ?Sized>(
        &self,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let Some(encoding) = &self.encoding else {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
        };
        let mut payload = match serde_json::to_value(claims)? {
            Value::Object(map) => map,
            _ => return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into()),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        payload.entry("iat").or_insert(now.into());
        if let Some(expires_in) = self.expires_in {
            payload
                .entry("exp")
                .or_insert((now + expires_in.as_secs()).into());
        }
        if let Some(issuer) = &self.issuer {
            payload.entry("iss").or_insert(issuer.clone().into());
        }
        if let Some(audience) = &self.audience {
            payload.entry("aud").or_insert(audience.clone().into());
        }
        jsonwebtoken::encode(&Header::new(self.algorithm), &payload, encoding)
    }

    /// The claims of `token` if its signature, algorithm, `exp` (when present, as
    /// `jsonwebtoken` in Node checks it), `nbf`, `iss` and `aud` (when configured) hold: Nest's
    /// `jwtService.verify(token)`.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.required_spec_claims.clear();
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation).map(|data| data.claims)
    }
}

/// Nest's `JwtModule.register({ .. })`: a module providing a [`JwtService`] (by type), to
/// every module when [`is_global`](Self::is_global).
pub struct JwtModule {
    service: JwtService,
    global: bool,
}

impl JwtModule {
    /// The module providing `service`.
    pub fn register(service: JwtService) -> Self {
        JwtModule {
            service,
            global: false,
        }
    }

    /// `global: true`.
    pub fn is_global(mut self) -> Self {
        self.global = true;
        self
    }
}

impl Import for JwtModule {
    /// A module of its own, named `JwtModule`, exporting the [`JwtService`].
    fn import(self, into: &mut ModuleBuilder<'_>) {
        into.import_dynamic("JwtModule", move |module| {
            module.provide(Provider::typed(self.service));
            module.export_all();
            if self.global {
                module.global();
            }
        });
    }
}

impl Exportable for JwtModule {
    /// `exports: [JwtModule]`: the importing module's `JwtModule`, re-exported.
    fn export(module: &mut ModuleBuilder<'_>) {
        module.export_dynamic("JwtModule");
    }
}
