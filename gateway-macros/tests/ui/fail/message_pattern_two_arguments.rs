use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[message_pattern({ cmd: "get_user" })]
    async fn get_user(&self, #[payload] id: u64, name: String) -> String {
        format!("{id}{name}")
    }
}

fn main() {}
