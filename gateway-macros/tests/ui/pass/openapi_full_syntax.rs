// Every OpenAPI attribute, on a controller and on routes.
use gateway_core::openapi::{utoipa, ToSchema};
use gateway_core::prelude::*;

#[derive(serde::Serialize, serde::Deserialize, ToSchema)]
struct UserDto {
    id: String,
    name: String,
}

#[derive(serde::Deserialize, ToSchema)]
struct Paging {
    limit: Option<u32>,
}

struct UsersController;

#[controller("users")]
#[api_tags("users", "people")]
#[api_bearer_auth]
impl UsersController {
    #[get(":id")]
    #[api_operation(summary = "One user", description = "By id")]
    #[api_response(status = 404, description = "No such user")]
    async fn one(&self, #[param] id: u64) -> Result<UserDto, HttpException> {
        Ok(UserDto { id: id.to_string(), name: String::new() })
    }

    #[get("")]
    async fn all(&self, #[query] paging: Paging) -> Vec<UserDto> {
        let _ = paging.limit;
        Vec::new()
    }

    #[post("")]
    #[api_body(UserDto)]
    #[api_response(status = 201, body = Vec<UserDto>)]
    async fn create(&self, #[body] raw: RawReply) -> RawReply {
        raw
    }

    #[delete(":id")]
    #[api_exclude_endpoint]
    #[api_bearer_auth("admin")]
    #[http_code(204)]
    async fn remove(&self, #[param] id: String) {
        let _ = id;
    }
}

fn main() {}
