//! Shared helpers: a real redsql server on port 0 over a real Redis, and a
//! real tokio-postgres client. `make test` provides the Redis servers.
#![allow(dead_code)]

mod redis_proc;
pub use redis_proc::*;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use redsql::catalog::CatalogOptions;
use redsql::{Config, Server};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Redis with RediSearch and RedisJSON (started by `make test`).
pub fn redis_url() -> String {
    std::env::var("REDSQL_TEST_REDIS_URL").expect("REDSQL_TEST_REDIS_URL is not set: run the tests with `make test`")
}

/// Redis without modules (started by `make test`).
pub fn plain_redis_url() -> String {
    std::env::var("REDSQL_TEST_PLAIN_REDIS_URL")
        .expect("REDSQL_TEST_PLAIN_REDIS_URL is not set: run the tests with `make test`")
}

/// The 3-master Redis Cluster started by `make test`: its URL and its
/// masters' own URLs, and a lock the cluster tests hold (the slt run empties
/// every master).
pub async fn cluster() -> (String, Vec<String>, tokio::sync::MutexGuard<'static, ()>) {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let url = std::env::var("REDSQL_TEST_CLUSTER_URL")
        .expect("REDSQL_TEST_CLUSTER_URL is not set: run the tests with `make test`");
    let nodes = url
        .trim_start_matches("redis+cluster://")
        .split(',')
        .map(|a| format!("redis://{a}"))
        .collect();
    (url, nodes, LOCK.lock().await)
}

/// A table name no other test uses.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{name}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub async fn start_server(redis_url: &str) -> Server {
    start_server_with_data_dir(redis_url, None).await
}

/// A server whose `--data-dir` is `data_dir`.
pub async fn start_server_with_data_dir(redis_url: &str, data_dir: Option<&std::path::Path>) -> Server {
    Server::start(Config {
        listen: "127.0.0.1:0".into(),
        redis_url: Some(redis_url.to_string()),
        redis_tls: Default::default(),
        catalog: CatalogOptions {
            sample_size: 1000,
            refresh_interval: Duration::from_secs(2),
        },
        demo: false,
        data_dir: data_dir.map(|d| d.to_path_buf()),
        auth: Default::default(),
    })
    .await
    .expect("redsql starts")
}

/// A server on `listen` with these authentication rules, if it starts.
pub async fn try_start_server(
    redis_url: &str,
    listen: &str,
    auth: redsql::server::AuthConfig,
) -> redsql::Result<Server> {
    Server::start(Config {
        listen: listen.into(),
        redis_url: Some(redis_url.to_string()),
        auth,
        ..Default::default()
    })
    .await
}

/// A connected client plus the notices the server sends it.
pub struct Conn {
    pub client: Client,
    pub notices: mpsc::UnboundedReceiver<String>,
}

impl Conn {
    /// Notices received so far.
    pub fn drain_notices(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(n) = self.notices.try_recv() {
            out.push(n);
        }
        out
    }
}

/// A session with pushdown off (`SET redsql.pushdown = off`): the scan
/// path's answers, to compare pushed-down ones with.
pub async fn connect_scanning(server: &Server) -> Conn {
    let c = connect(server).await;
    c.client.batch_execute("SET redsql.pushdown = off").await.unwrap();
    c
}

pub async fn connect(server: &Server) -> Conn {
    let addr = server.local_addr();
    let conf = format!("host={} port={} user=test dbname=redsql", addr.ip(), addr.port());
    let (client, mut connection) = tokio_postgres::connect(&conf, NoTls).await.expect("connect");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notice(n) = m {
                let _ = tx.send(n.message().to_string());
            }
        }
    });
    Conn { client, notices: rx }
}

pub async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection")
}

/// HSET each row (field/value pairs) under `<table>:<id>`.
pub async fn seed(url: &str, table: &str, rows: &[(&str, &[(&str, &str)])]) {
    let mut con = redis(url).await;
    let mut pipe = redis::pipe();
    for (id, fields) in rows {
        pipe.cmd("HSET").arg(format!("{table}:{id}")).arg(*fields).ignore();
    }
    let () = pipe.query_async(&mut con).await.expect("seed");
}

/// Simple-protocol query → rows of text (None for NULL).
pub async fn texts(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let msgs = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| match e.as_db_error() {
            Some(db) => panic!("{sql}: {} {}", db.code().code(), db.message()),
            None => panic!("{sql}: {e}"),
        });
    msgs.into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The SQLSTATE of a failing statement.
pub async fn sqlstate(client: &Client, sql: &str) -> String {
    match client.simple_query(sql).await {
        Ok(_) => panic!("expected {sql} to fail"),
        Err(e) => e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| format!("no code: {e}")),
    }
}

/// The real psql against `addr` (no psqlrc, stdin closed), under a 120 s
/// timeout so a hang fails the test instead of the whole run. Call it from
/// `spawn_blocking` on a multi-thread runtime: the server is in-process.
pub fn psql_command(addr: std::net::SocketAddr) -> std::process::Command {
    let mut cmd = std::process::Command::new("timeout");
    cmd.args(["120", "psql", "-X"])
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-U", "test", "-d", "redsql"])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(std::process::Stdio::null());
    cmd
}

/// A server over its own embedded Redis (with modules) and no background
/// catalog refresh, so the only commands Redis sees are the ones tests cause.
pub async fn private_server(sample_size: usize) -> Server {
    Server::start(Config {
        listen: "127.0.0.1:0".into(),
        redis_url: None,
        catalog: CatalogOptions {
            sample_size,
            refresh_interval: Duration::from_secs(3600),
        },
        ..Default::default()
    })
    .await
    .expect("starts with an embedded Redis")
}

/// Calls of a Redis command since the last CONFIG RESETSTAT.
pub async fn calls(con: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(con).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// The count a failed COPY reports (`...; N rows were written before it`).
pub fn copy_written(msg: &str) -> u64 {
    if msg.contains("no rows were written") {
        return 0;
    }
    let before = msg
        .rfind(" row")
        .unwrap_or_else(|| panic!("COPY's error does not say how many rows were written: {msg}"));
    msg[..before]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {msg}"))
}

/// Run openssl with these arguments in `dir`.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
