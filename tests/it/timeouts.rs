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
