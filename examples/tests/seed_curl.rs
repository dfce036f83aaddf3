//! The seed's curl, run by curl against the example binaries started as processes (the
//! users service, the orders service and the gateway, on free ports): the seed's output, byte
//! for byte (the seed shows it pretty-printed; Nest sends it compact, key order kept).

mod support;

use std::process::Command;

use support::{free_port, installed, wait_listening, Process};

/// The output the seed prints for `curl http://localhost:3000/users/42/profile`.
const SEED_OUTPUT: &str = r#"{
  "id": "42",
  "name": "Ada Lovelace",
  "orderCount": 2,
  "orders": [
    { "id": "o-1", "items": ["book"] },
    { "id": "o-2", "items": ["pen", "ink"] }
  ]
}"#;

const TOKEN: &str = "seed-curl-token";

fn start(binary: &str, env: &[(&str, String)]) -> Process {
    let mut env = env.to_vec();
    env.push(("RUST_LOG", "warn".to_owned()));
    Process::start(binary, &env)
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn compact(pretty: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(pretty).expect("the seed's JSON");
    serde_json::to_string(&value).expect("JSON")
}

#[test]
fn the_seed_curl_prints_the_seed_output() {
    if !installed("curl", "--version", "apt-get install curl") {
        return;
    }
    let (users, orders, gateway) = (free_port(), free_port(), free_port());
    let ports = [
        ("USERS_SERVICE_PORT", users.to_string()),
        ("ORDERS_SERVICE_PORT", orders.to_string()),
        ("GATEWAY_PORT", gateway.to_string()),
        ("GATEWAY_TOKEN", TOKEN.to_owned()),
    ];
    let _users = start(env!("CARGO_BIN_EXE_users-service"), &ports);
    let _orders = start(env!("CARGO_BIN_EXE_orders-service"), &ports);
    wait_listening(users);
    wait_listening(orders);
    let _gateway = start(env!("CARGO_BIN_EXE_gateway"), &ports);
    wait_listening(gateway);

    let base = format!("http://localhost:{gateway}");
    let auth = format!("Authorization: Bearer {TOKEN}");
    assert_eq!(
        curl(&["-H", &auth, &format!("{base}/users/42/profile")]),
        compact(SEED_OUTPUT)
    );
    assert_eq!(
        curl(&["-H", &auth, &format!("{base}/users/42")]),
        r#"{"id":"42","name":"Ada Lovelace"}"#
    );
    assert_eq!(
        curl(&[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"userId":"42","items":["quill"]}"#,
            &format!("{base}/orders"),
        ]),
        r#"{"id":"o-3","items":["quill"]}"#
    );
    assert_eq!(
        curl(&[&format!("{base}/users/42/profile")]),
        r#"{"message":"Invalid or missing token","error":"Unauthorized","statusCode":401}"#
    );
}
