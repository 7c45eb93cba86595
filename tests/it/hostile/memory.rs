//! `--max-memory`: a statement that takes redsql's memory past the limit
//! ends with 53200 (out_of_memory); the session, the server and other
//! statements go on. The servers are `redsql serve` processes of their own
//! (the limit watches the whole process' memory).

use std::time::Duration;

use super::{client, Proc};
use crate::common::{redis_url, unique};

/// A query that holds Polars for a while (9M joined rows, sorted): a
/// second or so, so the watchdog sees it running, and a plan whose sort
/// Polars stops at when told to.
fn heavy(t: &str) -> String {
    format!("SELECT k FROM (SELECT a.id * 3001 + b.id AS k FROM {t} a CROSS JOIN {t} b) x ORDER BY k DESC LIMIT 1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_memory_limit_ends_with_53200_and_the_server_goes_on() {
    let t = unique("memo");
    let full = Proc::start_with(&redis_url(), &["--max-memory", "off"]);
    let f = client(full.addr).await;
    f.batch_execute(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY) WITH (ttl = 600); \
         INSERT INTO {t} SELECT * FROM generate_series(1, 3000)"
    ))
    .await
    .unwrap();
    // A limit below what the server needs idle: every Polars step is
    // stopped as soon as the watchdog sees it.
    let mut tight = Proc::start_with(&redis_url(), &["--max-memory", "1MB"]);
    let c = client(tight.addr).await;
    let want = "9006000";
    let got = f.simple_query(&heavy(&t)).await.unwrap();
    let n = got.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(n.as_deref(), Some(want), "without a limit the query runs");

    let e = tokio::time::timeout(Duration::from_secs(60), c.simple_query(&heavy(&t)))
        .await
        .expect("an answer, not a hang")
        .unwrap_err();
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "53200", "{}", db.message());
    assert!(db.message().contains("--max-memory"), "{}", db.message());
    // The session goes on (a statement without Polars work), and so does the server.
    let shown = c.simple_query("SHOW statement_timeout").await.unwrap();
    assert!(shown
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))));
    tight.check().unwrap();
    assert!(
        !tight.log_lines("memory over --max-memory").is_empty(),
        "the watchdog says why"
    );
    f.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}
