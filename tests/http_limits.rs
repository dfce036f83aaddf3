//! The HTTP server's limits (`HttpLimits`), as an attacker meets them: a head trickled byte
//! by byte (slowloris) and an idle kept-alive connection are closed at the header deadline, or
//! the idle one at the shorter keep-alive deadline; a head over 16 KiB is Node's 431; past the connection limit new connections wait in the
//! listen queue and are served once a slot frees; a body trickled past its deadline is 408 and
//! a malformed chunked body (or one chunked twice) 400, each closing the connection.

use std::time::{Duration, Instant};

use gateway_core::app::HttpLimits;
use gateway_core::prelude::*;
use gateway_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[injectable]
struct PingController;

#[controller]
impl PingController {
    #[get("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[get("slow")]
    async fn slow(&self) -> &'static str {
        tokio::time::sleep(Duration::from_millis(400)).await;
        "done"
    }

    #[get("users/:id")]
    async fn user(&self, #[param] id: String) -> String {
        id
    }

    #[post("echo")]
    async fn echo(&self, #[body] body: serde_json::Value) -> serde_json::Value {
        body
    }
}

#[module(controllers = [PingController])]
struct PingModule;

async fn app_with(limits: HttpLimits) -> std::net::SocketAddr {
    serve_app::<PingModule>(move |app| {
        app.set_http_limits(limits);
    })
    .await
}

/// Reads until the peer closes (or `within` passes): what it sent, and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_trickled_head_and_an_idle_connection_are_closed_at_the_header_deadline() {
    let addr = app_with(HttpLimits {
        header_read_timeout: Some(Duration::from_millis(600)),
        ..HttpLimits::default()
    })
    .await;

    // Slowloris: one header byte every 100 ms never completes the head.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let trickle =
        b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed_at = None;
    for byte in trickle {
        if slow.write_all(&[*byte]).await.is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probe = [0u8; 512];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
        {
            if n == 0 || String::from_utf8_lossy(&probe[..n]).contains("408") {
                closed_at = Some(started.elapsed());
                break;
            }
        }
    }
    let closed_at = closed_at.expect("the trickled head was cut off");
    assert!(
        closed_at < Duration::from_millis(1500),
        "closed after {closed_at:?}, the deadline is 600 ms"
    );

    // Keep-alive: answered, then closed once idle past the deadline.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.ends_with("pong"), "{seen}");
    assert!(closed, "the idle connection was kept open");
    assert!(started.elapsed() < Duration::from_millis(1500));

    // A normal client is unaffected.
    assert_eq!(http_request(addr, "GET", "/ping", &[], "").await.0, 200);
}

/// Node's split: a kept-alive connection waits `keep_alive_timeout` for its next request's
/// first byte, then that request's head has the header deadline; a new connection's first
/// request has the header deadline alone.
#[tokio::test]
async fn an_idle_kept_alive_connection_closes_at_the_keep_alive_deadline_not_a_slow_head() {
    let addr = app_with(HttpLimits {
        header_read_timeout: Some(Duration::from_millis(2000)),
        keep_alive_timeout: Some(Duration::from_millis(300)),
        ..HttpLimits::default()
    })
    .await;
    let request = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";

    // Answered, then closed once idle for 300 ms (not the 2 s header deadline).
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(request).await.unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(
        seen.starts_with("HTTP/1.1 200") && seen.ends_with("pong"),
        "{seen}"
    );
    assert!(closed, "the idle connection was kept open");
    let idle_for = started.elapsed();
    assert!(
        (Duration::from_millis(250)..Duration::from_millis(1500)).contains(&idle_for),
        "closed after {idle_for:?}; the keep-alive deadline is 300 ms"
    );
    assert!(!seen.contains("408"), "an idle close is quiet: {seen}");

    // A new connection's first request may take longer than the keep-alive deadline to start,
    // and a kept-alive one's second request may take longer than it once begun.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    slow.write_all(request).await.unwrap();
    let mut first = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), slow.read(&mut first))
        .await
        .expect("the first request is answered")
        .unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).ends_with("pong"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for byte in request {
        slow.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (seen, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(
        seen.starts_with("HTTP/1.1 200") && seen.ends_with("pong"),
        "{seen}"
    );
    assert!(closed, "closed once idle again");
}

/// A keep-alive deadline without a header deadline: idle connections still go.
#[tokio::test]
async fn a_keep_alive_deadline_alone_closes_idle_connections() {
    let addr = app_with(HttpLimits {
        header_read_timeout: None,
        keep_alive_timeout: Some(Duration::from_millis(300)),
        ..HttpLimits::default()
    })
    .await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(seen.ends_with("pong"), "{seen}");
    assert!(closed && started.elapsed() < Duration::from_millis(1500));
}

/// `Transfer-Encoding: chunked` twice (RFC 9112 forbids it; Node refuses it) is Nest's JSON
/// 400 and closes the connection: the pipelined request behind it is not read.
#[tokio::test]
async fn a_body_chunked_twice_is_400_and_closes() {
    let addr = app_with(HttpLimits::default()).await;
    for codings in [
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{codings}\r\n\
             2\r\n{{}}\r\n0\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
        assert!(seen.starts_with("HTTP/1.1 400"), "{codings:?}: {seen}");
        assert!(
            seen.ends_with(r#"{"message":"Bad Request","statusCode":400}"#),
            "{codings:?}: {seen}"
        );
        assert!(
            !seen.contains("pong"),
            "the request behind it was read: {seen}"
        );
        assert!(closed, "{codings:?}");
    }
}

#[tokio::test]
async fn a_head_over_16_kib_is_431_as_in_node() {
    let addr = app_with(HttpLimits::default()).await;
    let big = "a".repeat(20 * 1024);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(seen.starts_with("HTTP/1.1 431"), "{seen}");
    assert!(closed, "the connection is closed after a 431");

    // A head under the limit (12 KiB of headers) is served.
    let fine = "b".repeat(12 * 1024);
    let (status, _, body) = http_request(addr, "GET", "/ping", &[("X-Fine", &fine)], "").await;
    assert_eq!((status, body.as_str()), (200, "pong"));

    // Too many header lines: 431 too.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = format!("GET /ping HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let (seen, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(seen.starts_with("HTTP/1.1 431"), "{seen}");
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_wait_then_are_served() {
    let addr = app_with(HttpLimits {
        max_connections: 2,
        header_read_timeout: Some(Duration::from_secs(30)),
        ..HttpLimits::default()
    })
    .await;
    // Two idle connections hold both slots.
    let first = TcpStream::connect(addr).await.unwrap();
    let _second = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A third connects (the kernel queues it) but is not served while both are held.
    let waiting = tokio::spawn(async move { http_request(addr, "GET", "/ping", &[], "").await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!waiting.is_finished(), "served past the limit");

    // One closes: the waiting one is served, not dropped.
    drop(first);
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "pong"));
}

/// Writes `head` and then `chunks`, one every `pause`, and reads the answer.
async fn send_slowly(
    addr: std::net::SocketAddr,
    head: &str,
    chunks: &[&str],
    pause: Duration,
) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        tokio::time::sleep(pause).await;
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    read_until_closed(&mut stream, Duration::from_secs(5)).await
}

#[tokio::test]
async fn a_trickled_body_is_408_and_a_malformed_chunked_body_400() {
    let addr = app_with(HttpLimits {
        body_read_timeout: Duration::from_millis(500),
        ..HttpLimits::default()
    })
    .await;
    let head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

    // One byte every 150 ms: cut at the deadline, with Nest's RequestTimeoutException body.
    let started = Instant::now();
    let trickle: Vec<&str> = std::iter::repeat_n("1\r\n \r\n", 40).collect();
    let (seen, closed) = send_slowly(addr, head, &trickle, Duration::from_millis(150)).await;
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
    assert!(
        seen.to_ascii_lowercase().contains("connection: close"),
        "{seen}"
    );
    assert!(
        seen.ends_with(r#"{"message":"Request Timeout","statusCode":408}"#),
        "{seen}"
    );
    assert!(closed);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Bad chunk sizes: 400 (not 413), and the connection is not read further.
    for bad in [
        "zz\r\nabc\r\n0\r\n\r\n",
        "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        "-1\r\nabc\r\n0\r\n\r\n",
    ] {
        let (seen, closed) = send_slowly(addr, head, &[bad], Duration::ZERO).await;
        assert!(seen.starts_with("HTTP/1.1 400"), "{bad:?}: {seen}");
        assert!(
            seen.ends_with(r#"{"message":"Bad Request","statusCode":400}"#),
            "{bad:?}: {seen}"
        );
        assert!(closed, "{bad:?}");
    }

    // A body that arrives in time is served.
    let (status, _, body) = http_request(
        addr,
        "POST",
        "/echo",
        &[("Content-Type", "application/json")],
        r#"{"ok":true}"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (201, r#"{"ok":true}"#));
}

/// A path parameter that is not UTF-8 once decoded is Express's 400, in Nest's JSON (axum's
/// text/plain before).
#[tokio::test]
async fn an_undecodable_path_parameter_is_nests_json_400() {
    let addr = app_with(HttpLimits::default()).await;
    let (status, head, body) = http_request(addr, "GET", "/users/%FF", &[], "").await;
    assert_eq!(status, 400);
    assert!(header(&head, "content-type").is_some_and(|t| t.starts_with("application/json")));
    assert_eq!(
        body,
        r#"{"message":"Failed to decode param '%FF'","error":"Bad Request","statusCode":400}"#
    );
    let (status, _, body) = http_request(addr, "GET", "/users/%C3%A9", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "é"));
}

/// The stop: an idle kept-alive connection closes at once, a request in flight finishes and is
/// answered, then `serve` returns.
#[tokio::test]
async fn a_stop_closes_idle_connections_and_lets_requests_in_flight_finish() {
    let app = NestFactory::create::<PingModule>().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 256];
    let n = idle.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).ends_with("pong"));
    let slow = tokio::spawn(async move { http_request(addr, "GET", "/slow", &[], "").await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let _ = stop.send(());
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(2)).await;
    assert!(closed, "the idle connection is closed on stop");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    let (status, _, body) = slow.await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "done"),
        "the request in flight is answered"
    );
    tokio::time::timeout(Duration::from_secs(2), serving)
        .await
        .expect("serve returns once every connection is closed")
        .unwrap()
        .unwrap();
}
