//! [`NestMicroservice`]: a module tree's message patterns served over a [`Transport`].

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;

use super::BootError;
use crate::di::Container;
use crate::server::serving::serve_until;
use crate::server::{MessageRouter, Server, ShutdownHandle, Transport};
use crate::transport::tcp::TcpServer;

/// A booted microservice. Nest's `INestMicroservice`.
pub struct NestMicroservice {
    router: MessageRouter,
    transport: Transport,
    container: Container,
}

impl std::fmt::Debug for NestMicroservice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestMicroservice")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// A microservice's server, bound or connected and ready to serve, on any transport.
pub struct MicroserviceServer {
    server: Box<dyn Server>,
    transport: String,
}

impl std::fmt::Debug for MicroserviceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroserviceServer")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl MicroserviceServer {
    /// Serves until stopped through [`shutdown_handle`](Self::shutdown_handle).
    pub async fn serve(self) {
        self.server.serve().await;
    }

    /// Serves until `signal` completes, then lets in-flight handlers finish.
    pub async fn serve_until(self, signal: impl Future<Output = ()>) {
        let stop = self.server.shutdown_handle();
        serve_until(&stop, self.server.serve(), signal).await;
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// The address the server listens on (TCP); `None` on a broker.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }

    /// The TCP server, for its address and shutdown handle (`None` on another transport).
    pub fn tcp(&self) -> Option<&TcpServer> {
        let server: &dyn Any = &*self.server;
        server.downcast_ref()
    }
}

impl NestMicroservice {
    pub(crate) fn new(router: MessageRouter, transport: Transport, container: Container) -> Self {
        NestMicroservice {
            router,
            transport,
            container,
        }
    }

    /// The app's container: Nest's `app.get(..)` is `app.container().get::<T>()` /
    /// `.get_token::<T>("TOKEN")`. It stays valid after the microservice starts.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Binds a TCP transport without serving yet (to learn the address, or to serve with
    /// your own shutdown signal). For any transport, use [`start`](Self::start); on another
    /// transport this is [`BootError::NotTcp`].
    pub async fn bind(self) -> Result<TcpServer, BootError> {
        let server = self.start().await?;
        let any: Box<dyn Any> = server.server;
        any.downcast::<TcpServer>()
            .map(|server| *server)
            .map_err(|_| BootError::NotTcp {
                transport: server.transport,
            })
    }

    /// Binds or connects the transport, ready to serve.
    pub async fn start(self) -> Result<MicroserviceServer, BootError> {
        let server = self.transport.start(self.router).await?;
        Ok(MicroserviceServer {
            server,
            transport: self.transport.describe(),
        })
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight handlers finish.
    pub async fn listen(self) -> Result<(), BootError> {
        let server = self.start().await?;
        server.serve_until(crate::signal::shutdown_signal()).await;
        Ok(())
    }
}
