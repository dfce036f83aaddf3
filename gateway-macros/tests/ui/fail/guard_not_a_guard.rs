use gateway_core::prelude::*;

#[injectable]
struct NotAGuard;

#[injectable]
struct UsersController;

#[controller]
#[guard(NotAGuard)]
impl UsersController {
    #[get("users")]
    async fn list(&self) -> String {
        String::new()
    }
}

fn main() {}
