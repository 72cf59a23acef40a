//! TLS for checks: whom to trust (the system's certificates, a PEM file, or anyone), the
//! handshake, and the expiry of the certificate the server presented.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bellwether_core::spec::TlsCheck;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::judge;

/// Makes TLS connections as a check asks: one client configuration per trust setting.
pub(crate) struct Tls {
    system: OnceLock<Result<Arc<ClientConfig>, String>>,
    anyone: Arc<ClientConfig>,
}

impl Tls {
    pub(crate) fn new() -> Self {
        Self {
            system: OnceLock::new(),
            anyone: Arc::new(with_verifier(Arc::new(AcceptAny(provider())))),
        }
    }

    fn config(&self, check: &TlsCheck) -> Result<Arc<ClientConfig>, String> {
        if check.insecure {
            return Ok(self.anyone.clone());
        }
        match &check.ca {
            Some(path) => trusting(path).map(Arc::new),
            None => self.system.get_or_init(system).clone(),
        }
    }

    /// A TLS session over `tcp` to `host`, verified as `check` says.
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
        check: &TlsCheck,
    ) -> Result<TlsStream<TcpStream>, String> {
        let config = self.config(check)?;
        let name = check.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|_| format!("`{name}` is not a name a certificate can be checked for"))?
            .to_owned();
        TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                format!(
                    "TLS handshake failed: {}",
                    bellwether_core::error::chain(&e)
                )
            })
    }
}

/// Days until the certificate the server presented expires.
pub(crate) fn days_left(stream: &TlsStream<TcpStream>) -> Result<f64, String> {
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or("the server presented no certificate")?;
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref())
        .map_err(|e| format!("the server's certificate cannot be read: {e}"))?;
    let not_after = parsed.validity().not_after.timestamp();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Ok(judge::days_left(not_after, now))
}

fn provider() -> Arc<CryptoProvider> {
    // ring rather than aws-lc, as the API's TLS: deprecated for its lack of post-quantum key
    // exchange, sound in its classical groups, and no C toolchain to build.
    #[allow(deprecated)]
    Arc::new(ring::default_provider())
}

fn with_roots(roots: RootCertStore) -> Result<ClientConfig, String> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn with_verifier(verifier: Arc<dyn ServerCertVerifier>) -> ClientConfig {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

fn system() -> Result<Arc<ClientConfig>, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(
            "no trusted certificates were found on this machine (install ca-certificates, or give the check `tls.ca`)"
                .to_owned(),
        );
    }
    with_roots(roots).map(Arc::new)
}

fn trusting(path: &str) -> Result<ClientConfig, String> {
    let unreadable = |e: rustls::pki_types::pem::Error| format!("cannot read CA file {path}: {e}");
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
        roots
            .add(certificate.map_err(unreadable)?)
            .map_err(|e| format!("CA file {path} holds a certificate rustls refuses: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("CA file {path} holds no certificate"));
    }
    with_roots(roots)
}

/// Trusts any certificate, still checking that the server holds its key: what `insecure`
/// means, for self-signed test servers.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
