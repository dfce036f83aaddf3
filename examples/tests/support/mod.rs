//! What the tests that run the example binaries as processes share: starting them (their
//! stdout collected), free ports, waiting for a port, and tools that may be missing.

#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose stdout lines are collected as they come (so it never blocks on a
/// full pipe); killed when dropped.
pub struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `binary` with `env` (stderr inherited).
    pub fn start(binary: &str, env: &[(&str, String)]) -> Process {
        Self::spawn(Command::new(binary).envs(env.iter().map(|(k, v)| (*k, v.as_str()))))
    }

    /// Starts `command`, collecting its stdout (its stderr as the command says: inherited by
    /// default).
    pub fn spawn(command: &mut Command) -> Process {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Process { child, lines }
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) with `kill`.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// The stdout lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn wait_listening(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `program` runs (with `flag`); if not, says what to install and the test skips, or
/// panics under `CI=true`, where nothing skips.
pub fn installed(program: &str, flag: &str, install: &str) -> bool {
    let ok = Command::new(program)
        .arg(flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{program} is missing ({install}); CI must not skip"
        );
        eprintln!("skipped: {program} is not installed ({install})");
    }
    ok
}

/// The demo (users and orders services and the gateway in one process) on free ports, with
/// `token`: the process and the gateway's port, once it listens.
pub fn demo(token: &str, env: &[(&str, String)]) -> (Process, u16) {
    let gateway = free_port();
    let mut all = vec![
        ("USERS_SERVICE_PORT", free_port().to_string()),
        ("ORDERS_SERVICE_PORT", free_port().to_string()),
        ("GATEWAY_PORT", gateway.to_string()),
        ("GATEWAY_TOKEN", token.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    all.extend(env.iter().cloned());
    let process = Process::start(env!("CARGO_BIN_EXE_demo"), &all);
    wait_listening(gateway);
    (process, gateway)
}

/// The example system as three processes (the users and orders services and the gateway) on
/// free ports, with `token`, `SERVICE_TIMEOUT_MS=1000` and `RUST_LOG=warn`, then `extra` on
/// top; each listening when this returns.
pub struct System {
    pub users: Process,
    pub orders: Process,
    pub gateway: Process,
    pub users_port: u16,
    pub gateway_port: u16,
    pub env: Vec<(&'static str, String)>,
}

impl System {
    pub fn start(token: &str, extra: &[(&'static str, String)]) -> System {
        Self::start_with(token, extra, None)
    }

    /// [`start`](Self::start), the gateway limited to `nofile` file descriptors if given.
    pub fn start_with(
        token: &str,
        extra: &[(&'static str, String)],
        nofile: Option<u32>,
    ) -> System {
        let (users_port, orders_port, gateway_port) = (free_port(), free_port(), free_port());
        let mut env = vec![
            ("USERS_SERVICE_PORT", users_port.to_string()),
            ("ORDERS_SERVICE_PORT", orders_port.to_string()),
            ("GATEWAY_PORT", gateway_port.to_string()),
            ("GATEWAY_TOKEN", token.to_owned()),
            ("SERVICE_TIMEOUT_MS", "1000".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        env.extend(extra.iter().cloned());
        let users = Process::start(env!("CARGO_BIN_EXE_users-service"), &env);
        let orders = Process::start(env!("CARGO_BIN_EXE_orders-service"), &env);
        wait_listening(users_port);
        wait_listening(orders_port);
        let gateway = match nofile {
            None => Process::start(env!("CARGO_BIN_EXE_gateway"), &env),
            Some(nofile) => Process::spawn(
                Command::new("sh")
                    .args(["-c", &format!("ulimit -n {nofile} && exec \"$0\"")])
                    .arg(env!("CARGO_BIN_EXE_gateway"))
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str()))),
            ),
        };
        wait_listening(gateway_port);
        System {
            users,
            orders,
            gateway,
            users_port,
            gateway_port,
            env,
        }
    }

    /// The gateway's address.
    pub fn gateway(&self) -> String {
        format!("127.0.0.1:{}", self.gateway_port)
    }

    /// The users service's address.
    pub fn users(&self) -> String {
        format!("127.0.0.1:{}", self.users_port)
    }

    /// The bytes the gateway has logged so far.
    pub fn gateway_log_bytes(&self) -> usize {
        self.gateway.lines().iter().map(|l| l.len() + 1).sum()
    }
}
