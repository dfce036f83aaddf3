//! Logs an operator can keep: a service that stays down, and a peer that keeps sending corrupt
//! frames, make one log line per kind per interval (with how many were left out), not one per
//! failure. (Its own test binary: it installs the process's log subscriber, to read the lines.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use gateway_core::prelude::*;
use gateway_tests::*;
use tokio::io::AsyncWriteExt;

/// Every log line written, for the test to count.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

#[injectable]
struct DeadController {
    #[inject("DEAD")]
    dead: ClientProxy,
}

#[controller]
impl DeadController {
    #[get("dead")]
    async fn dead(&self) -> Result<RawReply, RpcError> {
        self.dead.send("ping", &()).await
    }
}

#[injectable]
struct EchoController;

#[controller]
impl EchoController {
    #[message_pattern("echo")]
    async fn echo(&self, #[payload] v: serde_json::Value) -> serde_json::Value {
        v
    }
}

#[module(controllers = [EchoController])]
struct EchoModule;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_one_line_per_kind_per_interval() {
    let lines = Lines::default();
    let writer = lines.clone();
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    // A dead service behind 50 requests: 50 fast 503s, one line.
    let dead = format!("127.0.0.1:{}", free_port());
    let module = gateway_core::testing::Test::create_testing_module_with(move |m| {
        m.controller::<DeadController>();
        m.provide(Provider::value(
            "DEAD",
            ClientProxy::new(ClientOptions::tcp("DEAD", dead)),
        ));
    })
    .compile()
    .await
    .unwrap();
    let app = module.create_nest_application();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    for _ in 0..50 {
        assert_eq!(http_request(addr, "GET", "/dead", &[], "").await.0, 503);
    }
    assert_eq!(
        lines.count("downstream unavailable"),
        1,
        "one line for 50 failures"
    );

    // 50 connections each sending a corrupt frame: 50 closed, one line.
    let service = serve_microservice::<EchoModule>().await;
    for _ in 0..50 {
        let mut peer = tokio::net::TcpStream::connect(service).await.unwrap();
        peer.write_all(b"xx#garbage").await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut rest).await;
    }
    assert_eq!(
        lines.count("Corrupted length value"),
        1,
        "one line for 50 corrupt frames"
    );
}
