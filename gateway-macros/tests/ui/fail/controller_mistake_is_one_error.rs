//! A mistake in a controller is one error: the module that lists it still compiles.
use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[get("users/:id")]
    async fn get_user(&self) -> String {
        String::new()
    }
}

#[module(controllers = [UsersController])]
struct AppModule;

fn main() {
    let _ = NestFactory::create::<AppModule>();
}
