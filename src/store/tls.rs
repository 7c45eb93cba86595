//! TLS to Redis (`rediss://host:port`): every connection redsql opens, the
//! `redis` crate's (scans, writes) and the RESP3 pool's (FT.* commands),
//! is encrypted and checks Redis' certificate, with the same settings:
//! - the CA that signed Redis' certificate: `--redis-ca FILE` (PEM), or
//!   the system's trusted roots without it;
//! - a client certificate and key, for a Redis that asks for one (its
//!   default, `tls-auth-clients yes`): `--redis-cert`, `--redis-key`.
//!
//! The certificate must name the host of the URL. `rediss://...#insecure`
//! (no verification) is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};

/// TLS settings for `rediss://` URLs (PEM files).
#[derive(Clone, Debug, Default)]
pub struct RedisTls {
    /// The CA certificates Redis' certificate is checked against (None:
    /// the system's roots).
    pub ca: Option<PathBuf>,
    /// A client certificate chain and its key.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// [`RedisTls`] read and checked, in the forms both clients take.
pub(super) struct Loaded {
    /// For the `redis` crate's connections.
    pub certificates: redis::TlsCertificates,
    /// For the RESP3 pool's.
    pub connector: TlsConnector,
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| bad(what, path, &e))
}

fn bad(what: &str, path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::RedisUnavailable(format!("Redis TLS {what} {}: {e}", path.display()))
}

impl RedisTls {
    /// Read the files (errors name the file and what is wrong with it).
    pub(super) fn load(&self) -> Result<Loaded> {
        // The redis crate builds its configs with rustls' process default.
        let _ = aws_lc_rs::default_provider().install_default();
        let ca = self.ca.as_deref().map(|p| read("CA file", p)).transpose()?;
        let roots = match (&ca, &self.ca) {
            (Some(pem), Some(path)) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| bad("CA file", path, &e))?;
                    roots.add(cert).map_err(|e| bad("CA file", path, &e))?;
                }
                if roots.is_empty() {
                    return Err(bad("CA file", path, &"no certificate in the file"));
                }
                roots
            }
            _ => system_roots()?,
        };
        let builder = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("TLS setup: {e}")))?
            .with_root_certificates(roots);
        let (config, client_tls) = match &self.client {
            None => (builder.with_no_client_auth(), None),
            Some((cert_path, key_path)) => {
                let cert = read("client certificate", cert_path)?;
                let key = read("client key", key_path)?;
                let chain = CertificateDer::pem_slice_iter(&cert)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad("client certificate", cert_path, &e))?;
                if chain.is_empty() {
                    return Err(bad("client certificate", cert_path, &"no certificate in the file"));
                }
                let der = PrivateKeyDer::from_pem_slice(&key).map_err(|e| bad("client key", key_path, &e))?;
                let config = builder
                    .with_client_auth_cert(chain, der)
                    .map_err(|e| bad("client certificate and key", cert_path, &e))?;
                let client = redis::ClientTlsConfig {
                    client_cert: cert,
                    client_key: key,
                };
                (config, Some(client))
            }
        };
        Ok(Loaded {
            certificates: redis::TlsCertificates {
                client_tls,
                root_cert: ca,
            },
            connector: TlsConnector::from(Arc::new(config)),
        })
    }
}

fn system_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(Error::RedisUnavailable(
            "rediss://: no trusted root certificates found on this system; give Redis' CA with --redis-ca".into(),
        ));
    }
    Ok(roots)
}

/// The name Redis' certificate must carry: the URL's host.
pub(super) fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_string())
        .map_err(|e| Error::RedisUnavailable(format!("rediss://: {host:?} is not a host name TLS can check: {e}")))
}

/// What to do about a TLS failure, from its message ("" if nothing to add).
pub(super) fn hint(error: &str) -> &'static str {
    if error.contains("UnknownIssuer") {
        " (Redis' certificate is signed by a CA redsql does not trust: give it with --redis-ca)"
    } else if error.contains("CertificateRequired") {
        " (Redis asks for a client certificate: give one with --redis-cert and --redis-key)"
    } else if error.contains("not valid for name") {
        " (connect by a name the certificate carries)"
    } else {
        ""
    }
}
