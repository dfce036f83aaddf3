use std::time::Duration;

use gateway_core::http::{Decorator, LoggingInterceptor, MetaValue, Metadata, TimeoutInterceptor};
use gateway_core::prelude::*;

const LEVEL_KEY: &str = "level";

struct AdminOnly;

impl Decorator for AdminOnly {
    const METADATA: &'static [Metadata] = &[Metadata::new("roles", MetaValue::List(&[MetaValue::Str("admin")]))];
}

#[injectable]
struct Audit;

impl NestInterceptor for Audit {
    async fn intercept(&self, _ctx: &CallContext, next: Next) -> gateway_core::axum::response::Response {
        next.handle().await
    }
}

struct Everything;

#[controller("edge")]
#[roles("user")]
#[skip_throttle]
#[use_interceptors(Audit, LoggingInterceptor::new())]
impl Everything {
    #[get("a")]
    #[public]
    #[set_metadata("flags", ["x", "y"])]
    #[set_metadata(LEVEL_KEY, -3)]
    #[set_metadata("on", true)]
    #[throttle(limit = 10, ttl = "60s", block = "5m")]
    #[skip_throttle(false)]
    #[apply_decorators(AdminOnly)]
    #[use_interceptors(TimeoutInterceptor::new(Duration::from_millis(50)))]
    async fn a(&self, id: RequestId) -> String {
        id.0
    }

    #[get("b")]
    #[throttle(limit = 1, ttl = 500)]
    async fn b(&self) {}
}

fn main() {
    let a = &Everything::META.routes[0];
    assert_eq!(a.reflector().get("flags").unwrap().strs().collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(a.reflector().get(LEVEL_KEY).unwrap().as_int(), Some(-3));
    assert!(a.reflector().is_public());
    assert_eq!(a.reflector().get_all_and_override("roles").unwrap().strs().collect::<Vec<_>>(), ["admin"]);
    assert_eq!(a.reflector().get_class("roles").unwrap().strs().collect::<Vec<_>>(), ["user"]);
}
