//! Routes of one path told apart by their versions.

use gateway_core::http::ApiVersion;
use gateway_core::prelude::*;

#[injectable]
struct CatsController;

#[controller("cats")]
#[version("1")]
impl CatsController {
    #[get("")]
    async fn v1(&self) -> &'static str {
        "v1"
    }

    #[get("")]
    #[version("2", neutral)]
    async fn v2(&self) -> &'static str {
        "v2"
    }
}

fn main() {
    let routes = CatsController::META.routes;
    assert_eq!(routes[0].versions, &[] as &[ApiVersion]);
    assert_eq!(routes[0].class_versions, &[ApiVersion::from("1")]);
    assert_eq!(routes[1].versions, &[ApiVersion::from("2"), ApiVersion::Neutral]);
}
