//! Faults under writes: Redis killed (SIGKILL) or its connections cut
//! (CLIENT KILL, Redis and its data live on) part way through INSERT ...
//! SELECT, a multi-row INSERT, UPDATE and COPY FROM STDIN (tokio-postgres
//! and psql). The statement fails with a Redis-down SQLSTATE, never a hang
//! and never a success; a COPY says how many rows it wrote, and what a
//! failed or successful write reports is never more than Redis holds. The
//! fault is injected while Redis is paused for writes (CLIENT PAUSE WRITE)
//! with part of the rows applied, so the statement cannot have completed.

use bytes::Bytes;
use futures::SinkExt;
use redis::aio::MultiplexedConnection;
use tokio_postgres::Client;

use crate::common::*;
use crate::faults::{bounded, count_keys, redis_down, rows, seed_rows};

/// Rows written by each statement: long enough (a second or more) that
/// the fault lands in the middle.
const ROWS: u64 = 40_000;

/// How far a write got, read while Redis is paused for writes.
#[derive(Clone, Copy)]
enum Progress<'a> {
    /// Keys of this table.
    Keys(&'a str),
    /// Rows of this table whose `v` is "new".
    Updated(&'a str),
}

impl Progress<'_> {
    async fn rows(self, con: &mut MultiplexedConnection) -> u64 {
        match self {
            Progress::Keys(t) => count_keys(con, t).await,
            Progress::Updated(t) => {
                let mut n = 0;
                let ids: Vec<u64> = (1..=ROWS).collect();
                for chunk in ids.chunks(5000) {
                    let mut pipe = redis::pipe();
                    for id in chunk {
                        pipe.cmd("HGET").arg(format!("{t}:{id}")).arg("v");
                    }
                    let vs: Vec<Option<String>> = pipe.query_async(con).await.unwrap();
                    n += vs.iter().filter(|v| v.as_deref() == Some("new")).count() as u64;
                }
                n
            }
        }
    }
}

/// Redis' count of changes to its data (INFO persistence).
async fn changes(con: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO").arg("persistence").query_async(con).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

/// Wait until Redis has applied some of a write's changes, pause writes
/// (CLIENT PAUSE WRITE, for up to 20 s) and return how many of `total`
/// rows are done: more than none, fewer than all. Redis stays paused, so
/// the statement can neither complete nor write more until the fault.
async fn pause_mid_write(con: &mut MultiplexedConnection, progress: Progress<'_>, total: u64) -> u64 {
    let base = changes(con).await;
    bounded("the write to start", async {
        loop {
            if changes(con).await > base {
                let () = redis::cmd("CLIENT")
                    .arg(&["PAUSE", "20000", "WRITE"])
                    .query_async(con)
                    .await
                    .unwrap();
                let done = progress.rows(con).await;
                assert!(done < total, "the write ended before the fault: make it bigger");
                if done > 0 {
                    return done;
                }
                let () = redis::cmd("CLIENT").arg("UNPAUSE").query_async(con).await.unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    })
    .await
}

/// Cut every connection but `con`'s (redsql's), then let writes run again:
/// Redis keeps what it applied.
async fn cut_connections(con: &mut MultiplexedConnection) {
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query_async(con)
        .await
        .unwrap();
    assert!(killed > 0, "redsql had connections");
    let () = redis::cmd("CLIENT").arg("UNPAUSE").query_async(con).await.unwrap();
}

/// The write statements under test, each writing `ROWS` rows into `dst`
/// (`src` holds `ROWS` rows, `v` = "old").
#[derive(Clone, Copy, Debug)]
enum Write {
    InsertSelect,
    MultiRowInsert,
    Update,
    CopyIn,
}

impl Write {
    const ALL: [Write; 4] = [Write::InsertSelect, Write::MultiRowInsert, Write::Update, Write::CopyIn];

    fn progress<'a>(self, src: &'a str, dst: &'a str) -> Progress<'a> {
        match self {
            Write::Update => Progress::Updated(src),
            _ => Progress::Keys(dst),
        }
    }

    /// Start the statement on `c`; its outcome (the row count).
    fn spawn(
        self,
        c: std::sync::Arc<Client>,
        src: &str,
        dst: &str,
    ) -> tokio::task::JoinHandle<Result<u64, tokio_postgres::Error>> {
        let (src, dst) = (src.to_string(), dst.to_string());
        tokio::spawn(async move {
            match self {
                Write::InsertSelect => {
                    c.execute(&format!("INSERT INTO {dst} SELECT id, amount, v, pad FROM {src}"), &[])
                        .await
                }
                Write::MultiRowInsert => {
                    let values: Vec<String> = (1..=ROWS).map(|i| format!("({i}, {i}.25, 'm{i}')")).collect();
                    let sql = format!("INSERT INTO {dst} (id, amount, v) VALUES {}", values.join(", "));
                    c.execute(&sql, &[]).await
                }
                Write::Update => c.execute(&format!("UPDATE {src} SET v = 'new'"), &[]).await,
                Write::CopyIn => {
                    let sink = c.copy_in(&format!("COPY {dst} (id, amount, v) FROM STDIN")).await?;
                    futures::pin_mut!(sink);
                    let mut chunk = String::new();
                    for i in 1..=ROWS {
                        chunk.push_str(&format!("{i}\t{i}.75\tc{i}\n"));
                        if i % 500 == 0 {
                            sink.send(Bytes::from(std::mem::take(&mut chunk))).await?;
                        }
                    }
                    sink.finish().await
                }
            }
        })
    }
}

/// Two tables on the server's Redis: `src` with `ROWS` rows, `dst` empty.
async fn tables(c: &Client, url: &str) -> (&'static str, &'static str) {
    let (src, dst) = ("wsrc", "wdst");
    seed_rows(c, url, src, ROWS).await;
    rows(
        c,
        &format!("CREATE TABLE {dst} (id bigint PRIMARY KEY, amount double precision, v text, pad text)"),
    )
    .await;
    (src, dst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_write_fails_the_statement_and_the_next_one_works() {
    let mut own = OwnRedis::start(free_port()).await;
    let url = own.url();
    let server = start_server(&url).await;
    let c = std::sync::Arc::new(connect(&server).await.client);
    let other = connect(&server).await.client;
    for write in Write::ALL {
        let (src, dst) = tables(&c, &url).await;
        let mut con = redis(&url).await;
        let task = write.spawn(c.clone(), src, dst);
        let done = pause_mid_write(&mut con, write.progress(src, dst), ROWS).await;
        own.kill();
        let outcome = bounded(&format!("{write:?} after the kill"), task).await.unwrap();
        let e = match outcome {
            Ok(n) => panic!("{write:?} reported {n} rows written; Redis was killed with {done} of {ROWS} done"),
            Err(e) => e,
        };
        let msg = redis_down(&format!("{write:?}"), &e);
        println!("{write:?}: killed with {done} of {ROWS} rows done: {msg}");
        if let Write::CopyIn = write {
            let said = copy_written(&msg);
            assert!(
                said <= done,
                "COPY said {said} rows were written; {done} were in Redis when it died"
            );
        }
        // The server and both sessions live on; the session is in sync.
        assert_eq!(rows(&c, "SELECT 1").await, vec![vec![Some("1".into())]]);
        assert_eq!(rows(&other, "SELECT 2").await, vec![vec![Some("2".into())]]);
        own.restart().await;
        // The next statement works: the tables are gone with the data.
        assert_eq!(
            crate::faults::fails(&c, &format!("SELECT count(*) FROM {dst}")).await,
            "42P01"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_cut_off_mid_statement_never_report_more_than_redis_holds() {
    let own = OwnRedis::start(free_port()).await;
    let url = own.url();
    let server = start_server(&url).await;
    let c = std::sync::Arc::new(connect(&server).await.client);
    for write in Write::ALL {
        let (src, dst) = tables(&c, &url).await;
        let mut con = redis(&url).await;
        let task = write.spawn(c.clone(), src, dst);
        let progress = write.progress(src, dst);
        let done = pause_mid_write(&mut con, progress, ROWS).await;
        cut_connections(&mut con).await;
        let outcome = bounded(&format!("{write:?} after its connections were cut"), task)
            .await
            .unwrap();
        let held = progress.rows(&mut con).await;
        assert!(held >= done, "{write:?}: Redis lost rows ({held} < {done})");
        match outcome {
            // redsql may have gone on over a new connection, but then the
            // count must be what Redis holds.
            Ok(n) => {
                println!("{write:?}: cut with {done} of {ROWS} done, then completed: {n} rows");
                assert_eq!(n, ROWS, "{write:?}");
                assert_eq!(held, ROWS, "{write:?} reported success");
            }
            Err(e) => {
                let msg = redis_down(&format!("{write:?}"), &e);
                println!("{write:?}: cut with {done} of {ROWS} done, Redis holds {held}: {msg}");
                if let Write::CopyIn = write {
                    let said = copy_written(&msg);
                    assert!(said <= held, "COPY said {said} rows were written, Redis holds {held}");
                }
            }
        }
        // The next statements work over new connections, and agree with Redis.
        let count = rows(&c, &format!("SELECT count(*) FROM {dst}")).await;
        let want = match write {
            Write::Update => 0,
            _ => held,
        };
        assert_eq!(count, vec![vec![Some(want.to_string())]], "{write:?}");
        if let Write::Update = write {
            let new = rows(&c, &format!("SELECT count(*) FROM {src} WHERE v = 'new'")).await;
            assert_eq!(new, vec![vec![Some(held.to_string())]]);
        }
        rows(&c, &format!("DROP TABLE {src}; DROP TABLE {dst}")).await;
        let () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_copy_from_killed_mid_way_says_how_many_rows_were_written() {
    let mut own = OwnRedis::start(free_port()).await;
    let url = own.url();
    let server = start_server(&url).await;
    let c = connect(&server).await.client;
    let t = "pcopy";
    rows(
        &c,
        &format!("CREATE TABLE {t} (id bigint PRIMARY KEY, amount double precision, v text)"),
    )
    .await;
    let dir = std::env::temp_dir().join(unique("faults_psql"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rows.csv");
    let mut csv = String::new();
    for i in 1..=ROWS {
        csv.push_str(&format!("{i},{i}.5,row {i}\n"));
    }
    std::fs::write(&file, csv).unwrap();

    let mut con = redis(&url).await;
    let addr = server.local_addr();
    let copy = format!("\\copy {t} FROM '{}' WITH (FORMAT csv)", file.display());
    let psql = tokio::task::spawn_blocking(move || {
        psql_command(addr)
            .args(["-v", "VERBOSITY=verbose", "-c", &copy])
            .output()
            .expect("psql runs")
    });
    let done = pause_mid_write(&mut con, Progress::Keys(t), ROWS).await;
    own.kill();
    let out = bounded("psql after the kill", psql).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("psql \\copy killed with {done} of {ROWS} rows done: {}", stderr.trim());
    assert!(
        !out.status.success(),
        "psql succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("08006") || stderr.contains("57P03"),
        "a Redis-down SQLSTATE: {stderr}"
    );
    let said = copy_written(stderr.trim());
    assert!(
        said <= done,
        "COPY said {said} rows were written; {done} were in Redis when it died"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // The server goes on once Redis is back.
    own.restart().await;
    rows(&c, &format!("CREATE TABLE {t} (id bigint PRIMARY KEY, v text)")).await;
    rows(&c, &format!("INSERT INTO {t} VALUES (1, 'a')")).await;
    assert_eq!(
        rows(&c, &format!("SELECT v FROM {t}")).await,
        vec![vec![Some("a".to_string())]]
    );
    server.shutdown().await;
}
