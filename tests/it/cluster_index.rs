//! RediSearch indexes on the Redis Cluster: CREATE INDEX makes one part per
//! master (each named with a hash tag its master serves), aggregates run on
//! every part and merge exactly, what cannot merge (COUNT(DISTINCT)) is
//! scanned, and DROP INDEX / DROP TABLE take every part away. (Row fetches
//! per part: cluster_fetch.rs; the random differential test on the cluster
//! is in pushdown.rs.)

use redsql::store::Store;
use tokio_postgres::Client;

use crate::common::*;

fn s(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

/// Each master's RediSearch index names (asked of each master alone).
async fn parts_per_master(nodes: &[String], base: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for node in nodes {
        let mut con = redis(node).await;
        let names: Vec<String> = redis::cmd("FT._LIST").query_async(&mut con).await.unwrap();
        out.push(
            names
                .into_iter()
                .filter(|n| n.starts_with(&format!("{base}{{")))
                .collect(),
        );
    }
    out
}

/// The EXPLAIN text of `sql`, one line per row.
pub(crate) async fn explain(c: &Client, sql: &str) -> String {
    texts(c, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Wait until redsql.tables says the table's index can answer queries.
pub(crate) async fn wait_usable(c: &Client, t: &str) {
    let started = std::time::Instant::now();
    loop {
        let state = texts(
            c,
            &format!("SELECT index_usable, index_note FROM redsql.tables WHERE table_name = '{t}'"),
        )
        .await;
        if state.first().and_then(|r| r[0].as_deref()) == Some("t") {
            return;
        }
        assert!(started.elapsed().as_secs() < 30, "index of {t} never usable: {state:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Ids whose keys (`{t}:{id}`) live on each master, in master order.
pub(crate) fn ids_by_master(store: &Store, t: &str, ids: std::ops::RangeInclusive<i64>) -> Vec<Vec<i64>> {
    let masters: Vec<String> = store.masters().iter().map(|m| m.addr.clone()).collect();
    let mut out = vec![Vec::new(); masters.len()];
    for id in ids {
        let at = store.master_of(format!("{t}:{id}").as_bytes()).unwrap();
        out[masters.iter().position(|m| *m == at).unwrap()].push(id);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_is_one_part_per_master_and_aggregates_merge_exactly() {
    let (url, nodes, _lock) = cluster().await;
    let store = Store::connect(&url).await.unwrap();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    let off = connect_scanning(&server).await;
    let t = unique("clix");
    c.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, region text, qty bigint, amount double precision) \
             WITH (prefix = '{t}:'); \
             INSERT INTO {t} SELECT g, CASE g % 4 WHEN 0 THEN 'north' WHEN 1 THEN 'south' WHEN 2 THEN 'east' ELSE 'west' END, \
             CASE WHEN g % 7 = 0 THEN NULL ELSE g % 10 END, g * 0.25 FROM generate_series(1, 3000) g"
        ))
        .await
        .unwrap();
    // Group 'neg': on the first master three rows without qty, on the
    // second three negative ones, none on the third. RediSearch gives a
    // group without values MIN = MAX = 0; merged naively, max(qty) would be
    // 0 instead of -2.
    let by_master = ids_by_master(&store, &t, 10_001..=10_200);
    for id in &by_master[0][..3] {
        c.client
            .batch_execute(&format!("INSERT INTO {t} VALUES ({id}, 'neg', NULL, 1.5)"))
            .await
            .unwrap();
    }
    for (id, qty) in by_master[1][..3].iter().zip([-4, -7, -2]) {
        c.client
            .batch_execute(&format!("INSERT INTO {t} VALUES ({id}, 'neg', {qty}, -1)"))
            .await
            .unwrap();
    }

    let ix = format!("{t}_ix");
    c.client
        .batch_execute(&format!("CREATE INDEX {ix} ON {t} (region, qty, amount)"))
        .await
        .unwrap();
    let parts = parts_per_master(&nodes, &ix).await;
    assert!(parts.iter().all(|p| p.len() == 1), "one part per master: {parts:?}");
    wait_usable(&c.client, &t).await;
    let listed = texts(
        &c.client,
        &format!("SELECT index_name, index_parts FROM redsql.tables WHERE table_name = '{t}'"),
    )
    .await;
    assert_eq!(listed[0][0].as_deref(), Some(ix.as_str()));
    let layout = listed[0][1].clone().unwrap();
    for p in parts.iter().flatten() {
        assert!(layout.contains(&format!("{p} on 127.0.0.1:")), "{layout}");
    }

    // Pushed down per part and merged: the answers of the scan path.
    let pushed = [
        format!(
            "SELECT region, count(*), count(qty), sum(qty), min(qty), max(qty), avg(qty), sum(amount), \
             min(amount), max(amount), avg(amount) FROM {t} GROUP BY region ORDER BY region"
        ),
        format!("SELECT count(*), count(qty), min(qty), max(qty), sum(qty) FROM {t} WHERE region = 'neg'"),
        format!("SELECT count(*), sum(qty), max(amount) FROM {t} WHERE region = 'nowhere'"),
        format!(
            "SELECT region, count(*) FROM {t} WHERE qty > 3 GROUP BY region HAVING count(*) > 10 ORDER BY 2 DESC, 1"
        ),
        format!("SELECT max(qty) - min(qty), sum(amount) / count(*) FROM {t} WHERE amount BETWEEN 10 AND 500"),
    ];
    for sql in &pushed {
        let plan = explain(&c.client, sql).await;
        assert!(plan.contains("aggregate pushed down"), "{sql}\n{plan}");
        assert!(plan.contains("in 3 parts, one per Redis Cluster master"), "{plan}");
        assert_eq!(texts(&c.client, sql).await, texts(&off.client, sql).await, "{sql}");
    }
    assert_eq!(
        texts(&c.client, &pushed[1]).await,
        vec![vec![s(6), s(3), s(-7), s(-2), s(-13)]]
    );
    assert_eq!(texts(&c.client, &pushed[2]).await, vec![vec![s(0), None, None]]);

    // Not merged exactly (a value on two masters would count twice), so
    // scanned: the same answers.
    let distinct = format!("SELECT count(DISTINCT region) FROM {t}");
    let plan = explain(&c.client, &distinct).await;
    assert!(plan.contains("not pushed down"), "{plan}");
    assert_eq!(texts(&c.client, &distinct).await, texts(&off.client, &distinct).await);
    // Row fetches ask every part for keys: the same answers.
    for sql in [
        format!("SELECT id FROM {t} WHERE region = 'neg' ORDER BY id"),
        format!("SELECT id, qty FROM {t} WHERE qty < 0 ORDER BY qty LIMIT 2"),
    ] {
        let plan = explain(&c.client, &sql).await;
        assert!(
            plan.contains("FT.SEARCH") && plan.contains("in 3 parts"),
            "{sql}\n{plan}"
        );
        assert_eq!(texts(&c.client, &sql).await, texts(&off.client, &sql).await, "{sql}");
    }
    assert_eq!(
        texts(&c.client, &format!("SELECT count(DISTINCT region) FROM {t}")).await,
        vec![vec![s(5)]]
    );
    assert_eq!(
        texts(
            &c.client,
            &format!("SELECT count(*) FROM (SELECT id FROM {t} WHERE region = 'neg') x")
        )
        .await,
        vec![vec![s(6)]]
    );

    // Names: the hash tag is redsql's; a name with braces is refused.
    assert_eq!(
        sqlstate(&c.client, &format!("CREATE INDEX \"a{{b}}\" ON {t} (qty)")).await,
        "0A000"
    );
    assert_eq!(
        sqlstate(&c.client, &format!("CREATE INDEX {ix} ON {t} (qty)")).await,
        "42P07"
    );

    // DROP INDEX takes every part away; DROP TABLE too.
    c.client.batch_execute(&format!("DROP INDEX {ix}")).await.unwrap();
    assert_eq!(
        parts_per_master(&nodes, &ix).await,
        vec![Vec::<String>::new(); nodes.len()]
    );
    c.client
        .batch_execute(&format!("CREATE INDEX {ix} ON {t} (region)"))
        .await
        .unwrap();
    assert!(parts_per_master(&nodes, &ix).await.iter().all(|p| p.len() == 1));
    c.client.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
    assert_eq!(
        parts_per_master(&nodes, &ix).await,
        vec![Vec::<String>::new(); nodes.len()]
    );
    server.shutdown().await;
}

/// Move `slot` from the master on port `from` to the one on `to`, keys and all.
async fn move_slot(ports: &[u16], slot: i64, from: u16, to: u16) {
    let mut src = redis(&format!("redis://127.0.0.1:{from}")).await;
    let mut dst = redis(&format!("redis://127.0.0.1:{to}")).await;
    let src_id: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut src).await.unwrap();
    let dst_id: String = redis::cmd("CLUSTER").arg("MYID").query_async(&mut dst).await.unwrap();
    let setslot = |state: &str, id: &str| {
        redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg(state)
            .arg(id)
            .clone()
    };
    let () = setslot("IMPORTING", &src_id).query_async(&mut dst).await.unwrap();
    let () = setslot("MIGRATING", &dst_id).query_async(&mut src).await.unwrap();
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(100)
            .query_async(&mut src)
            .await
            .unwrap();
        if keys.is_empty() {
            break;
        }
        let () = redis::cmd("MIGRATE")
            .arg(&["127.0.0.1", &to.to_string(), "", "0", "5000", "KEYS"])
            .arg(&keys)
            .query_async(&mut src)
            .await
            .unwrap();
    }
    for port in ports {
        let mut con = redis(&format!("redis://127.0.0.1:{port}")).await;
        let () = setslot("NODE", &dst_id).query_async(&mut con).await.unwrap();
    }
}

/// A resharding moves the hash slot of one part's name to another master:
/// that part can no longer be asked (MOVED), so the index stops answering
/// and queries are scanned with the same answers; redsql.tables says what
/// to do, and after DROP INDEX and CREATE INDEX the index answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_whose_part_moved_out_of_reach_is_not_used() {
    let cluster = crate::cluster::OwnCluster::start();
    let url = cluster.url();
    let nodes: Vec<String> = cluster.0.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect();
    let server = start_server(&url).await;
    let c = connect(&server).await;
    c.client
        .batch_execute(
            "CREATE TABLE rs (id bigint PRIMARY KEY, g text, v bigint); \
             INSERT INTO rs SELECT i, 'g' || (i % 5), i % 100 FROM generate_series(1, 4000) i; \
             CREATE INDEX rs_ix ON rs (g, v)",
        )
        .await
        .unwrap();
    wait_usable(&c.client, "rs").await;
    let sql = "SELECT g, count(*), sum(v), max(v) FROM rs GROUP BY g ORDER BY g";
    assert!(explain(&c.client, sql).await.contains("aggregate pushed down"));
    let expected = texts(&c.client, sql).await;
    assert_eq!(expected.len(), 5);

    // The first master's part: its name's slot goes to the second master.
    let part = parts_per_master(&nodes[..1], "rs_ix").await.remove(0).remove(0);
    let mut first = redis(&nodes[0]).await;
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(&part)
        .query_async(&mut first)
        .await
        .unwrap();
    move_slot(&cluster.0, slot, cluster.0[0], cluster.0[1]).await;

    // The first statement may find the slot map changed under its scan (08006).
    let mut answer = Err(String::new());
    for _ in 0..3 {
        answer = c.client.simple_query(sql).await.map(|_| ()).map_err(|e| e.to_string());
        if answer.is_ok() {
            break;
        }
    }
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(texts(&c.client, sql).await, expected);
    let plan = explain(&c.client, sql).await;
    assert!(plan.contains("not pushed down") && plan.contains("rs_ix"), "{plan}");
    let state = texts(
        &c.client,
        "SELECT index_usable, index_note FROM redsql.tables WHERE table_name = 'rs'",
    )
    .await;
    assert_eq!(state[0][0].as_deref(), Some("f"), "{state:?}");
    assert!(
        state[0][1].as_deref().unwrap().contains("DROP INDEX rs_ix"),
        "{state:?}"
    );

    c.client
        .batch_execute("DROP INDEX rs_ix; CREATE INDEX rs_ix ON rs (g, v)")
        .await
        .unwrap();
    wait_usable(&c.client, "rs").await;
    assert!(explain(&c.client, sql).await.contains("aggregate pushed down"));
    assert_eq!(texts(&c.client, sql).await, expected);
    server.shutdown().await;
}
