use gateway_core::prelude::*;

struct AdminOnly;

#[injectable]
struct Api;

#[controller]
impl Api {
    #[get("a")]
    #[apply_decorators(AdminOnly)]
    async fn a(&self) -> &'static str {
        "a"
    }
}

fn main() {}
