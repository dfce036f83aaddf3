//! `sum-rpc-tls` (feature `tls`): the RPC app of `sum-rpc` with Nest's TCP `tlsOptions` on both
//! sides, as `integration/microservices/src/tcp-tls` has it: the microservice serves with a key
//! and certificate (`tlsOptions: { key, cert }`), and every client of the app (its `@Client`, the
//! `useFactory` and `useClass` clients) trusts the CA that signed it (`tlsOptions: { ca }`).
//!
//! The settings are the process's: [`create`] sets them once, before the app boots, and the
//! app's client options read them ([`with_client_tls`]).

use std::sync::OnceLock;

use gateway_core::prelude::*;
use gateway_core::tls::TlsOptions;

/// The server's and the clients' TLS settings, once set.
static SETTINGS: OnceLock<(TlsOptions, TlsOptions)> = OnceLock::new();

/// `options` with the clients' TLS settings, when [`create`] set them.
pub fn with_client_tls(options: ClientOptions) -> ClientOptions {
    match SETTINGS.get() {
        Some((_, client)) => options.tls(client.clone()),
        None => options,
    }
}

/// The spec's set-up over TLS: the app, its TCP microservice on `0.0.0.0:<port>` serving with
/// `server` (key and certificate), its clients trusting `client`'s CA. The settings of the
/// first call stay for the process.
pub async fn create(
    microservice_port: u16,
    server: TlsOptions,
    client: TlsOptions,
) -> Result<NestApplication, BootError> {
    let (server, _) = SETTINGS.get_or_init(|| (server, client));
    let options = ServerOptions {
        tls: Some(server.clone()),
        ..ServerOptions::default()
    };
    super::hybrid::<super::ApplicationModule>([Transport::tcp_with(
        format!("0.0.0.0:{microservice_port}"),
        options,
    )])
    .await
}

/// The settings from PEM files, for the `nest-suite tcp-tls` binary: `TLS_KEY_FILE` and
/// `TLS_CERT_FILE` (the server's), `TLS_CA_FILE` (what the clients trust; default the
/// certificate itself, as the spec's self-signed one).
pub fn settings_from_env() -> Result<(TlsOptions, TlsOptions), Box<dyn std::error::Error>> {
    let read = |var: &str| -> Result<String, Box<dyn std::error::Error>> {
        let path = std::env::var(var).map_err(|_| format!("{var} must name a PEM file"))?;
        Ok(std::fs::read_to_string(&path).map_err(|e| format!("{var}={path}: {e}"))?)
    };
    let (key, cert) = (read("TLS_KEY_FILE")?, read("TLS_CERT_FILE")?);
    let ca = match std::env::var("TLS_CA_FILE") {
        Ok(_) => read("TLS_CA_FILE")?,
        Err(_) => cert.clone(),
    };
    Ok((
        TlsOptions::new().cert_pem(cert, key)?,
        TlsOptions::new().ca_pem(ca)?,
    ))
}
