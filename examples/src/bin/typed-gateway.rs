//! The seed's gateway with typed handlers (`examples::typed_gateway`): the same settings as
//! `gateway`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::run_gateway("typed API gateway", |token| async move {
        examples::typed_gateway::create(&token).await
    })
    .await
}
