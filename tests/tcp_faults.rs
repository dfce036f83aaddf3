//! Fault tests for the TCP transport: deadlines, dead and restarted services, corrupt peers,
//! slow handlers and shutdown. "Fast" below means well inside the call's deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use gateway_core::prelude::*;
use gateway_core::transport::tcp::NestCodec;
use gateway_tests::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

fn router() -> MessageRouter {
    MessageRouter::new()
        .message(
            "echo",
            |data: Value| async move { Ok::<_, RpcException>(data) },
        )
        .message("sleep", |ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, RpcException>(ms)
        })
        .message("never", |_: Value| async move {
            std::future::pending::<()>().await;
            Ok::<(), RpcException>(())
        })
        .stream("forever", |_: Value| {
            futures_util::stream::unfold(0u64, |n| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Ok::<_, RpcException>(n), n + 1))
            })
        })
}

async fn start(
    addr: &str,
    options: ServerOptions,
) -> (SocketAddr, ShutdownHandle, tokio::task::JoinHandle<()>) {
    let server = TcpServer::bind_with(addr, router(), options).await.unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    (addr, handle, tokio::spawn(server.serve()))
}

fn client_for(addr: SocketAddr, timeout: Duration) -> ClientProxy {
    ClientProxy::new(ClientOptions::tcp("TEST_SERVICE", addr.to_string()).timeout(timeout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_fires_and_leaves_nothing_pending() {
    init_tracing();
    let (addr, _stop, _serving) = start("127.0.0.1:0", ServerOptions::default()).await;
    let client = client_for(addr, Duration::from_millis(150));

    let started = Instant::now();
    let result = client.send::<Value>("never", &json!({})).await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(RpcError::Timeout { ref pattern, timeout, .. }) if pattern == "never" && timeout == Duration::from_millis(150)),
        "{result:?}"
    );
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(1000),
        "{took:?}"
    );
    assert_eq!(client.pending_calls(), 0);

    // A per-call override; the late reply arrives after the deadline and is dropped quietly.
    let result = client
        .send_with::<u64>(
            "sleep",
            &200,
            CallOptions::timeout(Duration::from_millis(50)),
        )
        .await;
    assert!(
        matches!(result, Err(RpcError::Timeout { .. })),
        "{result:?}"
    );
    assert_eq!(client.pending_calls(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let echoed: Value = client
        .send("echo", &json!({ "still": "fine" }))
        .await
        .unwrap();
    assert_eq!(echoed, json!({ "still": "fine" }));

    // A deadline also bounds a stream that never ends.
    let mut values = client
        .send_stream_with::<u64>(
            "forever",
            &json!({}),
            CallOptions::timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    let mut seen = 0;
    loop {
        match values.next().await {
            Some(Ok(_)) => seen += 1,
            Some(Err(RpcError::Timeout { .. })) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(seen >= 2, "saw {seen} values before the deadline");
    assert!(values.next().await.is_none());
    assert_eq!(client.pending_calls(), 0);

    // An explicit deadline replaces the client default.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(400);
    let slept: u64 = client
        .send_with("sleep", &250, CallOptions::deadline(deadline))
        .await
        .unwrap();
    assert_eq!(slept, 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_service_fails_pending_calls_fast_and_the_next_call_reconnects() {
    init_tracing();
    let (addr, stop, serving) = start("127.0.0.1:0", ServerOptions::default()).await;
    let client = client_for(addr, Duration::from_secs(10));

    let calls: Vec<_> = (0..5)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                (client.send::<u64>("sleep", &5_000).await, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(client.pending_calls(), 5);
    stop.kill();
    serving.await.unwrap();
    for call in calls {
        let (result, took) = call.await.unwrap();
        assert!(
            matches!(result, Err(RpcError::ConnectionLost { ref reason, .. }) if &**reason == "Connection closed"),
            "{result:?}"
        );
        assert!(result.as_ref().unwrap_err().is_unavailable());
        assert!(
            took < Duration::from_secs(2),
            "failed after {took:?}, not fast"
        );
    }
    assert_eq!(client.pending_calls(), 0);

    // While it is down: a fast, clear error.
    let started = Instant::now();
    let down = client.send::<Value>("echo", &1).await;
    assert!(matches!(down, Err(RpcError::Connect { .. })), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(down
        .unwrap_err()
        .to_string()
        .starts_with("TEST_SERVICE is unavailable: cannot connect to"));

    // Restarted on the same port: the next call just works.
    let (_addr, _stop, _serving) = start(&addr.to_string(), ServerOptions::default()).await;
    let echoed: Value = client.send("echo", &json!("back")).await.unwrap();
    assert_eq!(echoed, json!("back"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nest_service_fails_pending_calls_fast_and_the_next_call_reconnects() {
    require_nest!("a_killed_nest_service_fails_pending_calls_fast_and_the_next_call_reconnects");
    init_tracing();
    for version in Nest::ALL {
        killed_nest_service(version).await;
    }
}

async fn killed_nest_service(version: Nest) {
    eprintln!("a Nest {version:?} service killed mid-call");
    let port = free_port();
    let mut nest = spawn_nest_service(version, port).await;
    let client = ClientProxy::new(
        ClientOptions::tcp("NEST_SERVICE", format!("127.0.0.1:{port}"))
            .timeout(Duration::from_secs(10)),
    );
    // A Nest service that never answers: our deadline still fires.
    let never = client
        .send_with::<Value>(
            json!({ "cmd": "never" }),
            &json!({}),
            CallOptions::timeout(Duration::from_millis(200)),
        )
        .await;
    assert!(matches!(never, Err(RpcError::Timeout { .. })), "{never:?}");
    assert_eq!(client.pending_calls(), 0);

    let pending = {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client
                .send::<Value>(json!({ "cmd": "sleep" }), &json!({ "ms": 5000, "tag": 1 }))
                .await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    nest.kill().await; // SIGKILL, mid-call
    let (result, took) = pending.await.unwrap();
    assert!(
        matches!(result, Err(RpcError::ConnectionLost { .. })),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");

    let _nest = spawn_nest_service(version, port).await;
    let user: Value = client
        .send(json!({ "cmd": "get_user" }), &json!({ "id": 42 }))
        .await
        .unwrap();
    assert_eq!(user["name"], "Ada Lovelace");
}

/// A fake downstream: the first connection gets `garbage` in answer to its first request;
/// later connections are answered properly (echoing `data`).
async fn garbage_peer(garbage: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((socket, _)) = listener.accept().await {
            let corrupt = std::mem::take(&mut first);
            tokio::spawn(async move {
                let mut framed = Framed::new(socket, NestCodec::default());
                while let Some(Ok(frame)) = framed.next().await {
                    if corrupt {
                        // let the client's other calls arrive first
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let _ = framed.get_mut().write_all(garbage).await;
                        continue;
                    }
                    let request: Value = serde_json::from_slice(&frame).unwrap();
                    let reply = json!({ "response": request["data"], "isDisposed": true, "id": request["id"] });
                    framed.send(reply.to_string()).await.unwrap();
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_frame_fails_every_pending_call_and_the_client_recovers() {
    init_tracing();
    for (garbage, reason) in [
        (
            &b"xx#garbage"[..],
            "Corrupted length value \"xx\" supplied in a packet",
        ),
        (&b"5#{nope"[..], "Could not parse JSON"),
        (&b"99999999999#"[..], "Corrupted length value"),
    ] {
        let addr = garbage_peer(garbage).await;
        let client = client_for(addr, Duration::from_secs(5));
        let calls: Vec<_> = (0..3)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move { client.send::<Value>("echo", &i).await })
            })
            .collect();
        for call in calls {
            let result = call.await.unwrap();
            match result {
                Err(RpcError::ConnectionLost { reason: got, .. }) => {
                    assert!(
                        got.starts_with(reason),
                        "{got} does not start with {reason}"
                    )
                }
                other => panic!("expected ConnectionLost, got {other:?}"),
            }
        }
        assert_eq!(client.pending_calls(), 0);
        let echoed: Value = client
            .send("echo", &json!({ "after": "garbage" }))
            .await
            .unwrap();
        assert_eq!(echoed, json!({ "after": "garbage" }));
    }
}

/// A fake downstream answering each request as its `data` says, in Nest's usual reply shape
/// (`{"response":V,"isDisposed":true,"id":"N"}`, which the client routes by its shape alone)
/// around a `V` that is not one JSON value, or not the caller's type; `slow` is a proper
/// reply 300 ms later.
async fn shaped_peer() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (sink, mut frames) = Framed::new(socket, NestCodec::default()).split();
                let sink = Arc::new(tokio::sync::Mutex::new(sink));
                while let Some(Ok(frame)) = frames.next().await {
                    let request: Value = serde_json::from_slice(&frame).unwrap();
                    let id = request["id"].to_string();
                    let value = match request["data"].as_str().unwrap() {
                        "corrupt" => "{",
                        "err-inside" => r#"1,"err":"boom""#,
                        "extra-key" => r#"7,"x":2"#,
                        "mistyped" => r#""seven""#,
                        _ => r#""late""#,
                    };
                    let slow = request["data"] == "slow";
                    let reply = format!(r#"{{"response":{value},"isDisposed":true,"id":{id}}}"#);
                    let sink = sink.clone();
                    tokio::spawn(async move {
                        if slow {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        let _ = sink.lock().await.send(reply).await;
                    });
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_routed_by_their_shape_answer_as_a_full_read_would() {
    let addr = shaped_peer().await;
    let client = client_for(addr, Duration::from_secs(5));
    // Another key inside the reply: its `response`.
    assert_eq!(client.send::<u32>("shaped", &"extra-key").await.unwrap(), 7);
    // A truthy `err` inside it: the remote error.
    match client.send::<Value>("shaped", &"err-inside").await {
        Err(RpcError::Remote { error, .. }) => assert_eq!(error, json!("boom")),
        other => panic!("expected the remote error, got {other:?}"),
    }
    // Not the caller's type: that call's decode error; the connection (and a call waiting on
    // it) carries on.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.send::<String>("shaped", &"slow").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        client.send::<u32>("shaped", &"mistyped").await,
        Err(RpcError::Decode { .. })
    ));
    assert_eq!(waiting.await.unwrap().unwrap(), "late");
    // Not JSON: the connection closes, as for any corrupt packet, failing the calls on it;
    // the next call dials again.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.send::<String>("shaped", &"slow").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for result in [
        client.send::<Value>("shaped", &"corrupt").await.map(|_| ()),
        waiting.await.unwrap().map(|_| ()),
    ] {
        match result {
            Err(RpcError::ConnectionLost { reason, .. }) => {
                assert!(reason.starts_with("Could not parse JSON"), "{reason}")
            }
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    }
    assert_eq!(client.pending_calls(), 0);
    assert_eq!(client.send::<u32>("shaped", &"extra-key").await.unwrap(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_closes_a_connection_that_sends_garbage_and_serves_others() {
    init_tracing();
    let (addr, _stop, _serving) = start("127.0.0.1:0", ServerOptions::default()).await;
    let client = client_for(addr, Duration::from_secs(5));
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.send::<u64>("sleep", &300).await })
    };

    for garbage in [&b"xx#{}"[..], b"5#{nope", b"2#\xff\xfe"] {
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(garbage).await.unwrap();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(2), raw.read(&mut buf))
            .await
            .expect("the server closes the connection promptly");
        assert_eq!(read.unwrap(), 0, "the server sends nothing back, only FIN");
    }

    // The well-behaved connection was not disturbed.
    assert_eq!(slow.await.unwrap().unwrap(), 300);
    let echoed: Value = client.send("echo", &"ok").await.unwrap();
    assert_eq!(echoed, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_fails_fast() {
    let port = free_port();
    let client = ClientProxy::new(ClientOptions::tcp(
        "DOWN_SERVICE",
        format!("127.0.0.1:{port}"),
    ));
    let started = Instant::now();
    let result = client.connect().await;
    assert!(
        matches!(result, Err(RpcError::Connect { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let error = client.emit("anything", &1).await.unwrap_err();
    assert!(error.is_unavailable());
    assert_eq!(error.service(), Some("DOWN_SERVICE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_does_not_hold_up_the_connection() {
    let (addr, _stop, _serving) = start("127.0.0.1:0", ServerOptions::default()).await;
    let client = client_for(addr, Duration::from_secs(5));
    client.connect().await.unwrap();
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.send::<u64>("sleep", &1_000).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    for i in 0..20 {
        let echoed: i32 = client.send("echo", &i).await.unwrap();
        assert_eq!(echoed, i);
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(!slow.is_finished());
    assert_eq!(slow.await.unwrap().unwrap(), 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_in_flight_handlers_finish_within_the_grace_period() {
    init_tracing();
    let (addr, stop, serving) = start("127.0.0.1:0", ServerOptions::default()).await;
    let client = client_for(addr, Duration::from_secs(5));
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.send::<u64>("sleep", &300).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.shutdown();
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        300,
        "the in-flight call got its reply"
    );
    tokio::time::timeout(Duration::from_secs(2), serving)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );

    // The grace period bounds a handler that would never finish.
    let options = ServerOptions {
        grace_period: Duration::from_millis(200),
        ..ServerOptions::default()
    };
    let (addr, stop, serving) = start("127.0.0.1:0", options).await;
    let client = client_for(addr, Duration::from_secs(5));
    let stuck = {
        let client = client.clone();
        tokio::spawn(async move { client.send::<Value>("never", &json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    stop.shutdown();
    tokio::time::timeout(Duration::from_secs(2), serving)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(
        stuck.await.unwrap(),
        Err(RpcError::ConnectionLost { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_mid_frame_is_disconnected() {
    init_tracing();
    // Our server: a client that sends half a frame and goes quiet.
    let options = ServerOptions {
        incomplete_timeout: Duration::from_millis(200),
        ..ServerOptions::default()
    };
    let (addr, _stop, _serving) = start("127.0.0.1:0", options).await;
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"40#{\"pattern\":\"ec").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(3), raw.read(&mut buf))
        .await
        .expect("closed after the idle limit");
    assert_eq!(read.unwrap(), 0);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // An idle connection between frames is not affected.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let body = br#"{"pattern":"echo","data":7,"id":"1"}"#;
    idle.write_all(format!("{}#", body.len()).as_bytes())
        .await
        .unwrap();
    idle.write_all(body).await.unwrap();
    let n = idle.read(&mut [0u8; 128]).await.unwrap();
    assert!(n > 0, "the idle connection still answers");
    // A slow peer that keeps sending is not: the limit counts from the last bytes received.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let frame = format!("{}#{}", body.len(), std::str::from_utf8(body).unwrap());
    let started = Instant::now();
    for chunk in frame.as_bytes().chunks(10) {
        slow.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(started.elapsed() > Duration::from_millis(400));
    let n = slow.read(&mut [0u8; 128]).await.unwrap();
    assert!(n > 0, "a peer trickling a frame in is answered");

    // Our client: a service that sends half a reply and goes quiet.
    let peer = garbage_peer(b"60#{\"response\":").await;
    let client = ClientProxy::new(
        ClientOptions::tcp("STALLING", peer.to_string())
            .timeout(Duration::from_secs(10))
            .incomplete_timeout(Duration::from_millis(200)),
    );
    let started = Instant::now();
    match client.send::<Value>("echo", &1).await {
        Err(RpcError::ConnectionLost { reason, .. }) => {
            assert!(
                reason.starts_with("The remote peer stopped sending"),
                "{reason}"
            )
        }
        other => panic!("expected ConnectionLost, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    let echoed: i32 = client.send("echo", &2).await.unwrap();
    assert_eq!(echoed, 2);
}

/// Nest's `tcp-memory-bounds.spec.ts`, `maxSendBufferSize`: the server that a peer asks for
/// 20 replies of 1 MiB, never reading them, drops that peer once more than the limit (2 MiB)
/// waits for its socket; a peer that reads gets all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_lets_replies_pile_up_unread_is_dropped() {
    init_tracing();
    const PAYLOAD: usize = 1024 * 1024;
    let payload_router = || {
        MessageRouter::new().message(json!({ "cmd": "payload" }), |_: Value| async move {
            Ok::<_, RpcException>("x".repeat(PAYLOAD))
        })
    };
    let frames = || {
        let mut out = Vec::new();
        for i in 0..20 {
            let json =
                json!({ "pattern": { "cmd": "payload" }, "data": null, "id": i.to_string() })
                    .to_string();
            out.extend_from_slice(format!("{}#{json}", json.len()).as_bytes());
        }
        out
    };
    let serve = |limit: usize| {
        let router = payload_router();
        async move {
            let options = ServerOptions {
                max_send_buffer: Some(limit),
                ..ServerOptions::default()
            };
            let server = TcpServer::bind_with("127.0.0.1:0", router, options)
                .await
                .unwrap();
            let addr = server.local_addr();
            tokio::spawn(server.serve());
            addr
        }
    };

    // "should drop a peer that lets responses pile up unread".
    let addr = serve(2 * 1024 * 1024).await;
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(&frames()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await; // the peer does not read meanwhile
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server kept the connection open");
    assert!(
        received < 20 * PAYLOAD,
        "the connection was dropped before every reply was sent ({received} bytes came)"
    );

    // "should serve a peer that reads its responses".
    let addr = serve(32 * 1024 * 1024).await;
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(&frames()).await.unwrap();
    let mut received = 0usize;
    tokio::time::timeout(Duration::from_secs(20), async {
        while received < 20 * PAYLOAD {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
    })
    .await
    .expect("every reply arrives");
    assert!(received >= 20 * PAYLOAD, "only {received} bytes came");
}

/// A peer that sends requests and never reads the replies is not read from past
/// `max_in_flight` requests: it slows itself down; our memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_no_longer_read_past_the_in_flight_limit() {
    init_tracing();
    let handled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = handled.clone();
    let router = MessageRouter::new().message("big", move |_: Value| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { Ok::<_, RpcException>("y".repeat(64 * 1024)) }
    });
    // (Counted when the handler is called: every request read is counted.)
    let options = ServerOptions {
        max_in_flight: 8,
        ..ServerOptions::default()
    };
    let server = TcpServer::bind_with("127.0.0.1:0", router, options)
        .await
        .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve());

    let mut socket = TcpStream::connect(addr).await.unwrap();
    let json = r#"{"pattern":"big","data":null,"id":"1"}"#;
    let frame = format!("{}#{json}", json.len());
    // Keep writing (bounded in count and time) without ever reading.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        for _ in 0..200_000 {
            if socket.write_all(frame.as_bytes()).await.is_err() {
                break;
            }
        }
    })
    .await;
    let count = handled.load(std::sync::atomic::Ordering::SeqCst);
    // What the socket buffers hold on both sides (about 70 replies of 64 KiB on loopback),
    // plus twice the in-flight limit. Without the limit, the count grows with every request
    // the peer writes (2 500 in this test's 2 s, measured, and without bound).
    assert!(
        count < 500,
        "{count} requests were handled for a peer that never reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_emitted_just_before_the_client_goes_is_still_delivered() {
    init_tracing();
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let router = MessageRouter::new().event("tick", move |_: Value| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let server = TcpServer::bind("127.0.0.1:0", router).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve());
    // Each client emits, then is dropped at once (Nest's `socket.end()` flushes what was
    // written; so does our close).
    for i in 0..20 {
        let client = ClientProxy::new(ClientOptions::tcp("TICKS", addr.to_string()));
        client.emit("tick", &i).await.unwrap();
    }
    let started = Instant::now();
    while received.load(std::sync::atomic::Ordering::SeqCst) < 20
        && started.elapsed() < Duration::from_secs(3)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_limit_new_peers_wait_and_idle_ones_can_be_closed() {
    init_tracing();
    let options = ServerOptions {
        max_connections: 1,
        idle_timeout: Some(Duration::from_millis(300)),
        ..ServerOptions::default()
    };
    let (addr, _stop, _serving) = start("127.0.0.1:0", options).await;

    // The only slot: a call that takes 600 ms (longer than the idle timeout) is not cut.
    let first = client_for(addr, Duration::from_secs(5));
    let slow = tokio::spawn({
        let first = first.clone();
        async move { first.send::<u64>("sleep", &600u64).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A second peer waits in the listen queue while the first holds the slot.
    let second = client_for(addr, Duration::from_secs(5));
    let waiting = tokio::spawn(async move { second.send::<Value>("echo", &json!(2)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "served past the connection limit");
    assert_eq!(slow.await.unwrap().unwrap(), 600, "in flight is not idle");

    // Once the first is idle past the timeout the server closes it: the second is served.
    let started = Instant::now();
    let echoed = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the idle connection was closed")
        .unwrap()
        .unwrap();
    assert_eq!(echoed, json!(2));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(first.pending_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_trickled_past_its_deadline_is_dropped() {
    init_tracing();
    // Bytes every 50 ms keep the stall timer (1 s) from firing; the whole-frame deadline does.
    let options = ServerOptions {
        incomplete_timeout: Duration::from_secs(1),
        frame_deadline: Some(Duration::from_millis(400)),
        ..ServerOptions::default()
    };
    let (addr, _stop, _serving) = start("127.0.0.1:0", options).await;
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"100000#").await.unwrap();
    let started = Instant::now();
    let closed = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if raw.write_all(b" ").await.is_err() {
            break started.elapsed();
        }
        let mut buf = [0u8; 16];
        match tokio::time::timeout(Duration::from_millis(1), raw.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still open after 3 s"
        );
    };
    assert!(closed >= Duration::from_millis(350), "{closed:?}");
    assert!(closed < Duration::from_millis(1500), "{closed:?}");
    // Others are served.
    let client = client_for(addr, Duration::from_secs(2));
    assert_eq!(
        client.send::<Value>("echo", &json!(1)).await.unwrap(),
        json!(1)
    );
}

/// Whether the server closed `raw` (within `within`).
async fn closed_by_server(raw: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, raw.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_shared_frame_budget_the_largest_unfinished_frame_is_dropped() {
    init_tracing();
    // Three peers each start a 10 MB frame; together past 1 MiB, the one holding most goes.
    let options = ServerOptions {
        max_buffered_bytes: 1024 * 1024,
        ..ServerOptions::default()
    };
    let (addr, _stop, _serving) = start("127.0.0.1:0", options).await;
    let mut peers = Vec::new();
    for bytes in [300_000, 500_000, 300_000] {
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(b"10000000#\"").await.unwrap();
        raw.write_all(&vec![b'a'; bytes]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        peers.push(raw);
    }
    let [small, largest, last] = &mut peers[..] else {
        unreachable!()
    };
    assert!(
        closed_by_server(largest, Duration::from_secs(2)).await,
        "the largest was kept"
    );
    assert!(!closed_by_server(small, Duration::from_millis(200)).await);
    assert!(!closed_by_server(last, Duration::from_millis(200)).await);
    // Under the budget again: the others keep sending, and a new client is served.
    small.write_all(&vec![b'a'; 100_000]).await.unwrap();
    assert!(!closed_by_server(small, Duration::from_millis(200)).await);
    let client = client_for(addr, Duration::from_secs(2));
    assert_eq!(
        client.send::<Value>("echo", &json!(1)).await.unwrap(),
        json!(1)
    );
}

/// A client with a circuit breaker in front of a frozen service: three deadlines in a row
/// open the circuit, the next calls fail at once (not after their deadline), a probe after
/// `open_for` finds the service answering again and closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_breaker_fails_fast_while_open_and_closes_after_a_good_probe() {
    init_tracing();
    let (addr, _stop, _serving) = start("127.0.0.1:0", ServerOptions::default()).await;
    let client = ClientProxy::new(
        ClientOptions::tcp("FROZEN", addr.to_string())
            .timeout(Duration::from_millis(200))
            .circuit_breaker(CircuitBreaker {
                failures: 3,
                open_for: Duration::from_millis(600),
            }),
    );
    for _ in 0..3 {
        let error = client.send::<Value>("never", &json!(1)).await.unwrap_err();
        assert_eq!(error.kind(), "timeout");
    }
    let started = Instant::now();
    for _ in 0..20 {
        let error = client.send::<Value>("never", &json!(1)).await.unwrap_err();
        assert!(
            matches!(error, RpcError::CircuitOpen { .. }),
            "{error}: the circuit is open"
        );
        assert!(error.is_unavailable());
    }
    let refused_in = started.elapsed();
    assert!(
        refused_in < Duration::from_millis(100),
        "20 refusals took {refused_in:?}"
    );
    // A service answer, even an error, is the service being there.
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert_eq!(
        client.send::<Value>("echo", &json!(2)).await.unwrap(),
        json!(2)
    );
    assert_eq!(
        client.send::<Value>("echo", &json!(3)).await.unwrap(),
        json!(3)
    );
    let error = client
        .send::<Value>("no such pattern", &json!(1))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "remote");
    assert_eq!(
        client.send::<Value>("echo", &json!(4)).await.unwrap(),
        json!(4)
    );
}
