//! Row fetches over an index on the Redis Cluster: every part gives its
//! matching keys (FT.SEARCH NOCONTENT, each part's own first LIMIT + OFFSET
//! by one sort key) and the rows are read by key. The answers are the scan
//! path's: rows whose keys sit on different masters, more matches than one
//! first ask, a part with more matches than MAXSEARCHRESULTS (scanned
//! instead), and a JSON table.

use redsql::store::Store;
use tokio_postgres::Client;

use crate::cluster_index::{explain, ids_by_master, wait_usable};
use crate::common::*;

/// The ids of `sql`'s rows (first column), sorted.
async fn ids(c: &Client, sql: &str) -> Vec<i64> {
    let mut out: Vec<i64> = texts(c, sql)
        .await
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_fetches_ask_every_part_for_keys_and_merge_each_parts_top_rows() {
    let (url, _nodes, _lock) = cluster().await;
    let store = Store::connect(&url).await.unwrap();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let off = connect_scanning(&server).await;
    let t = unique("clfe");
    // 36,000 rows: about 12,000 per master, more than one first ask (10,000).
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, region text, qty bigint, amount double precision) \
             WITH (prefix = '{t}:'); \
             INSERT INTO {t} SELECT g, CASE g % 3 WHEN 0 THEN 'north' WHEN 1 THEN 'south' ELSE 'east' END, \
             CASE WHEN g % 7 = 0 THEN NULL ELSE g % 10 END, g * 0.25 FROM generate_series(1, 36000) g"
        ))
        .await
        .unwrap();
    // The lowest amounts spread over the masters: -100 and -98 on the
    // first, -99 and -97 on the second, -96 on the third. The first three
    // come from two parts. (Doubles: the index compares and sorts them as
    // SQL does, so the fetch is exact and limited; a bigint's range is a
    // superset, re-checked in Polars, and fetched whole.)
    let by_master = ids_by_master(&store, &t, 100_001..=100_100);
    let top = [
        (by_master[0][0], -100),
        (by_master[1][0], -99),
        (by_master[0][1], -98),
        (by_master[1][1], -97),
        (by_master[2][0], -96),
    ];
    for (id, amount) in top {
        c.client
            .batch_execute(&format!("INSERT INTO {t} VALUES ({id}, 'top', 1, {amount})"))
            .await
            .unwrap();
    }
    c.client
        .batch_execute(&format!("CREATE INDEX {t}_ix ON {t} (region, qty, amount)"))
        .await
        .unwrap();
    wait_usable(&c.client, &t).await;

    let lowest = format!("SELECT id, amount FROM {t} WHERE amount < 0 ORDER BY amount LIMIT 3");
    let plan = explain(&c.client, &lowest).await;
    assert!(
        plan.contains("fetches the first 3 matching rows") && plan.contains("NOCONTENT SORTBY amount ASC LIMIT 0 3"),
        "{plan}"
    );
    assert!(plan.contains("in 3 parts"), "{plan}");
    let want: Vec<Vec<Option<String>>> = top[..3]
        .iter()
        .map(|(id, amount)| vec![Some(id.to_string()), Some(amount.to_string())])
        .collect();
    assert_eq!(texts(&c.client, &lowest).await, want);
    let analyzed = explain(&c.client, &format!("ANALYZE {lowest}")).await;
    // Each part's first three: 2 + 2 + 1 rows read.
    assert!(analyzed.contains("then rows read by key: 5 rows"), "{analyzed}");

    // Row fetches, limited or not, give the scan path's answers.
    for sql in [
        format!("SELECT id, qty FROM {t} WHERE qty > 8 ORDER BY amount DESC, id LIMIT 5 OFFSET 3"),
        format!("SELECT id, amount FROM {t} WHERE region = 'top' ORDER BY amount DESC LIMIT 2 OFFSET 1"),
        format!("SELECT id, amount FROM {t} WHERE amount < 3 ORDER BY amount DESC LIMIT 4"),
        format!("SELECT id, region FROM {t} WHERE region = 'north' AND qty = 4 ORDER BY id"),
        // DESC puts NULLs first: the rows missing amount are asked for apart.
        format!("SELECT id, amount FROM {t} ORDER BY amount DESC LIMIT 3"),
    ] {
        let plan = explain(&c.client, &sql).await;
        assert!(plan.contains("FT.SEARCH"), "{sql}\n{plan}");
        assert_eq!(texts(&c.client, &sql).await, texts(&off.client, &sql).await, "{sql}");
    }

    // About 12,000 matches per part: more than the first ask, so each part
    // is asked again for all of them.
    let many = format!("SELECT id FROM {t} WHERE amount >= 0.75");
    let analyzed = explain(&c.client, &format!("ANALYZE {many}")).await;
    assert!(
        analyzed.contains("FT.SEARCH on every index part (keys), then rows read by key: 35998 rows"),
        "{analyzed}"
    );
    let got = ids(&c.client, &many).await;
    assert_eq!(got.len(), 35_998);
    assert_eq!(got, ids(&off.client, &many).await);

    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_with_more_matches_than_maxsearchresults_is_scanned_instead() {
    let (url, nodes, _lock) = cluster().await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let off = connect_scanning(&server).await;
    let t = unique("clmx");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, qty bigint, amount double precision) WITH (prefix = '{t}:'); \
             INSERT INTO {t} SELECT g, g % 10, g * 0.5 FROM generate_series(1, 600) g; \
             CREATE INDEX ON {t} (qty, amount)"
        ))
        .await
        .unwrap();
    wait_usable(&c.client, &t).await;

    // One master lets a reply hold 50 keys. About 200 rows match there.
    let mut first = redis(&nodes[0]).await;
    let set = |n: &str| {
        redis::cmd("FT.CONFIG")
            .arg("SET")
            .arg("MAXSEARCHRESULTS")
            .arg(n)
            .clone()
    };
    let () = set("50").query_async(&mut first).await.unwrap();
    let all = format!("SELECT id FROM {t} WHERE qty >= 0 ORDER BY id");
    let top60 = format!("SELECT id, amount FROM {t} WHERE qty >= 0 ORDER BY amount LIMIT 60");
    let few = format!("SELECT id FROM {t} WHERE qty = 3 ORDER BY id");
    let mut seen = Vec::new();
    for sql in [&all, &top60, &few] {
        let analyzed = explain(&c.client, &format!("ANALYZE {sql}")).await;
        seen.push((analyzed, texts(&c.client, sql).await, texts(&off.client, sql).await));
    }
    // Put the setting back before asserting: the cluster is shared.
    let () = set("1000000").query_async(&mut first).await.unwrap();
    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    server.shutdown().await;

    for (i, (analyzed, on, off)) in seen.iter().enumerate() {
        let scanned =
            analyzed.contains("more matching keys than MAXSEARCHRESULTS lets one reply hold; scanned instead");
        // all: ~200 matches on the first master; top60: 60 asked of it; few: ~20 matches.
        assert_eq!(scanned, i < 2, "{analyzed}");
        assert!(
            scanned || analyzed.contains("FT.SEARCH on every index part"),
            "{analyzed}"
        );
        assert_eq!(on, off, "{analyzed}");
    }
    assert_eq!(seen[0].1.len(), 600);
    assert_eq!(seen[1].1.len(), 60);
    assert_eq!(seen[2].1.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_tables_fetch_reads_the_keys_every_part_gives() {
    let (url, _nodes, _lock) = cluster().await;
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let off = connect_scanning(&server).await;
    let t = unique("cljs");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, region text, qty bigint) WITH (storage = 'json', prefix = '{t}:'); \
             INSERT INTO {t} SELECT g, CASE g % 3 WHEN 0 THEN 'north' WHEN 1 THEN 'south' ELSE 'east' END, g % 10 \
             FROM generate_series(1, 900) g; \
             CREATE INDEX ON {t} (region, qty)"
        ))
        .await
        .unwrap();
    wait_usable(&c.client, &t).await;
    for sql in [
        format!("SELECT id, region, qty FROM {t} WHERE qty = 7 ORDER BY id"),
        format!("SELECT id, qty FROM {t} WHERE qty > 2 ORDER BY qty DESC, id LIMIT 4"),
    ] {
        let plan = explain(&c.client, &sql).await;
        assert!(
            plan.contains("FT.SEARCH") && plan.contains("JSON.MGET"),
            "{sql}\n{plan}"
        );
        assert_eq!(texts(&c.client, &sql).await, texts(&off.client, &sql).await, "{sql}");
    }
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT count(*) FROM (SELECT id FROM {t} WHERE qty = 7) x")
        )
        .await,
        vec![vec![Some("90".to_string())]]
    );
    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    server.shutdown().await;
}
