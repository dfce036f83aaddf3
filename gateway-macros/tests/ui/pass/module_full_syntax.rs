//! Every form `#[module]` and `#[global]` accept.

use gateway_core::prelude::*;
use std::sync::Arc;

#[derive(Clone)]
struct Region(&'static str);

#[injectable]
struct UsersService {
    region: Region,
}

#[injectable]
struct UsersController {
    users: Arc<UsersService>,
}

#[controller("users")]
impl UsersController {
    #[get(":id")]
    async fn get(&self, #[param] id: String) -> String {
        format!("{id} in {}", self.users.region.0)
    }
}

// `@Global()` above the module...
#[global]
#[module(providers = [Provider::typed(Region("eu"))], exports = [Token::of::<Region>()])]
pub struct RegionModule;

// ...or below it.
#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:3001")])],
    providers = [UsersService, Provider::value("PREFIX", "api".to_owned())],
    exports = [UsersService, "PREFIX", ClientsModule],
)]
#[global]
pub struct UsersModule;

#[module(imports = [UsersModule, gateway_core::config::ConfigModule::for_root()], exports = [UsersModule, gateway_core::config::ConfigModule])]
pub struct FeatureModule;

#[module(imports = [RegionModule, FeatureModule], controllers = [UsersController])]
pub struct AppModule;

fn main() {}
