//! Statements that take too long: `statement_timeout` and cancel requests
//! (psql's Ctrl-C) end them with 57014, promptly, while Redis is still busy;
//! the session, the server and the data are fine afterwards. Redis is kept
//! busy for two seconds by a script (its own private Redis, so no other test
//! waits).

use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::common::*;

async fn table(c: &Conn) -> String {
    let t = unique("slow");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, v text); INSERT INTO {t} VALUES (1, 'a'), (2, 'b')"
        ))
        .await
        .unwrap();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_ends_a_statement_waiting_on_redis() {
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let t = table(&c).await;
    let url = server.redis_url().to_string();

    // Settings read and print as in PostgreSQL; bad values are refused.
    c.client.batch_execute("SET statement_timeout = 250").await.unwrap();
    assert_eq!(
        texts(&c.client, "SHOW statement_timeout").await,
        vec![vec![Some("250ms".into())]]
    );
    let e = c
        .client
        .batch_execute("SET statement_timeout = 'soon'")
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22023"), "{e}");

    let busy = block_redis(&url).await;
    let started = Instant::now();
    let e = c.client.simple_query(&format!("SELECT * FROM {t}")).await.unwrap_err();
    let waited = started.elapsed();
    assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{e}");
    let msg = e.as_db_error().unwrap().message().to_string();
    assert_eq!(msg, "canceling statement due to statement timeout");
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
    // The extended protocol, and a write: the same.
    let e = c
        .client
        .query(&format!("SELECT v FROM {t} WHERE id = $1"), &[&1i64])
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{e}");
    busy.await.unwrap();

    // Afterwards the session works, with or without the limit.
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
    c.client.batch_execute("SET statement_timeout = 0").await.unwrap();
    assert_eq!(
        texts(&c.client, "SHOW statement_timeout").await,
        vec![vec![Some("0".into())]]
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_ends_the_running_statement_only() {
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let other = connect(&server).await;
    let t = table(&c).await;
    let url = server.redis_url().to_string();

    let busy = block_redis(&url).await;
    let token = c.client.cancel_token();
    let canceler = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let started = Instant::now();
    let e = c.client.simple_query(&format!("SELECT * FROM {t}")).await.unwrap_err();
    let waited = started.elapsed();
    canceler.await.unwrap();
    assert_eq!(e.code().map(|c| c.code()), Some("57014"), "{e}");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "canceling statement due to user request"
    );
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
    busy.await.unwrap();

    // Only that statement: both sessions go on, and a cancel between
    // statements cancels nothing (once it has arrived: a cancel still on
    // its way may meet the next statement, as in PostgreSQL).
    c.client.cancel_token().cancel_query(NoTls).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
    assert_eq!(
        texts(&other.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
}

/// Redis past its busy-reply threshold answers BUSY: a statement waiting on
/// it fails with 57P03 (try again), not as an internal error, and the next
/// one works once Redis is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_redis_is_a_retryable_error() {
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let t = table(&c).await;
    let busy = block_redis(server.redis_url()).await;
    let e = c.client.simple_query(&format!("SELECT * FROM {t}")).await.unwrap_err();
    busy.await.unwrap();
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "57P03", "{}", db.message());
    assert!(db.message().contains("BUSY"), "{}", db.message());
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some("2".into())]]
    );
}

/// Rows `from..to` as COPY text data.
fn copy_rows(from: usize, to: usize) -> bytes::Bytes {
    let mut data = String::new();
    for i in from..to {
        data.push_str(&format!("{i}\tv{i}\n"));
    }
    bytes::Bytes::from(data)
}

/// A COPY FROM STDIN whose data keeps coming: `first` rows, a pause (during
/// which `meanwhile` runs), one more row, the end. Its error, if any.
async fn paused_copy(
    c: &Conn,
    t: &str,
    first: usize,
    meanwhile: impl std::future::Future<Output = ()>,
) -> Option<tokio_postgres::Error> {
    use futures::SinkExt;
    let sink = c.client.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    futures::pin_mut!(sink);
    sink.send(copy_rows(100, 100 + first)).await.unwrap();
    sink.flush().await.unwrap();
    meanwhile.await;
    // The server may already have answered: the error comes from either call.
    if let Err(e) = sink.send(copy_rows(100 + first, 101 + first)).await {
        return Some(e);
    }
    sink.finish().await.err()
}

/// COPY FROM STDIN's data phase comes after its Execute, one CopyData
/// message at a time: statement_timeout (counted from the COPY's start) and
/// cancel requests end it there too, as in PostgreSQL when the next data
/// arrives, with 57014 and the exact number of rows written before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_and_cancel_end_copy_from_stdin() {
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let other = connect(&server).await;
    let t = table(&c).await;

    c.client.batch_execute("SET statement_timeout = 400").await.unwrap();
    let pause = tokio::time::sleep(Duration::from_millis(700));
    let e = paused_copy(&c, &t, 3000, pause).await.expect("the COPY fails");
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "57014", "{}", db.message());
    assert!(db.message().contains("statement timeout"), "{}", db.message());
    // The three batches handed over before the deadline were written.
    assert_eq!(copy_written(db.message()), 3000, "{}", db.message());
    let count = format!("SELECT count(*) FROM {t}");
    assert_eq!(texts(&c.client, &count).await, vec![vec![Some("3002".into())]]);

    // Without the limit the same pause is fine.
    c.client.batch_execute("SET statement_timeout = 0").await.unwrap();
    let pause = tokio::time::sleep(Duration::from_millis(700));
    let t2 = table(&c).await;
    assert!(paused_copy(&c, &t2, 3000, pause).await.is_none());
    let count2 = format!("SELECT count(*) FROM {t2}");
    assert_eq!(texts(&c.client, &count2).await, vec![vec![Some("3003".into())]]);

    // A cancel request ends this session's COPY, not another session's.
    let t3 = table(&c).await;
    let t4 = table(&c).await;
    let token = c.client.cancel_token();
    let bystander = paused_copy(&other, &t4, 1500, tokio::time::sleep(Duration::from_millis(600)));
    let cancel = async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel_query(NoTls).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let canceled = paused_copy(&c, &t3, 2000, cancel);
    let (canceled, bystander) = tokio::join!(canceled, bystander);
    let e = canceled.expect("the canceled COPY fails");
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "57014", "{}", db.message());
    assert!(db.message().contains("user request"), "{}", db.message());
    assert_eq!(copy_written(db.message()), 2000, "{}", db.message());
    assert!(bystander.is_none(), "{bystander:?}");
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t3}")).await,
        vec![vec![Some("2002".into())]]
    );
    assert_eq!(
        texts(&other.client, &format!("SELECT count(*) FROM {t4}")).await,
        vec![vec![Some("1503".into())]]
    );
}

/// psql's Ctrl-C during `COPY ... FROM STDIN`: psql sends a cancel request
/// and ends the data with CopyFail; the COPY ends with 57014 saying how many
/// rows were written, and exactly those are in the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_ctrl_c_ends_copy_from_stdin() {
    use std::io::Write;
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let t = table(&c).await;
    let addr = server.local_addr();
    let copy = format!("COPY {t} FROM STDIN");
    let psql = tokio::task::spawn_blocking(move || {
        let mut child = psql_command(addr)
            .args(["-v", "VERBOSITY=verbose", "-c", &copy])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psql runs");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&copy_rows(100, 2100)).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        // `timeout` (psql_command) passes the signal on to psql.
        let sent = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        std::thread::sleep(Duration::from_millis(300));
        drop(stdin);
        child.wait_with_output().unwrap()
    });
    let out = psql.await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "psql succeeded: {stderr}");
    assert!(stderr.contains("57014"), "{stderr}");
    // What psql had sent of the 2,000 rows depends on its buffering; what
    // the error says is what the table holds.
    let written = copy_written(stderr.trim());
    assert!((1000..=2000).contains(&written), "{stderr}");
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t}")).await,
        vec![vec![Some((written + 2).to_string())]]
    );
}
