//! The fault and abuse suite: the attacks of the hardening issue, re-run against the example
//! binaries (the gateway, the users service) as processes on loopback, each bounded in time,
//! each printing one `pass`/`FAIL` line with its figure.
//!
//! `cargo test -p examples --test abuse` runs the quick set (in `cargo test`, so in CI: about
//! half a minute, with the deadlines set short by the binaries' settings). The long set, at
//! the issue's sizes (2000 slowloris connections, 12 frames of 120 MB against the default
//! budget, 10 000 keep-alive connections, a 3 minute soak), on the release binaries:
//!
//! ```text
//! ABUSE_LONG=1 cargo test --release -p examples --test abuse
//! ```

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Process, System};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "abuse-token";

/// One attack's verdict.
struct Verdict {
    pass: bool,
    figure: String,
}

fn verdict(pass: bool, figure: impl Into<String>) -> Verdict {
    Verdict {
        pass,
        figure: figure.into(),
    }
}

/// The quick set's size, or the long one's.
fn long() -> bool {
    std::env::var("ABUSE_LONG").as_deref() == Ok("1")
}

fn size(quick: usize, long_size: usize) -> usize {
    if long() {
        long_size
    } else {
        quick
    }
}

/// A process's resident memory now and at its peak, in MiB (Linux).
fn rss(process: &Process) -> (u64, u64) {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", process.pid())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `1.2 s`, or `never`.
fn seconds(at: Option<Duration>) -> String {
    at.map_or("never".to_owned(), |at| {
        format!("{:.1} s", at.as_secs_f64())
    })
}

/// `GET path` with the token on a new connection: the status and the body.
async fn get(addr: &str, path: &str) -> (u16, String) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    match raw(addr, request.as_bytes(), Duration::from_secs(5)).await {
        Some((head, _)) if head.is_empty() => (0, String::new()),
        Some((head, body)) => (status_of(&head), body),
        None => (0, String::new()),
    }
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends `bytes` and reads until the peer closes (or `within`): the head and the body.
async fn raw(addr: &str, bytes: &[u8], within: Duration) -> Option<(String, String)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(bytes).await.ok()?;
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut seen)).await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some((head.to_owned(), body.to_owned()))
}

/// Waits until the server closes `stream` (a read of 0 or an error), up to `within`: when.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + within),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// Slowloris: connections that send a header byte every 300 ms are closed at the header
/// deadline, while a normal request is served.
async fn slowloris() -> Verdict {
    let system = System::start(TOKEN, &[("GATEWAY_HEADER_TIMEOUT_MS", "1000".to_owned())]);
    let addr = system.gateway();
    let count = size(300, 2000);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..count {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.ok()?;
            stream
                .write_all(b"GET /users/42 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .ok()?;
            let begun = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if stream.write_all(b"a").await.is_err() {
                    return Some(begun.elapsed());
                }
                if let Some(at) = closed_within(&mut stream, Duration::from_millis(1)).await {
                    return Some(begun.elapsed().max(at));
                }
                if begun.elapsed() > Duration::from_secs(8) {
                    return None;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let normal = Instant::now();
    let (status, _) = get(&addr, "/users/42").await;
    let normal = normal.elapsed();
    let mut slowest = Duration::ZERO;
    let mut open = 0;
    for task in tasks {
        match task.await.ok().flatten() {
            Some(at) => slowest = slowest.max(at),
            None => open += 1,
        }
    }
    verdict(
        open == 0 && status == 200 && slowest < Duration::from_millis(2500),
        format!(
            "{count} slowloris connections: all closed by {:.1} s (header deadline 1 s), {open} still open; a normal request meanwhile: {status} in {} ms; whole attack {:.1} s",
            slowest.as_secs_f64(),
            normal.as_millis(),
            started.elapsed().as_secs_f64()
        ),
    )
}

/// Idle kept-alive connections are closed at the keep-alive deadline.
async fn idle_keep_alive() -> Verdict {
    let system = System::start(
        TOKEN,
        &[("GATEWAY_KEEP_ALIVE_TIMEOUT_MS", "500".to_owned())],
    );
    let addr = system.gateway();
    let count = size(300, 2000);
    let mut tasks = Vec::new();
    for _ in 0..count {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.ok()?;
            let request = format!(
                "GET /users/42 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.ok()?;
            closed_within(&mut stream, Duration::from_secs(5)).await
        }));
    }
    let mut slowest = Duration::ZERO;
    let mut open = 0;
    for task in tasks {
        match task.await.ok().flatten() {
            Some(at) => slowest = slowest.max(at),
            None => open += 1,
        }
    }
    verdict(
        open == 0 && slowest < Duration::from_millis(2000),
        format!(
            "{count} kept-alive connections left idle after their answer: all closed by {:.2} s (keep-alive deadline 0.5 s), {open} still open",
            slowest.as_secs_f64()
        ),
    )
}

/// More idle connections than the gateway has file descriptors: accept fails, is logged at
/// a bounded rate and backs off; the idle ones go at the header deadline and a normal
/// request is served.
async fn out_of_file_descriptors() -> Verdict {
    let system = System::start_with(
        TOKEN,
        &[("GATEWAY_HEADER_TIMEOUT_MS", "1000".to_owned())],
        Some(256),
    );
    let addr = system.gateway();
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(stream) = TcpStream::connect(&addr).await {
            idle.push(stream);
        }
    }
    let started = Instant::now();
    let mut status = 0;
    while started.elapsed() < Duration::from_secs(6) {
        status = get(&addr, "/users/42").await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let served_in = started.elapsed();
    let log_lines = system
        .gateway
        .lines()
        .iter()
        .filter(|l| l.contains("accept failed"))
        .count();
    drop(idle);
    verdict(
        status == 200 && served_in < Duration::from_secs(4) && log_lines <= 3,
        format!(
            "300 idle connections against 256 file descriptors: a normal request answered {status} after {:.1} s; {log_lines} 'accept failed' log lines",
            served_in.as_secs_f64()
        ),
    )
}

/// Peers each declaring a large frame and sending most of it: the unfinished frames of all
/// connections share the service's budget.
async fn large_frames() -> Verdict {
    let (peers, frame_mb, budget_mb) = if long() { (12, 120, 256) } else { (6, 60, 64) };
    // mimalloc (the examples' allocator) keeps freed memory until the thread allocates again;
    // told to give it back at once, resident memory is what the service holds.
    let system = System::start(
        TOKEN,
        &[
            ("SERVICE_MAX_BUFFERED_BYTES", (budget_mb << 20).to_string()),
            ("MIMALLOC_PURGE_DELAY", "0".to_owned()),
        ],
    );
    let (before, _) = rss(&system.users);
    let addr = system.users();
    let dropped = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..peers {
        let (addr, dropped) = (addr.clone(), dropped.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.ok()?;
            let units = frame_mb << 20;
            let _ = stream.write_all(format!("{units}#\"").as_bytes()).await;
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..frame_mb - 1 {
                if stream.write_all(&chunk).await.is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
            if closed_within(&mut stream, Duration::from_secs(1))
                .await
                .is_some()
            {
                dropped.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Some(stream)
        }));
    }
    // The peers that are left stay connected, their frames unfinished: what the service holds.
    let mut connected = Vec::new();
    for task in tasks {
        connected.extend(task.await.ok().flatten());
    }
    // (A moment for the allocator to give back what the dropped connections held.)
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (held, peak) = rss(&system.users);
    drop(connected);
    let (status, _) = get(&system.gateway(), "/users/42").await;
    let limit = before + budget_mb + 64;
    verdict(
        held <= limit && status == 200,
        format!(
            "{peers} peers each sending {frame_mb} MB of a frame and staying: service holds {held} MiB (at start {before} MiB, budget {budget_mb} MiB; bound {limit}; peak {peak} MiB; MIMALLOC_PURGE_DELAY=0), {} connections dropped; the gateway's request after {status}",
            dropped.load(Ordering::Relaxed)
        ),
    )
}

/// A peer that sends requests and never reads the replies: the service stops reading it.
async fn never_reads() -> Verdict {
    let system = System::start(TOKEN, &[]);
    let (before, _) = rss(&system.users);
    let mut stream = TcpStream::connect(system.users()).await.unwrap();
    let mut sent = 0u64;
    let started = Instant::now();
    let mut batch = Vec::new();
    for _ in 0..100 {
        let body = r#"{"pattern":{"cmd":"get_user"},"data":{"id":"42"},"id":"1"}"#;
        batch.extend_from_slice(format!("{}#{body}", body.len()).as_bytes());
    }
    while started.elapsed() < Duration::from_secs(size(4, 15) as u64) {
        match tokio::time::timeout(Duration::from_millis(500), stream.write_all(&batch)).await {
            Ok(Ok(())) => sent += 100,
            Ok(Err(_)) => break,
            Err(_) => {} // the service stopped reading: our writes wait
        }
    }
    let (now, peak) = rss(&system.users);
    verdict(
        peak <= before + 64,
        format!(
            "a peer writing requests for {} s and reading nothing: {sent} requests taken before the service paused reading; service {now} MiB (peak {peak}, at start {before})",
            started.elapsed().as_secs()
        ),
    )
}

/// A frame trickled a byte every 200 ms is dropped at the frame deadline.
async fn trickled_frame() -> Verdict {
    let system = System::start(TOKEN, &[("SERVICE_FRAME_DEADLINE_MS", "1000".to_owned())]);
    let mut stream = TcpStream::connect(system.users()).await.unwrap();
    stream.write_all(b"134217728#\"").await.unwrap();
    let started = Instant::now();
    let closed = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(b"a").await.is_err() {
            break Some(started.elapsed());
        }
        if let Some(at) = closed_within(&mut stream, Duration::from_millis(1)).await {
            break Some(started.elapsed().max(at));
        }
        if started.elapsed() > Duration::from_secs(6) {
            break None;
        }
    };
    verdict(
        closed.is_some_and(|at| at < Duration::from_millis(2500)),
        format!(
            "a 128 MB frame trickled at a byte per 200 ms: closed after {} (frame deadline 1 s)",
            seconds(closed)
        ),
    )
}

/// Malformed chunked bodies and a duplicated `Transfer-Encoding`: 400, closed, nothing after
/// them read.
async fn malformed_chunked() -> Verdict {
    let system = System::start(TOKEN, &[]);
    let head = format!(
        "POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
    );
    let follow = "GET /users/42 HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases = [
        (
            "size -1",
            "Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "size 0x5",
            "Transfer-Encoding: chunked\r\n\r\n0x5\r\nabcde\r\n0\r\n\r\n",
        ),
        (
            "size overflow",
            "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        ),
        ("LF only", "Transfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n"),
        (
            "data past its size",
            "Transfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n",
        ),
        (
            "chunked twice",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        ),
    ];
    let mut failed = Vec::new();
    for (name, rest) in cases {
        let request = format!("{head}{rest}{follow}");
        let outcome = raw(
            &system.gateway(),
            request.as_bytes(),
            Duration::from_secs(3),
        )
        .await;
        let ok = outcome.as_ref().is_some_and(|(head, body)| {
            status_of(head) == 400 && body.contains("\"statusCode\":400") && !body.contains("Ada")
        });
        if !ok {
            failed.push(format!("{name}: {outcome:?}"));
        }
    }
    verdict(
        failed.is_empty(),
        format!(
            "{}/{} malformed chunked bodies answered Nest's 400 and closed, nothing after them read{}",
            cases.len() - failed.len(),
            cases.len(),
            if failed.is_empty() { String::new() } else { format!(": {failed:?}") }
        ),
    )
}

/// Request heads over Node's 16 KiB: 431.
async fn large_headers() -> Verdict {
    let system = System::start(TOKEN, &[]);
    let mut statuses = Vec::new();
    for kib in [20, 64] {
        let request = format!(
            "GET /users/42 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(kib * 1024)
        );
        let status = raw(
            &system.gateway(),
            request.as_bytes(),
            Duration::from_secs(3),
        )
        .await
        .map_or(0, |(head, _)| status_of(&head));
        statuses.push((kib, status));
    }
    verdict(
        statuses.iter().all(|(_, s)| *s == 431),
        format!("request heads of 20 and 64 KiB: {statuses:?} (KiB, status)"),
    )
}

/// A body trickled a byte every 300 ms, with a valid token: 408 at the body deadline.
async fn trickled_body() -> Verdict {
    let system = System::start(TOKEN, &[("GATEWAY_BODY_TIMEOUT_MS", "1000".to_owned())]);
    let mut stream = TcpStream::connect(system.gateway()).await.unwrap();
    let head = format!(
        "POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut seen = Vec::new();
    let answered = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stream.write_all(b"1\r\n \r\n").await;
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            seen.extend_from_slice(&buf[..n]);
            if n == 0 || seen.len() > 12 {
                break Some(started.elapsed());
            }
        }
        if started.elapsed() > Duration::from_secs(6) {
            break None;
        }
    };
    let status = status_of(&String::from_utf8_lossy(&seen));
    verdict(
        status == 408 && answered.is_some_and(|at| at < Duration::from_millis(2500)),
        format!(
            "a chunked body at a byte per 300 ms: {status} after {} (body deadline 1 s)",
            seconds(answered)
        ),
    )
}

/// A path parameter that is not UTF-8 once decoded: Nest's JSON 400.
async fn bad_escape() -> Verdict {
    let system = System::start(TOKEN, &[]);
    let (status, body) = get(&system.gateway(), "/users/%FF").await;
    verdict(
        status == 400 && body.contains("\"statusCode\":400"),
        format!("GET /users/%FF: {status} {body}"),
    )
}

/// Load while the users service is down, then restarted: fast 503s, a bounded log, and
/// recovery once it is back.
async fn outage_under_load() -> Verdict {
    let mut system = System::start(TOKEN, &[]);
    let addr = system.gateway();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let slow = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..16 {
        let (addr, stop, answered, slow) =
            (addr.clone(), stop.clone(), answered.clone(), slow.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (status, _) = get(&addr, "/users/42").await;
                if status == 503 && started.elapsed() > Duration::from_millis(500) {
                    slow.fetch_add(1, Ordering::Relaxed);
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log_before = system.gateway_log_bytes();
    let down_for = Duration::from_secs(size(3, 5) as u64);
    // Killed (the process it is replaced by exits at once).
    system.users = Process::start("true", &[]);
    let during_before = answered.load(Ordering::Relaxed);
    tokio::time::sleep(down_for).await;
    let during = answered.load(Ordering::Relaxed) - during_before;
    let logged = system.gateway_log_bytes() - log_before;
    system.users = Process::start(env!("CARGO_BIN_EXE_users-service"), &system.env);
    let restarted = Instant::now();
    let mut recovered = None;
    while restarted.elapsed() < Duration::from_secs(5) {
        if get(&addr, "/users/42").await.0 == 200 {
            recovered = Some(restarted.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = task.await;
    }
    verdict(
        logged < 20_000
            && slow.load(Ordering::Relaxed) == 0
            && recovered.is_some_and(|at| at < Duration::from_secs(1)),
        format!(
            "users service down {} s under 16 looping clients: {during} requests answered meanwhile, {} 503s slower than 500 ms, {logged} bytes of gateway log; back {} after its restart",
            down_for.as_secs(),
            slow.load(Ordering::Relaxed),
            recovered.map_or("never".to_owned(), |at| format!("in {} ms", at.as_millis()))
        ),
    )
}

/// Many connections at once: none waits on a dropped SYN (a 1 s retransmit).
async fn connection_burst() -> Verdict {
    let system = System::start(TOKEN, &[]);
    let count = size(1000, 2000);
    let addr = system.gateway();
    let started = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let begun = Instant::now();
                let (status, _) = get(&addr, "/users/42").await;
                (status, begun.elapsed())
            })
        })
        .collect();
    let mut ok = 0;
    let mut slowest = Duration::ZERO;
    for task in tasks {
        if let Ok((status, took)) = task.await {
            ok += usize::from(status == 200);
            slowest = slowest.max(took);
        }
    }
    verdict(
        ok == count && slowest < Duration::from_millis(1000),
        format!(
            "{count} connections opened at once, one request each: {ok} answered 200, the slowest in {} ms; all in {} ms",
            slowest.as_millis(),
            started.elapsed().as_millis()
        ),
    )
}

/// The long set only: 10 000 kept-alive connections, each served.
async fn ten_thousand_connections() -> Verdict {
    let system = System::start(
        TOKEN,
        &[("GATEWAY_KEEP_ALIVE_TIMEOUT_MS", "60000".to_owned())],
    );
    let addr = system.gateway();
    let (before, _) = rss(&system.gateway);
    let mut streams = Vec::new();
    for _ in 0..10_000 {
        match TcpStream::connect(&addr).await {
            Ok(stream) => streams.push(stream),
            Err(_) => break,
        }
    }
    let request =
        format!("GET /users/42 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let mut served = 0;
    for stream in &mut streams {
        if stream.write_all(request.as_bytes()).await.is_ok() {
            let mut buf = [0u8; 512];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
            {
                served += usize::from(buf[..n].starts_with(b"HTTP/1.1 200"));
            }
        }
    }
    let (now, _) = rss(&system.gateway);
    let per = (now.saturating_sub(before) * 1024) / streams.len().max(1) as u64;
    verdict(
        served == 10_000,
        format!(
            "10 000 kept-alive connections: {served} served; gateway {now} MiB ({per} KiB per connection)"
        ),
    )
}

/// The long set only: 3 minutes of steady load, the gateway's memory flat.
async fn soak() -> Verdict {
    let system = System::start(TOKEN, &[]);
    let addr = system.gateway();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..16 {
        let (addr, stop) = (addr.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = get(&addr, "/users/42/profile").await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let (warm, _) = rss(&system.gateway);
    tokio::time::sleep(Duration::from_secs(160)).await;
    let (end, _) = rss(&system.gateway);
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = task.await;
    }
    verdict(
        end <= warm + warm / 5 + 4,
        format!("3 minutes under 16 looping clients: gateway {warm} MiB after 20 s, {end} MiB at the end"),
    )
}

type Attack = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Verdict>>>;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut attacks: Vec<(&str, Attack)> = vec![
        ("slowloris", || Box::pin(slowloris())),
        ("idle keep-alive", || Box::pin(idle_keep_alive())),
        ("out of file descriptors", || {
            Box::pin(out_of_file_descriptors())
        }),
        ("large frames", || Box::pin(large_frames())),
        ("never-reading peer", || Box::pin(never_reads())),
        ("trickled frame", || Box::pin(trickled_frame())),
        ("malformed chunked", || Box::pin(malformed_chunked())),
        ("large headers", || Box::pin(large_headers())),
        ("trickled body", || Box::pin(trickled_body())),
        ("bad escape", || Box::pin(bad_escape())),
        ("outage under load", || Box::pin(outage_under_load())),
        ("connection burst", || Box::pin(connection_burst())),
    ];
    if long() {
        attacks.push(("10k connections", || Box::pin(ten_thousand_connections())));
        attacks.push(("soak", || Box::pin(soak())));
    }
    let started = Instant::now();
    let mut failed = 0;
    for (name, attack) in attacks {
        let began = Instant::now();
        let verdict = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(300), attack()).await });
        let verdict = verdict.unwrap_or_else(|_| self::verdict(false, "did not finish in 300 s"));
        failed += usize::from(!verdict.pass);
        println!(
            "{}  {name:<24} {} ({:.1} s)",
            if verdict.pass { "pass" } else { "FAIL" },
            verdict.figure,
            began.elapsed().as_secs_f64()
        );
    }
    println!(
        "abuse suite: {failed} failed, in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
