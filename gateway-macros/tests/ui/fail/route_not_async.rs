use gateway_core::prelude::*;

struct UsersController;

#[controller]
impl UsersController {
    #[get("users")]
    fn list(&self) -> String {
        String::new()
    }
}

fn main() {}
