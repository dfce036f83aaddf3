//! What the round-trip benches share: rows, the client drivers, process helpers.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::prelude::*;
use serde_json::{json, Value};

/// One measured cell.
pub struct Row {
    pub calls_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    /// CPU time the client's process spent per call (user + system), in µs: the figure
    /// that says how much a client costs, whatever the service can take (NaN if unknown).
    pub cpu_us_per_call: f64,
    /// CPU time the service's process spent per call over the same window (all its threads,
    /// user + system, from `/proc/<pid>/stat`, in clock ticks of 10 ms), in µs (NaN if unknown).
    pub service_cpu_us_per_call: f64,
}

/// The table's header, matching [`print_row`]: two label columns, then the figures.
pub fn print_header(first: &str, second: &str) {
    println!("| {first} | {second} | callers | calls/s | p50 µs | p99 µs | client CPU µs/call | service CPU µs/call | errors |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
}

/// One row under [`print_header`].
pub fn print_row(first: &str, second: &str, callers: usize, row: &Row) {
    let cpu = |us: f64| {
        if us.is_finite() {
            format!("{us:.1}")
        } else {
            "n/a".to_owned()
        }
    };
    println!(
        "| {first} | {second} | {callers} | {:.0} | {:.0} | {:.0} | {} | {} | {} |",
        row.calls_per_sec,
        row.p50_us,
        row.p99_us,
        cpu(row.cpu_us_per_call),
        cpu(row.service_cpu_us_per_call),
        row.errors
    );
}

/// CPU time (user + system, every thread) the process `pid` has used so far, in µs, from
/// `/proc/<pid>/stat`; NaN where there is no `/proc`.
pub fn process_cpu_us(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The fields after the command name (which may hold spaces), from field 3 on: utime and
    // stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(user), Some(system)) => (user + system) * 1e6 / clock_ticks_per_sec(),
        _ => f64::NAN,
    }
}

#[cfg(unix)]
fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(not(unix))]
fn clock_ticks_per_sec() -> f64 {
    100.0
}

/// CPU time (user + system) this process has used so far, in µs; NaN where getrusage is
/// missing (the column reads n/a and no CPU ratio is printed).
#[cfg(not(unix))]
pub fn own_cpu_us() -> f64 {
    f64::NAN
}

/// CPU time (user + system) this process has used so far, in µs.
#[cfg(unix)]
pub fn own_cpu_us() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// How long each cell runs and its warm-up: `BENCH_SECS` (default 3 s) after 0.5 s under
/// `cargo bench` (`--bench`); a short smoke run otherwise (e.g. `cargo test --all-targets`).
pub fn cell_timing(args: &[String]) -> (Duration, Duration) {
    if !args.iter().any(|a| a == "--bench") {
        return (Duration::from_millis(200), Duration::from_millis(50));
    }
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    (Duration::from_secs_f64(secs), Duration::from_millis(500))
}

/// How many rounds every cell is measured in: `BENCH_ROUNDS` (default 3) under `cargo bench`,
/// one in a smoke run. Each figure is then the median of its rounds, with their spread.
pub fn rounds(args: &[String]) -> usize {
    if !args.iter().any(|a| a == "--bench") {
        return 1;
    }
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1)
}

/// `items` in the order of round `round` (from 0): as given in even rounds, reversed in odd
/// ones, so that no contender always runs first, or always right after the same other one.
pub fn in_order<T: Copy>(items: &[T], round: usize) -> Vec<T> {
    let mut items = items.to_vec();
    if round % 2 == 1 {
        items.reverse();
    }
    items
}

/// The table header before a round's rows ([`print_header`]), after the round's number when
/// there are several.
pub fn print_round(round: usize, rounds: usize, first: &str, second: &str) {
    if rounds > 1 {
        println!("\nround {} of {rounds}", round + 1);
    }
    print_header(first, second);
}

pub fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A service process, killed on drop.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        // Asked to stop first (SIGTERM: our services shut down gracefully, and a profiler
        // wrapping one writes its profile), killed if still running 20 s later.
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: `kill` takes any pid and signal; `pid` is our own child's.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/nest-peer")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("an ephemeral port")
}

pub fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "service on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Worker threads for our client's runtime: `BENCH_WORKERS`, default 1, the Nest client's one
/// thread (the service runs beside it on the same machine).
pub fn workers() -> usize {
    std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1)
}

/// Drives `send(pattern, payload)` on the client `make` builds, from `callers` tasks, for
/// `duration` after `warmup`, against the service whose process is `service`.
pub fn ours_client(
    make: impl FnOnce() -> ClientProxy + Send + 'static,
    pattern: Value,
    callers: usize,
    service: u32,
    timing: (Duration, Duration),
) -> Row {
    let payload = json!({ "id": 42, "name": "Ada Lovelace", "tags": ["a", "b"] });
    let connected = async move {
        let client = make();
        client.connect().await.expect("connect");
        client
    };
    // As the Nest bench client calls: the same pattern object, normalized on every call, and
    // the same payload, serialized on every call; neither is copied first.
    let (pattern, payload) = (Arc::new(pattern), Arc::new(payload));
    let call = move |client: ClientProxy| {
        let (pattern, payload) = (pattern.clone(), payload.clone());
        async move { client.send::<Value>(&*pattern, &*payload).await.is_ok() }
    };
    drive(connected, call, callers, service, timing)
}

/// Runs `call` (true when it succeeded) on the client `setup` makes, from `callers` tasks of
/// our runtime ([`workers`] threads), for `duration` after `warmup`, and measures it against
/// the service whose process is `service`: what every "ours" row is.
pub fn drive<C, F, Fut>(
    setup: impl std::future::Future<Output = C> + Send + 'static,
    call: F,
    callers: usize,
    service: u32,
    (duration, warmup): (Duration, Duration),
) -> Row
where
    C: Clone + Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let client = setup.await;
        let start = Instant::now() + warmup;
        let end = start + duration;
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let (client, call) = (client.clone(), call.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 16);
                    let mut errors = 0u64;
                    loop {
                        let t0 = Instant::now();
                        if t0 >= end {
                            break;
                        }
                        let ok = call(client.clone()).await;
                        if t0 >= start {
                            latencies.push(t0.elapsed());
                            errors += u64::from(!ok);
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        tokio::time::sleep_until(start.into()).await;
        let (cpu_start, service_start) = (own_cpu_us(), process_cpu_us(service));
        tokio::time::sleep_until(end.into()).await;
        let cpu = own_cpu_us() - cpu_start;
        let service_cpu = process_cpu_us(service) - service_start;
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (l, e) = task.await.expect("caller");
            latencies.extend(l);
            errors += e;
        }
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Row {
            calls_per_sec: latencies.len() as f64 / duration.as_secs_f64(),
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            errors,
            cpu_us_per_call: cpu / latencies.len().max(1) as f64,
            service_cpu_us_per_call: service_cpu / latencies.len().max(1) as f64,
        }
    })
}

/// `node <args..>` in the peer directory once it prints its `ready` line (what the Nest
/// services of the benches print when they listen); `None` if it does not.
pub fn node_service(name: &'static str, port: u16, args: &[&str]) -> Option<Service> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("node")
        .args(args)
        .current_dir(peer_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take()?);
    stdout.read_line(&mut line).ok()?;
    if !line.starts_with("ready") {
        let _ = child.kill();
        return None;
    }
    // Whatever else it prints (Nest's warnings) is read and dropped, never a broken pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    Some(Service { name, port, child })
}

/// Runs `node bench-client.js <target..> <callers> <duration_ms> <warmup_ms>` (the Nest
/// client) against the service whose process is `service`, and reads its JSON line.
pub fn nest_client(
    target: &[&str],
    callers: usize,
    service: u32,
    (duration, warmup): (Duration, Duration),
) -> Row {
    let (callers, duration, warmup) = (
        callers.to_string(),
        duration.as_millis().to_string(),
        warmup.as_millis().to_string(),
    );
    let mut args = vec!["bench-client.js"];
    args.extend_from_slice(target);
    args.extend([callers.as_str(), duration.as_str(), warmup.as_str()]);
    let out = Command::new("node")
        .args(&args)
        .current_dir(peer_dir())
        .env("BENCH_SERVICE_PID", service.to_string())
        .output()
        .expect("run node bench-client.js");
    assert!(out.status.success(), "bench-client.js failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let r: Value = serde_json::from_str(last).expect("bench-client.js prints JSON");
    let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
    Row {
        calls_per_sec: f("calls") / f("seconds"),
        p50_us: f("p50_us"),
        p99_us: f("p99_us"),
        errors: r["errors"].as_u64().unwrap_or(0),
        cpu_us_per_call: f("cpu_us") / f("calls").max(1.0),
        service_cpu_us_per_call: r["service_cpu_us"]
            .as_f64()
            .map_or(f64::NAN, |us| us / f("calls").max(1.0)),
    }
}

/// One measured cell of a round-trip bench: who called whom, with how many callers, in one
/// round.
pub struct Cell {
    /// The transport, for a bench that measures several (`"nats"`); `""` for one.
    pub label: &'static str,
    /// `"ours"` or `"nest"`.
    pub client: &'static str,
    /// `"ours"` or `"nest"`.
    pub service: &'static str,
    pub callers: usize,
    pub row: Row,
}

/// A figure over a cell's rounds: the median, and the lowest and highest round.
#[derive(Clone, Copy)]
struct Figure {
    median: f64,
    low: f64,
    high: f64,
}

impl Figure {
    /// Over the finite `values`; `None` if there are none.
    fn of(values: impl Iterator<Item = f64>) -> Option<Figure> {
        let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = match values.len() % 2 {
            1 => values[mid],
            _ => (values[mid - 1] + values[mid]) / 2.0,
        };
        Some(Figure {
            median,
            low: values[0],
            high: values[values.len() - 1],
        })
    }

    /// The median, and the spread when there were several rounds.
    fn show(self, rounds: usize, digits: usize) -> String {
        match rounds {
            1 => format!("{:.digits$}", self.median),
            _ => format!(
                "{:.digits$} ({:.digits$}-{:.digits$})",
                self.median, self.low, self.high
            ),
        }
    }
}

/// A cell over its rounds. A round whose client lost calls measured a stall, not a steady
/// state: it is left out of the figures when another round did not lose any.
struct Merged {
    label: &'static str,
    client: &'static str,
    service: &'static str,
    callers: usize,
    /// The rounds the figures are of.
    rounds: usize,
    /// Calls lost in all rounds, and how many rounds lost some.
    lost: (u64, usize),
    /// Every round lost calls: the figures are of stalls.
    stalled: bool,
    calls_per_sec: Figure,
    p50_us: Figure,
    p99_us: Figure,
    cpu_us_per_call: Option<Figure>,
    service_cpu_us_per_call: Option<Figure>,
}

/// `cells` merged by who called whom with how many callers, in the order first measured.
fn merge(cells: &[Cell]) -> Vec<Merged> {
    let mut keys: Vec<(&'static str, &'static str, &'static str, usize)> = Vec::new();
    for c in cells {
        let key = (c.label, c.client, c.service, c.callers);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .map(|(label, client, service, callers)| {
            let all: Vec<&Row> = cells
                .iter()
                .filter(|c| {
                    (c.label, c.client, c.service, c.callers) == (label, client, service, callers)
                })
                .map(|c| &c.row)
                .collect();
            let lost = (
                all.iter().map(|r| r.errors).sum(),
                all.iter().filter(|r| r.errors > 0).count(),
            );
            let clean: Vec<&Row> = all.iter().copied().filter(|r| r.errors == 0).collect();
            let stalled = clean.is_empty();
            let used = if stalled { all } else { clean };
            let figure = |f: fn(&Row) -> f64| Figure::of(used.iter().map(|r| f(r)));
            Merged {
                label,
                client,
                service,
                callers,
                rounds: used.len(),
                lost,
                stalled,
                calls_per_sec: figure(|r| r.calls_per_sec).expect("a round"),
                p50_us: figure(|r| r.p50_us).expect("a round"),
                p99_us: figure(|r| r.p99_us).expect("a round"),
                cpu_us_per_call: figure(|r| r.cpu_us_per_call),
                service_cpu_us_per_call: figure(|r| r.service_cpu_us_per_call),
            }
        })
        .collect()
}

/// What a round-trip bench prints at its end, from its cells of every round: with several
/// rounds, the table of every cell's medians (the spread, min-max, beside each); then the
/// ratio lines ([`print_ratios`]).
pub fn print_results(cells: &[Cell], concurrency: &[usize]) {
    let merged = merge(cells);
    print_medians(&merged);
    print_ratios(&merged, concurrency);
}

/// With several rounds, the table of every cell's medians over them, the spread (min-max)
/// beside each.
fn print_medians(merged: &[Merged]) {
    if merged.iter().all(|m| m.rounds + m.lost.1 <= 1) {
        return;
    }
    println!("\nMedians over the rounds (min-max):");
    // The first column names the transport, in a bench that measures several.
    let first = |label: &str| match label {
        "" => String::new(),
        label => format!("| {label} "),
    };
    println!(
        "{}| client → service | callers | calls/s | p50 µs | p99 µs | client CPU µs/call | service CPU µs/call | lost calls | rounds |",
        first(if merged[0].label.is_empty() { "" } else { "transport" })
    );
    println!(
        "{}| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        first(if merged[0].label.is_empty() {
            ""
        } else {
            "---"
        })
    );
    let cpu = |f: Option<Figure>, n| f.map_or("n/a".to_owned(), |f| f.show(n, 1));
    for m in merged {
        let n = m.rounds;
        let lost = match m.lost {
            (0, _) => "0".to_owned(),
            (calls, _) if m.stalled => format!("{calls} (every round)"),
            (calls, rounds) => format!("{calls} in {rounds} round(s), left out"),
        };
        println!(
            "{}| {} → {} | {} | {} | {} | {} | {} | {} | {lost} | {n} |",
            first(m.label),
            m.client,
            m.service,
            m.callers,
            m.calls_per_sec.show(n, 0),
            m.p50_us.show(n, 0),
            m.p99_us.show(n, 0),
            cpu(m.cpu_us_per_call, n),
            cpu(m.service_cpu_us_per_call, n),
        );
    }
}

/// `a / b` of two cells' figures: the ratio of the medians, with the spread of the worst and
/// best pairing of their rounds when there were several (as `bench/report.py` gives the
/// gateways' ratios).
fn ratio(a: Figure, b: Figure, rounds: usize) -> Option<String> {
    let value = a.median / b.median;
    if !value.is_finite() {
        return None;
    }
    Some(match rounds {
        1 => format!("{value:.2} (1 round)"),
        _ => format!(
            "{value:.2} ({:.2}-{:.2}, {rounds} rounds)",
            a.low / b.high,
            a.high / b.low
        ),
    })
}

/// The ratio lines of the `merged` cells, for each label and caller count: ours / Nest's
/// client (calls/s and CPU per call) against each service, and ours / Nest's service (CPU per
/// call) under each client: `ratio ours/nest-client calls/s (<label>, <service> service, <n>
/// callers): x (low-high, <k> rounds)` (without `<label>, ` when it is empty), `x` the ratio
/// of the two cells' medians. A cell whose client lost calls in every round measured a stall,
/// not a steady state: its ratios read `n/a (<client> client lost <n> calls)`.
fn print_ratios(merged: &[Merged], concurrency: &[usize]) {
    let mut labels: Vec<&str> = merged.iter().map(|c| c.label).collect();
    labels.dedup();
    let find = |label: &str, client: &str, service: &str, callers: usize| {
        merged.iter().find(|c| {
            c.label == label && c.client == client && c.service == service && c.callers == callers
        })
    };
    println!();
    for label in labels {
        let prefix = if label.is_empty() {
            String::new()
        } else {
            format!("{label}, ")
        };
        for &callers in concurrency {
            for service in ["ours", "nest"] {
                let (Some(o), Some(n)) = (
                    find(label, "ours", service, callers),
                    find(label, "nest", service, callers),
                ) else {
                    continue;
                };
                let at = format!("({prefix}{service} service, {callers} callers)");
                if let Some(lost) = lost_calls(&[o, n]) {
                    println!("ratio ours/nest-client calls/s {at}: {lost}");
                    println!("ratio ours/nest-client cpu-per-call {at}: {lost}");
                    continue;
                }
                let rounds = o.rounds.min(n.rounds);
                if let Some(calls) = ratio(o.calls_per_sec, n.calls_per_sec, rounds) {
                    println!("ratio ours/nest-client calls/s {at}: {calls}");
                }
                if let (Some(a), Some(b)) = (o.cpu_us_per_call, n.cpu_us_per_call) {
                    if let Some(cpu) = ratio(a, b, rounds) {
                        println!("ratio ours/nest-client cpu-per-call {at}: {cpu}");
                    }
                }
            }
            for client in ["ours", "nest"] {
                let (Some(o), Some(n)) = (
                    find(label, client, "ours", callers),
                    find(label, client, "nest", callers),
                ) else {
                    continue;
                };
                let at = format!("({prefix}{client} client, {callers} callers)");
                if let Some(lost) = lost_calls(&[o, n]) {
                    println!("ratio ours/nest-service cpu-per-call {at}: {lost}");
                } else if let (Some(a), Some(b)) =
                    (o.service_cpu_us_per_call, n.service_cpu_us_per_call)
                {
                    if let Some(cpu) = ratio(a, b, o.rounds.min(n.rounds)) {
                        println!("ratio ours/nest-service cpu-per-call {at}: {cpu}");
                    }
                }
            }
        }
    }
}

/// `n/a (<client> client lost <n> calls)` for the first of `cells` that lost calls in every
/// round, if any.
fn lost_calls(cells: &[&Merged]) -> Option<String> {
    cells
        .iter()
        .find(|m| m.stalled)
        .map(|m| format!("n/a ({} client lost {} calls)", m.client, m.lost.0))
}
