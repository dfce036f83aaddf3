use gateway_core::prelude::*;

struct UsersController;

impl UsersController {
    #[get("users")]
    async fn list(&self) -> String {
        String::new()
    }
}

fn main() {}
