// The OpenAPI attributes' mistakes, each with its usage.
use gateway_core::prelude::*;

struct UsersController;

#[controller("users")]
#[api_tags]
impl UsersController {
    #[get(":id")]
    #[api_response(description = "no status")]
    #[api_operation(title = "Nest calls it summary")]
    #[api_bearer_auth(42)]
    async fn one(&self, #[param] id: String) -> String {
        id
    }

    #[get("")]
    #[api_body("not a type")]
    #[api_exclude_endpoint(true)]
    async fn all(&self) -> String {
        String::new()
    }
}

fn main() {}
