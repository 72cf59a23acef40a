//! TLS for the API: a certificate chain and its private key from PEM files, served by rustls
//! with ring as its cryptography.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Why the certificate or key cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain from {}", path.display())]
    Certificates { path: PathBuf, source: pem::Error },
    #[error("{} holds no certificate (expected PEM `BEGIN CERTIFICATE` blocks)", path.display())]
    NoCertificate { path: PathBuf },
    #[error("cannot read the private key from {} (expected a PEM private key)", path.display())]
    Key { path: PathBuf, source: pem::Error },
    #[error("the certificate and key do not make a TLS server")]
    Config(#[source] rustls::Error),
}

/// What turns an accepted connection into a TLS one.
#[derive(Clone)]
pub struct Tls(pub(crate) TlsAcceptor);

impl Tls {
    /// The chain in `cert` (the server's certificate first) and the key in `key`, both PEM.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let certificates = |source| TlsError::Certificates {
            path: cert.to_path_buf(),
            source,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(certificates)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(certificates)?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert.to_path_buf(),
            });
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
            path: key.to_path_buf(),
            source,
        })?;
        // rustls deprecates ring's provider for its lack of post-quantum key exchange; its
        // classical groups (X25519, P-256, P-384) are sound, and it builds without the C and
        // CMake toolchain aws-lc needs.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Config)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls(TlsAcceptor::from(Arc::new(config))))
    }
}
