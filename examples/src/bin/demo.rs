//! The one command a newcomer runs: starts the users and orders services (Nest TCP, ports
//! 3001 and 3002 or `USERS_SERVICE_PORT` / `ORDERS_SERVICE_PORT`), calls them through
//! `ClientProxy` as a gateway would, prints what came back, and keeps serving until Ctrl-C so
//! any Nest client can call them too.

use examples::*;
use gateway_core::prelude::*;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let users_addr = format!("127.0.0.1:{}", env_port("USERS_SERVICE_PORT", 3001));
    let orders_addr = format!("127.0.0.1:{}", env_port("ORDERS_SERVICE_PORT", 3002));
    let users_server = TcpServer::bind(users_addr.clone(), users_router()).await?;
    let orders_server =
        TcpServer::bind(orders_addr.clone(), orders_router(OrderStore::default())).await?;
    let (stop_users, stop_orders) = (
        users_server.shutdown_handle(),
        orders_server.shutdown_handle(),
    );
    let users_task = tokio::spawn(users_server.serve());
    let orders_task = tokio::spawn(orders_server.serve());

    let users = ClientProxy::new(ClientOptions::tcp("USERS_SERVICE", users_addr.clone()));
    let orders = ClientProxy::new(ClientOptions::tcp("ORDERS_SERVICE", orders_addr.clone()));

    // The profile a gateway builds: two calls in parallel.
    let (user, list) = tokio::try_join!(
        users.send::<User>(pattern!({ cmd: "get_user" }), &json!({ "id": 42 })),
        orders.send::<Vec<Order>>(pattern!({ cmd: "list_orders" }), &json!({ "userId": 42 })),
    )?;
    println!(
        "users.send({{ cmd: 'get_user' }}, {{ id: 42 }})        -> {}",
        serde_json::to_string(&user)?
    );
    println!(
        "orders.send({{ cmd: 'list_orders' }}, {{ userId: 42 }}) -> {}",
        serde_json::to_string(&list)?
    );

    let order: Order = orders
        .send(
            pattern!({ cmd: "create_order" }),
            &json!({ "userId": 42, "item": "Difference Engine" }),
        )
        .await?;
    orders.emit("order_created", &order).await?;
    println!(
        "orders.send({{ cmd: 'create_order' }}, ...)            -> {}",
        serde_json::to_string(&order)?
    );

    match users
        .send::<User>(pattern!({ cmd: "get_user" }), &json!({ "id": 7 }))
        .await
    {
        Err(RpcError::Remote { error, .. }) => {
            println!("users.send({{ cmd: 'get_user' }}, {{ id: 7 }})         -> err {error}")
        }
        other => println!("unexpected: {other:?}"),
    }

    println!();
    println!("users-service listening on {users_addr}, orders-service on {orders_addr} (Nest Transport.TCP).");
    println!("Press Ctrl-C to stop.");
    shutdown_signal().await;
    stop_users.shutdown();
    stop_orders.shutdown();
    let _ = tokio::join!(users_task, orders_task);
    Ok(())
}
