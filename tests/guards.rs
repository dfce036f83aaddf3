//! Guards over real HTTP: a controller-wide bearer-token guard that attaches the user, a
//! route guard, `#[user]`, global guards, and a guard missing from the providers.

use std::net::SocketAddr;

use gateway_core::prelude::*;
use gateway_tests::*;

#[derive(Clone, Debug, PartialEq)]
struct User {
    id: String,
    admin: bool,
}

#[injectable]
struct AuthGuard;

impl CanActivate for AuthGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let token = ctx
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let user = match token {
            Some("user-token") => User {
                id: "u1".into(),
                admin: false,
            },
            Some("admin-token") => User {
                id: "a1".into(),
                admin: true,
            },
            _ => return Err(HttpException::unauthorized("Invalid or missing token")),
        };
        ctx.set_user(user);
        Ok(true)
    }
}

#[injectable]
struct AdminGuard;

impl CanActivate for AdminGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        assert_eq!(ctx.controller(), "AccountController");
        Ok(ctx.user::<User>().is_some_and(|u| u.admin))
    }
}

/// Blocks any request carrying `x-blocked`, everywhere.
struct BlockList;

impl CanActivate for BlockList {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Ok(!ctx.headers().contains_key("x-blocked"))
    }
}

#[injectable]
struct AccountController;

#[controller("account")]
#[guard(AuthGuard)]
impl AccountController {
    #[get("me")]
    async fn me(&self, #[user] user: User) -> String {
        format!("{} admin={}", user.id, user.admin)
    }

    #[get("admin")]
    #[guard(AdminGuard)]
    async fn admin(&self, #[user] user: User) -> String {
        format!("welcome {}", user.id)
    }

    /// Custom parameter decorators (Nest's `createParamDecorator`), after the guards ran.
    #[get("label")]
    async fn label(
        &self,
        #[context] who: UserLabel,
        #[context("x-tenant")] tenant: HeaderValueOr,
    ) -> String {
        format!("{} {}", who.0, tenant.0)
    }
}

/// `createParamDecorator((data, ctx) => ..)` reading the user the guard attached and the route.
struct UserLabel(String);

impl gateway_core::http::ParamDecorator for UserLabel {
    fn create(_: Option<&'static str>, ctx: &ExecutionContext<'_>) -> Result<Self, HttpException> {
        let user = ctx
            .user::<User>()
            .ok_or_else(|| HttpException::unauthorized(()))?;
        Ok(UserLabel(format!(
            "{}@{}.{}",
            user.id,
            ctx.controller(),
            ctx.handler()
        )))
    }
}

/// A decorator taking data: the header it names, or a 400 naming it.
struct HeaderValueOr(String);

impl gateway_core::http::ParamDecorator for HeaderValueOr {
    fn create(
        data: Option<&'static str>,
        ctx: &ExecutionContext<'_>,
    ) -> Result<Self, HttpException> {
        let name = data.unwrap_or("x-tenant");
        ctx.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| HeaderValueOr(v.to_owned()))
            .ok_or_else(|| HttpException::bad_request(format!("{name} is required")))
    }
}

#[injectable]
struct PublicController;

#[controller]
impl PublicController {
    #[get("health")]
    async fn health(&self) -> &'static str {
        "ok"
    }
}

#[module(controllers = [AccountController, PublicController], providers = [AuthGuard, AdminGuard])]
struct AppModule;

async fn start() -> SocketAddr {
    let mut app = NestFactory::create::<AppModule>().await.expect("boots");
    app.use_global_guards(BlockList);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

async fn get(app: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = http_request(app, "GET", path, headers, "").await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_protect_routes_like_nest() {
    init_tracing();
    let app = start().await;
    let user = [("Authorization", "Bearer user-token")];
    let admin = [("Authorization", "Bearer admin-token")];

    assert_eq!(
        get(app, "/account/me", &[]).await,
        (
            401,
            r#"{"message":"Invalid or missing token","error":"Unauthorized","statusCode":401}"#
                .into()
        )
    );
    assert_eq!(
        get(app, "/account/me", &[("Authorization", "Bearer nope")])
            .await
            .0,
        401
    );
    assert_eq!(
        get(app, "/account/me", &user).await,
        (200, "u1 admin=false".into())
    );
    assert_eq!(
        get(app, "/account/admin", &user).await,
        (
            403,
            r#"{"message":"Forbidden resource","error":"Forbidden","statusCode":403}"#.into()
        )
    );
    assert_eq!(
        get(app, "/account/admin", &admin).await,
        (200, "welcome a1".into())
    );
    assert_eq!(
        get(app, "/account/label", &[user[0], ("x-tenant", "acme")]).await,
        (200, "u1@AccountController.label acme".into())
    );
    assert_eq!(
        get(app, "/account/label", &user).await,
        (
            400,
            r#"{"message":"x-tenant is required","error":"Bad Request","statusCode":400}"#.into()
        )
    );
    // Controllers without guards are open; the global guard applies everywhere.
    assert_eq!(get(app, "/health", &[]).await, (200, "ok".into()));
    assert_eq!(get(app, "/health", &[("x-blocked", "1")]).await.0, 403);
    assert_eq!(
        get(app, "/account/me", &[("x-blocked", "1"), user[0]])
            .await
            .0,
        403
    );
}

#[module(controllers = [AccountController], providers = [AuthGuard])]
struct ForgotAGuardModule;

#[tokio::test]
async fn a_guard_missing_from_the_providers_fails_the_boot() {
    let error = NestFactory::create::<ForgotAGuardModule>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("can't resolve dependencies of AccountController (field `#[guard(AdminGuard)]` needs alloc::sync::Arc<guards::AdminGuard>)"),
        "{error}"
    );
}
