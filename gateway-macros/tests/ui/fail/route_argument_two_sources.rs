use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:id")]
    async fn get_user(&self, #[param] #[query] id: u64) -> u64 {
        id
    }
}

fn main() {}
