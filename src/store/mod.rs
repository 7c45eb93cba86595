//! Redis access. This module is the one place that knows how redsql talks to
//! Redis: connection management, SCAN over a key prefix with a safely escaped
//! pattern, and pipelined batch reads. Callers never build SCAN patterns or
//! pipelines themselves, so a cluster-aware implementation can slot in here.

pub mod embedded;
pub mod health;
pub mod json;
pub mod resp3;
pub mod tls;

pub use tls::RedisTls;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Pipeline, Value};
use tokio::sync::mpsc;

use crate::error::{connection_failed, Error, Result};

/// Keys fetched per pipelined round trip.
pub const FETCH_BATCH: usize = 512;
/// SCAN COUNT hint.
pub const SCAN_COUNT: usize = 2000;

/// A handle on one Redis server. Cheap to clone; all clones share one
/// multiplexed connection that reconnects by itself, checked before use
/// when it may be stale (see [`health`]).
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    health: Arc<health::Health>,
    /// RESP3 connections for FT.* commands, whose replies carry RediSearch's
    /// partial-result warnings (RESP2 drops them), read without copying.
    search: Arc<resp3::Pool>,
    /// Whether the server has HSETEX (Redis 8.0+), asked once.
    hsetex: Arc<tokio::sync::OnceCell<bool>>,
    url: String,
    /// The database number (RediSearch indexes only database 0).
    db: i64,
}

impl Store {
    /// Connect to `url` (`redis://[user:pass@]host:port[/db]`; `rediss://`
    /// checks Redis' certificate against the system's roots).
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, &RedisTls::default()).await
    }

    /// Connect to `url`, with these TLS settings if it is `rediss://`.
    pub async fn connect_with(url: &str, tls: &RedisTls) -> Result<Store> {
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
        let db = info.redis_settings().db();
        let health = Arc::new(health::Health::default());
        let search = Arc::new(resp3::Pool::with_health(&info, health.clone(), connector)?);
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(|e| {
            let hint = tls::hint(&e.to_string());
            Error::RedisUnavailable(format!("cannot connect to {}: {e}{hint}", redacted(url)))
        })?;
        Ok(Store {
            conn,
            health,
            search,
            hsetex: Arc::default(),
            url: url.to_string(),
            db,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Run one command.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let mut conn = self.shared().await?;
        let reply = cmd.query_async(&mut conn).await;
        self.noted(reply)
    }

    /// The shared connection, checked first if it may be stale.
    async fn shared(&self) -> Result<ConnectionManager> {
        self.check_if_due().await?;
        Ok(self.conn.clone())
    }

    /// Check the shared connection with INFO server if it may be stale
    /// (see [`health`]).
    async fn check_if_due(&self) -> Result<()> {
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
            tracing::warn!("Redis was restarted (new run_id): the catalog is rescanned");
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

    /// How many times Redis was found restarted (a new process, perhaps
    /// empty) since this store connected; checks first if due.
    pub async fn epoch(&self) -> Result<u64> {
        self.check_if_due().await?;
        Ok(self.health.epoch())
    }

    /// The database number this store reads.
    pub fn db(&self) -> i64 {
        self.db
    }

    /// How many keys of this database have a TTL (`INFO keyspace`).
    pub async fn keys_with_ttl(&self) -> Result<u64> {
        let info: String = self.query(redis::cmd("INFO").arg("keyspace")).await?;
        let prefix = format!("db{}:", self.db);
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').find_map(|kv| kv.strip_prefix("expires=")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    }

    /// A pooled RESP3 connection of its own (FT.* cursors, bulk writes);
    /// give it back with [`Store::search_done`] once its last command completed.
    pub async fn search_conn(&self) -> Result<resp3::Conn> {
        self.search.get().await
    }

    pub fn search_done(&self, conn: resp3::Conn) {
        self.search.put(conn)
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

    /// Run a pipeline; a failing command inside it comes back as an error value.
    pub async fn pipeline(&self, pipe: &Pipeline) -> Result<Vec<Value>> {
        let mut conn = self.shared().await?;
        let reply = pipe.query_async(&mut conn).await;
        self.noted(reply)
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
        let mut conn = self.search.get().await?;
        let reply = conn.pipeline(commands).await?;
        self.search.put(conn);
        Ok(reply)
    }

    /// [`Store::pipeline_own`] for `n` commands already encoded by
    /// [`resp3::encode_commands`].
    pub async fn pipeline_encoded(&self, encoded: &[u8], n: usize) -> Result<resp3::Reply> {
        let mut conn = self.search.get().await?;
        conn.send(encoded).await?;
        let reply = conn.receive(n).await?;
        self.search.put(conn);
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

    pub async fn has_search(&self) -> bool {
        self.query::<Value>(&redis::cmd("FT._LIST")).await.is_ok()
    }

    /// Stream the distinct keys of one table (`<prefix><id>` with no `:` in
    /// the id) as batches. Keys of nested tables (`<prefix><x>:<id>`) are left
    /// out. SCAN may repeat a key; each key is sent once (remembered by a
    /// 128-bit fingerprint, XXH3 seeded at random per scan, 16 bytes a key
    /// rather than the key itself; two distinct keys share one with a chance
    /// of about n²/2¹²⁹). Two SipHashes a key were a tenth of a full scan's
    /// CPU; XXH3 is one pass.
    pub fn scan_table_keys(&self, prefix: &str, key_type: &str) -> mpsc::Receiver<Result<Vec<Vec<u8>>>> {
        let (tx, rx) = mpsc::channel(8);
        let store = self.clone();
        let pattern = format!("{}*", escape_glob(prefix));
        let plen = prefix.len();
        let key_type = key_type.to_string();
        tokio::spawn(async move {
            let mut seen: HashSet<u128, std::hash::BuildHasherDefault<Fingerprint>> = HashSet::default();
            // Seeded per scan, so no set of key names collides on purpose.
            let seed = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8);
            let fingerprint = |k: &[u8]| xxhash_rust::xxh3::xxh3_128_with_seed(k, seed);
            // One connection of its own for the whole SCAN, read by the RESP3 reader.
            let mut conn = match store.search.get().await {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let count = SCAN_COUNT.to_string();
            let mut cursor = b"0".to_vec();
            loop {
                let args: [&[u8]; 8] = [
                    b"SCAN",
                    &cursor,
                    b"MATCH",
                    pattern.as_bytes(),
                    b"COUNT",
                    count.as_bytes(),
                    b"TYPE",
                    key_type.as_bytes(),
                ];
                let page = conn.call(&args).await.and_then(|reply| {
                    let mut parts = reply.frame().elements();
                    let (Some(next), Some(keys)) = (parts.next().and_then(|f| f.bytes()), parts.next()) else {
                        return Err(Error::Redis(format!("unexpected SCAN reply {:?}", reply.frame())));
                    };
                    let batch: Vec<Vec<u8>> = keys
                        .elements()
                        .filter_map(|k| k.bytes())
                        .filter(|k| k.len() >= plen && !k[plen..].contains(&b':'))
                        .filter(|k| seen.insert(fingerprint(k)))
                        .map(<[u8]>::to_vec)
                        .collect();
                    Ok((next.to_vec(), batch))
                });
                let (next, mut batch) = match page {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                while !batch.is_empty() {
                    let rest = batch.split_off(batch.len().min(FETCH_BATCH));
                    if tx.send(Ok(batch)).await.is_err() {
                        return; // the reader went away
                    }
                    batch = rest;
                }
                if next == b"0" {
                    store.search.put(conn);
                    return;
                }
                cursor = next;
            }
        });
        rx
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
        let mut pipe = redis::pipe();
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
            let mut pipe = redis::pipe();
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
        let mut pipe = redis::pipe();
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
        let mut pipe = redis::pipe();
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
        let mut pipe = redis::pipe();
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

/// Hashes a key fingerprint, which is already a random hash, by taking its
/// low bits: SipHash over 1M fingerprints was 9% of a full scan's CPU.
#[derive(Default)]
struct Fingerprint(u64);

impl std::hash::Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
    fn finish(&self) -> u64 {
        self.0
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

/// Escape the glob metacharacters of Redis MATCH patterns (`* ? [ ] \`), so a
/// prefix is matched literally and can never widen a SCAN.
pub fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
