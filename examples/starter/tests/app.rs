//! The starter's tests: the gateway with its service mocked (no port, no process: Nest's
//! `@nestjs/testing`), and both for real over TCP.

use gateway_core::prelude::*;
use gateway_core::testing::Test;
use serde_json::json;
use starter::{AppModule, GreetingsModule};

#[tokio::test]
async fn the_gateway_asks_the_service() -> Result<(), Box<dyn std::error::Error>> {
    let (greetings, mock) = ClientProxy::mock("GREETINGS_SERVICE");
    mock.on(pattern!({ cmd: "greet" })).reply(&"Hello, Ada!");
    let module = Test::create_testing_module::<AppModule>()
        .override_provider("GREETINGS_SERVICE")
        .use_value(greetings)
        .compile()
        .await?;
    let app = module.create_nest_application().into_test();

    let res = app.get("/greet/Ada").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), r#"{"greeting":"Hello, Ada!"}"#);
    assert_eq!(
        mock.requests(pattern!({ cmd: "greet" })),
        [json!({ "name": "Ada" })]
    );
    Ok(())
}

#[tokio::test]
async fn the_gateway_and_the_service_over_tcp() -> Result<(), Box<dyn std::error::Error>> {
    // The service on a free port.
    let service =
        NestFactory::create_microservice::<GreetingsModule>(Transport::tcp("127.0.0.1:0"))
            .await?
            .bind()
            .await?;
    std::env::set_var("GREETINGS_SERVICE_ADDR", service.local_addr().to_string());
    tokio::spawn(service.serve());

    let app = NestFactory::create::<AppModule>().await?.into_test();
    let res = app.get("/greet/Ada").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), r#"{"greeting":"Hello, Ada!"}"#);
    // The service's RpcException with a `statusCode`: the gateway answers it as that status.
    let res = app.get("/greet/%20").send().await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.text(),
        r#"{"statusCode":400,"message":"name must not be empty"}"#
    );
    Ok(())
}
