//! Pushdown while keys have TTLs. RediSearch keeps a key whose TTL has
//! passed in its results until Redis deletes it; on one node redsql's pushed
//! commands open each match's key (`LOAD 1 @__key FILTER exists(@__key)`)
//! and keep those still there. A private Redis with active expiry off
//! (`DEBUG SET-ACTIVE-EXPIRE 0`) keeps expired keys until something reads
//! them, as a busy Redis does during a mass expiry.

use crate::cluster_index::{explain, wait_usable};
use crate::common::*;

fn s(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_queries_leave_out_keys_whose_ttl_passed() {
    let redis = OwnRedis::with_modules().await;
    let server = start_server(&redis.url()).await;
    let c = connect(&server).await;
    let off = connect_scanning(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE ex (id bigint PRIMARY KEY, region text, qty bigint, amount double precision); \
             INSERT INTO ex SELECT g, CASE g % 2 WHEN 0 THEN 'even' ELSE 'odd' END, g % 10, g * 0.5 \
             FROM generate_series(1, 1000) g; \
             CREATE INDEX ex_idx ON ex (region, qty, amount)",
        )
        .await
        .unwrap();
    wait_usable(&c.client, "ex").await;
    let mut con = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query_async(&mut con)
        .await
        .unwrap();
    // Rows 1..=200 expire at once; row 500 keeps a TTL of an hour.
    let mut pipe = redis::pipe();
    for id in 1..=200 {
        pipe.cmd("PEXPIRE").arg(format!("ex:{id}")).arg(1).ignore();
    }
    pipe.cmd("EXPIRE").arg("ex:500").arg(3600).ignore();
    let () = pipe.query_async(&mut con).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // RediSearch still counts the expired keys.
    let raw: redis::Value = redis::cmd("FT.AGGREGATE")
        .arg(&["ex_idx", "*", "GROUPBY", "0", "REDUCE", "COUNT", "0", "AS", "n"][..])
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(format!("{raw:?}").contains("\"1000\""), "{raw:?}");

    let queries = [
        (
            "SELECT count(*), sum(qty), min(amount), max(amount) FROM ex",
            "aggregate pushed down",
        ),
        (
            "SELECT region, count(*), avg(amount) FROM ex GROUP BY region ORDER BY region",
            "aggregate pushed down",
        ),
        ("SELECT count(*) FROM ex WHERE qty = 3", "aggregate pushed down"),
        (
            "SELECT id, amount FROM ex ORDER BY amount LIMIT 3",
            "fetches the first 3 matching rows",
        ),
    ];
    // Pushed down first: a scan reads (and so deletes) the expired keys.
    let mut pushed = Vec::new();
    for (sql, how) in queries {
        let plan = explain(&c.client, sql).await;
        assert!(plan.contains(how), "{sql}\n{plan}");
        assert!(
            plan.contains("LOAD 1 @__key FILTER 'exists(@__key)'") && plan.contains("keys in this database have TTLs"),
            "{sql}\n{plan}"
        );
        pushed.push(texts(&c.client, sql).await);
    }
    assert_eq!(pushed[0], vec![vec![s(800), s(3600), s("100.5"), s(500)]]);
    assert_eq!(pushed[2], vec![vec![s(80)]]);
    assert_eq!(
        pushed[3],
        vec![vec![s(201), s("100.5")], vec![s(202), s(101)], vec![s(203), s("101.5")]]
    );
    for ((sql, _), on) in queries.iter().zip(&pushed) {
        assert_eq!(on, &texts(&off.client, sql).await, "{sql}");
    }
    server.shutdown().await;
}
