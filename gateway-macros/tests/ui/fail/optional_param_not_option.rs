use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[get("users{/:id}")]
    async fn user(&self, #[param] id: u64) -> String {
        id.to_string()
    }
}

fn main() {}
