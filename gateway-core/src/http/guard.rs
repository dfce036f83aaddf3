//! Guards: Nest's `CanActivate`, run before a route's handler or a message handler.

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

use super::{HttpException, PatternMeta, Reflector, RouteMeta};
use crate::server::MessageContext;

/// A guard: decides whether a request reaches its route. Nest's `CanActivate`.
///
/// Return `Ok(true)` to let the request through, `Ok(false)` for Nest's 403
/// `{"message":"Forbidden resource","error":"Forbidden","statusCode":403}`, or `Err` for any
/// other answer (e.g. `HttpException::unauthorized("Invalid or missing token")`). A guard may
/// attach the authenticated user with [`ExecutionContext::set_user`], which the route reads
/// with a `#[user]` argument.
///
/// Apply one to a controller (`#[guard(AuthGuard)]` under `#[controller]`: every route and
/// every message and event handler of it), to a route or a handler (on the method), or to
/// every route (`app.use_global_guards(..)`) or every handler of a microservice
/// (`microservice.use_global_guards(..)`). Guards listed with `#[guard]` are providers: list
/// them in a module's `providers`.
///
/// On a message or event handler, [`ExecutionContext::get_type`] is [`ContextType::Rpc`],
/// [`ExecutionContext::switch_to_rpc`] gives the payload and the message's context, and
/// [`ExecutionContext::headers`] the message's headers (NATS, RabbitMQ) and the string entries
/// of its packet metadata. A guard that says no answers as Nest's does: the caller gets
/// `{"status":"error","message":"Forbidden resource"}`; an `Err` from a guard is not an
/// `RpcException`, so the caller gets Nest's `Internal server error` (the error is logged), and
/// a refused event is dropped with a warning.
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

/// What a guard sees: the request head and the route's metadata, or a message handler's call.
/// Nest's `ExecutionContext`.
pub struct ExecutionContext<'a> {
    call: Call<'a>,
    controller: &'static str,
}

enum Call<'a> {
    Http {
        parts: &'a mut Parts,
        route: &'static RouteMeta,
    },
    Rpc(&'a mut RpcContext),
}

/// What kind of call a guard sees: Nest's `context.getType()` (`'http'`, `'rpc'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextType {
    /// An HTTP request to a route.
    Http,
    /// A message or an event to a handler.
    Rpc,
}

/// A message handler's call, as a guard sees it: Nest's `context.switchToRpc()`.
pub struct RpcContext {
    data: bytes::Bytes,
    context: MessageContext,
    handler: &'static PatternMeta,
    headers: HeaderMap,
    pub(crate) user: Option<AuthUser>,
}

impl RpcContext {
    /// The call of `handler` with `data` (the payload's JSON) and `context`.
    pub(crate) fn new(
        data: bytes::Bytes,
        context: MessageContext,
        handler: &'static PatternMeta,
    ) -> Self {
        let mut headers = HeaderMap::new();
        let metadata = context.metadata().and_then(|m| m.as_object());
        let entries = context
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(
                metadata
                    .into_iter()
                    .flatten()
                    .filter_map(|(n, v)| Some((n.as_str(), v.as_str()?))),
            );
        for (name, value) in entries {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        RpcContext {
            data,
            context,
            handler,
            headers,
            user: None,
        }
    }

    /// The payload, deserialized: Nest's `switchToRpc().getData()`.
    pub fn get_data<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.data)
    }

    /// The payload's JSON as received.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The message's context (subject, headers, packet metadata): Nest's
    /// `switchToRpc().getContext()`.
    pub fn get_context(&self) -> &MessageContext {
        &self.context
    }

    /// The handler's normalized pattern (`{"cmd":"get_user"}`, `user_created`).
    pub fn pattern(&self) -> &'static str {
        self.handler.route
    }

    /// Whether the handler is an `#[event_pattern]` one.
    pub fn is_event(&self) -> bool {
        self.handler.event
    }

    /// The handler's method name (`get_user`); empty for a handler registered by hand.
    pub fn handler(&self) -> &'static str {
        self.handler.handler
    }

    /// The handler's and its controller's metadata. Nest's `Reflector`.
    pub fn reflector(&self) -> Reflector {
        self.handler.reflector()
    }

    /// Moves the user a guard attached into the message's context, and gives that context
    /// (for the handler's scope), if there is one.
    pub(crate) fn attach_user(&mut self) -> Option<MessageContext> {
        let user = self.user.take()?;
        self.context = self.context.clone().with_user(user.0);
        Some(self.context.clone())
    }
}

/// The user a guard attached, stored in the request's [`RequestState`] (an extension of its
/// own in a request that has none: a router served outside an app).
///
/// [`RequestState`]: super::RequestState
#[derive(Clone)]
pub(crate) struct AuthUser(pub Arc<dyn Any + Send + Sync>);

impl AuthUser {
    /// The user attached to a request, if any.
    pub(crate) fn of(extensions: &axum::http::Extensions) -> Option<&AuthUser> {
        match extensions.get::<super::RequestState>() {
            Some(state) => state.user.as_ref(),
            None => extensions.get::<AuthUser>(),
        }
    }

    /// Attaches `self` to a request.
    fn attach(self, extensions: &mut axum::http::Extensions) {
        match extensions.get_mut::<super::RequestState>() {
            Some(state) => state.user = Some(self),
            None => {
                extensions.insert(self);
            }
        }
    }
}

impl<'a> ExecutionContext<'a> {
    pub(crate) fn new(
        parts: &'a mut Parts,
        route: &'static RouteMeta,
        controller: &'static str,
    ) -> Self {
        ExecutionContext {
            call: Call::Http { parts, route },
            controller,
        }
    }

    pub(crate) fn rpc(call: &'a mut RpcContext, controller: &'static str) -> Self {
        ExecutionContext {
            call: Call::Rpc(call),
            controller,
        }
    }

    /// An HTTP request or a message: Nest's `context.getType()`.
    pub fn get_type(&self) -> ContextType {
        match self.call {
            Call::Http { .. } => ContextType::Http,
            Call::Rpc(_) => ContextType::Rpc,
        }
    }

    /// The message handler's call (payload, context, pattern), on the RPC side: Nest's
    /// `context.switchToRpc()`. `None` for an HTTP request.
    pub fn switch_to_rpc(&self) -> Option<&RpcContext> {
        match &self.call {
            Call::Rpc(call) => Some(call),
            Call::Http { .. } => None,
        }
    }

    /// The request head (method, URI, headers, extensions): Nest's
    /// `context.switchToHttp().getRequest()`. `None` for a message.
    pub fn request(&self) -> Option<&Parts> {
        match &self.call {
            Call::Http { parts, .. } => Some(parts),
            Call::Rpc(_) => None,
        }
    }

    /// The request's headers; for a message, its headers (NATS, RabbitMQ) and the string
    /// entries of its packet metadata (`authorization`, `x-request-id`).
    pub fn headers(&self) -> &HeaderMap {
        match &self.call {
            Call::Http { parts, .. } => &parts.headers,
            Call::Rpc(call) => &call.headers,
        }
    }

    /// The route being guarded (method, Nest path, handler name); `None` for a message.
    pub fn route(&self) -> Option<&'static RouteMeta> {
        match self.call {
            Call::Http { route, .. } => Some(route),
            Call::Rpc(_) => None,
        }
    }

    /// The handler's method name: Nest's `context.getHandler().name`.
    pub fn handler(&self) -> &'static str {
        match &self.call {
            Call::Http { route, .. } => route.handler,
            Call::Rpc(call) => call.handler.handler,
        }
    }

    /// The controller's name. Nest's `context.getClass().name`.
    pub fn controller(&self) -> &'static str {
        self.controller
    }

    /// The route's (or handler's) and controller's metadata. Nest's `Reflector`, already
    /// bound to `[context.getHandler(), context.getClass()]`.
    pub fn reflector(&self) -> Reflector {
        match &self.call {
            Call::Http { route, .. } => route.reflector(),
            Call::Rpc(call) => call.handler.reflector(),
        }
    }

    /// The client's IP address, as Express's `req.ip`: the connection's peer (when the app is
    /// served by [`NestApplication::serve`](crate::app::NestApplication::serve)), or behind
    /// [`set_trust_proxy(hops)`](crate::app::NestApplication::set_trust_proxy) the address
    /// that many hops back in `X-Forwarded-For`. `None` for a message.
    pub fn client_ip(&self) -> Option<IpAddr> {
        match &self.call {
            Call::Http { parts, .. } => {
                let peer = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip());
                let trust =
                    super::RequestSettings::of(&parts.extensions).and_then(|s| s.trust_proxy);
                match trust {
                    Some(TrustProxy(hops)) => forwarded_ip(peer, &parts.headers, hops),
                    None => peer,
                }
            }
            Call::Rpc(_) => None,
        }
    }

    /// Sets a header on the response this request gets, whether the route answers or a
    /// guard refuses it (the throttler's `X-RateLimit-*` and `Retry-After`). Nest's
    /// `context.switchToHttp().getResponse().setHeader(..)`. A message's reply has no
    /// headers: ignored there.
    pub fn set_response_header(&mut self, name: HeaderName, value: HeaderValue) {
        let Call::Http { parts, .. } = &mut self.call else {
            return;
        };
        match parts.extensions.get_mut::<PendingHeaders>() {
            Some(pending) => pending.0.push((name, value)),
            None => {
                parts.extensions.insert(PendingHeaders(vec![(name, value)]));
            }
        }
    }

    /// Attaches the authenticated user, for `#[user] user: T` arguments (and later guards);
    /// a message handler reads it from its context ([`MessageContext::user`]).
    pub fn set_user<T: Clone + Send + Sync + 'static>(&mut self, user: T) {
        let user = AuthUser(Arc::new(user));
        match &mut self.call {
            Call::Http { parts, .. } => user.attach(&mut parts.extensions),
            Call::Rpc(call) => call.user = Some(user),
        }
    }

    /// The user an earlier guard attached, if it has type `T`.
    pub fn user<T: 'static>(&self) -> Option<&T> {
        let user = match &self.call {
            Call::Http { parts, .. } => AuthUser::of(&parts.extensions),
            Call::Rpc(call) => call.user.as_ref(),
        };
        user.and_then(|u| u.0.downcast_ref::<T>())
    }
}

/// Express's `trust proxy` set to a number of hops (the app's `set_trust_proxy`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrustProxy(pub u32);

/// `proxy-addr` with a hop count: from the peer outwards through `X-Forwarded-For` (last entry
/// first), trusting `hops` addresses; the first one not trusted is the client. An entry that
/// is not an IP address ends the walk.
fn forwarded_ip(peer: Option<IpAddr>, headers: &HeaderMap, hops: u32) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut ip = peer;
    for (hop, entry) in entries.iter().rev().enumerate() {
        if hop as u32 >= hops {
            break;
        }
        match entry.parse::<IpAddr>() {
            Ok(address) => ip = Some(address),
            Err(_) => break,
        }
    }
    ip
}

/// A custom parameter decorator: Nest's `createParamDecorator((data, ctx) => ..)`. A route
/// argument marked `#[context]` (or `#[context("data")]`) is built by `create` from the route's
/// execution context, after the guards ran: the user they attached, headers, metadata.
///
/// ```
/// use gateway_core::http::{ExecutionContext, HttpException, ParamDecorator};
///
/// #[derive(Clone)]
/// struct User { email: String }
///
/// /// `export const UserEmail = createParamDecorator((data, ctx) => ctx.switchToHttp().getRequest().user?.email)`
/// struct UserEmail(Option<String>);
///
/// impl ParamDecorator for UserEmail {
///     fn create(_data: Option<&'static str>, ctx: &ExecutionContext<'_>) -> Result<Self, HttpException> {
///         Ok(UserEmail(ctx.user::<User>().map(|u| u.email.clone())))
///     }
/// }
/// // #[get("me")] async fn me(&self, #[context] email: UserEmail) -> ..
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a parameter decorator",
    label = "`#[context]` arguments implement `ParamDecorator`",
    note = "`impl ParamDecorator for {Self} {{ fn create(data: Option<&'static str>, ctx: &ExecutionContext<'_>) -> Result<Self, HttpException> {{ .. }} }}`"
)]
pub trait ParamDecorator: Sized {
    /// The argument, from `data` (the attribute's string, Nest's decorator argument) and the
    /// context; an `Err` answers the request.
    fn create(
        data: Option<&'static str>,
        ctx: &ExecutionContext<'_>,
    ) -> Result<Self, HttpException>;
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
    let global = super::RequestSettings::of(&parts.extensions).and_then(|s| s.guards.clone());
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

/// Runs `guards` on a message handler's call, in order; the first that says no refuses it:
/// Nest's `RpcException('Forbidden resource')`, or `Internal server error` for a guard's
/// `Err` (Nest's answer to an exception that is not an `RpcException`).
pub(crate) async fn run_rpc_guards(
    guards: &[Arc<dyn DynGuard>],
    call: &mut RpcContext,
    controller: &'static str,
) -> Result<(), crate::server::RpcException> {
    let mut ctx = ExecutionContext::rpc(call, controller);
    for guard in guards {
        match guard.check(&mut ctx).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(crate::server::RpcException::new("Forbidden resource"));
            }
            Err(error) => {
                tracing::warn!(controller, handler = ctx.handler(), %error, "a guard failed a message handler's call");
                return Err(crate::server::RpcException::internal());
            }
        }
    }
    Ok(())
}
