//! Guards: Nest's `CanActivate`, run before a route's handler.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{HttpException, Reflector, RouteMeta};

/// A guard: decides whether a request reaches its route. Nest's `CanActivate`.
///
/// Return `Ok(true)` to let the request through, `Ok(false)` for Nest's 403
/// `{"message":"Forbidden resource","error":"Forbidden","statusCode":403}`, or `Err` for any
/// other answer (e.g. `HttpException::unauthorized("Invalid or missing token")`). A guard may
/// attach the authenticated user with [`ExecutionContext::set_user`], which the route reads
/// with a `#[user]` argument.
///
/// Apply one to a controller (`#[guard(AuthGuard)]` under `#[controller]`), to a route (on the
/// method), or to every route (`app.use_global_guards(..)`). Guards listed with `#[guard]` are
/// providers: list them in a module's `providers`.
///
/// ```
/// use gateway_core::http::{CanActivate, ExecutionContext, HttpException};
///
/// struct ApiKeyGuard;
///
/// impl CanActivate for ApiKeyGuard {
///     async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
///         Ok(ctx.headers().get("x-api-key").is_some_and(|k| k == "secret"))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard",
    label = "this type does not implement `CanActivate`",
    note = "a guard implements `gateway_core::http::CanActivate`: `async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException>`"
)]
pub trait CanActivate: Send + Sync + 'static {
    /// Whether the request may proceed.
    fn can_activate(
        &self,
        ctx: &mut ExecutionContext<'_>,
    ) -> impl Future<Output = Result<bool, HttpException>> + Send;
}

/// What a guard sees: the request head and the route's metadata. Nest's `ExecutionContext`.
pub struct ExecutionContext<'a> {
    parts: &'a mut Parts,
    route: &'static RouteMeta,
    controller: &'static str,
}

/// The user a guard attached, stored in the request's extensions.
#[derive(Clone)]
pub(crate) struct AuthUser(pub Arc<dyn Any + Send + Sync>);

impl<'a> ExecutionContext<'a> {
    pub(crate) fn new(
        parts: &'a mut Parts,
        route: &'static RouteMeta,
        controller: &'static str,
    ) -> Self {
        ExecutionContext {
            parts,
            route,
            controller,
        }
    }

    /// The request head: method, URI, headers, extensions.
    pub fn request(&self) -> &Parts {
        self.parts
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The route being guarded (method, Nest path, handler name).
    pub fn route(&self) -> &'static RouteMeta {
        self.route
    }

    /// The controller's name. Nest's `context.getClass().name`.
    pub fn controller(&self) -> &'static str {
        self.controller
    }

    /// The route's and controller's metadata. Nest's `Reflector`, already bound to
    /// `[context.getHandler(), context.getClass()]`.
    pub fn reflector(&self) -> Reflector {
        self.route.reflector()
    }

    /// The client's IP address: the connection's peer (Express's `req.ip` without
    /// `trust proxy`), when the app is served by [`NestApplication::serve`](crate::app::NestApplication::serve).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }

    /// Sets a header on the response this request gets, whether the route answers or a
    /// guard refuses it (the throttler's `X-RateLimit-*` and `Retry-After`). Nest's
    /// `context.switchToHttp().getResponse().setHeader(..)`.
    pub fn set_response_header(&mut self, name: HeaderName, value: HeaderValue) {
        match self.parts.extensions.get_mut::<PendingHeaders>() {
            Some(pending) => pending.0.push((name, value)),
            None => {
                self.parts
                    .extensions
                    .insert(PendingHeaders(vec![(name, value)]));
            }
        }
    }

    /// Attaches the authenticated user, for `#[user] user: T` arguments (and later guards).
    pub fn set_user<T: Clone + Send + Sync + 'static>(&mut self, user: T) {
        self.parts.extensions.insert(AuthUser(Arc::new(user)));
    }

    /// The user an earlier guard attached, if it has type `T`.
    pub fn user<T: 'static>(&self) -> Option<&T> {
        self.parts
            .extensions
            .get::<AuthUser>()
            .and_then(|u| u.0.downcast_ref::<T>())
    }
}

/// A guard behind a pointer, so guards of different types share one list.
pub trait DynGuard: Send + Sync {
    /// [`CanActivate::can_activate`], boxed.
    fn check<'a>(
        &'a self,
        ctx: &'a mut ExecutionContext<'_>,
    ) -> BoxFuture<'a, Result<bool, HttpException>>;
}

impl<G: CanActivate> DynGuard for G {
    fn check<'a>(
        &'a self,
        ctx: &'a mut ExecutionContext<'_>,
    ) -> BoxFuture<'a, Result<bool, HttpException>> {
        self.can_activate(ctx).boxed()
    }
}

/// Response headers set by guards, applied to whatever response the request gets.
#[derive(Clone, Default)]
pub(crate) struct PendingHeaders(pub Vec<(HeaderName, HeaderValue)>);

impl PendingHeaders {
    pub(crate) fn apply(self, response: &mut Response) {
        for (name, value) in self.0 {
            response.headers_mut().insert(name, value);
        }
    }
}

/// The app's global guards, handed to every route through the request's extensions.
#[derive(Clone, Default)]
pub(crate) struct GlobalGuards(pub Arc<[Arc<dyn DynGuard>]>);

/// Runs the global guards, then `guards`, in order; the first that says no answers.
pub(crate) async fn run_guards(
    parts: &mut Parts,
    route: &'static RouteMeta,
    controller: &'static str,
    guards: &[&dyn DynGuard],
) -> Result<(), HttpException> {
    let global = parts.extensions.get::<GlobalGuards>().cloned();
    let mut ctx = ExecutionContext::new(parts, route, controller);
    // Plain loops: iterator closures over references here trip rustc's Send check of the
    // handler future ("FnOnce is not general enough").
    if let Some(global) = &global {
        for guard in global.0.iter() {
            if !guard.check(&mut ctx).await? {
                return Err(HttpException::forbidden("Forbidden resource"));
            }
        }
    }
    for guard in guards {
        if !guard.check(&mut ctx).await? {
            return Err(HttpException::forbidden("Forbidden resource"));
        }
    }
    Ok(())
}
