//! Authentication and authorization guards: a JWT guard (feature `jwt`; keys from a JWKS URL
//! with feature `jwks`), a roles guard, and `JwtService` to sign and verify tokens.
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

#[cfg(feature = "jwks")]
mod jwks;
#[cfg(feature = "jwt")]
mod jwt;
#[cfg(feature = "jwt")]
mod jwt_service;

#[cfg(feature = "jwt")]
pub use jsonwebtoken::Algorithm;
#[cfg(feature = "jwks")]
pub use jwks::JwksOptions;
#[cfg(feature = "jwt")]
pub use jwt::{JwtError, JwtGuard};
#[cfg(feature = "jwt")]
pub use jwt_service::{JwtModule, JwtService};
