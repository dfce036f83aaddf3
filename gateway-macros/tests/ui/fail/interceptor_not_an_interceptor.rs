use gateway_core::prelude::*;

struct NotAnInterceptor;

impl NotAnInterceptor {
    fn new() -> Self {
        NotAnInterceptor
    }
}

struct NotAFilter;

#[injectable]
struct Api;

#[controller]
#[use_filters(NotAFilter)]
impl Api {
    #[get("ping")]
    #[use_interceptors(NotAnInterceptor::new())]
    async fn ping(&self) -> &'static str {
        "pong"
    }
}

fn main() {}
