//! A transport written outside the crate, with the public traits only: an in-memory
//! transport (client: `ClientTransport`; server: `ServerTransport`), and the seed system
//! running over it: the example services as microservices on it, the example gateway's
//! controller calling them through it, the seed gateway's HTTP contract unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[path = "support/seed_checks.rs"]
mod seed_checks;

use examples::gateway::{AuthGuard, GatewayController};
use examples::{OrdersModule, UsersModule};
use gateway_core::client::{
    BoxFuture, ClientTransport, ConnectContext, Connection, CONNECTION_CLOSED,
};
use gateway_core::prelude::*;
use gateway_core::server::{check_router, Server, ServerError, ServerTransport};
use seed_checks::{check_seed_gateway, TOKEN};

/// Where in-memory services are found by name: their router, and the handle that stops them.
type Hub = Mutex<HashMap<String, (Arc<MessageRouter>, ShutdownHandle)>>;

fn hub() -> &'static Hub {
    static HUB: std::sync::OnceLock<Hub> = std::sync::OnceLock::new();
    HUB.get_or_init(Hub::default)
}

/// The server side: a service registers its router under `name` while it serves.
struct MemoryServerTransport {
    name: String,
}

struct MemoryServer {
    name: String,
    router: Arc<MessageRouter>,
    stop: ShutdownHandle,
}

impl ServerTransport for MemoryServerTransport {
    fn start(&self, router: MessageRouter) -> BoxFuture<'_, Result<Box<dyn Server>, ServerError>> {
        Box::pin(async move {
            check_router(&router)?;
            Ok(Box::new(MemoryServer {
                name: self.name.clone(),
                router: Arc::new(router),
                stop: ShutdownHandle::default(),
            }) as Box<dyn Server>)
        })
    }

    fn describe(&self) -> String {
        format!("memory://{}", self.name)
    }
}

impl Server for MemoryServer {
    fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    fn serve(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            hub()
                .lock()
                .unwrap()
                .insert(self.name.clone(), (self.router.clone(), self.stop.clone()));
            self.stop.stopping().await;
            hub().lock().unwrap().remove(&self.name);
        })
    }
}

/// The client side: a connection is a queue into the named service's router.
struct MemoryClientTransport {
    name: String,
}

impl ClientTransport for MemoryClientTransport {
    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(async move {
            let Some((router, stop)) = hub().lock().unwrap().get(&self.name).cloned() else {
                return Err(context.unavailable(format!("no in-memory service {}", self.name)));
            };
            let subject = format!("memory://{}", self.name);
            let (requests, mut queue) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
            let conn = Connection::with_queue(requests);
            let reader = conn.clone();
            tokio::spawn(async move {
                loop {
                    let request = tokio::select! {
                        request = queue.recv() => request,
                        _ = stop.stopping() => None,
                        _ = reader.closed() => return,
                    };
                    let Some(request) = request else { break };
                    let (router, replies) = (router.clone(), reader.clone());
                    let context = MessageContext::new(subject.clone(), Vec::new());
                    tokio::spawn(async move {
                        let delivered =
                            router.handle_packet(request.into(), Some(context), |reply| {
                                replies.deliver(reply.into());
                                std::future::ready(())
                            });
                        delivered.await.expect("our client sends JSON");
                    });
                }
                reader.close(CONNECTION_CLOSED);
            });
            Ok(conn)
        })
    }
}

fn memory(token: &str, service: &str) -> ClientOptions {
    let service = service.to_owned();
    ClientOptions::custom(token, format!("memory://{service}"), move || {
        MemoryClientTransport {
            name: service.clone(),
        }
    })
}

/// The seed gateway's controller, its clients on the in-memory transport.
#[module(
    imports = [ClientsModule::register([
        memory("USERS_SERVICE", "users"),
        memory("ORDERS_SERVICE", "orders"),
    ])],
    controllers = [GatewayController],
)]
struct MemoryGatewayModule;

fn memory_transport(name: &str) -> Transport {
    Transport::custom(MemoryServerTransport { name: name.into() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_gateway_runs_over_a_transport_written_outside_the_crate() {
    gateway_tests::init_tracing();
    let users = NestFactory::create_microservice::<UsersModule>(memory_transport("users"))
        .await
        .unwrap()
        .start()
        .await
        .unwrap();
    let orders = NestFactory::create_microservice::<OrdersModule>(memory_transport("orders"))
        .await
        .unwrap()
        .start()
        .await
        .unwrap();
    assert!(users.tcp().is_none() && users.local_addr().is_none());
    let stop_orders = orders.shutdown_handle();
    tokio::spawn(users.serve());
    tokio::spawn(orders.serve());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let mut app = NestFactory::create::<MemoryGatewayModule>().await.unwrap();
    app.use_global_guards(AuthGuard::new(TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));

    check_seed_gateway(addr, false, async move { stop_orders.shutdown() }).await;
}

#[tokio::test]
async fn bind_on_another_transport_is_a_boot_error_not_a_panic() {
    let service = NestFactory::create_microservice::<UsersModule>(memory_transport("elsewhere"))
        .await
        .unwrap();
    let error = service.bind().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "memory://elsewhere is not a TCP transport: use start() instead of bind()"
    );
}

/// Nest's `@Ctx()`: a handler reads the message's context, marked or by position.
#[injectable]
struct ContextController;

#[controller]
impl ContextController {
    #[message_pattern("whoami")]
    async fn whoami(&self, #[ctx] ctx: MessageContext) -> String {
        ctx.subject().to_owned()
    }

    #[message_pattern("echo_with_subject")]
    async fn echo(&self, text: String, ctx: MessageContext) -> String {
        format!("{text} via {}", ctx.subject())
    }
}

#[module(controllers = [ContextController])]
struct ContextModule;

#[tokio::test]
async fn handlers_read_the_message_context() {
    let service = NestFactory::create_microservice::<ContextModule>(memory_transport("ctx"))
        .await
        .unwrap()
        .start()
        .await
        .unwrap();
    let stop = service.shutdown_handle();
    let serving = tokio::spawn(service.serve());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let client = ClientProxy::new(memory("CTX", "ctx"));
    let subject: String = client.send("whoami", &()).await.unwrap();
    assert_eq!(subject, "memory://ctx");
    let echoed: String = client.send("echo_with_subject", "hi").await.unwrap();
    assert_eq!(echoed, "hi via memory://ctx");
    stop.shutdown();
    serving.await.unwrap();
}

/// A connection answering each request as its `data` says, in Nest's usual reply shape
/// (`{"response":V,"isDisposed":true,"id":"N"}`, which `Connection::deliver` routes by its
/// shape alone) around a `V` that is not one JSON value, or not the caller's type; how many
/// times it was dialled.
struct ShapedTransport {
    dials: Arc<std::sync::atomic::AtomicUsize>,
}

impl ClientTransport for ShapedTransport {
    fn connect<'a>(
        &'a self,
        _: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        self.dials.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            let (requests, mut queue) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
            let conn = Connection::with_queue(requests);
            let replies = conn.clone();
            tokio::spawn(async move {
                while let Some(request) = queue.recv().await {
                    let request: serde_json::Value = serde_json::from_slice(&request).unwrap();
                    let value = match request["data"].as_str().unwrap() {
                        "corrupt" => "{",
                        "err-inside" => r#"1,"err":"boom""#,
                        "extra-key" => r#"7,"x":2"#,
                        _ => r#""seven""#,
                    };
                    let id = request["id"].to_string();
                    let reply = format!(r#"{{"response":{value},"isDisposed":true,"id":{id}}}"#);
                    replies.deliver(reply.into_bytes().into());
                }
            });
            Ok(conn)
        })
    }
}

#[tokio::test]
async fn replies_routed_by_their_shape_answer_as_a_full_read_would() {
    let dials = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = ClientProxy::new(ClientOptions::custom("SHAPED", "shaped://", {
        let dials = dials.clone();
        move || ShapedTransport {
            dials: dials.clone(),
        }
    }));
    assert_eq!(client.send::<u32>("shaped", &"extra-key").await.unwrap(), 7);
    match client
        .send::<serde_json::Value>("shaped", &"err-inside")
        .await
    {
        Err(RpcError::Remote { error, .. }) => assert_eq!(error, "boom"),
        other => panic!("expected the remote error, got {other:?}"),
    }
    assert!(matches!(
        client.send::<u32>("shaped", &"mistyped").await,
        Err(RpcError::Decode { .. })
    ));
    // Not JSON: that call's decode error at once (a broker's connection carries on).
    assert!(matches!(
        client.send::<serde_json::Value>("shaped", &"corrupt").await,
        Err(RpcError::Decode { .. })
    ));
    assert_eq!(client.send::<u32>("shaped", &"extra-key").await.unwrap(), 7);
    assert_eq!(dials.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A transport whose every connection the peer closes at once, with a reason (as a TLS server
/// rejects a client without a certificate right after the handshake).
struct RejectedTransport;

impl ClientTransport for RejectedTransport {
    fn connect<'a>(
        &'a self,
        _: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(async move {
            let (requests, _queue) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
            let conn = Connection::with_queue(requests);
            conn.close("received fatal alert: CertificateRequired");
            Ok(conn)
        })
    }
}

/// A call whose connection was closed before it could be sent fails with the reason the
/// connection closed, not a bare "Connection closed".
#[tokio::test]
async fn a_call_on_a_closed_connection_names_why_it_closed() {
    let client = ClientProxy::new(ClientOptions::custom("REJECTED", "rejected://", || {
        RejectedTransport
    }));
    match client.send::<u32>("sum", &[1]).await {
        Err(RpcError::ConnectionLost { reason, .. }) => {
            assert_eq!(&*reason, "received fatal alert: CertificateRequired")
        }
        other => panic!("expected the connection's reason, got {other:?}"),
    }
}
