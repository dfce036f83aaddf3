//! The example gateway with `CIRCUIT_BREAKER=on`, the three example binaries as processes:
//! with the orders service frozen (SIGSTOP), profile requests wait their deadline (504) until
//! the circuit opens, then are refused at once (503, Nest's JSON) while `GET /users/:id` is
//! unaffected; once the service is thawed (SIGCONT), the probe after `open_for` closes the
//! circuit and the profile is the seed's again.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{installed, System};

const TOKEN: &str = "breaker-token";

/// `curl -s` for `path` with the token: the status code and the body.
fn get(port: u16, path: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {TOKEN}"))
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl runs");
    let out = String::from_utf8(output.stdout).expect("UTF-8");
    let (body, status) = out.rsplit_once('\n').expect("the status line");
    (status.to_owned(), body.to_owned())
}

#[test]
fn a_frozen_service_opens_the_circuit_then_a_probe_closes_it() {
    if !installed("curl", "--version", "apt-get install curl") {
        return;
    }
    let system = System::start(
        TOKEN,
        &[
            ("SERVICE_TIMEOUT_MS", "300".to_owned()),
            ("CIRCUIT_BREAKER", "on".to_owned()),
            ("CIRCUIT_BREAKER_FAILURES", "3".to_owned()),
            ("CIRCUIT_BREAKER_OPEN_MS", "1000".to_owned()),
        ],
    );
    let (gateway_port, orders) = (system.gateway_port, &system.orders);
    let profile = r#"{"id":"42","name":"Ada Lovelace","orderCount":2,"orders":[{"id":"o-1","items":["book"]},{"id":"o-2","items":["pen","ink"]}]}"#;
    assert_eq!(
        get(gateway_port, "/users/42/profile"),
        ("200".into(), profile.into())
    );

    orders.signal("STOP");
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = get(gateway_port, "/users/42/profile");
        assert_eq!(status, "504", "{body}");
        assert!(started.elapsed() >= Duration::from_millis(280));
    }
    let started = Instant::now();
    for _ in 0..10 {
        let (status, body) = get(gateway_port, "/users/42/profile");
        assert_eq!(
            (status.as_str(), body.as_str()),
            (
                "503",
                r#"{"message":"ORDERS_SERVICE is unavailable","error":"Service Unavailable","statusCode":503}"#
            )
        );
    }
    let refused_in = started.elapsed();
    assert!(
        refused_in < Duration::from_millis(600),
        "10 refusals took {refused_in:?}, not one deadline"
    );
    assert_eq!(
        get(gateway_port, "/users/42"),
        ("200".into(), r#"{"id":"42","name":"Ada Lovelace"}"#.into()),
        "the users service has its own circuit"
    );

    orders.signal("CONT");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        get(gateway_port, "/users/42/profile"),
        ("200".into(), profile.into())
    );
    assert_eq!(
        get(gateway_port, "/users/42/profile"),
        ("200".into(), profile.into())
    );
}
