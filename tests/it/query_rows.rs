//! `redsql.max_query_rows` (default `--max-query-rows`): a statement that
//! would hold more rows read from Redis than that stops with 53400 while
//! reading, on the scan path and the pushed-down fetch path alike; rows
//! streamed to the client as they are read (a plain SELECT, COPY TO) are not
//! held and not counted; the session and the data are fine afterwards.

use futures::{SinkExt, StreamExt};

use crate::common::*;
use crate::hostile::{client, Proc};

const ROWS: usize = 5000;

async fn state(c: &tokio_postgres::Client, sql: &str) -> (String, String) {
    match c.simple_query(sql).await {
        Ok(_) => ("ok".into(), String::new()),
        Err(e) => {
            let db = e.as_db_error().expect("a server error");
            (db.code().code().to_string(), db.message().to_string())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_past_their_row_budget_stop_with_53400() {
    let server = private_server(1000).await;
    let c = connect(&server).await;
    let t = unique("budget");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, region text, amount double precision)"
        ))
        .await
        .unwrap();
    let sink = c
        .client
        .copy_in(&format!("COPY {t} FROM STDIN (FORMAT csv)"))
        .await
        .unwrap();
    futures::pin_mut!(sink);
    let data: String = (1..=ROWS)
        .map(|i| format!("{i},{},{}\n", if i % 5 == 0 { "north" } else { "south" }, i % 100))
        .collect();
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    sink.finish().await.unwrap();
    c.client
        .batch_execute(&format!("CREATE INDEX ON {t} (region, amount)"))
        .await
        .unwrap();

    assert_eq!(
        texts(&c.client, "SHOW redsql.max_query_rows").await,
        vec![vec![Some("0".into())]]
    );
    assert_eq!(state(&c.client, "SET redsql.max_query_rows = 'many'").await.0, "22023");
    c.client
        .batch_execute("SET redsql.max_query_rows = 2000")
        .await
        .unwrap();
    assert_eq!(
        texts(&c.client, "SHOW redsql.max_query_rows").await,
        vec![vec![Some("2000".into())]]
    );

    // The scan path (a GROUP BY over every row, pushdown off) and the
    // pushed-down fetch (4,000 south rows for a window): both stop while
    // reading.
    let grouped = format!("SELECT region, sum(amount) FROM {t} GROUP BY region");
    let fetched = format!("SELECT id, rank() OVER (ORDER BY amount) FROM {t} WHERE region = 'south'");
    let mut plan = String::new();
    for _ in 0..150 {
        let rows = texts(&c.client, &format!("EXPLAIN {fetched}")).await;
        plan = rows
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect::<Vec<_>>()
            .join("\n");
        if plan.contains("FT.AGGREGATE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(plan.contains("FT.AGGREGATE"), "the fetch is pushed down: {plan}");
    // Pushed down, the GROUP BY reads two groups, not the rows.
    assert_eq!(texts(&c.client, &grouped).await.len(), 2);
    for (pushdown, sql) in [("off", &grouped), ("on", &fetched)] {
        let set = format!("SET redsql.pushdown = {pushdown}");
        c.client.batch_execute(&set).await.unwrap();
        let (code, msg) = state(&c.client, sql).await;
        assert_eq!(code, "53400", "{sql}: {msg}");
        assert!(msg.contains("redsql.max_query_rows = 2000"), "{msg}");
        // The extended protocol too.
        let e = c.client.query(sql.as_str(), &[]).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("53400"), "{e}");
    }
    // Within the budget: 1,000 north rows fetched, a key lookup.
    assert_eq!(
        texts(&c.client, &format!("SELECT count(*) FROM {t} WHERE region = 'north'")).await,
        vec![vec![Some("1000".into())]]
    );
    assert_eq!(
        texts(&c.client, &format!("SELECT amount FROM {t} WHERE id = 42")).await,
        vec![vec![Some("42".into())]]
    );
    // Streamed to the client, not held: every row, whatever the budget.
    let rows = c.client.simple_query(&format!("SELECT * FROM {t}")).await.unwrap();
    let n = rows
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(n, ROWS);
    let out = c
        .client
        .copy_out(&format!("COPY (SELECT * FROM {t}) TO STDOUT"))
        .await
        .unwrap();
    futures::pin_mut!(out);
    let mut lines = 0;
    while let Some(chunk) = out.next().await {
        lines += chunk.unwrap().iter().filter(|&&b| b == b'\n').count();
    }
    assert_eq!(lines, ROWS);

    // No limit again: the same statement answers.
    c.client.batch_execute("SET redsql.max_query_rows = 0").await.unwrap();
    assert_eq!(texts(&c.client, &grouped).await.len(), 2);
}

/// `--max-query-rows` is each session's default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_default_comes_from_max_query_rows() {
    let redis = OwnRedis::with_modules().await;
    let server = Proc::start_with(&redis.url(), &["--max-query-rows", "1500"]);
    let c = client(server.addr).await;
    c.batch_execute(
        "CREATE TABLE t (id bigint PRIMARY KEY, v bigint);
         INSERT INTO t SELECT i, i FROM generate_series(1, 2000) AS s(i)",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&c, "SHOW redsql.max_query_rows").await,
        vec![vec![Some("1500".into())]]
    );
    let (code, msg) = state(&c, "SELECT sum(v) FROM t").await;
    assert_eq!(code, "53400", "{msg}");
    c.batch_execute("SET redsql.max_query_rows = 5000").await.unwrap();
    assert_eq!(
        texts(&c, "SELECT sum(v) FROM t").await,
        vec![vec![Some("2001000".into())]]
    );
}
