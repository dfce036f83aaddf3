use gateway_core::prelude::*;

fn admins() -> Vec<&'static str> {
    vec!["admin"]
}

#[injectable]
struct Api;

#[controller]
impl Api {
    #[get("a")]
    #[set_metadata("roles", admins())]
    async fn a(&self) -> &'static str {
        "a"
    }

    #[get("b")]
    #[roles()]
    #[public(true)]
    async fn b(&self) -> &'static str {
        "b"
    }

    #[roles("admin")]
    async fn helper(&self) -> &'static str {
        "not a route"
    }
}

fn main() {}
