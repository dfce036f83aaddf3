//! A client whose service is a [`MessageRouter`] in the same process: a fake downstream for
//! tests (no port, no process), with the patterns, errors, streams and deadlines of a real
//! service, since the packets are the ones a socket would carry.

use std::sync::Arc;

use super::{
    BoxFuture, ClientOptions, ClientProxy, ClientTransport, ConnectContext, Connection, RpcError,
};
use crate::server::{MessageContext, MessageRouter};

impl ClientOptions {
    /// A client for `name` whose service is `router`, in this process: every request and
    /// event is the packet a socket would carry, handled by `router` as a microservice would
    /// (patterns, `RpcException`s, streamed replies; the call's deadline still applies).
    pub fn in_process(name: impl Into<String>, router: MessageRouter) -> Self {
        let router = Arc::new(router);
        ClientOptions::custom(name, "in-process", move || InProcess {
            router: router.clone(),
        })
    }
}

impl ClientProxy {
    /// [`ClientProxy::new`] of [`ClientOptions::in_process`]: a fake service for a test.
    ///
    /// ```
    /// # use gateway_core::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let users = MessageRouter::new().message(pattern!({ cmd: "get_user" }), |q: serde_json::Value| async move {
    ///     Ok::<_, RpcException>(serde_json::json!({ "id": q["id"], "name": "Ada Lovelace" }))
    /// });
    /// let client = ClientProxy::in_process("USERS_SERVICE", users);
    /// let user: serde_json::Value = client.send(pattern!({ cmd: "get_user" }), &serde_json::json!({ "id": "42" })).await.unwrap();
    /// assert_eq!(user["name"], "Ada Lovelace");
    /// # }
    /// ```
    pub fn in_process(name: impl Into<String>, router: MessageRouter) -> ClientProxy {
        ClientProxy::new(ClientOptions::in_process(name, router))
    }
}

/// The transport: each connection is a queue of packets into the router.
struct InProcess {
    router: Arc<MessageRouter>,
}

impl ClientTransport for InProcess {
    fn name(&self) -> &'static str {
        "in-process"
    }

    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        let router = self.router.clone();
        let subject = format!("in-process://{}", context.service());
        Box::pin(async move {
            let conn = Connection::in_process(move |packet, replies| {
                let (router, replies) = (router.clone(), replies.clone());
                let context = MessageContext::new(subject.clone(), Vec::new());
                tokio::spawn(async move {
                    let handled = router.handle_packet(packet.into(), Some(context), |reply| {
                        replies.deliver(reply.into());
                        std::future::ready(())
                    });
                    if let Err(error) = handled.await {
                        tracing::error!(%error, "an in-process packet that is not JSON");
                    }
                });
            });
            Ok(conn)
        })
    }
}
