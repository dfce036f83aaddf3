use gateway_core::prelude::*;

struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:id")]
    async fn get_user(&self, #[param] id: u64) -> String {
        id.to_string()
    }

    #[get("users/:id")]
    async fn find_user(&self, #[param] id: u64) -> String {
        id.to_string()
    }
}

fn main() {}
