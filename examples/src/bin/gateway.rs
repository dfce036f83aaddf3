//! The seed's API gateway (`src/main.ts`): HTTP on `GATEWAY_PORT` (default 3000), bearer token
//! from `GATEWAY_TOKEN`, services at `USERS_SERVICE_HOST:USERS_SERVICE_PORT` (127.0.0.1:3001)
//! and `ORDERS_SERVICE_HOST:ORDERS_SERVICE_PORT` (127.0.0.1:3002).

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::run_gateway("API gateway", |token| async move {
        examples::gateway::create(&token).await
    })
    .await
}
