//! The seed services answer as documented, over real TCP.

use examples::*;
use gateway_core::prelude::*;
use serde_json::{json, Value};

async fn serve(server: TcpServer) -> (ClientProxy, ShutdownHandle) {
    let client = ClientProxy::new(ClientOptions::tcp(
        "SERVICE",
        server.local_addr().to_string(),
    ));
    let stop = server.shutdown_handle();
    tokio::spawn(server.serve());
    (client, stop)
}

#[tokio::test]
async fn users_service_finds_ada_and_404s_others() {
    let (users, _stop) = serve(users_service("127.0.0.1:0").await.unwrap()).await;
    let ada: User = users
        .send(pattern!({ cmd: "get_user" }), &json!({ "id": "42" }))
        .await
        .unwrap();
    assert_eq!(
        ada,
        User {
            id: 42,
            name: "Ada Lovelace".into()
        }
    );
    match users
        .send::<User>(pattern!({ cmd: "get_user" }), &json!({ "id": 7 }))
        .await
    {
        Err(RpcError::Remote { error, .. }) => {
            assert_eq!(
                error,
                json!({ "statusCode": 404, "message": "User 7 not found" })
            )
        }
        other => panic!("expected a 404, got {other:?}"),
    }
}

#[tokio::test]
async fn orders_service_lists_creates_and_validates() {
    let (orders, _stop) = serve(orders_service("127.0.0.1:0").await.unwrap()).await;
    let list: Vec<Order> = orders
        .send(pattern!({ cmd: "list_orders" }), &json!({ "userId": 42 }))
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let created: Order = orders
        .send(
            pattern!({ cmd: "create_order" }),
            &json!({ "userId": 42, "item": "Loom", "quantity": 2 }),
        )
        .await
        .unwrap();
    assert_eq!((created.id, created.quantity), (3, 2));
    let list: Vec<Order> = orders
        .send(pattern!({ cmd: "list_orders" }), &json!({ "userId": "42" }))
        .await
        .unwrap();
    assert_eq!(list.len(), 3);
    let empty: Result<Value, _> = orders
        .send(
            pattern!({ cmd: "create_order" }),
            &json!({ "userId": 1, "item": " " }),
        )
        .await;
    assert!(matches!(empty, Err(RpcError::Remote { error, .. }) if error["statusCode"] == 400));
    orders.emit("order_created", &created).await.unwrap();
}
