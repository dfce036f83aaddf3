use gateway_core::prelude::*;

struct Secret;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[get("secret")]
    async fn secret(&self) -> Secret {
        Secret
    }
}

fn main() {}
