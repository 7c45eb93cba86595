//! The server: Redis connection (or an embedded Redis), catalog, accept loop
//! and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, CatalogOptions};
use crate::error::{Error, Result};
use crate::exec::Engine;
use crate::session::Handlers;
use crate::store::embedded::EmbeddedRedis;
use crate::store::Store;

/// Everything `redsql serve` needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Redis to serve; None starts an embedded one.
    pub redis_url: Option<String>,
    pub catalog: CatalogOptions,
    /// Load the demo dataset at startup.
    pub demo: bool,
    /// The only directory server-side COPY and file loads may touch (None: none).
    pub data_dir: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:5433".into(),
            redis_url: None,
            catalog: CatalogOptions::default(),
            demo: false,
            data_dir: None,
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
        let store = Store::connect(&url).await?;
        if config.demo {
            let n = crate::demo::load_demo(&store).await?;
            if n > 0 {
                tracing::info!(rows = n, "demo dataset loaded into sale:<id>");
            }
        }
        let catalog = Catalog::new(store, config.catalog.clone());
        catalog.refresh().await?;
        let refresher = catalog.spawn_refresher();
        let handlers = Arc::new(Handlers::new(Arc::new(Engine::new(catalog, data_dir))));

        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
        let (shutdown, mut stop) = watch::channel(false);
        let accept = tokio::spawn(async move {
            loop {
                tokio::select! {
                    conn = listener.accept() => match conn {
                        Ok((socket, peer)) => {
                            let _ = socket.set_nodelay(true);
                            let handlers = handlers.clone();
                            tokio::spawn(async move {
                                if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
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
        tracing::info!(%addr, redis = %url, "redsql listening");
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
