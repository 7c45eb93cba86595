//! Redis access. This module is the one place that knows how redsql talks to
//! Redis: connection management, SCAN over a key prefix with a safely escaped
//! pattern, and pipelined batch reads. Callers never build SCAN patterns or
//! pipelines themselves, so a cluster-aware implementation can slot in here.

pub mod cluster;
pub mod embedded;
pub mod health;
pub mod json;
pub mod node;
pub mod pipe;
pub mod resp3;
mod scan;
pub mod tls;

pub use pipe::Pipe;
pub use scan::escape_glob;
pub use tls::RedisTls;

use std::sync::Arc;

use redis::Value;

use crate::error::{Error, Result};
use cluster::Cluster;
use node::Node;

/// Keys fetched per pipelined round trip.
pub const FETCH_BATCH: usize = 512;
/// SCAN COUNT hint.
pub const SCAN_COUNT: usize = 2000;

/// A handle on one Redis server or a Redis Cluster. Cheap to clone; all
/// clones share the same connections. Callers never learn which it is,
/// except where a cluster cannot do the same (RediSearch pushdown).
#[derive(Clone)]
pub struct Store {
    /// The server; on a cluster, the first master found at connect time
    /// (its pool serves [`Store::search_conn`]).
    node: Arc<Node>,
    cluster: Option<Arc<Cluster>>,
    /// Whether the server has HSETEX (Redis 8.0+), asked once.
    hsetex: Arc<tokio::sync::OnceCell<bool>>,
    url: String,
}

impl Store {
    /// Connect to `url` (`redis://[user:pass@]host:port[/db]`; `rediss://`
    /// checks Redis' certificate against the system's roots).
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, &RedisTls::default()).await
    }

    /// Connect to `url`, with these TLS settings if it is `rediss://`;
    /// `redis+cluster://host:port[,host:port...]` names a cluster.
    pub async fn connect_with(url: &str, tls: &RedisTls) -> Result<Store> {
        let (node, cluster) = if cluster::is_cluster_url(url) {
            let c = Cluster::connect(url, tls).await?;
            let first = c.topology().masters[0].clone();
            (first, Some(Arc::new(c)))
        } else {
            (Arc::new(Node::connect(url, tls).await?), None)
        };
        Ok(Store {
            node,
            cluster,
            hsetex: Arc::default(),
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// The masters: the one server, or every master of the cluster.
    pub fn masters(&self) -> Vec<Arc<Node>> {
        match &self.cluster {
            Some(c) => c.topology().masters.clone(),
            None => vec![self.node.clone()],
        }
    }

    /// Run one command (on a cluster, on the master of its key's slot).
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let Some(cluster) = &self.cluster else {
            return self.node.query(cmd).await;
        };
        let mut one = Pipe::new();
        one.ignore_errors().add_command(cmd.clone());
        let reply = pipe::run(cluster, &one).await?.pop().unwrap_or(Value::Nil);
        if let Value::ServerError(e) = reply {
            return Err(redis::RedisError::from(e).into());
        }
        redis::from_redis_value(reply).map_err(|e| Error::Redis(e.to_string()))
    }

    /// How many times Redis was found restarted (a new process, perhaps
    /// empty) since this store connected, or (on a cluster) its masters
    /// or slots changed; checks first if due.
    pub async fn epoch(&self) -> Result<u64> {
        let Some(cluster) = &self.cluster else {
            self.node.check_if_due().await?;
            return Ok(self.node.health.epoch());
        };
        let topology = cluster.topology();
        let mut restarts = 0u64;
        for node in &topology.masters {
            node.check_if_due().await?;
            restarts += node.health.epoch();
        }
        Ok((topology.generation << 32).wrapping_add(restarts))
    }

    /// The database number this store reads.
    pub fn db(&self) -> i64 {
        self.node.db
    }

    /// How many keys of this database have a TTL (`INFO keyspace` of
    /// every master).
    pub async fn keys_with_ttl(&self) -> Result<u64> {
        let prefix = format!("db{}:", self.node.db);
        let mut n = 0;
        for node in self.masters() {
            let info: String = node.query(redis::cmd("INFO").arg("keyspace")).await?;
            n += info
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .and_then(|rest| rest.split(',').find_map(|kv| kv.strip_prefix("expires=")))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        Ok(n)
    }

    /// A pooled RESP3 connection of its own (FT.* cursors, bulk writes);
    /// give it back with [`Store::search_done`] once its last command
    /// completed. On a cluster, a connection to one master: for commands
    /// that need no other.
    pub async fn search_conn(&self) -> Result<resp3::Conn> {
        self.node.search_conn().await
    }

    pub fn search_done(&self, conn: resp3::Conn) {
        self.node.search_done(conn)
    }

    /// The exact number of distinct keys of one table (SCAN, deduplicated).
    pub async fn count_table_keys(&self, prefix: &str, key_type: &str) -> Result<u64> {
        let mut rx = self.scan_table_keys(prefix, key_type);
        let mut n = 0u64;
        while let Some(batch) = rx.recv().await {
            n += batch?.len() as u64;
        }
        Ok(n)
    }

    /// Run a pipeline (on a cluster, each command on its slot's master).
    pub async fn pipeline(&self, pipe: &Pipe) -> Result<Vec<Value>> {
        match &self.cluster {
            Some(cluster) => pipe::run(cluster, pipe).await,
            None => self.node.pipeline(pipe.redis()).await,
        }
    }

    /// Run commands (each its arguments) pipelined on a connection of their
    /// own, replies read by redsql's RESP3 reader: one frame per command,
    /// a failing command an error frame. For bulk work (scans, loads),
    /// where the shared connection's reply parsing would cost more than the
    /// round trip it saves.
    pub async fn pipeline_own<'c, A: AsRef<[u8]> + 'c>(
        &self,
        commands: impl IntoIterator<Item = &'c [A]>,
    ) -> Result<resp3::Reply> {
        match &self.cluster {
            Some(cluster) => pipe::run_own(cluster, &commands.into_iter().collect::<Vec<_>>()).await,
            None => self.node.pipeline_own(commands).await,
        }
    }

    /// [`Store::pipeline_own`] for `n` commands already encoded by
    /// [`resp3::encode_commands`]. One node only: a cluster's callers send
    /// commands by [`Store::pipeline_own`], which routes them.
    pub async fn pipeline_encoded(&self, encoded: &[u8], n: usize) -> Result<resp3::Reply> {
        if self.is_cluster() {
            return Err(Error::Internal(
                "pre-encoded commands cannot be routed on a Redis Cluster".into(),
            ));
        }
        let mut conn = self.node.pool.get().await?;
        conn.send(encoded).await?;
        let reply = conn.receive(n).await?;
        self.node.pool.put(conn);
        Ok(reply)
    }

    /// Whether the server knows HSETEX (Redis 8.0 and later), which writes a
    /// new hash with `FNX` (only if none of its fields exist) in one command.
    pub async fn has_hsetex(&self) -> bool {
        *self
            .hsetex
            .get_or_init(|| async {
                let info: Result<Value> = self.query(redis::cmd("COMMAND").arg("INFO").arg("HSETEX")).await;
                matches!(info, Ok(Value::Array(a)) if matches!(a.first(), Some(Value::Array(_))))
            })
            .await
    }

    /// Whether RediSearch is loaded (on a cluster: in every master, each of
    /// which indexes only its own keys; see `catalog::shards`).
    pub async fn has_search(&self) -> bool {
        for node in self.masters() {
            if node.query::<Value>(&redis::cmd("FT._LIST")).await.is_err() {
                return false;
            }
        }
        true
    }

    /// The master at `addr` (the one server of a single node, whatever its
    /// address), for commands that must run on that node: a RediSearch
    /// index lives on one node, not in a key's slot.
    pub fn master(&self, addr: &str) -> Result<Arc<Node>> {
        match &self.cluster {
            None => Ok(self.node.clone()),
            Some(c) => c.topology().master(addr).cloned().ok_or_else(|| {
                Error::RedisUnavailable(format!(
                    "{addr} is no longer a master of the Redis Cluster (its slots moved or it failed over)"
                ))
            }),
        }
    }

    /// Before reading every master at once (see [`cluster::Cluster::steady`]):
    /// an error while a slot is being migrated; 0 on one node.
    pub async fn steady(&self) -> Result<u64> {
        match &self.cluster {
            Some(c) => c.steady().await,
            None => Ok(0),
        }
    }

    /// After reading every master: an error when a slot moved since
    /// `generation` or is being migrated (nothing on one node).
    pub async fn still_steady(&self, generation: u64) -> Result<()> {
        match &self.cluster {
            Some(c) => c.still_steady(generation).await,
            None => Ok(()),
        }
    }

    /// Ask a cluster for its slot map again (nothing on one node).
    pub async fn refresh_slots(&self) -> Result<()> {
        match &self.cluster {
            Some(c) => c.refresh(c.topology().generation).await,
            None => Ok(()),
        }
    }

    /// The address of the master serving `key`'s hash slot (on one node,
    /// that node's); None for a slot no master serves.
    pub fn master_of(&self, key: &[u8]) -> Option<String> {
        match &self.cluster {
            None => Some(self.node.addr.clone()),
            Some(c) => c.topology().node_of_slot(cluster::slot(key)).map(|n| n.addr.clone()),
        }
    }

    /// HMGET `fields` of every key in one pipelined round trip on the shared
    /// multiplexed connection, which sends the commands of concurrent
    /// sessions together: the read for key lookups, where many small reads
    /// share round trips (bulk reads use [`Store::hmget_rows`]). Keys whose
    /// fields are all absent are checked with EXISTS, so a deleted key
    /// yields `None` instead of a row of NULLs.
    pub async fn hmget_batch(&self, keys: &[Vec<u8>], fields: &[String]) -> Result<Vec<Option<Vec<Value>>>> {
        if fields.is_empty() {
            return Ok(keys.iter().map(|_| Some(Vec::new())).collect());
        }
        let mut pipe = Pipe::new();
        pipe.ignore_errors();
        for key in keys {
            pipe.cmd("HMGET").arg(key).arg(fields);
        }
        let replies = self.pipeline(&pipe).await?;
        let mut rows = Vec::with_capacity(keys.len());
        let mut all_nil = Vec::new();
        for (i, reply) in replies.into_iter().enumerate() {
            match reply {
                Value::Array(values) => {
                    if values.iter().all(|v| matches!(v, Value::Nil)) {
                        all_nil.push(i);
                    }
                    rows.push(Some(values));
                }
                // WRONGTYPE: the key changed type since the SCAN; it is no longer a row.
                Value::ServerError(_) => rows.push(None),
                other => {
                    return Err(Error::Redis(format!("unexpected HMGET reply {other:?}")));
                }
            }
        }
        if !all_nil.is_empty() {
            let mut pipe = Pipe::new();
            for &i in &all_nil {
                pipe.cmd("EXISTS").arg(&keys[i]);
            }
            let exists = self.pipeline(&pipe).await?;
            for (&i, e) in all_nil.iter().zip(exists) {
                if !matches!(e, Value::Int(1)) {
                    rows[i] = None;
                }
            }
        }
        Ok(rows)
    }

    /// HMGET `fields` of every key, pipelined on a RESP3 connection of its
    /// own and read without copying (the scan path's bulk read; several run
    /// at once): one reply frame per key (an array of values,
    /// NULL for an absent field), and whether each key is a row. A key whose
    /// fields are all absent is checked with EXISTS, so a key deleted since
    /// the SCAN is no row rather than a row of NULLs; a key that changed type
    /// (WRONGTYPE) is none either. With no fields, each frame is EXISTS'
    /// answer (no values).
    pub async fn hmget_rows(&self, keys: &[Vec<u8>], fields: &[String]) -> Result<(resp3::Reply, Vec<bool>)> {
        if fields.is_empty() {
            let reply = self.exists_each(keys.iter()).await?;
            let rows = reply.frames().map(|e| e.int() == Some(1)).collect();
            return Ok((reply, rows));
        }
        let mut args: Vec<&[u8]> = Vec::with_capacity(2 + fields.len());
        args.push(b"HMGET");
        args.push(b"");
        args.extend(fields.iter().map(|f| f.as_bytes()));
        let commands: Vec<Vec<&[u8]>> = keys
            .iter()
            .map(|k| {
                let mut a = args.clone();
                a[1] = k;
                a
            })
            .collect();
        let reply = self.pipeline_own(commands.iter().map(Vec::as_slice)).await?;
        let mut rows = Vec::with_capacity(keys.len());
        let mut all_absent = Vec::new();
        for (i, frame) in reply.frames().enumerate() {
            if frame.error().is_some() {
                rows.push(false);
                continue;
            }
            if !frame.is_array() {
                return Err(Error::Redis(format!("unexpected HMGET reply {frame:?}")));
            }
            if frame.elements().all(|v| v.is_null()) {
                all_absent.push(i);
            }
            rows.push(true);
        }
        if !all_absent.is_empty() {
            let replies = self.exists_each(all_absent.iter().map(|&i| &keys[i])).await?;
            for (&i, e) in all_absent.iter().zip(replies.frames()) {
                rows[i] = e.int() == Some(1);
            }
        }
        Ok((reply, rows))
    }

    /// One pipelined EXISTS per key; one reply frame each (1 or 0).
    async fn exists_each<'k>(&self, keys: impl Iterator<Item = &'k Vec<u8>>) -> Result<resp3::Reply> {
        let commands: Vec<[&[u8]; 2]> = keys.map(|k| [b"EXISTS".as_slice(), k]).collect();
        self.pipeline_own(commands.iter().map(|c| c.as_slice())).await
    }

    /// The keys that exist and hold `key_type` (one pipelined TYPE per key).
    pub async fn keys_of_type(&self, keys: Vec<Vec<u8>>, key_type: &str) -> Result<Vec<Vec<u8>>> {
        if keys.is_empty() {
            return Ok(keys);
        }
        let mut pipe = Pipe::new();
        for k in &keys {
            pipe.cmd("TYPE").arg(k);
        }
        let types = self.pipeline(&pipe).await?;
        Ok(keys
            .into_iter()
            .zip(types)
            .filter(|(_, t)| matches!(t, Value::SimpleString(s) if s == key_type))
            .map(|(k, _)| k)
            .collect())
    }

    /// Remaining time to live in seconds of every key (None: no expiry or gone).
    pub async fn ttl_batch(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<i64>>> {
        let mut pipe = Pipe::new();
        for key in keys {
            pipe.cmd("TTL").arg(key);
        }
        Ok(self
            .pipeline(&pipe)
            .await?
            .into_iter()
            .map(|v| match v {
                Value::Int(s) if s >= 0 => Some(s),
                _ => None,
            })
            .collect())
    }

    /// HGETALL of every key in one pipelined round trip (used for sampling).
    pub async fn hgetall_batch(&self, keys: &[Vec<u8>]) -> Result<Vec<Vec<(Vec<u8>, Vec<u8>)>>> {
        let mut pipe = Pipe::new();
        pipe.ignore_errors();
        for key in keys {
            pipe.cmd("HGETALL").arg(key);
        }
        let replies = self.pipeline(&pipe).await?;
        Ok(replies
            .into_iter()
            .map(|reply| {
                let items: Vec<Value> = match reply {
                    Value::Array(v) => v,
                    Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                    _ => Vec::new(),
                };
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    if let (Value::BulkString(k), Value::BulkString(v)) = (k, v) {
                        pairs.push((k, v));
                    }
                }
                pairs
            })
            .collect())
    }
}

/// A Redis URL fit for messages and logs: its password replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let Some(at) = url[start..end].rfind('@').map(|i| start + i) else {
        return url.to_string();
    };
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_glob, redacted};

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(redacted("redis://u:pw@h:1/2"), "redis://u:***@h:1/2");
        assert_eq!(redacted("redis://:p:w@d@h:1"), "redis://:***@h:1");
        assert_eq!(redacted("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(redacted("redis://user@h:1"), "redis://user@h:1");
        assert_eq!(redacted("redis+unix:///tmp/r.sock"), "redis+unix:///tmp/r.sock");
    }

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(escape_glob("sale"), "sale");
        assert_eq!(escape_glob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
    }
}
