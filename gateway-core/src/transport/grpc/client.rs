//! The client side: [`ClientGrpc`] and the channel its typed services call through.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::uri::PathAndQuery;
use futures_core::Stream;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use super::{GrpcMethod, GrpcRequest, GrpcService, IntoGrpcRequest};
use crate::client::RpcError;

/// The default deadline of a call, as the other transports' clients have.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// grpc-js's (and so Nest's) default largest message received and sent: 4 MiB.
pub(super) const DEFAULT_MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// A server stream's messages, each a message or the call's error (the last item).
pub type GrpcStream<T> = BoxStream<'static, Result<T, RpcError>>;

/// How a [`ClientGrpc`] reaches its service: Nest's `{ transport: Transport.GRPC, options:
/// { url, package, protoPath } }` (package and proto are compiled in, so only the url is left).
#[derive(Debug, Clone)]
pub struct GrpcClientOptions {
    url: String,
    timeout: Duration,
    connect_timeout: Duration,
    max_receive_message_length: usize,
    max_send_message_length: usize,
    keepalive: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsOptions>,
}

impl GrpcClientOptions {
    /// The service at `url`: `localhost:5000` as Nest writes it, or `http://localhost:5000`.
    pub fn new(url: impl Into<String>) -> Self {
        GrpcClientOptions {
            url: url.into(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(2),
            max_receive_message_length: DEFAULT_MAX_MESSAGE,
            max_send_message_length: DEFAULT_MAX_MESSAGE,
            keepalive: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Every call's deadline unless the call sets its own (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long dialling may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest message accepted (Nest's `maxReceiveMessageLength`, default 4 MiB).
    pub fn max_receive_message_length(mut self, bytes: usize) -> Self {
        self.max_receive_message_length = bytes;
        self
    }

    /// The largest message sent (Nest's `maxSendMessageLength`, default 4 MiB).
    pub fn max_send_message_length(mut self, bytes: usize) -> Self {
        self.max_send_message_length = bytes;
        self
    }

    /// HTTP/2 pings every `interval`, idle or not (grpc-js's `keepalive.keepaliveTimeMs`).
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = Some(interval);
        self
    }

    /// Over TLS (feature `tls`): Nest's `credentials: ChannelCredentials.createSsl(ca, key,
    /// cert)`. `ca_pem` is what the server's certificate must chain to (the Mozilla roots
    /// without it); `cert_pem` the client's own, for a server that asks.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// A gRPC client: Nest's `ClientGrpc`. One HTTP/2 connection, dialled at the first call and
/// again after it fails, shared by every service and caller.
///
/// ```ignore
/// let client = ClientGrpc::new("HERO_PACKAGE", GrpcClientOptions::new("localhost:5000"));
/// let heroes: hero::HeroesService::Client = client.get_service();
/// let hero = heroes.find_one(hero::HeroById { id: 1 }).await?;
/// ```
#[derive(Debug, Clone)]
pub struct ClientGrpc {
    pub(super) channel: GrpcChannel,
}

impl ClientGrpc {
    /// A client named `name` (its token, e.g. `HERO_PACKAGE`, in errors and logs). Nothing is
    /// dialled until the first call; a url that is not one fails every call with
    /// [`RpcError::Connect`].
    pub fn new(name: impl Into<Arc<str>>, options: GrpcClientOptions) -> Self {
        let name = name.into();
        let url = if options.url.contains("://") {
            options.url.clone()
        } else {
            format!("http://{}", options.url)
        };
        let channel = Endpoint::from_shared(url.clone())
            .map(|endpoint| {
                let mut endpoint = endpoint
                    .connect_timeout(options.connect_timeout)
                    .tcp_nodelay(true);
                if let Some(interval) = options.keepalive {
                    endpoint = endpoint
                        .http2_keep_alive_interval(interval)
                        .keep_alive_while_idle(true);
                }
                connect(endpoint, &options)
            })
            .map_err(|error| Arc::<str>::from(format!("{url}: {error}")))
            .and_then(|channel| channel);
        ClientGrpc {
            channel: GrpcChannel {
                channel,
                name,
                options: Arc::new(options),
            },
        }
    }

    /// The typed client of one of the proto's services: Nest's
    /// `client.getService<HeroesService>('HeroesService')`.
    pub fn get_service<T: GrpcService>(&self) -> T {
        T::from_channel(self.channel.clone())
    }
}

/// The connection a typed client calls through (what generated clients hold).
#[derive(Debug, Clone)]
pub struct GrpcChannel {
    /// The channel, or why the url is not one.
    channel: Result<Channel, Arc<str>>,
    name: Arc<str>,
    options: Arc<GrpcClientOptions>,
}

impl GrpcChannel {
    fn grpc(&self) -> Result<tonic::client::Grpc<Channel>, RpcError> {
        let channel = self.channel.clone().map_err(|error| RpcError::Connect {
            service: self.name.clone(),
            addr: self.options.url.as_str().into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string()),
        })?;
        Ok(tonic::client::Grpc::new(channel)
            .max_decoding_message_size(self.options.max_receive_message_length)
            .max_encoding_message_size(self.options.max_send_message_length))
    }

    /// The tonic request for `request`, with its metadata and deadline.
    fn request<M: GrpcMethod, T>(
        &self,
        request: GrpcRequest<T>,
    ) -> Result<(tonic::Request<T>, Duration), RpcError> {
        let timeout = request.timeout.unwrap_or(self.options.timeout);
        let mut tonic_request = tonic::Request::new(request.message);
        for (name, value) in request.metadata {
            let key = tonic::metadata::MetadataKey::from_bytes(name.as_bytes());
            let value = value.parse::<tonic::metadata::AsciiMetadataValue>();
            match (key, value) {
                (Ok(key), Ok(value)) => {
                    tonic_request.metadata_mut().append(key, value);
                }
                _ => {
                    let message =
                        format!("metadata {name:?} cannot be sent: not a metadata key or value");
                    return Err(self.error::<M>(tonic::Status::invalid_argument(message), timeout));
                }
            }
        }
        tonic_request.set_timeout(timeout);
        Ok((tonic_request, timeout))
    }

    /// Runs `call` within `timeout` (the caller's deadline, which `grpc-timeout` also carries
    /// to the service).
    async fn within<M: GrpcMethod, T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<T, tonic::Status>>,
    ) -> Result<T, RpcError> {
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            // The service gave up at the deadline we sent it (tonic's server says CANCELLED,
            // grpc-js DEADLINE_EXCEEDED) a moment before our own timer did.
            Ok(Err(status))
                if matches!(
                    status.code(),
                    tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
                ) && started.elapsed() >= timeout.mul_f32(0.9) =>
            {
                Err(self.timeout::<M>(timeout))
            }
            Ok(Err(status)) => Err(self.error::<M>(status, timeout)),
            Err(_) => Err(self.timeout::<M>(timeout)),
        }
    }

    fn timeout<M: GrpcMethod>(&self, timeout: Duration) -> RpcError {
        RpcError::Timeout {
            service: self.name.clone(),
            pattern: M::PATH.to_owned(),
            timeout,
        }
    }

    fn error<M: GrpcMethod>(&self, status: tonic::Status, timeout: Duration) -> RpcError {
        if status.code() == tonic::Code::DeadlineExceeded {
            return self.timeout::<M>(timeout);
        }
        // tonic's status for a connection that broke under the call (a TLS alert after the
        // handshake, a reset): UNKNOWN carrying the transport's error, where a service's own
        // UNKNOWN comes in trailers with none. The service is gone as far as we know.
        if status.code() == tonic::Code::Unknown {
            if let Some(source) = std::error::Error::source(&status) {
                return RpcError::ConnectionLost {
                    service: self.name.clone(),
                    reason: format!("{}: {source}", status.message()).into(),
                };
            }
        }
        RpcError::Grpc {
            service: self.name.clone(),
            method: M::PATH.to_owned(),
            code: status.code() as i32,
            message: status.message().to_owned(),
        }
    }

    /// A server stream's messages, its errors as [`RpcError`]s, ending at the deadline.
    fn stream_of<M: GrpcMethod>(
        &self,
        stream: tonic::Streaming<M::Response>,
        timeout: Duration,
    ) -> GrpcStream<M::Response> {
        let channel = self.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        let items =
            stream.map(move |item| item.map_err(|status| channel.error::<M>(status, timeout)));
        let channel = self.clone();
        let timed =
            futures_util::stream::unfold((Box::pin(items), false), move |(mut items, done)| {
                let channel = channel.clone();
                async move {
                    if done {
                        return None;
                    }
                    match tokio::time::timeout_at(deadline, items.next()).await {
                        Ok(Some(item)) => Some((item, (items, false))),
                        Ok(None) => None,
                        Err(_) => Some((Err(channel.timeout::<M>(timeout)), (items, true))),
                    }
                }
            });
        timed.boxed()
    }

    /// A unary call of `M`.
    pub async fn unary<M: GrpcMethod, R: IntoGrpcRequest<M::Request>>(
        &self,
        request: R,
    ) -> Result<M::Response, RpcError> {
        Ok(self.unary_with_metadata::<M, R>(request).await?.0)
    }

    /// A unary call of `M`, with the ASCII metadata the service sent with its reply (its
    /// handler's; `grpc-*`, `content-type` and `date` left out).
    pub async fn unary_with_metadata<M: GrpcMethod, R: IntoGrpcRequest<M::Request>>(
        &self,
        request: R,
    ) -> Result<(M::Response, Vec<(String, String)>), RpcError> {
        let call = |mut grpc: Grpc, request, path, codec| async move {
            grpc.unary(request, path, codec).await
        };
        let (response, _) = self
            .call::<M, _, _, _, _>(request.into_grpc_request(), call)
            .await?;
        let metadata = response
            .metadata()
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(key, value) => {
                    let key = key.as_str();
                    // What the service's handler set, not what HTTP/2 and gRPC carry.
                    let user = !key.starts_with("grpc-") && !matches!(key, "content-type" | "date");
                    user.then(|| Some((key.to_owned(), value.to_str().ok()?.to_owned())))?
                }
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        Ok((response.into_inner(), metadata))
    }

    /// A server-streaming call of `M`: its messages as they come.
    pub async fn server_streaming<M: GrpcMethod, R: IntoGrpcRequest<M::Request>>(
        &self,
        request: R,
    ) -> Result<GrpcStream<M::Response>, RpcError> {
        let call = |mut grpc: Grpc, request, path, codec| async move {
            grpc.server_streaming(request, path, codec).await
        };
        let (response, timeout) = self
            .call::<M, _, _, _, _>(request.into_grpc_request(), call)
            .await?;
        Ok(self.stream_of::<M>(response.into_inner(), timeout))
    }

    /// A client-streaming call of `M`: `requests` sent as they come, one reply.
    pub async fn client_streaming<M, S>(
        &self,
        requests: impl IntoGrpcRequest<S>,
    ) -> Result<M::Response, RpcError>
    where
        M: GrpcMethod,
        S: Stream<Item = M::Request> + Send + 'static,
    {
        let call = |mut grpc: Grpc, request, path, codec| async move {
            grpc.client_streaming(request, path, codec).await
        };
        let (response, _) = self
            .call::<M, _, _, _, _>(requests.into_grpc_request(), call)
            .await?;
        Ok(response.into_inner())
    }

    /// A bidirectional call of `M`: `requests` sent as they come, replies as they come.
    pub async fn streaming<M, S>(
        &self,
        requests: impl IntoGrpcRequest<S>,
    ) -> Result<GrpcStream<M::Response>, RpcError>
    where
        M: GrpcMethod,
        S: Stream<Item = M::Request> + Send + 'static,
    {
        let call = |mut grpc: Grpc, request, path, codec| async move {
            grpc.streaming(request, path, codec).await
        };
        let (response, timeout) = self
            .call::<M, _, _, _, _>(requests.into_grpc_request(), call)
            .await?;
        Ok(self.stream_of::<M>(response.into_inner(), timeout))
    }

    /// One call of `M`: `request` with its metadata and deadline, sent by `send` once the
    /// channel takes calls, within the deadline; the response and the deadline it had.
    async fn call<M, R, T, F, Fut>(
        &self,
        request: GrpcRequest<R>,
        send: F,
    ) -> Result<(tonic::Response<T>, Duration), RpcError>
    where
        M: GrpcMethod,
        F: FnOnce(Grpc, tonic::Request<R>, PathAndQuery, Codec<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        if !request.span {
            return self.send::<M, _, _, _, _>(request, send).await;
        }
        let mut request = request;
        let own = request
            .metadata
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(crate::trace::TRACEPARENT));
        let span = crate::trace::call_span_with(&self.name, M::PATH, "grpc", own, |key, value| {
            request.metadata.push((key.to_owned(), value));
        });
        let result = self.send::<M, _, _, _, _>(request, send).await;
        span.record_outcome(&result);
        result
    }

    /// [`call`](Self::call) past its trace span.
    async fn send<M, R, T, F, Fut>(
        &self,
        request: GrpcRequest<R>,
        send: F,
    ) -> Result<(tonic::Response<T>, Duration), RpcError>
    where
        M: GrpcMethod,
        F: FnOnce(Grpc, tonic::Request<R>, PathAndQuery, Codec<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let (request, timeout) = self.request::<M, _>(request)?;
        let mut grpc = self.grpc()?;
        let call = async move {
            ready(&mut grpc).await?;
            send(
                grpc,
                request,
                PathAndQuery::from_static(M::PATH),
                ProstCodec::default(),
            )
            .await
        };
        Ok((self.within::<M, _>(timeout, call).await?, timeout))
    }
}

/// The client of one call.
type Grpc = tonic::client::Grpc<Channel>;

/// The codec of method `M`'s messages, as a client sends and reads them.
type Codec<M> = ProstCodec<<M as GrpcMethod>::Request, <M as GrpcMethod>::Response>;

/// Waits for the channel to take a call; a channel that cannot connect is `UNAVAILABLE`.
async fn ready(grpc: &mut tonic::client::Grpc<Channel>) -> Result<(), tonic::Status> {
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(format!("cannot connect: {error}")))
}

/// The channel of `endpoint`: plain HTTP/2, or over TLS with the options' `tls`.
fn connect(endpoint: Endpoint, options: &GrpcClientOptions) -> Result<Channel, Arc<str>> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &options.tls {
        let mut config = (*tls
            .client_config()
            .map_err(|e| Arc::<str>::from(e.to_string()))?)
        .clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = TlsConnector {
            config: Arc::new(config),
            tls: tls.clone(),
        };
        return Ok(endpoint.connect_with_connector_lazy(connector));
    }
    let _ = options;
    Ok(endpoint.connect_lazy())
}

/// Dials a service over TLS (what tonic's own TLS would do, on our rustls settings).
#[cfg(feature = "tls")]
#[derive(Clone)]
struct TlsConnector {
    config: Arc<tokio_rustls::rustls::ClientConfig>,
    tls: crate::tls::TlsOptions,
}

#[cfg(feature = "tls")]
impl tower_service::Service<axum::http::Uri> for TlsConnector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: axum::http::Uri) -> Self::Future {
        let (config, tls) = (Arc::clone(&self.config), self.tls.clone());
        Box::pin(async move {
            let host = uri.host().ok_or("the url has no host")?.to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let name = tls.server_name_for(&host)?;
            let socket =
                tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
            socket.set_nodelay(true)?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, socket)
                .await?;
            Ok(hyper_util::rt::TokioIo::new(stream))
        })
    }
}
