use gateway_core::prelude::*;

struct ProxyController;

#[controller]
impl ProxyController {
    #[get("proxy")]
    async fn get(&self) -> &'static str {
        "get"
    }

    // `@All` serves GET too: two handlers for GET /proxy.
    #[all("proxy")]
    async fn all(&self) -> &'static str {
        "all"
    }
}

fn main() {}
