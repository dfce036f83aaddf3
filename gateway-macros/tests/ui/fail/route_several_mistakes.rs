use gateway_core::prelude::*;

struct UsersController;

// Every mistake in the block is reported by one compile.
#[controller("api")]
impl UsersController {
    #[get("users/:id/:")]
    async fn get_user(&self, #[param] id: u64) -> String {
        id.to_string()
    }

    #[post("orders")]
    #[http_code(1000)]
    async fn create(&self, #[body] a: String, #[body] b: String) -> String {
        a + &b
    }
}

fn main() {}
