use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[message_pattern({ cmd: get_user, cmd: "again" })]
    async fn get_user(&self, #[payload] id: u64) -> u64 {
        id
    }

    #[event_pattern()]
    async fn nothing(&self) {}
}

fn main() {}
