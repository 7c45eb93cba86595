//! Pushdown paths on a private Redis (with RediSearch): pushed queries send
//! FT.AGGREGATE and no SCAN, agree with the scan path, EXPLAIN shows the
//! commands, `SET redsql.pushdown` switches it, and an index that failed
//! to index a document is never used.

use std::time::Duration;

use redsql::catalog::types::ColType;
use redsql::exec::index_ddl::field_args;
use tokio_postgres::SimpleQueryMessage;

use crate::common::{calls, connect, connect_scanning, private_server, redis, sqlstate};

/// Rows as text, sorted (for order-insensitive comparison).
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut out: Vec<Vec<Option<String>>> = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Equal, except that floating-point values may differ in the last digits
/// (RediSearch prints 12 significant digits): relative difference ≤ 1e-11.
fn same(a: &[Vec<Option<String>>], b: &[Vec<Option<String>>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(u, v)| match (u, v) {
                    (Some(u), Some(v)) if u != v => match (u.parse::<f64>(), v.parse::<f64>()) {
                        (Ok(p), Ok(q)) => (p - q).abs() <= 1e-11 * p.abs().max(q.abs()),
                        _ => false,
                    },
                    (u, v) => u == v,
                })
        })
}

async fn plan(client: &tokio_postgres::Client, sql: &str) -> String {
    rows(client, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Poll until EXPLAIN of `sql` contains `needle`. Naming a table that does
/// not exist makes the catalog rescan (at most once a second).
async fn wait_for_plan(client: &tokio_postgres::Client, sql: &str, needle: &str) -> String {
    for _ in 0..150 {
        let _ = client.simple_query("SELECT * FROM no_such_table_refresh").await;
        // The table itself may not be known yet either.
        if client.simple_query(&format!("EXPLAIN {sql}")).await.is_ok() {
            let p = plan(client, sql).await;
            if p.contains(needle) {
                return p;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("EXPLAIN {sql} never showed {needle:?}: {}", plan(client, sql).await);
}

/// The FT.CREATE schema redsql's CREATE INDEX declares for region, amount
/// and qty.
fn schema() -> Vec<&'static str> {
    let mut a = vec!["SCHEMA"];
    for (col, ty) in [
        ("region", ColType::Text),
        ("amount", ColType::Double),
        ("qty", ColType::BigInt),
    ] {
        a.push(col);
        a.extend(field_args(ty));
    }
    a
}

async fn seed_sales(con: &mut redis::aio::MultiplexedConnection, prefix: &str, n: usize) {
    let regions = ["north", "south", "East", "east", "  west ", "a,b", ""];
    let mut pipe = redis::pipe();
    for i in 0..n {
        let key = format!("{prefix}:{i}");
        pipe.cmd("HSET").arg(&key).arg("name").arg(format!("n{i}")).ignore();
        if i % 11 != 0 {
            pipe.cmd("HSET")
                .arg(&key)
                .arg("region")
                .arg(regions[i % regions.len()])
                .ignore();
        }
        if i % 13 != 0 {
            let amount = match i % 5 {
                0 => format!("{}", i as f64 * 0.37 - 100.0),
                1 => format!("+{}", i % 17),
                2 => format!("0{}.5", i % 9),
                _ => format!("{}", (i * 7919) % 1000),
            };
            pipe.cmd("HSET").arg(&key).arg("amount").arg(amount).ignore();
        }
        if i % 7 != 0 {
            pipe.cmd("HSET").arg(&key).arg("qty").arg((i % 23) as i64 - 5).ignore();
        }
    }
    let () = pipe.query_async(con).await.unwrap();
}

const QUERIES: &[&str] = &[
    "SELECT region, count(*), count(amount), sum(amount), min(amount), max(amount), avg(qty), sum(qty) FROM t GROUP BY region",
    "SELECT count(*), sum(qty) FROM t WHERE region = 'east'",
    "SELECT count(*) FROM t WHERE region = 'nowhere'",
    "SELECT region, count(DISTINCT name) FROM t WHERE amount > 10 GROUP BY region",
    "SELECT region, count(*) AS c FROM t WHERE region <> 'north' OR amount IS NULL GROUP BY region HAVING count(*) > 3 ORDER BY c DESC, region",
    "SELECT _key, amount FROM t WHERE amount BETWEEN 100 AND 200",
    "SELECT _key, amount FROM t WHERE amount > 900 ORDER BY amount DESC LIMIT 5",
    "SELECT _key, region FROM t WHERE region IN ('  west ', 'a,b', '') AND qty >= 3",
    "SELECT _key FROM t WHERE NOT (qty < 10 OR region = 'south')",
    // More rows than one cursor page (pushdown::CURSOR_COUNT): the pages after
    // the first are asked for while the one before is parsed.
    "SELECT _key, amount, qty, region FROM t WHERE amount > -1000",
];

#[tokio::test]
async fn pushed_queries_send_ft_aggregate_not_scan_and_agree() {
    let server = private_server(200).await;
    let url = server.redis_url().to_string();
    let c = connect(&server).await;
    let mut con = redis(&url).await;
    seed_sales(&mut con, "t", 3000).await;
    let mut create = redis::cmd("FT.CREATE");
    create.arg("t_idx").arg("ON").arg("HASH").arg("PREFIX").arg(1).arg("t:");
    create.arg(schema());
    let () = create.query_async(&mut con).await.unwrap();
    let p = wait_for_plan(&c.client, QUERIES[0], "aggregate pushed down").await;
    assert!(
        p.contains("FT.AGGREGATE t_idx * ") && p.contains("TIMEOUT 0 DIALECT 2"),
        "{p}"
    );

    // Every query is pushed down, and no SCAN is sent for them.
    let mut pushed = Vec::new();
    for q in QUERIES {
        let p = plan(&c.client, q).await;
        assert!(
            p.contains("RediSearch index t_idx") || p.contains("pushed down to RediSearch"),
            "{q}:\n{p}"
        );
    }
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();
    for q in QUERIES {
        pushed.push(rows(&c.client, q).await);
    }
    assert_eq!(calls(&mut con, "scan").await, 0, "pushed-down queries must not SCAN");
    assert!(calls(&mut con, "FT.AGGREGATE").await >= QUERIES.len() as u64);

    // The scan path gives the same answers.
    let off = connect_scanning(&server).await;
    for (q, on) in QUERIES.iter().zip(&pushed) {
        let off_rows = rows(&off.client, q).await;
        assert!(same(&off_rows, on), "{q}:\n{off_rows:?}\n{on:?}");
        assert!(plan(&off.client, q).await.contains("pushdown is off for this session"));
    }
    assert!(calls(&mut con, "scan").await > 0);
    assert!(!pushed[0].is_empty() && !pushed[5].is_empty() && pushed[6].len() == 5);
    assert!(
        pushed[9].len() > redsql::pushdown::CURSOR_COUNT,
        "{} rows",
        pushed[9].len()
    );
    // Global aggregate over nothing: one row, count 0, sum NULL.
    assert_eq!(pushed[2], vec![vec![Some("0".to_string())]]);
    server.shutdown().await;
}

#[tokio::test]
async fn explain_analyze_settings_and_unusable_indexes() {
    let server = private_server(200).await;
    let url = server.redis_url().to_string();
    let c = connect(&server).await;
    let mut con = redis(&url).await;
    seed_sales(&mut con, "u", 500).await;
    let mut create = redis::cmd("FT.CREATE");
    create.arg("u_idx").arg("ON").arg("HASH").arg("PREFIX").arg(1).arg("u:");
    create.arg(schema());
    let () = create.query_async(&mut con).await.unwrap();
    let q = "SELECT region, sum(amount) FROM u WHERE qty > 3 GROUP BY region";
    wait_for_plan(&c.client, q, "aggregate pushed down").await;

    let analyzed = rows(&c.client, &format!("EXPLAIN ANALYZE {q}")).await;
    let text: Vec<String> = analyzed.into_iter().filter_map(|r| r[0].clone()).collect();
    assert!(text.iter().any(|l| l.contains("ANALYZE:")), "{text:?}");
    assert!(
        text.iter().any(|l| l.contains("groups,") && l.contains(" ms")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|l| l.contains("Polars SQL:") && l.contains("rows,")),
        "{text:?}"
    );

    // The setting: validated, shown, per session.
    assert_eq!(sqlstate(&c.client, "SET redsql.pushdown = maybe").await, "22023");
    c.client.batch_execute("SET redsql.pushdown = false").await.unwrap();
    assert_eq!(
        rows(&c.client, "SHOW redsql.pushdown").await,
        vec![vec![Some("off".to_string())]]
    );
    let other = connect(&server).await;
    assert!(plan(&other.client, q).await.contains("aggregate pushed down"));
    c.client.batch_execute("SET redsql.pushdown = on").await.unwrap();

    // A value the index cannot parse: the document is left out of the
    // index, so the index must not be used, and answers stay right.
    let before = rows(&other.client, "SELECT count(*), count(amount) FROM u").await;
    let () = redis::cmd("HSET")
        .arg("u:bad")
        .arg("amount")
        .arg("12abc")
        .arg("region")
        .arg("north")
        .query_async(&mut con)
        .await
        .unwrap();
    let p = wait_for_plan(&c.client, q, "failed to index 1 document").await;
    assert!(p.contains("SCAN MATCH u:*"), "{p}");
    let after = rows(&other.client, "SELECT count(*), count(amount) FROM u").await;
    let n = |r: &Vec<Vec<Option<String>>>, i: usize| r[0][i].as_deref().unwrap().parse::<i64>().unwrap();
    assert_eq!(n(&after, 0), n(&before, 0) + 1);
    assert_eq!(n(&after, 1), n(&before, 1), "12abc reads as NULL");
    server.shutdown().await;
}

#[tokio::test]
async fn json_tables_fetch_through_their_index() {
    let server = private_server(200).await;
    let url = server.redis_url().to_string();
    let c = connect(&server).await;
    let mut con = redis(&url).await;
    let mut pipe = redis::pipe();
    for i in 0..400 {
        let region = ["north", "south", "East"][i % 3];
        let doc = if i % 10 == 0 {
            format!(r#"{{"region":null,"amount":{i}}}"#)
        } else {
            format!(r#"{{"region":"{region}","amount":{}.25}}"#, i % 50)
        };
        pipe.cmd("JSON.SET").arg(format!("jd:{i}")).arg("$").arg(doc).ignore();
    }
    let () = pipe.query_async(&mut con).await.unwrap();
    let () = redis::cmd("FT.CREATE")
        .arg("jd_idx")
        .arg("ON")
        .arg("JSON")
        .arg("PREFIX")
        .arg(1)
        .arg("jd:")
        .arg("SCHEMA")
        .arg("$.region")
        .arg("AS")
        .arg("region")
        .arg("TAG")
        .arg("CASESENSITIVE")
        .arg("$.amount")
        .arg("AS")
        .arg("amount")
        .arg("NUMERIC")
        .arg("SORTABLE")
        .query_async(&mut con)
        .await
        .unwrap();
    let q = "SELECT _key, region, amount FROM jd WHERE region = 'East' AND amount < 20";
    let p = wait_for_plan(&c.client, q, "RediSearch index jd_idx").await;
    assert!(p.contains("JSON.MGET"), "{p}");
    let on = rows(&c.client, q).await;
    c.client.batch_execute("SET redsql.pushdown = off").await.unwrap();
    assert_eq!(rows(&c.client, q).await, on);
    assert!(!on.is_empty());
    server.shutdown().await;
}
