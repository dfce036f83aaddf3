use gateway_core::prelude::*;

struct Id(u64);

struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:id")]
    async fn get_user(&self, #[param] id: Id) -> String {
        id.0.to_string()
    }
}

fn main() {}
