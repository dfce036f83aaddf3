//! The seed system over NATS, configured as a user would (`TRANSPORT=nats`, `NATS_URL`):
//! the same services and gateway as `seed.rs`, the same HTTP answers. A private nats-server,
//! so the seed's fixed subjects meet nobody else's. (Its own test binary: it sets the
//! environment the examples read at boot.)

#[path = "support/seed_checks.rs"]
mod seed_checks;

use examples::{gateway, service_transport, OrdersModule, UsersModule};
use gateway_core::prelude::*;
use gateway_tests::*;
use seed_checks::{check_seed_gateway, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_gateway_answers_the_same_over_nats() {
    if !BrokerKind::Nats.installed("the_seed_gateway_answers_the_same_over_nats") {
        return;
    }
    init_tracing();
    let broker = PrivateBroker::start(BrokerKind::Nats, free_port()).await;
    std::env::set_var("TRANSPORT", "nats");
    std::env::set_var("NATS_URL", format!("nats://127.0.0.1:{}", broker.port));

    let users = NestFactory::create_microservice::<UsersModule>(service_transport(
        "USERS_SERVICE",
        3001,
        "users",
    ))
    .await
    .unwrap()
    .start()
    .await
    .unwrap();
    let orders = NestFactory::create_microservice::<OrdersModule>(service_transport(
        "ORDERS_SERVICE",
        3002,
        "orders",
    ))
    .await
    .unwrap()
    .start()
    .await
    .unwrap();
    assert!(users.tcp().is_none(), "TRANSPORT=nats gives NATS services");
    let (stop_orders, orders_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(users.serve_until(std::future::pending()));
    let orders_task = tokio::spawn(orders.serve_until(async {
        let _ = orders_stopped.await;
    }));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let app = gateway::create(TOKEN).await.expect("the gateway boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));

    check_seed_gateway(addr, true, async move {
        let _ = stop_orders.send(());
        let _ = orders_task.await;
    })
    .await;
}
