use gateway_core::prelude::*;

struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:id/friends/:id")]
    async fn friend(&self, #[param] id: u64) -> String {
        id.to_string()
    }
}

fn main() {}
