//! The users microservice: Nest TCP on `USERS_SERVICE_HOST:USERS_SERVICE_PORT`
//! (default 127.0.0.1:3001).

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::run_service("USERS_SERVICE", 3001, examples::users_router()).await?;
    Ok(())
}
