use gateway_core::prelude::*;

struct UsersController;

#[controller]
impl UsersController {
    #[get("users//orders")]
    async fn orders(&self) -> String {
        String::new()
    }
}

fn main() {}
