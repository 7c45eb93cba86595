//! Faults under reads and a blocked Redis: Redis killed (SIGKILL) while a
//! full scan, a pushed-down FT query and a COPY TO STDOUT stream their rows,
//! Redis frozen (SIGSTOP) or busy with a script. Every client gets an error,
//! never a hang (each wait is bounded by [`BOUND`]); the server lives on;
//! the next statement after Redis is back works; a Redis that comes back
//! empty leaves a consistent catalog; a session's statement_timeout fires
//! while Redis does not answer, and sessions that do not need Redis are not
//! held up. Writes: `faults_write.rs`. Each test has its own Redis
//! (`OwnRedis`, with modules where pushdown matters) and its own redsql.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::*;

/// Long enough that only a hang reaches it, even on a busy 2-core machine.
pub const BOUND: Duration = Duration::from_secs(30);

/// `f`, or a panic naming `what` if it has not finished within [`BOUND`].
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(BOUND, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {BOUND:?} (a hang)"),
    }
}

/// SQLSTATEs by which a statement says Redis is gone (08006) or cannot
/// answer now (57P03).
const REDIS_DOWN: [&str; 2] = ["08006", "57P03"];

/// The message of `e`, which must be a server error saying Redis is down.
pub fn redis_down(what: &str, e: &tokio_postgres::Error) -> String {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("{what}: expected a server error, got {e:?}"));
    assert!(
        REDIS_DOWN.contains(&db.code().code()),
        "{what}: expected SQLSTATE 08006 or 57P03, got {} {}",
        db.code().code(),
        db.message()
    );
    db.message().to_string()
}

/// Bytes of filler per row, so that a result is far larger than what
/// sockets and redsql's channels can hold ahead of a client.
pub const PAD: usize = 200;

/// Declare `t` (id, amount, v, pad) and HSET rows 1..=n straight into Redis;
/// `v` is "old".
pub async fn seed_rows(c: &Client, url: &str, t: &str, n: u64) {
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, amount double precision, v text, pad text)"
    ))
    .await
    .unwrap();
    let mut con = redis(url).await;
    let pad = "p".repeat(PAD);
    let ids: Vec<u64> = (1..=n).collect();
    for chunk in ids.chunks(5000) {
        let mut pipe = redis::pipe();
        for id in chunk {
            let amount = format!("{}.5", id % 1000);
            pipe.cmd("HSET")
                .arg(format!("{t}:{id}"))
                .arg(&[("amount", amount.as_str()), ("v", "old"), ("pad", pad.as_str())])
                .ignore();
        }
        let () = pipe.query_async(&mut con).await.unwrap();
    }
}

/// Rows of a simple query, bounded; panics on an error.
pub async fn rows(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    bounded(sql, texts(c, sql)).await
}

/// The SQLSTATE of a statement that must fail, bounded.
pub async fn fails(c: &Client, sql: &str) -> String {
    bounded(sql, sqlstate(c, sql)).await
}

/// EXPLAIN of `sql`, one string.
async fn plan(c: &Client, sql: &str) -> String {
    rows(c, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Poll until EXPLAIN of `sql` shows RediSearch doing the work (the index
/// is built in the background).
async fn wait_pushed_down(c: &Client, sql: &str) {
    for _ in 0..300 {
        if plan(c, sql).await.contains("FT.AGGREGATE") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sql} is never pushed down: {}", plan(c, sql).await);
}

/// Rows in the big tables of these tests: about 12 MB of result, several
/// times what socket buffers and redsql's chunk channel hold, so a reader
/// that received its first row still needs Redis for the rest.
const ROWS: u64 = 50_000;

/// Read until the end or an error: (rows or bytes seen, the error).
async fn drain<S, T>(what: &str, stream: S, weight: impl Fn(&T) -> usize) -> (usize, Option<tokio_postgres::Error>)
where
    S: futures::Stream<Item = Result<T, tokio_postgres::Error>>,
{
    bounded(what, async {
        futures::pin_mut!(stream);
        let mut seen = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(x) => seen += weight(&x),
                Err(e) => return (seen, Some(e)),
            }
        }
        (seen, None)
    })
    .await
}

fn data_row(m: &SimpleQueryMessage) -> usize {
    usize::from(matches!(m, SimpleQueryMessage::Row(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_read_fails_every_reader_and_an_empty_redis_leaves_a_consistent_catalog() {
    let mut redis = OwnRedis::with_modules().await;
    let url = redis.url();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let t = "big";
    seed_rows(&c, &url, t, ROWS).await;
    rows(&c, &format!("CREATE INDEX ON {t} (amount)")).await;
    let scan_sql = format!("SELECT id, amount, pad FROM {t}");
    let ft_sql = format!("SELECT id, amount, pad FROM {t} WHERE amount >= 0");
    wait_pushed_down(&c, &ft_sql).await;
    assert!(
        !plan(&c, &scan_sql).await.contains("FT."),
        "the full scan reads by SCAN"
    );

    // Three readers, each stopped after its first row (or COPY chunk): a
    // full scan (simple protocol), the pushed-down query (extended
    // protocol, FT cursor pages), and COPY TO STDOUT.
    let (scan, ft, out) = (connect(&server).await, connect(&server).await, connect(&server).await);
    let scan_stream = bounded("scan starts", scan.client.simple_query_raw(&scan_sql))
        .await
        .unwrap();
    let ft_stream = bounded(
        "FT query starts",
        ft.client.query_raw(&ft_sql, std::iter::empty::<i64>()),
    )
    .await
    .unwrap();
    let copy_stream = bounded("COPY TO starts", out.client.copy_out(&format!("COPY {t} TO STDOUT")))
        .await
        .unwrap();
    futures::pin_mut!(scan_stream, ft_stream, copy_stream);
    let mut first_scan = 0;
    while first_scan == 0 {
        let m = bounded("the scan's first row", scan_stream.next()).await;
        first_scan = data_row(&m.expect("a row").expect("no error before the kill"));
    }
    bounded("the FT query's first row", ft_stream.next())
        .await
        .expect("a row")
        .expect("no error before the kill");
    bounded("COPY's first data", copy_stream.next())
        .await
        .expect("data")
        .expect("no error before the kill");

    redis.kill();

    let (n, e) = drain("the scan after the kill", scan_stream, data_row).await;
    let e = e.unwrap_or_else(|| panic!("the scan ended without an error after {n} more rows"));
    println!("scan: {} more rows, then {}", n, redis_down("scan", &e));
    let (n, e) = drain("the FT query after the kill", ft_stream, |_| 1).await;
    let e = e.unwrap_or_else(|| panic!("the FT query ended without an error after {n} more rows"));
    println!("FT query: {} more rows, then {}", n, redis_down("FT query", &e));
    let (n, e) = drain("COPY TO after the kill", copy_stream, |b| b.len()).await;
    let e = e.unwrap_or_else(|| panic!("COPY TO ended without an error after {n} more bytes"));
    println!("COPY TO: {} more bytes, then {}", n, redis_down("COPY TO", &e));

    // Every session goes on: statements that need Redis fail, the others work.
    for (name, s) in [("scan", &scan), ("FT", &ft), ("COPY", &out)] {
        assert_eq!(
            rows(&s.client, "SELECT 1").await,
            vec![vec![Some("1".into())]],
            "{name}"
        );
    }
    let code = fails(&c, &format!("SELECT count(*) FROM {t}")).await;
    assert!(REDIS_DOWN.contains(&code.as_str()), "{code}");
    assert!(REDIS_DOWN.contains(&fails(&c, &ft_sql).await.as_str()));

    // Redis comes back empty: the table, its rows and its index are gone.
    redis.restart().await;
    let gone = fails(&c, &format!("SELECT count(*) FROM {t}")).await;
    assert_eq!(gone, "42P01", "the first query after Redis is back");
    assert_eq!(fails(&ft.client, &ft_sql).await, "42P01");
    assert_eq!(fails(&scan.client, &format!("COPY {t} TO STDOUT")).await, "42P01");
    assert!(
        rows(&c, &format!("SELECT * FROM redsql.tables WHERE table_name = '{t}'"))
            .await
            .is_empty()
    );

    // The same name can be declared, written, indexed and read again, and
    // holds only the new rows.
    rows(
        &c,
        &format!("CREATE TABLE {t} (id bigint PRIMARY KEY, amount double precision, v text, pad text)"),
    )
    .await;
    rows(
        &c,
        &format!("INSERT INTO {t} (id, amount, v) VALUES (1, 1.5, 'a'), (2, 2.5, 'b'), (3, -1, 'c')"),
    )
    .await;
    assert!(!plan(&c, &ft_sql).await.contains("FT."), "no stale index");
    let want = vec![vec![Some("2".to_string())]];
    assert_eq!(
        rows(&c, &format!("SELECT count(*) FROM {t} WHERE amount >= 0")).await,
        want
    );
    rows(&c, &format!("CREATE INDEX ON {t} (amount)")).await;
    wait_pushed_down(&c, &ft_sql).await;
    assert_eq!(
        rows(&c, &format!("SELECT count(*) FROM {t} WHERE amount >= 0")).await,
        want
    );
    assert_eq!(
        rows(&ft.client, &format!("SELECT id FROM {t} WHERE amount >= 0 ORDER BY id")).await,
        vec![vec![Some("1".to_string())], vec![Some("2".to_string())]]
    );
    server.shutdown().await;
}

/// Keys under `t:` in Redis, counted by SCAN.
pub async fn count_keys(con: &mut redis::aio::MultiplexedConnection, t: &str) -> u64 {
    let mut cursor = 0u64;
    let mut n = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{t}:*"))
            .arg("COUNT")
            .arg(5000)
            .query_async(con)
            .await
            .unwrap();
        n += keys.len() as u64;
        if next == 0 {
            return n;
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_or_busy_redis_times_out_its_statements_without_stalling_other_sessions() {
    let redis = OwnRedis::start(free_port()).await;
    let url = redis.url();
    let server = start_server(&url).await;
    let waiting = connect(&server).await.client;
    let other = connect(&server).await.client;
    let t = "slow";
    rows(
        &waiting,
        &format!("CREATE TABLE {t} (id bigint PRIMARY KEY, v text); INSERT INTO {t} VALUES (1, 'a'), (2, 'b')"),
    )
    .await;
    rows(&waiting, "SET statement_timeout = 300").await;
    let count = format!("SELECT count(*) FROM {t}");
    let two = vec![vec![Some("2".to_string())]];

    // Frozen (SIGSTOP): connections stay open and nothing answers. Until
    // Redis runs again the statement_timeout fires, every time, and other
    // sessions (and new ones) run what needs no Redis.
    redis.freeze();
    for sql in [count.as_str(), &format!("SELECT v FROM {t} WHERE id = 1")] {
        let e = bounded(sql, waiting.simple_query(sql)).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{sql}: {e}");
    }
    let e = bounded(
        "an INSERT",
        waiting.simple_query(&format!("INSERT INTO {t} VALUES (3, 'c')")),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{e}");
    independent_statements_work(&server, &other).await;
    redis.thaw();
    // The INSERT was canceled before Redis could take it, or Redis took it
    // once it ran again: either way the table is consistent and readable.
    let after = bounded("after the thaw", waiting.simple_query(&count)).await;
    let n = match after {
        Ok(_) => rows(&waiting, &count).await[0][0].clone().unwrap(),
        Err(e) => panic!("the first statement after Redis runs again: {e:?}"),
    };
    assert!(n == "2" || n == "3", "{n}");
    rows(&waiting, &format!("DELETE FROM {t} WHERE id = 3")).await;

    // Busy with a script (BUSY replies once it passes its threshold): the
    // same, and the session works once Redis is free.
    let busy = block_redis(&url).await;
    let e = bounded("count while busy", waiting.simple_query(&count))
        .await
        .unwrap_err();
    assert!(
        !busy.is_finished(),
        "the statement ended only after Redis was free: {e:?}"
    );
    let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
    assert!(code == "57014" || code == "57P03", "{e:?}");
    independent_statements_work(&server, &other).await;
    assert!(
        !busy.is_finished(),
        "Redis-independent statements waited for Redis to be free"
    );
    bounded("the busy script", busy).await.unwrap();
    assert_eq!(rows(&waiting, &count).await, two);
    rows(&waiting, "SET statement_timeout = 0").await;
    assert_eq!(rows(&other, &count).await, two);
    server.shutdown().await;
}

/// Statements of `other` (and of a new session) that need no Redis answer
/// while Redis does not.
async fn independent_statements_work(server: &redsql::Server, other: &Client) {
    let one = vec![vec![Some("1".to_string())]];
    assert_eq!(rows(other, "SELECT 1").await, one);
    assert_eq!(
        rows(other, "SHOW statement_timeout").await,
        vec![vec![Some("0".into())]]
    );
    rows(other, "SET application_name = 'faults'").await;
    let p = bounded("prepare", other.prepare("SELECT $1::bigint + 1"))
        .await
        .unwrap();
    let r = bounded("execute", other.query_one(&p, &[&41i64])).await.unwrap();
    assert_eq!(r.get::<_, i64>(0), 42);
    let fresh = bounded("a new connection", connect(server)).await;
    assert_eq!(rows(&fresh.client, "SELECT 1").await, one);
}
