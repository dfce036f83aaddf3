//! Certificates made at test time (rcgen) for the TLS tests: a CA, a server certificate for
//! `localhost`, `127.0.0.1` and `::1` signed by it, and a client certificate signed by it,
//! written as PEM files into a fresh folder that the brokers' TLS listeners read.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A test PKI: PEM strings, and the same as files under [`dir`](Self::dir).
pub struct TestPki {
    /// The folder holding `ca.pem`, `server.pem`, `server-key.pem`, `client.pem`,
    /// `client-key.pem` (removed when dropped).
    pub dir: PathBuf,
    /// The CA's certificate.
    pub ca: String,
    /// The server's certificate (`localhost`, `127.0.0.1`, `::1`).
    pub server_cert: String,
    /// The server's private key (PKCS#8).
    pub server_key: String,
    /// A client certificate (`CN=gateway-test-client`).
    pub client_cert: String,
    /// The client's private key.
    pub client_key: String,
}

impl TestPki {
    /// A new CA and its two certificates, written under a fresh folder named after `tag`.
    pub fn new(tag: &str) -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("gateway test CA ({tag})"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            Vec::new(),
            "gateway-test-client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let dir = std::env::temp_dir().join(format!(
            "gateway-tls-{tag}-{}-{}",
            std::process::id(),
            crate::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = TestPki {
            dir,
            ca: ca.pem(),
            server_cert,
            server_key,
            client_cert,
            client_key,
        };
        for (name, pem) in [
            ("ca.pem", &pki.ca),
            ("server.pem", &pki.server_cert),
            ("server-key.pem", &pki.server_key),
            ("client.pem", &pki.client_cert),
            ("client-key.pem", &pki.client_key),
        ] {
            std::fs::write(pki.dir.join(name), pem).unwrap();
        }
        pki
    }

    /// The path of one of the files, as a string for a command line.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// The folder, as a path.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A client's options: trusts the CA, shows no certificate.
    pub fn client(&self) -> gateway_core::tls::TlsOptions {
        gateway_core::tls::TlsOptions::new()
            .ca_pem(&self.ca)
            .expect("the test CA parses")
    }

    /// A client's options for mutual TLS: trusts the CA, shows the client certificate.
    pub fn mutual_client(&self) -> gateway_core::tls::TlsOptions {
        self.client()
            .cert_pem(&self.client_cert, &self.client_key)
            .expect("the client certificate parses")
    }

    /// A server's options: shows the server certificate (no client certificate asked).
    pub fn server(&self) -> gateway_core::tls::TlsOptions {
        gateway_core::tls::TlsOptions::new()
            .cert_pem(&self.server_cert, &self.server_key)
            .expect("the server certificate parses")
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
