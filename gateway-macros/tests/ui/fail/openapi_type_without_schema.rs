// A documented controller (it has an OpenAPI attribute): every type of its routes' contract
// must have a schema, and the compiler names the one that lacks it.
use gateway_core::openapi::{utoipa, ToSchema};
use gateway_core::prelude::*;

#[derive(serde::Deserialize)]
struct CreateOrderDto {
    items: Vec<String>,
}

#[derive(serde::Serialize, ToSchema)]
struct OrderDto {
    id: String,
}

struct OrdersController;

#[controller("orders")]
#[api_tags("orders")]
impl OrdersController {
    #[post("")]
    async fn create(&self, #[body] dto: CreateOrderDto) -> Result<OrderDto, HttpException> {
        Ok(OrderDto { id: dto.items.join(",") })
    }
}

fn main() {}
