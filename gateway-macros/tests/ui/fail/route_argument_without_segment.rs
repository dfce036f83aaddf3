use gateway_core::prelude::*;

struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:id")]
    async fn get_user(&self, #[param] id: u64, #[param("x")] x: String) -> String {
        format!("{id}{x}")
    }
}

fn main() {}
