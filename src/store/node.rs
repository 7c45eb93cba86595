//! One Redis server: a shared multiplexed connection (checked before use
//! when it may be stale, see [`super::health`]) and a pool of RESP3
//! connections of its own for bulk work. A single-node [`super::Store`] has
//! one; a cluster one per master.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Pipeline, Value};

use super::{health, redacted, resp3, tls, RedisTls};
use crate::error::{connection_failed, Error, Result};

pub struct Node {
    /// `host:port` as Redis Cluster names it (or the URL's address).
    pub addr: String,
    conn: ConnectionManager,
    pub(super) health: Arc<health::Health>,
    pub(super) pool: resp3::Pool,
    /// The database number (RediSearch indexes only database 0).
    pub db: i64,
}

impl Node {
    /// Connect to `url` (`redis://`, `rediss://` with `tls`, `redis+unix://`).
    pub async fn connect(url: &str, tls: &RedisTls) -> Result<Node> {
        let bad_url = |e: redis::RedisError| Error::RedisUnavailable(format!("bad Redis URL {}: {e}", redacted(url)));
        let mut client = redis::Client::open(url).map_err(bad_url)?;
        let mut connector = None;
        if let redis::ConnectionAddr::TcpTls { .. } = client.get_connection_info().addr() {
            let loaded = tls.load()?;
            client = redis::Client::build_with_tls(url, loaded.certificates).map_err(bad_url)?;
            connector = Some(loaded.connector);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(60)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let info = client.get_connection_info().clone();
        let addr = match info.addr() {
            redis::ConnectionAddr::Tcp(h, p) | redis::ConnectionAddr::TcpTls { host: h, port: p, .. } => {
                format!("{h}:{p}")
            }
            other => other.to_string(),
        };
        let db = info.redis_settings().db();
        let health = Arc::new(health::Health::default());
        let pool = resp3::Pool::with_health(&info, health.clone(), connector)?;
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(|e| {
            let hint = tls::hint(&e.to_string());
            Error::RedisUnavailable(format!("cannot connect to {}: {e}{hint}", redacted(url)))
        })?;
        Ok(Node {
            addr,
            conn,
            health,
            pool,
            db,
        })
    }

    /// Run one command on the shared connection.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let mut conn = self.shared().await?;
        let reply = cmd.query_async(&mut conn).await;
        self.noted(reply)
    }

    /// Run a pipeline on the shared connection.
    pub async fn pipeline(&self, pipe: &Pipeline) -> Result<Vec<Value>> {
        let mut conn = self.shared().await?;
        let reply = pipe.query_async(&mut conn).await;
        self.noted(reply)
    }

    /// The shared connection, checked first if it may be stale.
    async fn shared(&self) -> Result<ConnectionManager> {
        self.check_if_due().await?;
        Ok(self.conn.clone())
    }

    /// Check the shared connection with INFO server if it may be stale
    /// (see [`health`]).
    pub async fn check_if_due(&self) -> Result<()> {
        if !self.health.needs_check() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut info = redis::cmd("INFO");
        info.arg("server");
        // On a dead connection the first try fails and the manager
        // reconnects; INFO can safely be sent again.
        let reply: redis::RedisResult<String> = match info.query_async(&mut conn).await {
            Err(e) if connection_failed(&e) => info.query_async(&mut conn).await,
            other => other,
        };
        let run_id = match reply {
            Ok(text) => health::run_id(&text),
            Err(e) if connection_failed(&e) => return Err(e.into()),
            // INFO refused (an ACL user without it): nothing to compare.
            Err(_) => None,
        };
        if self.health.checked(run_id) {
            tracing::warn!(node = %self.addr, "Redis was restarted (new run_id): the catalog is rescanned");
        }
        Ok(())
    }

    /// Note how a command on the shared connection ended.
    fn noted<T>(&self, reply: redis::RedisResult<T>) -> Result<T> {
        match reply {
            Ok(v) => {
                self.health.answered();
                Ok(v)
            }
            Err(e) => {
                if connection_failed(&e) {
                    self.health.suspect();
                }
                Err(e.into())
            }
        }
    }

    /// A pooled RESP3 connection to this node (FT.* cursors); give it back
    /// with [`Node::search_done`] once its last command completed.
    pub async fn search_conn(&self) -> Result<resp3::Conn> {
        self.pool.get().await
    }

    pub fn search_done(&self, conn: resp3::Conn) {
        self.pool.put(conn)
    }

    /// Commands (each its arguments) pipelined on a pooled RESP3 connection.
    pub async fn pipeline_own<'c, A: AsRef<[u8]> + 'c>(
        &self,
        commands: impl IntoIterator<Item = &'c [A]>,
    ) -> Result<resp3::Reply> {
        let mut conn = self.pool.get().await?;
        let reply = conn.pipeline(commands).await?;
        self.pool.put(conn);
        Ok(reply)
    }
}
