//! The server: Redis connection (or an embedded Redis), catalog, accept loop
//! and graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, CatalogOptions};
use crate::error::{Error, Result};
use crate::exec::Engine;
use crate::session::auth::{Access, Method, Users};
use crate::session::Handlers;
use crate::store::embedded::EmbeddedRedis;
use crate::store::{RedisTls, Store};

/// Everything `redsql serve` needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Redis to serve; None starts an embedded one.
    pub redis_url: Option<String>,
    /// TLS settings for a `rediss://` URL.
    pub redis_tls: RedisTls,
    pub catalog: CatalogOptions,
    /// Load the demo dataset at startup.
    pub demo: bool,
    /// The only directory server-side COPY and file loads may touch (None: none).
    pub data_dir: Option<std::path::PathBuf>,
    /// Who may connect, and what they may do.
    pub auth: AuthConfig,
}

/// Authentication and limits (`--auth-method`, `--users-file`, ...).
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// None: SCRAM-SHA-256 when there are users, trust when there are none.
    pub method: Option<Method>,
    pub users: Users,
    pub read_only: bool,
    pub max_connections: usize,
    /// Certificate chain and private key (PEM files) to offer TLS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Refuse clients that do not use TLS.
    pub require_tls: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            method: None,
            users: Users::default(),
            read_only: false,
            max_connections: 100,
            tls: None,
            require_tls: false,
        }
    }
}

impl AuthConfig {
    /// The rules to serve with on `listen`. Without users, the server only
    /// trusts everyone on a loopback address unless told to (`--auth-method
    /// trust`), the way Redis' protected mode keeps an unconfigured server
    /// from answering the network.
    fn access(&self, listen: &SocketAddr) -> Result<Access> {
        let method = match self.method {
            Some(m) => m,
            None if !self.users.is_empty() => Method::ScramSha256,
            None if listen.ip().is_loopback() => Method::Trust,
            None => {
                return Err(Error::Forbidden(format!(
                    "refusing to serve {listen} without passwords: give users (--users-file, or REDSQL_PASSWORD), \
                     listen on a loopback address, or say --auth-method trust"
                )))
            }
        };
        if method != Method::Trust && self.users.is_empty() {
            return Err(Error::Forbidden(format!(
                "--auth-method {method:?} needs users (--users-file, or REDSQL_USER and REDSQL_PASSWORD)"
            )));
        }
        if self.require_tls && self.tls.is_none() {
            return Err(Error::Forbidden(
                "--tls-required needs a certificate and key (--tls-cert, --tls-key)".into(),
            ));
        }
        if method == Method::Password && !self.require_tls {
            tracing::warn!("--auth-method password sends passwords in clear unless the client uses TLS");
        }
        Ok(Access::new(
            method,
            self.users.clone(),
            self.read_only,
            self.max_connections,
            self.require_tls,
        ))
    }

    /// The TLS acceptor, when a certificate is configured.
    fn tls(&self) -> Result<Option<pgwire::tokio::TlsAcceptor>> {
        self.tls
            .as_ref()
            .map(|(cert, key)| crate::session::tls::acceptor(cert, key))
            .transpose()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:5433".into(),
            redis_url: None,
            redis_tls: RedisTls::default(),
            catalog: CatalogOptions::default(),
            demo: false,
            data_dir: None,
            auth: AuthConfig::default(),
        }
    }
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    redis_url: String,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    refresher: JoinHandle<()>,
    embedded: Option<EmbeddedRedis>,
}

impl Server {
    /// Connect to Redis, build the catalog and start accepting connections.
    pub async fn start(config: Config) -> Result<Server> {
        let embedded = match &config.redis_url {
            Some(_) => None,
            None => Some(EmbeddedRedis::start().await?),
        };
        let url = config
            .redis_url
            .clone()
            .or_else(|| embedded.as_ref().map(|e| e.url.clone()))
            .expect("a Redis URL");
        let data_dir = crate::exec::files::DataDir::new(config.data_dir.as_deref())?;
        let store = Store::connect_with(&url, &config.redis_tls).await?;
        if config.demo {
            let n = crate::demo::load_demo(&store).await?;
            if n > 0 {
                tracing::info!(rows = n, "demo dataset loaded into sale:<id>");
            }
        }
        let catalog = Catalog::new(store, config.catalog.clone());
        catalog.refresh().await?;
        let refresher = catalog.spawn_refresher();
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
        let access = Arc::new(config.auth.access(&addr)?);
        let tls = config.auth.tls()?;
        tracing::info!(
            method = ?access.method,
            tls = tls.is_some(),
            require_tls = access.require_tls,
            read_only = access.read_only,
            max_connections = access.max_connections,
            "authentication"
        );
        let handlers = Handlers::new(Arc::new(Engine::new(catalog, data_dir)), access);
        let (shutdown, mut stop) = watch::channel(false);
        let accept = tokio::spawn(async move {
            loop {
                tokio::select! {
                    conn = listener.accept() => match conn {
                        Ok((socket, peer)) => {
                            let _ = socket.set_nodelay(true);
                            let (handlers, admitted) = handlers.connection();
                            let tls = tls.clone();
                            tokio::spawn(async move {
                                // Counted against the limit until the connection ends.
                                let _admitted = admitted;
                                if let Err(e) = pgwire::tokio::process_socket(socket, tls, Arc::new(handlers)).await {
                                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                                }
                            });
                        }
                        Err(e) => tracing::warn!(error = %e, "accept failed"),
                    },
                    _ = stop.changed() => break,
                }
            }
        });
        tracing::info!(%addr, redis = %crate::store::redacted(&url), "redsql listening");
        Ok(Server {
            addr,
            redis_url: url,
            shutdown,
            accept,
            refresher,
            embedded,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// Stop accepting, stop background work and the embedded Redis.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.accept.await;
        self.refresher.abort();
        if let Some(e) = self.embedded {
            e.stop().await;
        }
    }
}
