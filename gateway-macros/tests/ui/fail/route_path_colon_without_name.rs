use gateway_core::prelude::*;

struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:")]
    async fn get_user(&self) -> String {
        String::new()
    }
}

fn main() {}
