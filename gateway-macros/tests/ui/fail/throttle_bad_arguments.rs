use gateway_core::prelude::*;

#[injectable]
struct Api;

#[controller]
impl Api {
    #[get("a")]
    #[throttle(limit = 0, ttl = "10 parsecs")]
    async fn a(&self) -> &'static str {
        "a"
    }

    #[get("b")]
    #[throttle(limit = 5)]
    async fn b(&self) -> &'static str {
        "b"
    }

    #[get("c")]
    #[throttle(limit = 5, ttl = "1m", burst = 3)]
    async fn c(&self) -> &'static str {
        "c"
    }
}

fn main() {}
