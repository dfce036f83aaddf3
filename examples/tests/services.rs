//! The seed services answer with the seed's data, over real TCP.

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
    let ada: RawReply = users
        .send(pattern!({ cmd: "get_user" }), &json!({ "id": "42" }))
        .await
        .unwrap();
    assert_eq!(ada.get(), r#"{"id":"42","name":"Ada Lovelace"}"#);
    // A number is read as its text, as a tolerant service would.
    let ada: User = users
        .send(pattern!({ cmd: "get_user" }), &json!({ "id": 42 }))
        .await
        .unwrap();
    assert_eq!(ada.name, "Ada Lovelace");
    match users
        .send::<User>(pattern!({ cmd: "get_user" }), &json!({ "id": "7" }))
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
async fn orders_service_lists_and_creates_with_string_ids() {
    let (orders, _stop) = serve(orders_service("127.0.0.1:0").await.unwrap()).await;
    let list: RawReply = orders
        .send(pattern!({ cmd: "list_orders" }), &json!({ "userId": "42" }))
        .await
        .unwrap();
    assert_eq!(
        list.get(),
        r#"[{"id":"o-1","items":["book"]},{"id":"o-2","items":["pen","ink"]}]"#
    );
    let created: RawReply = orders
        .send(
            pattern!({ cmd: "create_order" }),
            &json!({ "userId": "42", "items": ["quill"] }),
        )
        .await
        .unwrap();
    assert_eq!(created.get(), r#"{"id":"o-3","items":["quill"]}"#);
    let list: Vec<Order> = orders
        .send(pattern!({ cmd: "list_orders" }), &json!({ "userId": "42" }))
        .await
        .unwrap();
    assert_eq!(list.len(), 3);
    let none: Vec<Value> = orders
        .send(pattern!({ cmd: "list_orders" }), &json!({ "userId": "7" }))
        .await
        .unwrap();
    assert!(none.is_empty());
    let created: Order = serde_json::from_str(created.get()).unwrap();
    orders.emit("order_created", &created).await.unwrap();
}
