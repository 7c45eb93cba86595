//! Runs every `sql-tests/**/*.slt` against a live redsql over a real Redis.
//! Add cases to `.slt` files; no Rust change is needed. Before a file `x.slt`
//! runs, db 15 of the test Redis is emptied (key by key: FLUSHDB would drop
//! every RediSearch index, whatever its db) and seeded from `x.redis` beside
//! it, or else from `seed.redis` in its directory: Redis commands, one per line.
//! `SLT_FILTER=substring` runs only matching files.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sqllogictest::{DBOutput, DefaultColumnType};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

/// Errors read `SQLSTATE: message`, so `statement error 42P01` matches the code.
fn slt_error(e: tokio_postgres::Error) -> SltError {
    match e.as_db_error() {
        Some(db) => SltError(format!("{}: {}", db.code().code(), db.message())),
        None => SltError(e.to_string()),
    }
}

struct Redsql(Client);

#[async_trait]
impl sqllogictest::AsyncDB for Redsql {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let msgs = self.0.simple_query(sql).await.map_err(slt_error)?;
        let mut rows = Vec::new();
        let mut columns = None;
        let mut affected = 0;
        for m in msgs {
            match m {
                SimpleQueryMessage::RowDescription(cols) => columns = Some(cols.len()),
                SimpleQueryMessage::Row(r) => rows.push(
                    (0..r.len())
                        .map(|i| match r.get(i) {
                            None => "NULL".to_string(),
                            Some("") => "(empty)".to_string(),
                            Some(v) => v.to_string(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => affected = n,
                _ => {}
            }
        }
        match columns {
            Some(n) => Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            }),
            None => Ok(DBOutput::StatementComplete(affected)),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "redsql"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            slt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
}

/// Split a seed line into arguments, honouring double quotes and `\"`.
pub fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut has) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => cur.extend(chars.next()),
            '"' => {
                quoted = !quoted;
                has = true;
            }
            c if c.is_whitespace() && !quoted => {
                if has || !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        args.push(cur);
    }
    args
}

/// Empty the database and seed it for `path` (see the module doc). On a
/// cluster (`nodes`: its masters' URLs) every master is emptied key by key.
/// The seed commands go through redsql's own Store (on a cluster its routing:
/// a key sent to the wrong master would be refused with MOVED, not stored).
async fn seed(url: &str, nodes: &[String], path: &Path) {
    let own = path.with_extension("redis");
    let seed = if own.exists() {
        own
    } else {
        path.with_file_name("seed.redis")
    };
    let text = std::fs::read_to_string(&seed).unwrap_or_default();
    let lines: Vec<Vec<String>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(split_args)
        .collect();
    // Key by key: a FLUSHDB (of any db) makes RediSearch drop every index,
    // other tests' in db 0 included. On a cluster, every master its own keys.
    let single = [url.to_string()];
    for node in if nodes.is_empty() { &single[..] } else { nodes } {
        let mut con = crate::common::redis(node).await;
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query_async(&mut con).await.unwrap();
        if keys.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("UNLINK").arg(k).ignore();
        }
        let () = pipe.query_async(&mut con).await.unwrap();
    }
    if lines.is_empty() {
        return;
    }
    let store = redsql::store::Store::connect(url).await.unwrap();
    let mut pipe = redsql::store::Pipe::new();
    for args in &lines {
        pipe.cmd(&args[0]).arg(&args[1..]).ignore();
    }
    store
        .pipeline(&pipe)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_tests() {
    run_files(&format!("{}/15", crate::common::redis_url()), &[]).await;
}

/// The same files on a 3-master Redis Cluster, with the same expected
/// answers (the cluster test run of scripts/test.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_tests_on_a_cluster() {
    let (url, nodes, _lock) = crate::common::cluster().await;
    run_files(&url, &nodes).await;
}

/// Run every `.slt` file (or those matching `SLT_FILTER`) against a fresh
/// redsql over `url`.
async fn run_files(url: &str, nodes: &[String]) {
    let mut files = Vec::new();
    slt_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sql-tests"), &mut files);
    files.sort();
    let filter = std::env::var("SLT_FILTER").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for file in files.iter().filter(|f| f.to_string_lossy().contains(&filter)) {
        seed(url, nodes, file).await;
        let server = crate::common::start_server(url).await;
        let addr = server.local_addr();
        let mut runner = sqllogictest::Runner::new(|| async move {
            let conf = format!("host={} port={} user=slt", addr.ip(), addr.port());
            let (client, conn) = tokio_postgres::connect(&conf, NoTls).await.map_err(slt_error)?;
            tokio::spawn(conn);
            Ok(Redsql(client))
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{e}", file.display()));
        }
        ran += 1;
        server.shutdown().await;
    }
    assert!(ran > 0 || !filter.is_empty(), "no .slt files found");
    assert!(
        failures.is_empty(),
        "{} of {ran} files failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!("{ran} .slt files passed on {url}");
}
