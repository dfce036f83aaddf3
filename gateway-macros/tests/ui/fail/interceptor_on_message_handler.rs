use gateway_core::prelude::*;

/// Not an interceptor: it implements nothing.
#[injectable]
struct Logging;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[message_pattern("get_user")]
    #[use_interceptors(Logging)]
    async fn get_user(&self, #[payload] id: u64) -> u64 {
        id
    }
}

fn main() {}
