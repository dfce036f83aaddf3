//! A small HTTP(S) client for the features that fetch from a URL (JWKS keys, health checks):
//! hyper's HTTP/1 client over a TCP or rustls stream, the Mozilla roots trusted (and any
//! given), the body bounded.

use std::sync::Arc;

use axum::http::{StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use tokio::net::TcpStream;

/// A `GET uri`'s status and body (at most `max_bytes` of it).
pub(crate) async fn get(
    uri: &Uri,
    tls: &tokio_rustls::TlsConnector,
    max_bytes: usize,
) -> Result<(StatusCode, Bytes), String> {
    let host = uri
        .host()
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_owned();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let request = axum::http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            axum::http::header::HOST,
            uri.authority().map_or(host.as_str(), |a| a.as_str()),
        )
        .header(axum::http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = if https {
        let tls = tls
            .connect(
                rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?,
                tcp,
            )
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        send(tls, request).await?
    } else {
        send(tcp, request).await?
    };
    let status = response.status();
    let body = Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|e| format!("body: {e}"))?;
    Ok((status, body))
}

/// The body of a `GET uri` that answers 2xx.
pub(crate) async fn get_body(
    uri: &Uri,
    tls: &tokio_rustls::TlsConnector,
    max_bytes: usize,
) -> Result<Bytes, String> {
    match get(uri, tls, max_bytes).await? {
        (status, body) if status.is_success() => Ok(body),
        (status, _) => Err(format!("answered {status}")),
    }
}

async fn send<S>(
    stream: S,
    request: axum::http::Request<Empty<Bytes>>,
) -> Result<axum::http::Response<hyper::body::Incoming>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// A TLS client trusting the Mozilla roots and `extra_pem`'s certificates.
pub(crate) fn tls_connector(
    extra_pem: Option<&[u8]>,
) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("a trusted certificate is not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a trusted certificate is invalid: {e}"))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
