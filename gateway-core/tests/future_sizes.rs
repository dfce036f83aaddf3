//! Guards the size of the futures on the request path: every byte is copied when a future is
//! boxed (axum boxes each handler's) and again at each move. A regression here is a speed
//! regression (see bench/).

use gateway_core::prelude::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_send_future_stays_small() {
    let client = ClientProxy::new(ClientOptions::tcp("SIZE", "127.0.0.1:9"));
    let send = client.send::<Value>("echo", &json!({ "id": 42 }));
    let size = std::mem::size_of_val(&send);
    eprintln!("ClientProxy::send future: {size} bytes");
    assert!(size <= 1024, "the send future grew to {size} bytes");
}
