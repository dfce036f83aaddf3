use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller("users")]
impl UsersController {
    #[get("")]
    #[cache_ttl("soon")]
    async fn list(&self) -> &'static str {
        "users"
    }

    #[get("all")]
    #[cache_key(all_users)]
    async fn all(&self) -> &'static str {
        "users"
    }

    #[get("none")]
    #[cache_ttl]
    async fn none(&self) -> &'static str {
        "users"
    }
}

fn main() {}
