//! Identity: `JwtGuard` with ES256 and EdDSA keys, every key pinned to its algorithm (no
//! `none`, no HS/RS confusion), keys from a JWKS URL served locally (rotated, refetched on an
//! unknown `kid`, at a bounded rate; over HTTPS behind a private CA), and `JwtService` signing
//! and verifying as `@nestjs/jwt` does, checked both ways against Nest's own `JwtService`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_core::auth::{Algorithm, JwksOptions, JwtGuard, JwtModule, JwtService};
use gateway_core::axum;
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({ "sub": "user-7", "exp": now() + 60 })
}

/// A token of `claims()` signed by `algorithm` with `key`, under `kid`.
fn token(algorithm: Algorithm, key: &jsonwebtoken::EncodingKey, kid: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims(), key).unwrap()
}

fn es256_key() -> jsonwebtoken::EncodingKey {
    jsonwebtoken::EncodingKey::from_ec_pem(&read("jwt-es256-private.pem")).unwrap()
}

fn ed25519_key() -> jsonwebtoken::EncodingKey {
    jsonwebtoken::EncodingKey::from_ed_pem(&read("jwt-ed25519-private.pem")).unwrap()
}

fn rsa_key() -> jsonwebtoken::EncodingKey {
    jsonwebtoken::EncodingKey::from_rsa_pem(&read("jwt-test-private.pem")).unwrap()
}

/// `header.payload.` with `alg: none`: an unsigned token.
fn unsigned() -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims())
    )
}

#[injectable]
struct MeController {
    jwt: JwtService,
}

#[controller]
impl MeController {
    #[get("me")]
    async fn me(&self, #[user] claims: Value) -> Value {
        json!({ "sub": claims["sub"] })
    }

    /// Nest's `AuthService.signIn`: a token for the user.
    #[post("login")]
    #[public]
    async fn login(&self) -> Result<Value, HttpException> {
        let token = self
            .jwt
            .sign(&json!({ "sub": "user-7" }))
            .map_err(|_| HttpException::internal())?;
        Ok(json!({ "access_token": token }))
    }
}

#[module(
    imports = [JwtModule::register(JwtService::secret(b"a secret of at least thirty-two bytes").expires_in(Duration::from_secs(60)))],
    controllers = [MeController],
)]
struct MeModule;

async fn status(app: SocketAddr, token: &str) -> u16 {
    let bearer = format!("Bearer {token}");
    http_request(app, "GET", "/me", &[("Authorization", &bearer)], "")
        .await
        .0
}

#[tokio::test]
async fn es256_and_eddsa_keys_each_pinned_to_their_algorithm() {
    let es = serve_app::<MeModule>(|app| {
        let pem = read("jwt-es256-public.pem");
        app.use_global_guards(JwtGuard::public_key_pem(Algorithm::ES256, &pem).unwrap());
    })
    .await;
    let ed = serve_app::<MeModule>(|app| {
        let pem = read("jwt-ed25519-public.pem");
        app.use_global_guards(JwtGuard::public_key_pem(Algorithm::EdDSA, &pem).unwrap());
    })
    .await;
    assert_eq!(
        status(es, &token(Algorithm::ES256, &es256_key(), None)).await,
        200
    );
    assert_eq!(
        status(ed, &token(Algorithm::EdDSA, &ed25519_key(), None)).await,
        200
    );
    // Another algorithm's token, an unsigned one, and the key's bytes as an HMAC secret.
    assert_eq!(
        status(es, &token(Algorithm::EdDSA, &ed25519_key(), None)).await,
        401
    );
    assert_eq!(
        status(es, &token(Algorithm::RS256, &rsa_key(), None)).await,
        401
    );
    assert_eq!(status(es, &unsigned()).await, 401);
    assert_eq!(status(ed, &unsigned()).await, 401);
    let confused = jsonwebtoken::EncodingKey::from_secret(&read("jwt-es256-public.pem"));
    assert_eq!(
        status(es, &token(Algorithm::HS256, &confused, None)).await,
        401
    );
    // A key for the wrong family is a boot-time error, not a silent 401 later.
    assert!(JwtGuard::public_key_pem(Algorithm::HS256, b"x").is_err());
    assert!(JwtGuard::secret(Algorithm::RS256, b"x").is_err());
    assert!(JwtGuard::public_key_pem(Algorithm::ES256, &read("jwt-test-public.pem")).is_err());
}

/// A JWKS endpoint whose set the test changes, counting its fetches.
#[derive(Clone, Default)]
struct Issuer {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    fn publish(&self, names: &[&str]) {
        let all: Value = serde_json::from_slice(&read("jwt-jwks.json")).unwrap();
        *self.keys.lock().unwrap() = names.iter().map(|n| all[n].clone()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    async fn serve(&self) -> String {
        let issuer = self.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let issuer = issuer.clone();
                async move {
                    issuer.fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = issuer.keys.lock().unwrap().clone();
                    axum::Json(json!({ "keys": keys }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/.well-known/jwks.json")
    }
}

#[tokio::test]
async fn jwks_keys_are_fetched_rotated_and_refetched_at_a_bounded_rate() {
    let issuer = Issuer::default();
    issuer.publish(&["rsa"]);
    let url = issuer.serve().await;
    let options = JwksOptions {
        min_refresh: Duration::from_millis(300),
        ..JwksOptions::default()
    };
    let app = serve_app::<MeModule>(|app| {
        app.use_global_guards(JwtGuard::jwks_with(&url, options).unwrap());
    })
    .await;
    assert_eq!(
        issuer.fetches(),
        0,
        "nothing fetched before the first token"
    );
    let rsa_token = token(Algorithm::RS256, &rsa_key(), Some("rsa-1"));
    assert_eq!(status(app, &rsa_token).await, 200);
    assert_eq!(status(app, &rsa_token).await, 200);
    assert_eq!(issuer.fetches(), 1, "the set is kept");
    // The JWK says RS256: a PS256 token under the same key is refused.
    assert_eq!(
        status(app, &token(Algorithm::PS256, &rsa_key(), Some("rsa-1"))).await,
        401
    );

    // The issuer rotates to an EC key and an Ed25519 key.
    issuer.publish(&["ec", "ed"]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let ec_token = token(Algorithm::ES256, &es256_key(), Some("ec-1"));
    assert_eq!(
        status(app, &ec_token).await,
        200,
        "an unknown kid refetches the set"
    );
    assert_eq!(issuer.fetches(), 2);
    let ed_token = token(Algorithm::EdDSA, &ed25519_key(), Some("ed-1"));
    assert_eq!(status(app, &ed_token).await, 200);
    assert_eq!(
        status(app, &rsa_token).await,
        401,
        "the retired key no longer checks"
    );
    // A stream of unknown kids: at most one fetch per `min_refresh`.
    for i in 0..20 {
        let stranger = token(Algorithm::ES256, &es256_key(), Some(&format!("nope-{i}")));
        assert_eq!(status(app, &stranger).await, 401);
    }
    assert!(issuer.fetches() <= 3, "{} fetches", issuer.fetches());
    assert_eq!(status(app, &unsigned()).await, 401);
    // Without a kid, a set of two keys names none.
    assert_eq!(
        status(app, &token(Algorithm::ES256, &es256_key(), None)).await,
        401
    );
}

#[tokio::test]
async fn a_jwks_that_is_down_refuses_tokens_quickly() {
    let url = format!("http://127.0.0.1:{}/jwks.json", free_port());
    let app = serve_app::<MeModule>(|app| {
        app.use_global_guards(JwtGuard::jwks(&url).unwrap());
    })
    .await;
    let started = std::time::Instant::now();
    let rsa_token = token(Algorithm::RS256, &rsa_key(), Some("rsa-1"));
    assert_eq!(status(app, &rsa_token).await, 401);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(JwtGuard::jwks("ftp://example.com/keys").is_err());
}

#[tokio::test]
async fn jwt_service_signs_what_the_guard_checks() {
    let app = serve_app::<MeModule>(|app| {
        app.use_global_guards(JwtGuard::hs256(b"a secret of at least thirty-two bytes"));
    })
    .await;
    let (code, _, body) = http_request(app, "POST", "/login", &[], "").await;
    assert_eq!(code, 201);
    let token: Value = serde_json::from_str(&body).unwrap();
    let token = token["access_token"].as_str().unwrap();
    assert_eq!(status(app, token).await, 200);
    let service = JwtService::secret(b"a secret of at least thirty-two bytes");
    let claims: Value = service.verify(token).unwrap();
    assert_eq!(claims["sub"], "user-7");
    assert_eq!(
        claims["exp"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap() + 60
    );
    let other = JwtService::secret(b"another secret, also thirty-two bytes");
    assert!(other.verify::<Value>(token).is_err());
    let es = JwtService::key_pair(
        Algorithm::ES256,
        &read("jwt-es256-private.pem"),
        &read("jwt-es256-public.pem"),
    )
    .unwrap();
    let signed = es.sign(&json!({ "sub": "9" })).unwrap();
    assert_eq!(es.verify::<Value>(&signed).unwrap()["sub"], "9");
    assert!(
        service.verify::<Value>(&signed).is_err(),
        "an ES256 token is not an HS256 one"
    );
    let public_only =
        JwtService::verify_only(Algorithm::ES256, &read("jwt-es256-public.pem")).unwrap();
    assert!(public_only.sign(&json!({})).is_err());
    assert_eq!(public_only.verify::<Value>(&signed).unwrap()["sub"], "9");
}

/// Tokens signed by Nest's `JwtService` (`@nestjs/jwt`) check with ours, and ours with
/// Nest's, for HS256, RS256 and ES256.
#[tokio::test]
async fn tokens_cross_between_nests_jwt_service_and_ours() {
    if !nest_available("tokens_cross_between_nests_jwt_service_and_ours") {
        return;
    }
    let secret = fixture("jwt-hs256-secret.txt");
    let cases = [
        (
            "HS256",
            secret.clone(),
            secret.clone(),
            JwtService::secret(&read("jwt-hs256-secret.txt")),
        ),
        (
            "RS256",
            fixture("jwt-test-private.pem"),
            fixture("jwt-test-public.pem"),
            JwtService::key_pair(
                Algorithm::RS256,
                &read("jwt-test-private.pem"),
                &read("jwt-test-public.pem"),
            )
            .unwrap(),
        ),
        (
            "ES256",
            fixture("jwt-es256-private.pem"),
            fixture("jwt-es256-public.pem"),
            JwtService::key_pair(
                Algorithm::ES256,
                &read("jwt-es256-private.pem"),
                &read("jwt-es256-public.pem"),
            )
            .unwrap(),
        ),
    ];
    for (alg, private, public, ours) in cases {
        let (private, public) = (private.to_str().unwrap(), public.to_str().unwrap());
        let claims = r#"{"sub":"42","roles":["admin"]}"#;
        let nest_token = run_node(Nest::V11, "jwt.js", &["sign", alg, private, claims], "").await;
        let checked: Value = ours.verify(nest_token.trim()).unwrap();
        assert_eq!(
            (checked["sub"].clone(), checked["roles"].clone()),
            (json!("42"), json!(["admin"])),
            "{alg}"
        );
        let our_token = ours
            .expires_in(Duration::from_secs(60))
            .sign(&json!({ "sub": "7" }))
            .unwrap();
        let out = run_node(
            Nest::V11,
            "jwt.js",
            &["verify", alg, public, &our_token],
            "",
        )
        .await;
        let verified: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(verified["sub"], "7", "{alg}: Nest says {verified}");
        assert_eq!(
            verified["exp"].as_u64().unwrap(),
            verified["iat"].as_u64().unwrap() + 60
        );
    }
}

/// Serves `body` as JSON over TLS with the `localhost` certificate of `fixtures/`, signed by
/// `fixtures/tls-ca.pem`: a JWKS behind a private CA.
async fn serve_tls(body: String) -> u16 {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture("tls-localhost.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(fixture("tls-localhost-key.pem")).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// Over `https://`: a JWKS behind a CA the guard is told to trust is fetched; without that
/// trust, the certificate is refused and so is every token.
#[tokio::test]
async fn jwks_over_https_trusts_the_roots_it_is_given() {
    let all: Value = serde_json::from_slice(&read("jwt-jwks.json")).unwrap();
    let port = serve_tls(json!({ "keys": [all["ec"]] }).to_string()).await;
    let url = format!("https://localhost:{port}/.well-known/jwks.json");
    let trusting = JwksOptions {
        extra_roots_pem: Some(read("tls-ca.pem")),
        ..JwksOptions::default()
    };
    let trusted = serve_app::<MeModule>(|app| {
        app.use_global_guards(JwtGuard::jwks_with(&url, trusting).unwrap());
    })
    .await;
    let untrusted = serve_app::<MeModule>(|app| {
        app.use_global_guards(JwtGuard::jwks(&url).unwrap());
    })
    .await;
    let ec_token = token(Algorithm::ES256, &es256_key(), Some("ec-1"));
    assert_eq!(status(trusted, &ec_token).await, 200);
    assert_eq!(
        status(untrusted, &ec_token).await,
        401,
        "an unknown CA is not trusted"
    );
    let bad = JwksOptions {
        extra_roots_pem: Some(
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        ..JwksOptions::default()
    };
    assert!(JwtGuard::jwks_with(&url, bad).is_err());
}
