//! Lifecycle hooks (Nest's `OnModuleInit`, `OnApplicationBootstrap`, `OnModuleDestroy`,
//! `BeforeApplicationShutdown`, `OnApplicationShutdown`): their order at boot, on shutdown and
//! on SIGTERM, their signal, and a failing boot hook's error. Its own test binary: it sends
//! itself SIGTERM.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_core::lifecycle::{
    BeforeApplicationShutdown, HookResult, OnApplicationBootstrap, OnApplicationShutdown,
    OnModuleDestroy, OnModuleInit,
};
use gateway_core::prelude::*;
use gateway_core::testing::Test;
use gateway_tests::*;

/// What the hooks did, in order.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn note(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// A provider with every hook (a pool: it connects at init, closes at shutdown).
#[injectable]
struct Pool {
    journal: Journal,
}

impl OnModuleInit for Pool {
    async fn on_module_init(&self) -> HookResult {
        tokio::task::yield_now().await; // awaited, not just called
        self.journal.note("Pool.onModuleInit");
        Ok(())
    }
}

impl OnApplicationBootstrap for Pool {
    async fn on_application_bootstrap(&self) -> HookResult {
        self.journal.note("Pool.onApplicationBootstrap");
        Ok(())
    }
}

impl OnModuleDestroy for Pool {
    async fn on_module_destroy(&self) {
        self.journal.note("Pool.onModuleDestroy");
    }
}

impl BeforeApplicationShutdown for Pool {
    async fn before_application_shutdown(&self, signal: Option<&str>) {
        self.journal
            .note(format!("Pool.beforeApplicationShutdown({signal:?})"));
    }
}

impl OnApplicationShutdown for Pool {
    async fn on_application_shutdown(&self, signal: Option<&str>) {
        self.journal
            .note(format!("Pool.onApplicationShutdown({signal:?})"));
    }
}

/// A controller that depends on the pool, with some hooks.
#[injectable]
struct UsersController {
    _pool: Arc<Pool>,
    journal: Journal,
}

impl OnModuleInit for UsersController {
    async fn on_module_init(&self) -> HookResult {
        self.journal.note("UsersController.onModuleInit");
        Ok(())
    }
}

impl OnApplicationShutdown for UsersController {
    async fn on_application_shutdown(&self, signal: Option<&str>) {
        self.journal
            .note(format!("UsersController.onApplicationShutdown({signal:?})"));
    }
}

#[controller]
impl UsersController {
    #[get("users")]
    async fn users(&self) -> &'static str {
        "[]"
    }
}

static JOURNAL: std::sync::OnceLock<Journal> = std::sync::OnceLock::new();

fn journal() -> Journal {
    JOURNAL.get_or_init(Journal::default).clone()
}

#[module(controllers = [UsersController], providers = [Pool, Provider::typed(journal())])]
struct AppModule;

/// The boot side, in Nest's order: every onModuleInit (a class after what it depends on),
/// then every onApplicationBootstrap.
const BOOT: [&str; 3] = [
    "Pool.onModuleInit",
    "UsersController.onModuleInit",
    "Pool.onApplicationBootstrap",
];

/// The shutdown side, dependents first, around the server's stop.
fn shutdown(signal: Option<&str>) -> Vec<String> {
    vec![
        "Pool.onModuleDestroy".into(),
        format!("Pool.beforeApplicationShutdown({signal:?})"),
        format!("UsersController.onApplicationShutdown({signal:?})"),
        format!("Pool.onApplicationShutdown({signal:?})"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_nests_order_on_boot_on_shutdown_and_on_sigterm() {
    init_tracing();
    let journal = journal();

    // Boot, then a stop through serve's shutdown future: no signal.
    let app = NestFactory::create::<AppModule>().await.expect("boots");
    assert_eq!(journal.take(), BOOT);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    let (status, _, _) = http_request(addr, "GET", "/users", &[], "").await;
    assert_eq!(status, 200);
    assert!(journal.take().is_empty(), "no hook while serving");
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert_eq!(journal.take(), shutdown(None));

    // `app.close()` on an app never served.
    let app = Test::create_testing_module::<AppModule>()
        .compile()
        .await
        .unwrap()
        .create_nest_application();
    assert_eq!(journal.take(), BOOT);
    app.close().await;
    assert_eq!(journal.take(), shutdown(None));

    // `listen` and SIGTERM: the hooks hear the signal.
    #[cfg(unix)]
    {
        let app = NestFactory::create::<AppModule>().await.unwrap();
        assert_eq!(journal.take(), BOOT);
        let port = free_port();
        let listening = tokio::spawn(app.listen(port));
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Serving (so the signal handler is installed): a request answers.
        let mut answered = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                answered = http_request(addr, "GET", "/users", &[], "").await.0 == 200;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(answered, "the app listens");
        // SAFETY: kill(2) on this process with a signal it handles (tokio's handler is
        // installed by `listen`).
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
        tokio::time::timeout(Duration::from_secs(5), listening)
            .await
            .expect("SIGTERM stops the app")
            .unwrap()
            .unwrap();
        assert_eq!(journal.take(), shutdown(Some("SIGTERM")));
    }
}

/// A class whose init fails.
#[injectable]
struct Broken;

impl OnModuleInit for Broken {
    async fn on_module_init(&self) -> HookResult {
        Err("cannot reach the database".into())
    }
}

#[controller]
impl Broken {
    #[get("broken")]
    async fn broken(&self) -> &'static str {
        "never"
    }
}

#[module(controllers = [Broken])]
struct BrokenModule;

#[tokio::test]
async fn a_failing_boot_hook_fails_the_boot() {
    let error = NestFactory::create::<BrokenModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "Broken.onModuleInit failed: cannot reach the database"
    );
}
